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
)

// The ejabberd last, private and offline-count commands (mod_admin_extra
// over mod_last, mod_private and mod_offline), on the tables the XMPP
// server reads: last_activity (jabber:iq:last), private_storage
// (jabber:iq:private) and offline_messages. Writes go through the queue.

const nsPrivateXML = "jabber:iq:private"

// maxPrivate bounds one private_set element.
const maxPrivate = 64 << 10

// userdataChange is the change record of set_last and private_set.
type userdataChange struct {
	Username string `json:"username"`
	Domain   string `json:"domain"`
	Seen     int64  `json:"seen,omitempty"` // set_last: unix seconds
	Status   string `json:"status,omitempty"`
	NS       string `json:"ns,omitempty"` // private_set
	Data     []byte `json:"data,omitempty"`
}

// queueUserdata queues a change for an existing user; a user that does not
// exist answers 1 with nothing queued.
func queueUserdata(ctx context.Context, c *Call, ch userdataChange) (any, error) {
	d := c.Args.Domain("domain")
	ch.Username, ch.Domain = c.Args.String("username"), d.FQDN
	q, err := c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		u, err := usableUser(ctx, tx, d, ch.Username)
		if err != nil {
			return store.Change{}, err
		}
		args, err := json.Marshal(ch)
		return store.Change{UserID: u.ID, Args: args}, err
	})
	if AsError(err).Reason == ReasonNoUser {
		return StatusFailed, nil
	}
	return q, err
}

// userdataArgs reads a change record and checks its user still exists.
func userdataArgs(ctx context.Context, tx *store.Tx, w *queue.Work) (userdataChange, error) {
	var ch userdataChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return ch, err
	}
	if _, err := tx.UserByID(ctx, w.UserID); errors.Is(err, store.ErrNotFound) {
		return ch, Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", ch.Username, ch.Domain)
	} else if err != nil {
		return ch, err
	}
	return ch, nil
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

// GetLast is ejabberd's get_last.
var GetLast = &Def{
	Name: "get_last",
	Doc: "Answers the user's last activity as {timestamp, status}: now and \"ONLINE\" while the user has a session; " +
		"the end of the last session (XEP-0082, seconds) and its status text, or what set_last stored; now and " +
		"\"NOT FOUND\" for a user never seen (or that does not exist). The same object in every API version.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultRow, Name: "last_activity", Columns: lastColumns},
	Names:  map[Dialect]string{Ejabberd: "get_last"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
		}
		return row(xepTimestamp(now), "NOT FOUND"), nil
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ts := c.Args.Int("timestamp")
		// SQLite's date functions and the XMPP server's seconds-ago
		// arithmetic need a year between 0 and 9999.
		if ts < -62135596800 || ts > 253402300799 {
			return nil, Errorf(Invalid, ReasonMalformed, "timestamp", "out of range")
		}
		return queueUserdata(ctx, c, userdataChange{Seen: ts, Status: c.Args.String("status")})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		ch, err := userdataArgs(ctx, tx, w)
		if err != nil {
			return err
		}
		return tx.SetLastActivity(ctx, w.UserID, time.Unix(ch.Seen, 0), ch.Status)
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
		raw := c.Args.String("element")
		el, err := xmlel.Parse([]byte(raw))
		if err != nil || el.Name.Space == "" || len(raw) > maxPrivate {
			return StatusFailed, nil
		}
		return queueUserdata(ctx, c, userdataChange{NS: el.Name.Space, Data: el.Bytes("")})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		ch, err := userdataArgs(ctx, tx, w)
		if err != nil {
			return err
		}
		return tx.SetPrivateXML(ctx, w.UserID, ch.NS, ch.Data)
	},
}

// GetOfflineCount is ejabberd's get_offline_count.
var GetOfflineCount = &Def{
	Name:   "get_offline_count",
	Doc:    "Counts the messages stored for the user while offline (0 for a user that does not exist). Alias server for host.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "value"},
	Names:  map[Dialect]string{Ejabberd: "get_offline_count"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, found, err := existing(ctx, c)
		if err != nil || !found {
			return int64(0), err
		}
		n, err := c.Env.Store.OfflineCount(ctx, u.ID)
		return int64(n), err
	},
}

// ejabberdUserdataDefs is the last, private, privacy and offline family.
var ejabberdUserdataDefs = []*Def{GetLast, SetLast, PrivateGet, PrivateSet, PrivacySet, GetOfflineCount}
