package ejabberd

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/xmppgate/xmppgate/commands"
)

// allowed reports whether the caller may call cmd: an anonymous caller
// (no account) nothing, else what its API permission allows, and for an
// OAuth token only what its scopes name too.
func allowedFor(c commands.Caller, cmd string) bool {
	if c.Account == 0 {
		return false
	}
	tags := tags(cmd)
	if c.Bearer && !scopeAllows(c.Scopes, cmd, tags) {
		return false
	}
	return allowed(c.Permission, cmd, tags)
}

// CtlHeader carries the ctl secret (DATA/ctl.secret) of `xmppgate ctl`.
const CtlHeader = "X-Xmppgate-Ctl"

// Options are the dialect's switches.
type Options struct {
	// TrustLoopback: a request without credentials from loopback acts as
	// LoopbackAdmin (config ejabberd_trust_loopback; off by default).
	TrustLoopback bool
	LoopbackAdmin string // the bootstrap admin JID
	// CtlSecret, if set, is the ctl secret accepted from loopback as the
	// operator; OperatorAccount is the account its changes are queued for.
	CtlSecret       string
	OperatorAccount int64
}

// authenticate reads the Authorization header (ejabberd_http:parse_auth):
// Basic with a full bare JID and its password, Bearer with an OAuth token;
// anything else is refused. The ctl header (CtlHeader) is the operator's
// CLI; no header is an anonymous caller, or the bootstrap admin from
// loopback when Options.TrustLoopback is set. The registry's door checks
// the credentials (commands.AuthenticateAdmin and the others).
func (h *Handler) authenticate(ctx context.Context, r *http.Request, req *request) (commands.Caller, *reply) {
	caller, err := h.caller(ctx, r)
	req.actor, req.account = caller.Actor, caller.Account
	if err == nil {
		caller.Dialect, caller.Version = commands.Ejabberd, req.version
		return caller, nil
	}
	var rep reply
	switch commands.AsError(err).Reason {
	case commands.ReasonBadCredentials:
		rep = unauthorized()
	case commands.ReasonBadToken:
		rep = badToken()
	default:
		rep = internalError(err)
	}
	return commands.Caller{}, &rep
}

func (h *Handler) caller(ctx context.Context, r *http.Request) (commands.Caller, error) {
	if secret, ok := r.Header[CtlHeader]; ok {
		c := commands.Caller{Actor: "ctl"}
		if h.opts.CtlSecret == "" || !fromLoopback(r) || subtle.ConstantTimeCompare([]byte(strings.Join(secret, "")), []byte(h.opts.CtlSecret)) != 1 {
			return c, commands.Errorf(commands.Unauthorized, commands.ReasonBadCredentials, "", "wrong ctl secret")
		}
		return commands.OperatorCaller(ctx, h.env, h.opts.OperatorAccount)
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		if h.opts.TrustLoopback && h.opts.LoopbackAdmin != "" && fromLoopback(r) {
			c, _, err := commands.TrustedAdmin(ctx, h.env, h.opts.LoopbackAdmin)
			return c, err
		}
		return commands.Caller{}, nil
	}
	scheme, cred, _ := strings.Cut(header, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		return commands.AuthenticateBearer(ctx, h.env, strings.TrimSpace(cred))
	case "basic":
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		name, pw, ok := strings.Cut(string(dec), ":")
		if err != nil || !ok {
			return commands.Caller{}, commands.Errorf(commands.Unauthorized, commands.ReasonBadCredentials, "", "malformed Basic credentials")
		}
		return commands.AuthenticateAdmin(ctx, h.env, name, pw)
	}
	return commands.Caller{}, commands.Errorf(commands.Unauthorized, commands.ReasonBadCredentials, "", "unknown scheme %s", scheme)
}

// fromLoopback reports whether the peer is 127.0.0.0/8 or ::1 (also as an
// IPv4-mapped address). X-Forwarded-For is never read: behind a reverse
// proxy on the same host every request comes from loopback.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
