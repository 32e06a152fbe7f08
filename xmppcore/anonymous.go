package xmppcore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/saslsrv"
)

// SASL ANONYMOUS (RFC 4505) on domains whose moduleConfig sets
// enableAnonymousLogin (docs/xmpp.md). An anonymous session gets a random
// localpart on the domain and a made-up user with no row in the store: it
// has no roster, vCard, private storage, block list or offline messages,
// and nothing of it outlives the session.

// anonPrefix starts every anonymous localpart, so logs tell them apart.
const anonPrefix = "anon-"

// authenticated reports whether SASL has succeeded on the stream.
func (c *conn) authenticated() bool { return c.user.ID != 0 || c.anon }

// anonymousAllowed reports whether ANONYMOUS is offered on the stream's
// domain; the domain's settings are read at each stream header, so
// switching the flag takes effect for the next login without a restart.
func (c *conn) anonymousAllowed() bool { return c.domain().Enabled && c.domain().Anonymous }

var anonEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// anonymousName picks a localpart no user of the domain has and no session
// uses: 80 random bits, so a clash is only a theoretical retry.
func (s *Server) anonymousName(fqdn string) (string, error) {
	b := make([]byte, 10)
	for range 3 {
		rand.Read(b)
		name := anonPrefix + strings.ToLower(anonEncoding.EncodeToString(b))
		_, err := s.st.UserByJID(context.Background(), fqdn, name)
		if errors.Is(err, store.ErrNotFound) && len(s.sessionsOf(name+"@"+fqdn)) == 0 {
			return name, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	return "", errors.New("xmppcore: no free anonymous name")
}

// anonymousLogin runs an ANONYMOUS exchange; false means it failed and a
// <failure/> went out. The optional trace message may come as the initial
// response; without one the exchange succeeds at once (no empty challenge,
// as clients that send a bare <auth mechanism='ANONYMOUS'/> expect).
func (c *conn) anonymousLogin(auth *xmlel.Element) bool {
	if !c.anonymousAllowed() {
		c.saslFailure("invalid-mechanism", "")
		return false
	}
	if data := strings.TrimSpace(auth.InnerText()); data != "" {
		in, ok := decodeSASL(data)
		if !ok {
			c.saslFailure("incorrect-encoding", "")
			return false
		}
		if saslsrv.AnonymousTrace(in) != nil {
			c.saslFailure("malformed-request", "")
			return false
		}
	}
	name, err := c.srv.anonymousName(c.domain().FQDN)
	if err != nil {
		c.log.Warn("anonymous login", zap.String("domain", c.domain().FQDN), zap.Error(err))
		c.saslFailure("temporary-auth-failure", "")
		return false
	}
	c.user = store.User{DomainID: c.domain().ID, Domain: c.domain().FQDN, Username: name, Status: store.StatusActive, DomainEnabled: true}
	c.anon = true
	c.srv.stats.LoginsOK.Add(1)
	c.send([]byte("<success xmlns='" + nsSASL + "'/>"))
	c.log.Debug("authenticated", zap.String("user", name), zap.String("domain", c.domain().FQDN),
		zap.String("mechanism", saslsrv.Anonymous))
	return true
}

// anonymousRefuses reports whether an IQ request of an anonymous session
// must be refused with not-allowed: any set on its own account (roster,
// vCard, private storage, blocking), since there is nothing to keep it in.
// Reads answer as for an empty account; session establishment works.
func anonymousRefuses(r *iqReq) bool {
	return r.c.anon && r.target == targetSelf && r.typ == "set" && r.q.Name.Space != nsSession
}
