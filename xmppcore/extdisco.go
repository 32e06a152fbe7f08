package xmppcore

import (
	"strconv"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/extdisco"
)

// XEP-0215 External Service Discovery: the STUN/TURN servers of the
// configuration (Config.ExternalServices), with TURN credentials inline,
// as Conversations and ejabberd's mod_stun_disco expect.
const nsExtDisco = "urn:xmpp:extdisco:2"

func (s *Server) serviceEl(svc extdisco.Service, user string, anon bool) *xmlel.Element {
	el := xmlel.New(nsExtDisco, "service", "type", svc.Type, "host", svc.Host)
	if svc.Port > 0 {
		el.Set("port", strconv.Itoa(svc.Port))
	}
	if svc.Transport != "" {
		el.Set("transport", svc.Transport)
	}
	if svc.Name != "" {
		el.Set("name", svc.Name)
	}
	if svc.Restricted() {
		el.Set("restricted", "1")
		// A relay's credentials are not for users nobody provisioned.
		if !anon {
			cr := svc.CredentialsFor(user, time.Now())
			el.Set("username", cr.Username).Set("password", cr.Password)
			if !cr.Expires.IsZero() {
				el.Set("expires", cr.Expires.UTC().Format(time.RFC3339))
			}
		}
	}
	return el
}

// extServices answers <services/>, all or those of one type.
func extServices(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	want := r.q.Get("type")
	out := xmlel.New(nsExtDisco, "services")
	if want != "" {
		out.Set("type", want)
	}
	for _, svc := range s.cfg.ExternalServices {
		if want == "" || svc.Type == want {
			out.Add(s.serviceEl(svc, r.c.bare, r.c.anon))
		}
	}
	return out, nil
}

// extCredentials answers <credentials/> for one service (host and type,
// and port if given).
func extCredentials(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	q := r.q.Child(nsExtDisco, "service")
	if q == nil || q.Get("host") == "" || q.Get("type") == "" {
		return nil, &errBadRequest
	}
	for _, svc := range s.cfg.ExternalServices {
		if svc.Host != q.Get("host") || svc.Type != q.Get("type") || (q.Get("port") != "" && q.Get("port") != strconv.Itoa(svc.Port)) {
			continue
		}
		if !svc.Restricted() || r.c.anon {
			return nil, &errNotAcceptable
		}
		return xmlel.New(nsExtDisco, "credentials").Add(s.serviceEl(svc, r.c.bare, false)), nil
	}
	return nil, &errItemNotFound
}
