package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
	"mellium.im/xmpp/jid"
)

// The user data family (mod_admin_extra over mod_last, mod_private,
// mod_offline and the privacy lists): last activity, private XML storage,
// the offline message count and privacy_set, on the tables the XMPP server
// reads: last_activity (jabber:iq:last), private_storage
// (jabber:iq:private), offline_messages and the block list. Writes go
// through the queue.

// userdataDefs is the last, private, privacy and offline family.
var userdataDefs = []*Def{GetLast, SetLast, PrivateGet, PrivateSet, PrivacySet, GetOfflineCount}

const nsPrivateXML = "jabber:iq:private"

// maxPrivate bounds one private_set element.
const maxPrivate = 64 << 10

// userRef names the user a change record is about, so that the applier
// can say which user is gone. Records embed it first: their JSON starts
// with username and domain.
type userRef struct {
	Username string `json:"username"`
	Domain   string `json:"domain"`
}

func (r *userRef) user() *userRef { return r }

// userRecord is a change record about one user: *vcardEdit,
// *userdataChange or *blockChange.
type userRecord interface{ user() *userRef }

// queueUserChange names the bound user in rec and queues it for that user
// if it exists; a user that does not exist answers 1 with nothing queued.
func queueUserChange(ctx context.Context, c *Call, rec userRecord) (any, error) {
	d := c.Args.Domain("domain")
	ref := rec.user()
	ref.Username, ref.Domain = c.Args.String("username"), d.FQDN
	q, found, err := queueForUser(ctx, c, ref.Username, rec)
	if err == nil && !found {
		return StatusFailed, nil
	}
	return q, err
}

// readUserChange reads a change record into rec and checks that its user
// still exists.
func readUserChange(ctx context.Context, tx *store.Tx, w *queue.Work, rec userRecord) error {
	if err := json.Unmarshal(w.Args, rec); err != nil {
		return err
	}
	ref := rec.user()
	return requireUser(ctx, tx, w.UserID, ref.Username, ref.Domain)
}

// userdataChange is the change record of set_last and private_set.
type userdataChange struct {
	userRef
	Seen   int64  `json:"seen,omitempty"` // set_last: unix seconds
	Status string `json:"status,omitempty"`
	NS     string `json:"ns,omitempty"` // private_set
	Data   []byte `json:"data,omitempty"`
}

// xepTimestamp is xmpp_util:encode_timestamp: XEP-0082 UTC, with
// microseconds only when there are some.
func xepTimestamp(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us > 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "Z"
}

var lastColumns = []string{"timestamp", "status"}

// NeverLoggedIn is get_last's status for a user without a last activity:
// ejabberd 23.01's mod_last stores it at registration.
const NeverLoggedIn = "Registered but didn't login"

// GetLast is ejabberd's get_last.
var GetLast = &Def{
	Name: "get_last",
	Doc: "Answers the user's last activity as {timestamp, status}: now and \"ONLINE\" while the user has a session; " +
		"the end of the last session (XEP-0082, seconds) and its status text, or what set_last stored; for a user " +
		"never seen its creation and \"" + NeverLoggedIn + "\" (as ejabberd's mod_last records a registration); now and " +
		"\"NOT FOUND\" for a user that does not exist. The same object in every API version.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultRow, Name: "last_activity", Columns: lastColumns},
	Names:  map[Dialect]string{Ejabberd: "get_last"},
	Handle: getLast,
}

func getLast(ctx context.Context, c *Call) (any, error) {
	now := c.Env.Store.Now()
	row := func(ts, status string) Table { return Table{Columns: lastColumns, Rows: [][]any{{ts, status}}} }
	ss, err := userSessions(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(ss) > 0 {
		return row(xepTimestamp(now), "ONLINE"), nil
	}
	u, found, err := existing(ctx, c)
	if err != nil {
		return nil, err
	}
	if found {
		seen, status, err := c.Env.Store.LastActivity(ctx, u.ID)
		if err == nil {
			return row(xepTimestamp(seen.Truncate(time.Second)), status), nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		// ejabberd's mod_last records a registration as this status.
		return row(xepTimestamp(u.Created.Truncate(time.Second)), NeverLoggedIn), nil
	}
	return row(xepTimestamp(now), "NOT FOUND"), nil
}

// SetLast is ejabberd's set_last.
var SetLast = &Def{
	Name: "set_last",
	Doc: "Stores the user's last activity: timestamp (unix seconds) and status, what the XMPP server answers to " +
		"jabber:iq:last until the user's next session ends. A user that does not exist answers 1 (nothing is stored).",
	Args: []Arg{argUsername, argDomain,
		{Name: "timestamp", Type: Int, Doc: "Seconds since 1970-01-01 00:00:00 UTC."},
		{Name: "status", Type: String, Optional: true, Doc: "The status text; absent or empty: none."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "set_last"},
	Handle:  setLast,
	Apply:   applySetLast,
}

func setLast(ctx context.Context, c *Call) (any, error) {
	ts := c.Args.Int("timestamp")
	// SQLite's date functions and the XMPP server's seconds-ago
	// arithmetic need a year between 0 and 9999.
	if ts < -62135596800 || ts > 253402300799 {
		return nil, Errorf(Invalid, ReasonMalformed, "timestamp", "out of range")
	}
	return queueUserChange(ctx, c, &userdataChange{Seen: ts, Status: c.Args.String("status")})
}

func applySetLast(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch userdataChange
	if err := readUserChange(ctx, tx, w, &ch); err != nil {
		return err
	}
	return tx.SetLastActivity(ctx, w.UserID, time.Unix(ch.Seen, 0), ch.Status)
}

// fxmlString serialises an element as fxml's element_to_binary does
// (single-quoted attributes, xmlns where the namespace changes), which is
// how ejabberd's private_get shows the stored element.
func fxmlString(b *bytes.Buffer, e *xmlel.Element, parentNS string) {
	b.WriteByte('<')
	b.WriteString(e.Name.Local)
	if e.Name.Space != parentNS {
		fmt.Fprintf(b, " xmlns='%s'", fxmlEscape(e.Name.Space))
	}
	for _, a := range e.Attr {
		name := a.Name.Local
		if a.Name.Space == xmlel.XMLNS {
			name = "xml:" + name
		}
		fmt.Fprintf(b, " %s='%s'", name, fxmlEscape(a.Value))
	}
	if len(e.Children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, ch := range e.Children {
		switch ch := ch.(type) {
		case *xmlel.Element:
			fxmlString(b, ch, e.Name.Space)
		case string:
			b.WriteString(fxmlEscape(ch))
		}
	}
	fmt.Fprintf(b, "</%s>", e.Name.Local)
}

func fxmlEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PrivateGet is ejabberd's private_get.
var PrivateGet = &Def{
	Name: "private_get",
	Doc: "Answers the user's private XML storage (XEP-0049) element for namespace ns inside <query " +
		"xmlns='jabber:iq:private'>, as a client's jabber:iq:private get would: the stored element, or an empty " +
		"<element xmlns='ns'/> when nothing is stored (or the user does not exist).",
	Args: []Arg{argUsername, argDomain,
		{Name: "element", Type: String, Doc: "The element's name, e.g. storage."},
		{Name: "ns", Type: String, Doc: "The element's namespace, e.g. storage:rosternotes."}},
	Result: Result{Kind: ResultString, Name: "res"},
	Names:  map[Dialect]string{Ejabberd: "private_get"},
	Handle: privateGet,
}

func privateGet(ctx context.Context, c *Call) (any, error) {
	ns := c.Args.String("ns")
	if !validName(c.Args.String("element")) {
		return nil, Errorf(Invalid, ReasonMalformed, "element", "not an XML element name")
	}
	el := xmlel.New(ns, c.Args.String("element"))
	u, found, err := existing(ctx, c)
	if err != nil {
		return nil, err
	}
	if found {
		b, err := c.Env.Store.PrivateXML(ctx, u.ID, ns)
		switch {
		case err == nil:
			if el, err = xmlel.Parse(b); err != nil {
				return nil, err
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	var b bytes.Buffer
	fxmlString(&b, xmlel.New(nsPrivateXML, "query").Add(el), "")
	return b.String(), nil
}

// PrivateSet is ejabberd's private_set.
var PrivateSet = &Def{
	Name: "private_set",
	Doc: "Stores element (XML text) in the user's private XML storage under its namespace, replacing what was " +
		"stored there; clients read it with jabber:iq:private. XML that does not parse, an element without a " +
		"namespace, or one over 64 KiB answers 1, as does a user that does not exist (nothing is stored).",
	Args:    []Arg{argUsername, argDomain, {Name: "element", Type: String, Doc: "The element, e.g. <storage xmlns='storage:rosternotes'/>."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "private_set"},
	Handle:  privateSet,
	Apply:   applyPrivateSet,
}

func privateSet(ctx context.Context, c *Call) (any, error) {
	raw := c.Args.String("element")
	el, err := xmlel.Parse([]byte(raw))
	if err != nil || el.Name.Space == "" || len(raw) > maxPrivate {
		return StatusFailed, nil
	}
	return queueUserChange(ctx, c, &userdataChange{NS: el.Name.Space, Data: el.Bytes("")})
}

func applyPrivateSet(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch userdataChange
	if err := readUserChange(ctx, tx, w, &ch); err != nil {
		return err
	}
	if err := tx.SetPrivateXML(ctx, w.UserID, ch.NS, ch.Data); err != nil {
		return err
	}
	if ch.NS != pubsub.NSLegacyBookmarks {
		return nil
	}
	// Bookmarks are kept in step with PEP, as the XMPP server keeps them.
	_, err := pubsub.SyncBookmarks(ctx, tx, w.UserID, ch.Username+"@"+ch.Domain, pubsub.FromPrivate, pubsub.IfExists)
	if errors.Is(err, pubsub.ErrNoBookmarks) {
		return nil // not a <storage/>: nothing to copy
	}
	return err
}

// ejabberd's privacy_set sends a jabber:iq:privacy (XEP-0016) IQ set on the
// user's behalf. The XMPP server keeps XEP-0016 lists apart from the
// blocking command (XEP-0191), which ejabberd itself keeps as the user's
// default privacy list named "Blocked contacts" (mod_blocking). So a list
// of that name whose items all deny a JID every kind of stanza replaces the
// block list, and naming it default or active is what it already is; any
// other list is stored, removed or made the default as a client's IQ would
// (privacyListChange). Without a session there is nothing to make active.

const nsPrivacy = "jabber:iq:privacy"

// BlockListName is the privacy list the block list is shown as.
const BlockListName = "Blocked contacts"

// blocklistEffects is the worker effect that makes live sessions follow a
// changed block list (xmppcore implements it; without it the sessions
// read the new list at their next login).
type blocklistEffects interface {
	BlocklistChanged(domain, username string)
}

// blockChange is the change record of privacy_set: the block list's JIDs,
// or with Op set an operation on another XEP-0016 list.
type blockChange struct {
	userRef
	JIDs []string `json:"jids"`
	Op   string   `json:"op,omitempty"` // "put", "delete" or "default"
	Name string   `json:"name,omitempty"`
	List []byte   `json:"list,omitempty"` // the parsed list, as the server stores it
}

// privacyListChange reads a privacy query that does not concern the block
// list: a list to set or remove, the default list to set or decline, an
// active list (which, without a session, changes nothing). ch is nil when
// there is nothing to queue; status is then the answer.
func privacyListChange(ctx context.Context, c *Call, u store.User, raw string) (ch *blockChange, status any, err error) {
	q, perr := xmlel.Parse([]byte(raw))
	if perr != nil || q.Name.Space != nsPrivacy || q.Name.Local != "query" || len(q.Elements()) != 1 {
		return nil, StatusFailed, nil
	}
	el := q.Elements()[0]
	name := el.Get("name")
	exists := func() (store.PrivacyList, bool, error) {
		pl, err := c.Env.Store.PrivacyList(ctx, u.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return pl, false, nil
		}
		return pl, err == nil, err
	}
	switch el.Name.Local {
	case "list":
		if name == BlockListName {
			return nil, StatusFailed, nil // the block list takes deny JID items only
		}
		l, err := privacy.Parse(el)
		if err != nil {
			return nil, StatusFailed, nil
		}
		if len(l.Items) == 0 {
			pl, found, err := exists()
			if err != nil || !found || pl.Default {
				return nil, StatusFailed, err // ejabberd: the default list cannot go (conflict)
			}
			return &blockChange{Op: "delete", Name: name}, nil, nil
		}
		b := l.Element().Bytes("")
		if len(b) > privacy.MaxBytes {
			return nil, StatusFailed, nil
		}
		return &blockChange{Op: "put", Name: name, List: b}, nil, nil
	case "default":
		if name != "" {
			if _, found, err := exists(); err != nil || !found {
				return nil, StatusFailed, err
			}
		}
		return &blockChange{Op: "default", Name: name}, nil, nil
	case "active":
		if _, found, err := exists(); err != nil || !found {
			return nil, StatusFailed, err
		}
		return nil, StatusOK, nil // no session of the API's to make it active for
	}
	return nil, StatusFailed, nil
}

// privacyBlockList reads a privacy query; it returns the JIDs to block
// (set true) when the query replaces the block list, set false and ok
// true when it asks for what already holds, ok false when it cannot be
// applied, also for text that is not a jabber:iq:privacy query.
func privacyBlockList(raw string) (jids []string, set, ok bool, err error) {
	q, perr := xmlel.Parse([]byte(raw))
	if perr != nil || q.Name.Space != nsPrivacy || q.Name.Local != "query" {
		return nil, false, false, nil // ejabberd 23.01 answers 1: the IQ it would build fails
	}
	kids := q.Elements()
	if len(kids) != 1 {
		return nil, false, false, nil // bad-request
	}
	el := kids[0]
	name := el.Get("name")
	switch el.Name.Local {
	case "active":
		return nil, false, name == BlockListName || name == "", nil
	case "default":
		return nil, false, name == BlockListName, nil
	case "list":
	default:
		return nil, false, false, nil
	}
	items := el.Elements()
	if name != BlockListName || len(items) == 0 {
		return nil, false, false, nil
	}
	seen := map[string]bool{}
	jids = []string{}
	for _, it := range items {
		if it.Name.Local != "item" || it.Get("type") != "jid" || it.Get("action") != "deny" {
			return nil, false, false, nil
		}
		if kinds := it.Elements(); len(kinds) != 0 {
			all := map[string]bool{}
			for _, k := range kinds {
				all[k.Name.Local] = true
			}
			if len(all) != 4 || !all["message"] || !all["iq"] || !all["presence-in"] || !all["presence-out"] {
				return nil, false, false, nil
			}
		}
		j, err := jid.Parse(it.Get("value"))
		if err != nil || it.Get("value") == "" {
			return nil, false, false, nil
		}
		if s := j.String(); !seen[s] {
			seen[s] = true
			jids = append(jids, s)
		}
	}
	return jids, true, true, nil
}

// PrivacySet is ejabberd's privacy_set, over the block list.
var PrivacySet = &Def{
	Name: "privacy_set",
	Doc: "Applies a jabber:iq:privacy (XEP-0016) set as the user's IQ would, through the queue. <list name='" +
		BlockListName + "'> whose items all have type jid and action deny (blocking every stanza kind) replaces the " +
		"user's block list (XEP-0191), which is shown as that list, as ejabberd's mod_blocking does; any other " +
		"<list name> with items is stored (replacing one of that name), without items removed (1 if it is the " +
		"default list or does not exist); <default name> makes a list the default (1 if it does not exist), " +
		"<default/> declines it; <active name> answers 0 for an existing list and changes nothing (there is no " +
		"session to make it active for). Online sessions follow at once and get the list push. A malformed list, a " +
		"user that does not exist and XML that is not a jabber:iq:privacy query answer 1 (as ejabberd 23.01 answers).",
	Args: []Arg{argUsername, argDomain,
		{Name: "xmlquery", Type: String, Doc: "The <query xmlns='jabber:iq:privacy'> element of the IQ set."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "privacy_set"},
	Handle:  privacySet,
	Apply:   applyPrivacySet,
}

func privacySet(ctx context.Context, c *Call) (any, error) {
	jids, set, ok, err := privacyBlockList(c.Args.String("xmlquery"))
	if err != nil {
		return nil, err
	}
	u, exists, err := existing(ctx, c)
	if err != nil || !exists {
		return StatusFailed, err
	}
	if !ok {
		ch, status, err := privacyListChange(ctx, c, u, c.Args.String("xmlquery"))
		if err != nil || ch == nil {
			return status, err
		}
		return queueUserChange(ctx, c, ch)
	}
	if !set {
		return StatusOK, nil
	}
	return queueUserChange(ctx, c, &blockChange{JIDs: jids})
}

func applyPrivacySet(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch blockChange
	if err := readUserChange(ctx, tx, w, &ch); err != nil {
		return err
	}
	if ch.Op != "" {
		return applyPrivacyList(ctx, tx, w, ch)
	}
	if err := tx.Unblock(ctx, w.UserID, nil); err != nil {
		return err
	}
	if err := tx.Block(ctx, w.UserID, ch.JIDs); err != nil {
		return err
	}
	w.After(func(e queue.Effects) {
		if b, ok := e.(blocklistEffects); ok {
			b.BlocklistChanged(ch.Domain, ch.Username)
		}
	})
	return nil
}

// privacyEffects is the worker effect that puts a changed XEP-0016 list in
// force for the user's live sessions (xmppcore implements it).
type privacyEffects interface {
	PrivacyChanged(domain, username, name string)
}

// applyPrivacyList applies a privacy_set on a list other than the block
// list. What the handler checked is checked again: the list may have
// changed since (a client's set, another call).
func applyPrivacyList(ctx context.Context, tx *store.Tx, w *queue.Work, ch blockChange) error {
	var err error
	switch ch.Op {
	case "put":
		err = tx.PutPrivacyList(ctx, w.UserID, ch.Name, ch.List)
	case "delete":
		var pl store.PrivacyList
		if pl, err = tx.PrivacyList(ctx, w.UserID, ch.Name); err == nil {
			if pl.Default {
				return Errorf(Invalid, ReasonMalformed, "xmlquery", "the default list cannot be removed")
			}
			err = tx.DeletePrivacyList(ctx, w.UserID, ch.Name)
		}
	case "default":
		err = tx.SetDefaultPrivacyList(ctx, w.UserID, ch.Name)
	default:
		return fmt.Errorf("privacy_set: unknown operation %q", ch.Op)
	}
	if err != nil {
		return err
	}
	w.After(func(e queue.Effects) {
		if p, ok := e.(privacyEffects); ok {
			p.PrivacyChanged(ch.Domain, ch.Username, ch.Name)
		}
	})
	return nil
}

// GetOfflineCount is ejabberd's get_offline_count.
var GetOfflineCount = &Def{
	Name:   "get_offline_count",
	Doc:    "Counts the messages stored for the user while offline (0 for a user that does not exist). Alias server for host.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "value"},
	Names:  map[Dialect]string{Ejabberd: "get_offline_count"},
	Handle: getOfflineCount,
}

func getOfflineCount(ctx context.Context, c *Call) (any, error) {
	u, found, err := existing(ctx, c)
	if err != nil || !found {
		return int64(0), err
	}
	n, err := c.Env.Store.OfflineCount(ctx, u.ID)
	return int64(n), err
}
