package xmppcore

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/archive"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// XEP-0045 Multi-User Chat as a service at <conferenceSubdomain>.<domain>
// (modMuc). A persistent room has a row in muc_rooms; a temporary one gets
// its row only once something needs it (rowID: the API asks about the
// domain's rooms, an affiliation or subscription is stored, the room
// archives its first message), so a join into a new room writes nothing:
// its configuration and subject stay in memory until then, and the row is
// written from them. In a cluster every room has a row from the start
// (the other nodes read them). Rows are written in batches (roomRows; a
// room that ends before its batch never gets one); occupants and roles
// live here, in the room's memory. The
// protocol's decisions (who may enter, change roles, the forms) are
// xmppcore/muc's; this file routes stanzas to rooms and delivers.
//
// Delivery: a room serialises each stanza it broadcasts once, without a
// to attribute, and writes the same bytes to every occupant with only its
// ` to="…"` spliced in after the element name (conn.sendSpliced). A
// room's lock keeps the order of what it sends the same for everyone; no
// server-wide lock is taken per delivery.

func init() {
	services = append(services, &service{
		labelOf:  func(d modcfg.Domain) string { return d.Muc.Subdomain },
		module:   modcfg.Muc,
		identity: [3]string{"conference", "text", "Chatrooms"},
		features: []string{muc.NS, muc.NSRegister, muc.NSSub, "urn:xmpp:ping", nsVcard},
		handlers: []handler{
			{muc.NSRegister, "query", targetServer, mucServiceRegister},
			{muc.NSSub, "subscriptions", targetServer, getOnly(mucServiceSubs)},
		},
		nodes:  &serviceNodes{items: getOnly(mucServiceItems)},
		entity: mucEntity,
	})
}

// mucService is the server's rooms, of every domain.
type mucService struct {
	mu    sync.RWMutex
	rooms map[roomKey]*room
	rows  roomRows
	// via is, in a cluster, the node each room this node's sessions joined
	// was owned by (muc_cluster.go).
	via map[string]string
	// arch writes the rooms' archives (muc_archive.go).
	arch *archive.Writer[store.RoomArchiveRow]
}

// roomRows writes the rows of rooms in batches, one store write (one
// transaction, no savepoint per room) for all the rooms whose rows were
// asked for while the previous batch committed. The rows of temporary rooms that ended go in the
// same batches, deleted before the new rows are inserted (a room made
// again under the same name finds its name free); a room that ends while
// its row still waits is simply never written.
type roomRows struct {
	mu      sync.Mutex
	pending []newRoom
	ended   []*room // rooms whose rows go, their batches written
	kick    chan struct{}
}

type newRoom struct {
	r     *room
	row   store.Room
	owner string
}

func (w *roomRows) add(r *room, row store.Room, owner string) {
	w.mu.Lock()
	w.pending = append(w.pending, newRoom{r, row, owner})
	w.mu.Unlock()
	w.wake()
}

func (w *roomRows) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// drop deletes the row of a room that ended: nothing to write if it has
// not been inserted yet (then its waiters in rowID go on with no row).
func (w *roomRows) drop(r *room) {
	w.mu.Lock()
	for i := len(w.pending) - 1; i >= 0; i-- {
		if w.pending[i].r == r {
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			w.mu.Unlock()
			close(r.stored)
			return
		}
	}
	w.ended = append(w.ended, r)
	w.mu.Unlock()
	w.wake()
}

// amend sets the configuration of a room whose row is still waiting for
// its batch, so an instant room's form (most of a join into a new room)
// rides in the transaction that creates the row instead of waiting for it
// and writing again; false once the batch has begun.
func (w *roomRows) amend(r *room, config []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.pending) - 1; i >= 0; i-- {
		if w.pending[i].r == r {
			w.pending[i].row.Config = config
			return true
		}
	}
	return false
}

// loop commits the pending rows until ctx ends.
func (w *roomRows) loop(ctx context.Context, st *store.Store, log *zap.Logger) {
	for {
		select {
		case <-w.kick:
		case <-ctx.Done():
			return
		}
		w.mu.Lock()
		batch, ended := w.pending, w.ended
		w.pending, w.ended = nil, nil
		w.mu.Unlock()
		if len(batch) == 0 && len(ended) == 0 {
			continue
		}
		// An ended room's batch was an earlier one of this loop, so its
		// ID is final (0: it has no row).
		gone := make([]int64, 0, len(ended))
		for _, r := range ended {
			if id := r.id.Load(); id != 0 {
				gone = append(gone, id)
			}
		}
		rows, owners := make([]store.Room, len(batch)), make([]string, len(batch))
		for i, n := range batch {
			rows[i], owners[i] = n.row, n.owner
		}
		var ids []int64
		err := st.Write(context.Background(), func(tx *store.Tx) (err error) {
			if err := tx.DeleteRooms(ctx, gone); err != nil {
				return err
			}
			ids, err = tx.CreateRooms(ctx, rows, owners)
			return err
		})
		if err != nil && !errors.Is(err, store.ErrClosed) {
			log.Warn("muc: room rows", zap.Int("rooms", len(batch)), zap.Int("ended", len(gone)), zap.Error(err))
		}
		// The IDs count once committed; whoever waits in rowID goes on
		// either way (0: the room has no row). r.mu is not taken: a
		// handler holding it may wait here (waitRow).
		for i, n := range batch {
			switch {
			case err != nil:
			case ids[i] != 0:
				n.r.id.Store(ids[i])
			default: // the API made one by that name meanwhile (RoomChanged then gives the room that row)
				log.Warn("muc: room name taken in the store", zap.String("room", n.row.Name))
			}
			close(n.r.stored)
		}
	}
}

type roomKey struct {
	domain int64
	name   string
}

// room is a room the service holds.
type room struct {
	mu  sync.Mutex
	key roomKey
	id  atomic.Int64 // muc_rooms.id; 0 while it has no row
	// stored, once the row of a room without one was asked for (rowID),
	// is closed when its batch committed (id set) or failed; nil for a
	// room read from its row, or one whose row no one asked for yet. Set
	// under mu.
	stored chan struct{}
	// cfgSeq numbers the owner's forms; cfgStored is the number of the
	// last one written. A form written late (a temporary room's is written
	// after the answer) is not written over a later one.
	cfgSeq, cfgStored atomic.Uint64
	jid               string // bare room JID
	fqdn              string // the parent domain
	cfg               muc.Config
	locked            bool // created, waiting for its owner's configuration (XEP-0045 10.1)
	subject           string
	subjectBy         string
	affs              map[string]string // bare JID -> affiliation (none is absent)
	occ               []*occupant       // in joining order
	hist              muc.History
	subs              map[string]roomSub // MUC/Sub subscribers by bare JID (muc_sub.go)
	gone              bool               // destroyed or ended; a stanza that finds it retries
	touched           time.Time
}

// occupant is one session in a room.
type occupant struct {
	nick string
	key  string // muc.NickKey(nick)
	full jid.JID
	// fullJID is full as a string, made once: byFull compares it for
	// every stanza an occupant sends.
	fullJID string
	bare    string
	c       *conn
	role    string
	aff     string
	// to is ` to="<full JID>"`, spliced into every stanza sent to it.
	to []byte
	// pres is the occupant's last presence as it sent it (its show,
	// status, caps...), without the MUC extensions.
	pres *xmlel.Element
}

func newMucService() *mucService {
	return &mucService{rooms: map[roomKey]*room{}, via: map[string]string{}, rows: roomRows{kick: make(chan struct{}, 1)}}
}

func toAttr(full string) []byte {
	var b bytes.Buffer
	b.WriteString(` to="`)
	attr(&b, full)
	b.WriteByte('"')
	return b.Bytes()
}

// mucJID is the service's JID on domain d.
func mucJID(d modcfg.Domain) string { return d.Muc.Subdomain + "." + d.FQDN }

// spliced is a stanza serialised once without a to attribute, with where
// each recipient's to goes.
type spliced struct {
	b  []byte
	at int
}

func splice(el *xmlel.Element) spliced {
	// Most of what a room sends (presences, messages) fits: the buffer
	// does not grow through its small sizes first.
	var b bytes.Buffer
	b.Grow(512)
	el.WriteTo(&b, nsClient)
	return spliced{b: b.Bytes(), at: len(el.Name.Local) + 1}
}

// splicePool holds the buffers sessions without stream management write
// a spliced stanza from.
var splicePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// sendSpliced writes sp to c with to inserted. A session that keeps what
// it sends (stream management, CSI) gets its own copy; the others write
// from a pooled buffer: one write, one TLS record.
func (c *conn) sendSpliced(sp spliced, to []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.sendSplicedLocked(sp, to)
}

func (c *conn) sendSplicedLocked(sp spliced, to []byte) {
	n := len(sp.b) + len(to)
	if c.sm != nil || c.csi != nil {
		b := make([]byte, 0, n)
		b = append(append(append(b, sp.b[:sp.at]...), to...), sp.b[sp.at:]...)
		c.sendManagedLocked(b)
		return
	}
	p := splicePool.Get().(*[]byte)
	b := append(append(append((*p)[:0], sp.b[:sp.at]...), to...), sp.b[sp.at:]...)
	c.writeLocked(b)
	putSpliceBuf(p, b)
}

func putSpliceBuf(p *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*p = b
		splicePool.Put(p)
	}
}

// sendSplicedAll writes sps to c in order, each with to inserted: a
// joining occupant's presences, history and subject. A plain stream gets
// them in one write (one TLS record, one system call); a session that
// keeps what it sends, or frames each stanza, gets them one by one.
func (c *conn) sendSplicedAll(sps []spliced, to []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sm != nil || c.csi != nil || c.framed {
		for _, sp := range sps {
			c.sendSplicedLocked(sp, to)
		}
		return
	}
	p := splicePool.Get().(*[]byte)
	b := (*p)[:0]
	for _, sp := range sps {
		b = append(append(append(b, sp.b[:sp.at]...), to...), sp.b[sp.at:]...)
	}
	c.writeLocked(b)
	putSpliceBuf(p, b)
}

// roomOf returns a room of the service; nil if it has none by that
// name. The service holds every stored room (loaded at start-up, created
// since, or announced by RoomChanged), so a miss needs no store read.
func (s *Server) roomOf(d modcfg.Domain, name string) (*room, error) {
	s.muc.mu.RLock()
	r := s.muc.rooms[roomKey{d.ID, name}]
	s.muc.mu.RUnlock()
	if r == nil && s.cfg.Cluster != nil {
		return s.loadOwned(d, name)
	}
	return r, nil
}

// roomFromRow makes the room of a stored row.
func roomFromRow(d modcfg.Domain, row store.Room, affs []store.RoomAffiliation) *room {
	r := &room{key: roomKey{d.ID, row.Name}, jid: row.Name + "@" + mucJID(d), fqdn: d.FQDN,
		cfg: muc.Decode(row.Config, d.On(modcfg.Mam)), subject: row.Subject, subjectBy: row.SubjectBy,
		affs: map[string]string{}, touched: row.LastActive}
	r.id.Store(row.ID)
	for _, a := range affs {
		r.affs[a.JID] = a.Aff
	}
	return r
}

// loadRoom reads one stored room into the service (the API created or
// changed it); nil if it has no row.
func (s *Server) loadRoom(d modcfg.Domain, name string) (*room, error) {
	ctx := context.Background()
	row, err := s.st.Room(ctx, d.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	affs, err := s.st.RoomAffiliations(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	subs, err := s.st.RoomSubscriptions(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	r := roomFromRow(d, row, affs)
	r.loadSubs(subs)
	s.muc.mu.Lock()
	defer s.muc.mu.Unlock()
	if cur := s.muc.rooms[r.key]; cur != nil {
		return cur, nil
	}
	s.muc.rooms[r.key] = r
	return r, nil
}

// createRoom makes a new room owned by owner, locked until configured
// when locked is set. It is not stored (a temporary room dies with the
// process anyway, and the join must not wait for a commit): rowID writes
// its row when something needs it. created is false when another join
// made it first.
func (s *Server) createRoom(d modcfg.Domain, name, owner string, locked bool) (r *room, created bool, err error) {
	k := roomKey{d.ID, name}
	s.muc.mu.Lock()
	if cur := s.muc.rooms[k]; cur != nil {
		s.muc.mu.Unlock()
		return cur, false, nil
	}
	r = &room{key: k, jid: name + "@" + mucJID(d), fqdn: d.FQDN, cfg: muc.Default(d.On(modcfg.Mam)), locked: locked,
		affs: map[string]string{owner: muc.Owner}, touched: time.Now()}
	if s.cfg.Cluster != nil {
		s.askRowLocked(r) // not yet seen by anyone: no lock needed
	}
	s.muc.rooms[k] = r
	s.muc.mu.Unlock()
	return r, true, nil
}

// rowless reports whether r has no row and none on its way; r.mu is held.
func (r *room) rowless() bool { return r.stored == nil && r.id.Load() == 0 }

// closedChan is a channel closed from the start.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// askRowLocked has the row of a room without one written, from what the
// room holds now (configuration, subject, owner), and returns the channel
// closed once it is committed. r.mu is held.
func (s *Server) askRowLocked(r *room) chan struct{} {
	switch {
	case r.stored != nil:
		return r.stored
	case r.id.Load() != 0 || r.gone:
		return closedChan
	}
	r.stored = make(chan struct{})
	owner := ""
	for j, a := range r.affs { // one owner until the row exists (every change of affiliation asks for it first)
		if a == muc.Owner && (owner == "" || j < owner) {
			owner = j
		}
	}
	s.muc.rows.add(r, store.Room{DomainID: r.key.domain, Name: r.key.name, Config: r.cfg.Encode(),
		Subject: r.subject, SubjectBy: r.subjectBy}, owner)
	return r.stored
}

// rowID returns the ID of r's row, writing one first if it has none (and
// waiting, briefly, for its commit); the stores that name a room by ID
// need it. 0 if the write failed. r.mu is not held.
func (s *Server) rowID(r *room) int64 {
	if id := r.id.Load(); id != 0 {
		return id
	}
	r.mu.Lock()
	s.askRowLocked(r)
	r.mu.Unlock()
	return r.waitRow()
}

// waitRow waits (briefly) for a row asked for to be committed and returns
// its ID (0: none). It may be called with r.mu held: the batch that
// writes the row does not take it.
func (r *room) waitRow() int64 {
	if ch := r.stored; ch != nil {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
		}
	}
	return r.id.Load()
}

// configure writes the room's configuration enc, the owner's form number
// seq, unless a later form is stored already. Writes run one at a time in
// the store's commit loop, so the check and the write are not raced.
func (r *room) configure(id int64, enc []byte, seq uint64) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		if r.cfgStored.Load() > seq {
			return nil
		}
		if err := tx.ConfigureRoom(context.Background(), id, enc); err != nil {
			return err
		}
		r.cfgStored.Store(seq)
		return nil
	}
}

// endRoom forgets a room (its last occupant left, or it was destroyed);
// a temporary room's row goes with it. r.mu is held.
func (s *Server) endRoom(r *room, deleteRow bool) {
	r.gone = true
	s.muc.mu.Lock()
	if s.muc.rooms[r.key] == r {
		delete(s.muc.rooms, r.key)
	}
	s.muc.mu.Unlock()
	if deleteRow && !r.rowless() {
		s.muc.rows.drop(r)
	}
}

// affOf is bare's affiliation; r.mu is held.
func (r *room) affOf(bare string) string {
	if a, ok := r.affs[bare]; ok {
		return a
	}
	return muc.None
}

// byNick finds an occupant by nickname key; r.mu is held.
func (r *room) byNick(key string) *occupant {
	for _, o := range r.occ {
		if o.key == key {
			return o
		}
	}
	return nil
}

// sibling returns another session of o's account under o's nickname (an
// account's sessions may share a nickname, as ejabberd and Prosody let
// them: other occupants see one occupant); nil if none. r.mu is held.
func (r *room) sibling(o *occupant) *occupant {
	for _, x := range r.occ {
		if x != o && x.key == o.key && x.bare == o.bare {
			return x
		}
	}
	return nil
}

// sameOccupant reports whether x and o are sessions of one occupant.
func sameOccupant(x, o *occupant) bool { return x.key == o.key && x.bare == o.bare }

// byFull finds the occupant of a real full JID; r.mu is held.
func (r *room) byFull(full string) *occupant {
	for _, o := range r.occ {
		if o.fullJID == full {
			return o
		}
	}
	return nil
}

func (r *room) remove(o *occupant) {
	for i, x := range r.occ {
		if x == o {
			r.occ = append(r.occ[:i], r.occ[i+1:]...)
			return
		}
	}
}

func (r *room) owners() int {
	n := 0
	for _, a := range r.affs {
		if a == muc.Owner {
			n++
		}
	}
	return n
}

// ---- routing ----

// mucEntity takes the stanzas to rooms and occupants; in a cluster, those
// for rooms another node owns go there (muc_cluster.go).
func mucEntity(s *Server, st *xmlel.Element, from, to jid.JID, d modcfg.Domain) {
	if s.cfg.Cluster != nil && s.mucForward(st, from, to) {
		return
	}
	mucHere(s, st, from, to, d)
}

// mucHere serves a room stanza on this node.
func mucHere(s *Server, st *xmlel.Element, from, to jid.JID, d modcfg.Domain) {
	switch st.Name.Local {
	case "presence":
		s.mucPresence(st, from, to, d)
	case "message":
		s.mucMessage(st, from, to, d)
	case "iq":
		s.mucIQ(st, from, to, d)
	}
}

// mucErr is a stanza error the room sends back. A refused join carries
// the join's <x xmlns='…muc'/> back (XEP-0045 7.2.6-7.2.11, as ejabberd
// and Prosody do): clients match the error to their join by it.
func (s *Server) mucErr(st *xmlel.Element, e stanzaErr) {
	if st.Get("type") == "error" {
		return
	}
	x := st.Child(muc.NS, "x")
	if st.Name.Local != "presence" || x == nil {
		s.bounce(st, e)
		return
	}
	r := xmlel.New(nsClient, "presence", "type", "error", "from", st.Get("to"), "to", st.Get("from"))
	if id := st.Get("id"); id != "" {
		r.Set("id", id)
	}
	r.Add(xmlel.New(muc.NS, "x"), e.el())
	if c := s.sessionByString(st.Get("from")); c != nil {
		c.sendEl(r)
	} else if to, err := jid.Parse(r.Get("to")); err == nil && !s.forwardFull(to, r) {
		from, _ := jid.Parse(r.Get("from"))
		s.routeRemote(r, from, to)
	}
}

var (
	errMucBanned      = stanzaErr{typ: "auth", cond: "forbidden", text: "You have been banned from this room"}
	errMucMembersOnly = stanzaErr{typ: "auth", cond: "registration-required", text: "This room is members-only"}
	errMucPassword    = stanzaErr{typ: "auth", cond: "not-authorized", text: "A password is required to enter this room"}
	errMucFull        = stanzaErr{typ: "wait", cond: "service-unavailable", text: "This room has reached its maximum number of occupants"}
	errMucConflict    = stanzaErr{typ: "cancel", cond: "conflict", text: "That nickname is already in use by another occupant"}
	errMucReserved    = stanzaErr{typ: "cancel", cond: "conflict", text: "That nickname is registered by another person"}
	errMucLocked      = stanzaErr{typ: "cancel", cond: "item-not-found", text: "This room is locked"}
	errMucNoNick      = stanzaErr{typ: "modify", cond: "jid-malformed", text: "A nickname is required"}
	errMucCreate      = stanzaErr{typ: "cancel", cond: "not-allowed", text: "Room creation is denied by service policy"}
	errMucACL         = stanzaErr{typ: "auth", cond: "forbidden", text: "Access denied by service policy"}
	errMucNotOccupant = stanzaErr{typ: "cancel", cond: "not-acceptable", text: "Only occupants are allowed to send messages to the conference"}
	errMucNoVoice     = stanzaErr{typ: "auth", cond: "forbidden", text: "Visitors are not allowed to send messages to all occupants"}
	errMucNoSuchNick  = stanzaErr{typ: "cancel", cond: "item-not-found", text: "Recipient is not in the conference room"}
	errMucNoPM        = stanzaErr{typ: "cancel", cond: "not-allowed", text: "It is not allowed to send private messages"}
)

func joinErr(err error) stanzaErr {
	switch {
	case errors.Is(err, muc.ErrBanned):
		return errMucBanned
	case errors.Is(err, muc.ErrMembersOnly):
		return errMucMembersOnly
	case errors.Is(err, muc.ErrPassword):
		return errMucPassword
	case errors.Is(err, muc.ErrFull):
		return errMucFull
	case errors.Is(err, muc.ErrNickReserved):
		return errMucReserved
	case errors.Is(err, muc.ErrNickConflict):
		return errMucConflict
	case errors.Is(err, muc.ErrLocked):
		return errMucLocked
	case errors.Is(err, muc.ErrBadNick):
		return errMucNoNick
	}
	return errInternal
}

// mucMayEnter applies mucAcl to a local session.
func (s *Server) mucMayEnter(c *conn, d modcfg.Domain) bool {
	switch d.Muc.ACL {
	case modcfg.MucAll:
		return true
	case modcfg.MucLocal:
		return c.domain().ID == d.ID
	}
	return c.domain().ID == d.ID && s.isAdmin(c, d)
}

// mucMayCreate applies mucCreateAcl.
func (s *Server) mucMayCreate(c *conn, d modcfg.Domain) bool {
	if c.domain().ID != d.ID {
		return false
	}
	return d.Muc.CreateACL == modcfg.MucLocal || s.isAdmin(c, d)
}

// roomName is the stored name of a room JID's localpart (already
// normalised by jid.Parse).
func roomName(to jid.JID) string { return to.Localpart() }

// ---- presence ----

// mucJoinNowhere answers a MUC join to a domain that neither is hosted
// nor runs a service (modMuc off, or an old conferenceSubdomain) as to a
// server that cannot be reached, so the client does not wait for ever.
func (s *Server) mucJoinNowhere(p *xmlel.Element) bool {
	if p.Get("type") != "" || p.Child(muc.NS, "x") == nil {
		return false
	}
	s.mucErr(p, errRemoteNotFound)
	return true
}

func (s *Server) mucPresence(p *xmlel.Element, from, to jid.JID, d modcfg.Domain) {
	typ := p.Get("type")
	if typ != "" && typ != "unavailable" && typ != "error" {
		return // subscriptions and probes to rooms mean nothing
	}
	var c *conn
	if typ == "" {
		// A remote user joins through a stand-in session (s2s_session.go).
		// Leaving needs no session: the one ending has been unregistered.
		if c = s.sessionOrStandIn(from); c == nil {
			return
		}
	}
	for range 3 { // a room that ended under us is looked up again
		r, err := s.roomOf(d, roomName(to))
		if err != nil {
			s.mucErr(p, errInternal)
			return
		}
		if typ != "" {
			if r != nil && s.mucLeave(r, from.String(), p) {
				return
			}
			if r == nil {
				return
			}
			continue
		}
		if to.Resourcepart() == "" {
			s.mucErr(p, errMucNoNick)
			return
		}
		if r != nil {
			r.mu.Lock()
			if r.gone {
				r.mu.Unlock()
				continue
			}
			if o := r.byFull(from.String()); o != nil {
				s.mucUpdate(r, o, p, to.Resourcepart())
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
		}
		if s.mucJoin(r, c, p, to, d) {
			return
		}
	}
}

// mucJoin enters c into room r (nil: creates it, as the service allows);
// false if r ended meanwhile and the caller should look again.
func (s *Server) mucJoin(r *room, c *conn, p *xmlel.Element, to jid.JID, d modcfg.Domain) bool {
	nick, err := muc.PrepareNick(to.Resourcepart())
	if err != nil {
		s.mucErr(p, errMucNoNick)
		return true
	}
	join, err := muc.ParseJoin(p)
	if err != nil {
		s.mucErr(p, errBadRequest)
		return true
	}
	if !s.mucMayEnter(c, d) {
		s.mucErr(p, errMucACL)
		return true
	}
	created := false
	if r == nil {
		if !s.mucMayCreate(c, d) {
			s.mucErr(p, errMucCreate)
			return true
		}
		r, created, err = s.createRoom(d, roomName(to), c.bare, join.MUC)
		if err != nil {
			s.mucErr(p, errInternal)
			return true
		}
	}
	// A nickname registered with the service (XEP-0045 7.10) is its
	// owner's: read before the room's lock, as it is the store's.
	var nickOwner string
	if !created {
		nickOwner, _ = s.st.RoomNickOwner(context.Background(), d.ID, nick)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return false
	}
	aff := r.affOf(c.bare)
	switch {
	case r.locked && aff != muc.Owner:
		s.mucErr(p, errMucLocked)
		return true
	case nickOwner != "" && nickOwner != c.bare:
		s.mucErr(p, errMucReserved)
		return true
	}
	if err := muc.MayEnter(r.cfg, aff, join.Password, len(r.occ)); err != nil {
		s.mucErr(p, joinErr(err))
		return true
	}
	key := muc.NickKey(nick)
	if x := r.byNick(key); x != nil && x.bare != c.bare {
		s.mucErr(p, errMucConflict)
		return true
	}
	role := muc.DefaultRole(r.cfg, aff)
	if role == muc.NoRole {
		s.mucErr(p, errMucBanned)
		return true
	}
	full := c.full.String()
	o := &occupant{nick: nick, key: key, full: c.full, fullJID: full, bare: c.bare, c: c, role: role, aff: aff,
		to: toAttr(full), pres: presenceBody(p)}
	// The newcomer gets everyone else's presence first, then its own,
	// the history and the subject, in one write.
	out := make([]spliced, 0, len(r.occ)+3)
	for _, x := range r.occ {
		if !sameOccupant(x, o) {
			out = append(out, splice(r.presenceOf(x, o.role, false, nil)))
		}
	}
	r.occ = append(r.occ, o)
	self := r.broadcastOthers(o, nil, func(self bool) []string {
		if !self {
			return nil
		}
		codes := []string{muc.StatusSelf}
		if r.cfg.NonAnonymous() {
			codes = append(codes, muc.StatusRealJID)
		}
		if r.cfg.Archive {
			codes = append(codes, muc.StatusLogging)
		}
		if created {
			codes = append(codes, muc.StatusCreated)
		}
		if nick != to.Resourcepart() {
			codes = append(codes, muc.StatusNickModified)
		}
		return codes
	})
	out = append(out, self)
	// History and subject close every join, a new room's too: clients
	// (slixmpp's join_muc_wait) wait for the subject, as Prosody sends it.
	for _, e := range r.hist.Select(join.History, time.Now()) {
		out = append(out, spliced{b: e.Stanza, at: len("message") + 1})
	}
	out = append(out, splice(r.subjectMessage()))
	o.c.sendSplicedAll(out, o.to)
	s.mucTouch(r)
	return true
}

// presenceBody keeps what a presence says about its sender (show, status,
// priority, caps...) and drops the MUC request and any stanza error.
func presenceBody(p *xmlel.Element) *xmlel.Element {
	out := xmlel.New(nsClient, "presence")
	if t := p.Get("type"); t == "unavailable" {
		out.Set("type", t)
	}
	for _, ch := range p.Elements() {
		if ch.Name.Space == muc.NS || ch.Name.Space == muc.NSUser || ch.Name.Local == "error" {
			continue
		}
		out.Add(ch)
	}
	return out
}

// presenceOf is the presence of occupant o as a viewer with role
// viewerRole sees it; self adds status 110 (and codes given).
func (r *room) presenceOf(o *occupant, viewerRole string, self bool, codes []string) *xmlel.Element {
	// A shallow copy: what is added goes into the copy's own slices, and
	// the occupant's show, status, caps... are never changed in place.
	p := &xmlel.Element{Name: o.pres.Name, Attr: append(make([]xml.Attr, 0, len(o.pres.Attr)+1), o.pres.Attr...),
		Children: append(make([]any, 0, len(o.pres.Children)+1), o.pres.Children...)}
	p.Set("from", r.jid+"/"+o.nick)
	item := xmlel.New(muc.NSUser, "item", "affiliation", o.aff, "role", o.role)
	if self || muc.SeesJID(r.cfg, viewerRole) {
		item.Set("jid", o.fullJID)
	}
	x := xmlel.New(muc.NSUser, "x").Add(item)
	for _, code := range codes {
		x.Add(xmlel.New(muc.NSUser, "status", "code", code))
	}
	return p.Add(x)
}

// broadcastPresence sends o's presence to every occupant; codes gives the
// status codes for o itself (self true) and for the others. extra, if
// set, adds to the <item/> (an actor or reason, a new nick).
func (r *room) broadcastPresence(o *occupant, extra func(item *xmlel.Element), codes func(self bool) []string) {
	if self := r.broadcastOthers(o, extra, codes); o.c != nil {
		o.c.sendSpliced(self, o.to)
	}
}

// broadcastOthers is broadcastPresence but for o itself: it returns the
// presence o gets (none if o has no session).
func (r *room) broadcastOthers(o *occupant, extra func(item *xmlel.Element), codes func(self bool) []string) (self spliced) {
	var plain, withJID spliced
	if o.c != nil {
		self = splice(r.withExtra(r.presenceOf(o, o.role, true, codes(true)), extra))
	}
	for _, t := range r.occ {
		if t == o {
			continue
		}
		if sameOccupant(t, o) { // another session of the same occupant
			t.c.sendSpliced(self, t.to)
			continue
		}
		if muc.SeesJID(r.cfg, t.role) {
			if withJID.b == nil {
				withJID = splice(r.withExtra(r.presenceOf(o, muc.Moderator, false, codes(false)), extra))
			}
			t.c.sendSpliced(withJID, t.to)
		} else {
			if plain.b == nil {
				plain = splice(r.withExtra(r.presenceOf(o, muc.Participant, false, codes(false)), extra))
			}
			t.c.sendSpliced(plain, t.to)
		}
	}
	return self
}

func (r *room) withExtra(p *xmlel.Element, extra func(*xmlel.Element)) *xmlel.Element {
	if extra != nil {
		if x := p.Child(muc.NSUser, "x"); x != nil {
			extra(x.Child(muc.NSUser, "item"))
		}
	}
	return p
}

// subjectMessage is the room's subject as a joining occupant gets it
// (XEP-0045 7.2.16): after the history, an empty <subject/> if none.
func (r *room) subjectMessage() *xmlel.Element {
	from := r.jid
	if r.subjectBy != "" {
		from += "/" + r.subjectBy
	}
	m := xmlel.New(nsClient, "message", "from", from, "type", "groupchat", "id", newID())
	sub := xmlel.New(nsClient, "subject")
	sub.Add(r.subject)
	return m.Add(sub)
}

// mucUpdate handles a presence of an occupant: a nick change (XEP-0045
// 7.6) when to names another nick, else a presence broadcast (7.7).
func (s *Server) mucUpdate(r *room, o *occupant, p *xmlel.Element, want string) {
	if want == o.nick {
		o.pres = presenceBody(p)
		r.broadcastPresence(o, nil, func(self bool) []string {
			if self {
				return []string{muc.StatusSelf}
			}
			return nil
		})
		return
	}
	nick, err := muc.PrepareNick(want)
	if err != nil {
		s.mucErr(p, errMucNoNick)
		return
	}
	key := muc.NickKey(nick)
	if x := r.byNick(key); x != nil && x != o && x.bare != o.bare {
		s.mucErr(p, errMucConflict)
		return
	}
	sib := r.sibling(o)
	if owner, _ := s.st.RoomNickOwner(context.Background(), r.key.domain, nick); owner != "" && owner != o.bare {
		s.mucErr(p, errMucReserved)
		return
	}
	// 303: unavailable under the old nick with the new one in <item/>,
	// then available under the new one.
	o.pres = xmlel.New(nsClient, "presence", "type", "unavailable")
	r.broadcastPresence(o, func(item *xmlel.Element) { item.Set("nick", nick) }, func(self bool) []string {
		if self {
			return []string{muc.StatusNickChange, muc.StatusSelf}
		}
		return []string{muc.StatusNickChange}
	})
	o.nick, o.key, o.pres = nick, key, presenceBody(p)
	r.broadcastPresence(o, nil, func(self bool) []string {
		if self {
			return []string{muc.StatusSelf}
		}
		return nil
	})
	if sib != nil { // the account's other session keeps the old nickname
		r.broadcastPresence(sib, nil, func(self bool) []string {
			if self {
				return []string{muc.StatusSelf}
			}
			return nil
		})
	}
}

// mucLeave handles an unavailable (or error) presence of c to r; false
// if r ended before (the caller looks again).
func (s *Server) mucLeave(r *room, full string, p *xmlel.Element) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return false
	}
	o := r.byFull(full)
	if o == nil {
		return true
	}
	pres := presenceBody(p)
	pres.Set("type", "unavailable")
	s.mucRemove(r, o, pres, nil, nil)
	return true
}

// mucRemove takes o out of r, telling everyone with presence pres (type
// unavailable) and codes; extra adds to the <item/> or the <x/>. r.mu is
// held. The room ends when its last occupant leaves, unless persistent.
func (s *Server) mucRemove(r *room, o *occupant, pres *xmlel.Element, codes []string, extra func(item *xmlel.Element)) {
	o.pres = pres
	o.role = muc.NoRole
	if sib := r.sibling(o); sib != nil && len(codes) == 0 {
		// One session of an occupant that stays leaves: only it hears.
		r.remove(o)
		o.c.sendSpliced(splice(r.presenceOf(o, o.role, true, []string{muc.StatusSelf})), o.to)
		o.c.trackDirected(r.jid+"/"+o.nick, false)
		return
	}
	r.broadcastPresence(o, extra, func(self bool) []string {
		if self {
			return append([]string{muc.StatusSelf}, codes...)
		}
		return codes
	})
	r.remove(o)
	o.c.trackDirected(r.jid+"/"+o.nick, false)
	if len(r.occ) == 0 && (!r.cfg.Persistent || r.locked) {
		s.endRoom(r, true)
	}
}

// mucTouch records activity at most once an hour per room (rooms_unused_list).
func (s *Server) mucTouch(r *room) {
	id := r.id.Load()
	if time.Since(r.touched) < time.Hour || id == 0 {
		return
	}
	r.touched = time.Now()
	ctx := context.Background()
	s.st.WriteAsync(ctx, func(tx *store.Tx) error {
		err := tx.TouchRoom(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
}

// mucStart deletes the rows of temporary rooms a previous run left and
// loads the persistent ones. In a cluster the temporary rows may be live
// rooms of the other nodes: they are left, and not loaded (those a dead
// node left are swept by their next owner, muc_cluster.go).
func (s *Server) mucStart() error {
	ctx := context.Background()
	if s.cfg.Cluster == nil {
		if err := s.st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.DeleteTemporaryRooms(ctx)
			return err
		}); err != nil {
			return err
		}
	}
	rows, err := s.st.AllRooms(ctx)
	if err != nil {
		return err
	}
	affs, err := s.st.AllRoomAffiliations(ctx)
	if err != nil {
		return err
	}
	byRoom := map[int64][]store.RoomAffiliation{}
	for _, a := range affs {
		byRoom[a.RoomID] = append(byRoom[a.RoomID], a)
	}
	subs, err := s.st.AllRoomSubscriptions(ctx)
	if err != nil {
		return err
	}
	subsOf := map[int64][]store.RoomSubscription{}
	for _, sub := range subs {
		subsOf[sub.RoomID] = append(subsOf[sub.RoomID], sub)
	}
	for _, row := range rows {
		d, ok := s.hosted(row.Domain)
		if !ok {
			continue
		}
		r := roomFromRow(d, row, byRoom[row.ID])
		if s.cfg.Cluster != nil && !r.cfg.Persistent {
			continue
		}
		r.loadSubs(subsOf[row.ID])
		s.muc.rooms[r.key] = r
	}
	go s.muc.rows.loop(s.ctx, s.st, s.log.Named("muc"))
	return s.newRoomArchive()
}
