package xmppcore

import (
	"context"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// XEP-0357 Push Notifications: a client names an app server (jid, node)
// that wakes its phone; when a message with a body reaches the user while
// every session it went to is hibernated (XEP-0198), or while the user is
// offline, the server publishes a summary to each app server the user
// registered. Registrations are per user and kept in the store, so they
// outlive sessions and restarts, as ejabberd's and Prosody's do.
const (
	nsPush        = "urn:xmpp:push:0"
	nsPushSummary = "urn:xmpp:push:summary"
	nsPubsub      = "http://jabber.org/protocol/pubsub"
	// maxPushPerUser bounds a user's registrations (each client or
	// reinstall makes one, and a client rarely disables its old ones).
	maxPushPerUser = 20
	// maxPushOptions bounds the stored publish-options form.
	maxPushOptions = 4 << 10
	// pushBody stands in for the message text, as ejabberd's include_body
	// default does: the app server learns that a message with a body came,
	// not what it says nor who sent it.
	pushBody = "New message"
)

var (
	errPushGet    = stanzaErr{typ: "cancel", cond: "not-allowed", text: "Value 'get' of 'type' attribute is not allowed"}
	errPushNode   = stanzaErr{typ: "cancel", cond: "feature-not-implemented", text: "Enabling push without 'node' attribute is not supported"}
	errPushGone   = stanzaErr{typ: "cancel", cond: "item-not-found", text: "Push record not found"}
	errPushLimit  = stanzaErr{typ: "wait", cond: "resource-constraint", text: "Too many push registrations"}
	errPushAnonym = stanzaErr{typ: "cancel", cond: "not-allowed", text: "Anonymous users cannot enable push"}
)

// pushIQ answers <enable/> and <disable/> (XEP-0357 sections 5 and 6),
// with ejabberd's answers to what the XEP leaves open.
func pushIQ(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.typ != "set" {
		return nil, &errPushGet
	}
	if r.c.anon {
		return nil, &errPushAnonym
	}
	app, err := jid.Parse(r.q.Get("jid"))
	if err != nil || r.q.Get("jid") == "" {
		return nil, &errBadRequest
	}
	node := r.q.Get("node")
	ctx := context.Background()
	if r.q.Name.Local == "disable" {
		var n int64
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.DeletePush(ctx, r.c.user.ID, app.String(), node)
			return err
		})
		switch {
		case err != nil:
			return nil, &errInternal
		case n == 0:
			return nil, &errPushGone
		}
		return nil, nil
	}
	if node == "" {
		return nil, &errPushNode
	}
	var opts []byte
	if x := r.q.Child(nsData, "x"); x != nil {
		if x.Get("type") != "submit" {
			return nil, &errBadRequest
		}
		if opts = x.Bytes(""); len(opts) > maxPushOptions {
			return nil, &errNotAcceptable
		}
	}
	var ok bool
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		ok, err = tx.PutPush(ctx, r.c.user.ID, store.PushSession{JID: app.String(), Node: node, Options: opts}, maxPushPerUser)
		return err
	})
	switch {
	case err != nil:
		return nil, &errInternal
	case !ok:
		return nil, &errPushLimit
	}
	return nil, nil
}

// pushHibernated notifies the user's app servers of m, just handed to the
// sessions got, if each of them is hibernated. While no session of the
// server hibernates, this is one atomic load.
func (s *Server) pushHibernated(m *xmlel.Element, d modcfg.Domain, bare string, got ...*conn) {
	if s.hibernated.Load() == 0 || len(got) == 0 {
		return
	}
	for _, t := range got {
		if !t.hibernating() {
			return
		}
	}
	s.pushNotify(m, d, bare, got[0].user.ID)
}

// pushNotify publishes a summary of m to every app server user registered
// (XEP-0357 section 7). Only messages with a body (or an encrypted
// payload, whose body is a fallback) wake the phone.
func (s *Server) pushNotify(m *xmlel.Element, d modcfg.Domain, bare string, userID int64) {
	if userID == 0 || !d.On(modcfg.Push) || m.Child(nsClient, "body") == nil {
		return
	}
	ps, err := s.st.PushSessions(context.Background(), userID)
	if err != nil || len(ps) == 0 {
		return
	}
	summary := xmlel.New(nsData, "x", "type", "submit").Add(formField("FORM_TYPE", "", nsPushSummary),
		formField("message-count", "", "1"), formField("last-message-body", "", pushBody))
	for _, p := range ps {
		app, err := jid.Parse(p.JID)
		if err != nil {
			continue
		}
		pubsub := xmlel.New(nsPubsub, "pubsub").Add(xmlel.New(nsPubsub, "publish", "node", p.Node).Add(
			xmlel.New(nsPubsub, "item").Add(xmlel.New(nsPush, "notification").Add(summary))))
		if len(p.Options) > 0 {
			if x, err := xmlel.Parse(p.Options); err == nil {
				pubsub.Add(xmlel.New(nsPubsub, "publish-options").Add(x))
			}
		}
		iq := xmlel.New(nsClient, "iq", "type", "set", "from", bare, "to", app.String(), "id", newID()).Add(pubsub)
		s.routePush(iq, app)
	}
}

// routePush sends a notification to its app server. Without s2s, only an
// app server on this server is reachable: a session of a local user (or a
// local component, once there are any). The app server's answer comes back
// to the user's bare JID and is dropped: a registration the app server
// refuses stays until the client disables it or delete_old_push_sessions
// removes it (ejabberd drops it on a non-temporary error).
func (s *Server) routePush(iq *xmlel.Element, app jid.JID) {
	if app.Resourcepart() != "" {
		if t := s.session(app); t != nil {
			t.sendEl(iq)
			return
		}
	}
	s.log.Debug("push: app server not reachable", zap.String("app", app.String()))
}
