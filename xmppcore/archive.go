package xmppcore

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/archive"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// XEP-0313 Message Archive Management for users, with XEP-0359 stanza IDs.
// Archiving happens on the delivery path only as far as serialising the
// message and queueing two rows; archive.Writer commits them in batches.

// archiver is the server's archive state.
type archiver struct {
	w *archive.Writer[store.ArchiveRow]

	mu    sync.RWMutex
	prefs map[int64]archive.Prefs // by user ID, loaded on first use

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// archiveRetentionEvery is how often retention runs.
const archiveRetentionEvery = time.Hour

func newArchiver(s *Server) (*archiver, error) {
	last, err := s.st.ArchiveMaxID(context.Background())
	if err != nil {
		return nil, err
	}
	a := &archiver{prefs: map[int64]archive.Prefs{}, stop: make(chan struct{}), done: make(chan struct{})}
	log := s.log.Named("archive")
	a.w = archive.NewWriter(func(rows []store.ArchiveRow) func() error {
		ctx := context.Background()
		return s.st.WriteAsync(ctx, func(tx *store.Tx) error { return tx.InsertArchive(ctx, rows) })
	}, func(r *store.ArchiveRow, id int64) { r.ID = id }, archive.WriterOptions{
		LastID:  last,
		OnError: func(err error, n int) { log.Error("archive batch lost", zap.Int("rows", n), zap.Error(err)) },
	})
	go a.retention(s, log)
	return a, nil
}

// close commits what is queued (after the sessions are gone, so nothing
// acknowledged is left behind) and stops retention.
func (a *archiver) close() {
	a.once.Do(func() {
		a.w.Close()
		close(a.stop)
	})
	<-a.done
}

// archivable says whether m is a message the archive keeps: a chat or
// normal message with a body, not marked no-store or no-permanent-store
// (XEP-0334). Errors, headlines and groupchat are not.
func archivable(m *xmlel.Element) bool {
	if t := msgType(m); t != "chat" && t != "normal" {
		return false
	}
	if m.Child(nsClient, "body") == nil {
		return false
	}
	for _, ch := range m.Elements() {
		if ch.Name.Space == nsHints && (ch.Name.Local == "no-store" || ch.Name.Local == "no-permanent-store") {
			return false
		}
	}
	return true
}

// archiveMessage is routeMessage's one call: it removes stanza-ids that
// claim to come from our users or domains (XEP-0359 5: only we may set
// them), archives m for its local sender and for its recipient bare (user
// ID recipientID, 0: look it up among the sessions), and adds the
// recipient's stanza-id to m, the copy that is delivered or stored
// offline.
func (s *Server) archiveMessage(m *xmlel.Element, d modcfg.Domain, from, to jid.JID, bare string, recipientID int64) {
	s.stripStanzaIDs(m)
	if s.mam == nil || !archivable(m) {
		return
	}
	fromBare := from.Bare()
	fromBareS := fromBare.String()
	var senderID int64
	s.mu.RLock()
	if a := s.accounts[fromBareS]; a != nil {
		senderID = a.userID
	}
	if recipientID == 0 {
		if a := s.accounts[bare]; a != nil {
			recipientID = a.userID
		}
	}
	s.mu.RUnlock()
	inbound := recipientID != 0 && d.On(modcfg.Mam) && s.mam.wants(s, recipientID, fromBareS, from.String())
	outbound := senderID != 0 && fromBareS != bare
	if outbound {
		// Mostly the recipient's domain, whose settings are at hand.
		sd, ok := d, true
		if fd := from.Domainpart(); fd != d.FQDN {
			sd, ok = s.hosted(fd)
		}
		outbound = ok && sd.On(modcfg.Mam) && s.mam.wants(s, senderID, to.Bare().String(), to.String())
	}
	if !inbound && !outbound {
		return
	}
	stanza := m.Bytes("")
	var rows [2]store.ArchiveRow
	n := 0
	if inbound {
		rows[n] = store.ArchiveRow{UserID: recipientID, Peer: fromBareS, Resource: from.Resourcepart(), Stanza: stanza}
		n++
	}
	if outbound {
		rows[n] = store.ArchiveRow{UserID: senderID, Peer: to.Bare().String(), Resource: to.Resourcepart(), Stanza: stanza}
		n++
	}
	id := s.mam.w.Add(time.Now(), rows[:n]...)
	if inbound && id != 0 {
		m.Add(xmlel.New(archive.NSSID, "stanza-id", "by", bare, "id", archive.FormatID(id)))
	}
}

// stripStanzaIDs drops the stanza-ids of m that name one of our domains or
// its users as their author.
func (s *Server) stripStanzaIDs(m *xmlel.Element) {
	n := 0
	for _, ch := range m.Children {
		if el, ok := ch.(*xmlel.Element); ok && el.Name.Space == archive.NSSID && el.Name.Local == "stanza-id" {
			if by, err := jid.Parse(el.Get("by")); err != nil || s.isHosted(by.Domainpart()) {
				continue
			}
		}
		m.Children[n] = ch
		n++
	}
	clear(m.Children[n:])
	m.Children = m.Children[:n]
}

func (s *Server) isHosted(domain string) bool {
	_, ok := s.hosted(domain)
	return ok
}

// wants applies the user's preferences to a message exchanged with peer.
func (a *archiver) wants(s *Server, userID int64, peerBare, peerFull string) bool {
	switch a.prefsOf(s, userID).Decide(peerBare, peerFull) {
	case archive.Skip:
		return false
	case archive.AskRoster:
		it, err := s.st.RosterItem(context.Background(), userID, peerBare)
		return err == nil && it.Visible
	}
	return true
}

func (a *archiver) prefsOf(s *Server, userID int64) archive.Prefs {
	a.mu.RLock()
	p, ok := a.prefs[userID]
	a.mu.RUnlock()
	if ok {
		return p
	}
	sp, err := s.st.ArchivePrefs(context.Background(), userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p = archive.DefaultPrefs
	case err != nil:
		return archive.DefaultPrefs // not cached: read again next time
	default:
		p = archive.Prefs{Default: sp.Default, Always: sp.Always, Never: sp.Never}
	}
	a.setPrefs(userID, p)
	return p
}

func (a *archiver) setPrefs(userID int64, p archive.Prefs) {
	a.mu.Lock()
	if len(a.prefs) > 100000 {
		clear(a.prefs)
	}
	a.prefs[userID] = p
	a.mu.Unlock()
}

// mamPrefs answers <prefs/> get and set (XEP-0313 7).
func mamPrefs(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.target != targetSelf {
		return nil, &errForbidden
	}
	if r.c.user.ID == 0 || s.mam == nil {
		return nil, &errNotAllowed
	}
	ns := r.q.Name.Space
	if r.typ == "get" {
		return s.mam.prefsOf(s, r.c.user.ID).Element(ns), nil
	}
	p, err := archive.ParsePrefs(r.q)
	if err != nil {
		return nil, &errBadRequest
	}
	ctx := context.Background()
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		return tx.SetArchivePrefs(ctx, r.c.user.ID, store.ArchivePrefs{Default: p.Default, Always: p.Always, Never: p.Never})
	})
	if err != nil {
		return nil, &errInternal
	}
	s.mam.setPrefs(r.c.user.ID, p)
	return p.Element(ns), nil
}

// mamQuery answers a query: the form on get (XEP-0313 6), the results as
// messages then the <fin/> on set (XEP-0313 4 and 5).
func mamQuery(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.target != targetSelf {
		return nil, &errForbidden
	}
	if r.c.user.ID == 0 || s.mam == nil {
		return nil, &errNotAllowed
	}
	if r.typ == "get" {
		return archive.Form(r.q.Name.Space), nil
	}
	q, err := archive.ParseQuery(r.q)
	if err != nil {
		return nil, &errBadRequest
	}
	ctx := context.Background()
	user := r.c.user.ID
	f := store.ArchiveFilter{UserID: user, Peer: q.With, Resource: q.WithResource}
	f.MinID, f.MaxID = q.Bounds()
	f.IDs = q.ArchiveIDs()
	// The rows archived before the query must be visible to it.
	s.mam.w.Sync()
	rows, first, last, complete, serr := mamPage(q, f.MinID, f.MaxID,
		func(id int64) (bool, error) { return s.st.ArchiveHas(ctx, user, id) },
		func(lo, hi int64, lastRows bool, limit int) ([]store.ArchiveRow, error) {
			f.MinID, f.MaxID, f.Last, f.Limit = lo, hi, lastRows, limit
			rows, err := s.st.Archive(ctx, f)
			if err != nil {
				s.log.Warn("archive query", zap.Error(err))
			}
			return rows, err
		}, func(row store.ArchiveRow) int64 { return row.ID })
	if serr != nil {
		return nil, serr
	}
	var buf bytes.Buffer
	to := r.c.full.String()
	for _, row := range rows {
		buf.Reset()
		resultMessage(&buf, q.NS, q.QueryID, r.c.bare, to, row)
		r.c.send(bytes.Clone(buf.Bytes()))
	}
	return archive.Fin(q.NS, complete, first, last), nil
}

// mamPage is the RSM part of a MAM query (XEP-0313 5.1.2, XEP-0059) over
// one archive, a user's or a room's, within IDs lo..hi: after and before
// must name archived IDs (has); the page is q.Max rows from the start of
// the range, or from its end for before and a last page, in the order
// the client asked for. fetch reads limit rows, the last ones if lastRows.
func mamPage[T any](q archive.Query, lo, hi int64, has func(id int64) (bool, error),
	fetch func(lo, hi int64, lastRows bool, limit int) ([]T, error), idOf func(T) int64) (rows []T, first, last int64, complete bool, serr *stanzaErr) {
	for _, v := range []string{q.After, q.Before} {
		if v == "" {
			continue
		}
		id, ok := archive.ParseID(v)
		if ok {
			var err error
			if ok, err = has(id); err != nil {
				return nil, 0, 0, false, &errInternal
			}
		}
		if !ok {
			return nil, 0, 0, false, &errItemNotFound
		}
		if v == q.After {
			lo = max(lo, id+1)
		} else {
			hi = min(hi, id-1)
		}
	}
	lastRows := q.Before != "" || q.LastPage
	rows, err := fetch(lo, hi, lastRows, q.Max+1)
	if err != nil {
		return nil, 0, 0, false, &errInternal
	}
	complete = len(rows) <= q.Max
	if !complete {
		if lastRows {
			rows = rows[1:]
		} else {
			rows = rows[:q.Max]
		}
	}
	if len(rows) > 0 {
		first, last = idOf(rows[0]), idOf(rows[len(rows)-1])
	}
	if q.FlipPage {
		slices.Reverse(rows)
	}
	return rows, first, last, complete, nil
}

// resultMessage writes one result (XEP-0313 4.2) around the stored stanza
// as it was archived, without parsing it.
func resultMessage(b *bytes.Buffer, ns, queryID, from, to string, row store.ArchiveRow) {
	b.WriteString(`<message from="`)
	attr(b, from)
	b.WriteString(`" to="`)
	attr(b, to)
	b.WriteString(`"><result xmlns="` + ns + `"`)
	if queryID != "" {
		b.WriteString(` queryid="`)
		attr(b, queryID)
		b.WriteString(`"`)
	}
	b.WriteString(` id="` + archive.FormatID(row.ID) + `"><forwarded xmlns="` + archive.NSFwd + `"><delay xmlns="` +
		archive.NSDelay + `" stamp="` + archive.Stamp(row.ID) + `"/>`)
	b.Write(row.Stanza)
	b.WriteString(`</forwarded></result></message>`)
}

func attr(b *bytes.Buffer, s string) { xml.EscapeText(b, []byte(s)) }

// retention purges, every archiveRetentionEvery, the archived messages
// older than their domain's modMam.retentionDays.
func (a *archiver) retention(s *Server, log *zap.Logger) {
	defer close(a.done)
	t := time.NewTicker(archiveRetentionEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			if n, err := s.PurgeArchive(context.Background(), time.Now()); err != nil {
				log.Warn("archive retention", zap.Error(err))
			} else if n > 0 {
				log.Info("archive retention", zap.Int64("deleted", n))
			}
		}
	}
}

// PurgeArchive deletes, on every domain with a modMam.retentionDays, the
// archived messages older than that many days at now; it returns how many.
func (s *Server) PurgeArchive(ctx context.Context, now time.Time) (int64, error) {
	ds, err := s.st.Domains(ctx, nil)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, sd := range ds {
		d := modcfg.Parse(sd)
		if d.MamRetentionDays == 0 {
			continue
		}
		before := now.Add(-time.Duration(d.MamRetentionDays) * 24 * time.Hour).UnixMicro()
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			n, err := tx.DeleteOldArchive(ctx, []int64{d.ID}, before)
			total += n
			return err
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// The module's account features and IQ handlers (modules.go). Queries and
// preferences addressed to another user's bare JID are refused there with
// forbidden.
var (
	mamFeatures = []string{archive.NS1, archive.NS2, archive.Extended, archive.NSSID}
	mamHandlers = []handler{
		{archive.NS2, "query", targetSelf | targetOther, mamQuery},
		{archive.NS1, "query", targetSelf | targetOther, mamQuery},
		{archive.NS2, "prefs", targetSelf | targetOther, mamPrefs},
		{archive.NS1, "prefs", targetSelf | targetOther, mamPrefs},
	}
)
