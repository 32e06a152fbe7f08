package ejabberd

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// identity is who calls: an admin JID of an account with its command
// patterns, or nobody (no Authorization header), who may call nothing:
// loopback is not trusted.
type identity struct {
	jid      string
	account  int64
	accounts []int64
	what     []string // nil: no api permission
	operator bool     // an admin of an operator account (server-wide commands)
}

func (id identity) allowed(cmd string) bool {
	return id.account != 0 && commands.EjabberdAllowed(id.what, cmd, commands.EjabberdTags(cmd))
}

// verifiedCache remembers successful password checks, so a client calling
// with the same Basic credentials pays the PBKDF2 derivation once. The key
// is a hash of the user's StoredKey and the password: a new password (new
// keys) misses it, and the cache holds no password.
type verifiedCache struct {
	mu sync.Mutex
	m  map[[32]byte]struct{}
}

const maxVerified = 10000

func (c *verifiedCache) check(cred credential.SCRAM, pw string) bool {
	h := sha256.New()
	h.Write(cred.SHA256Stored)
	// Imported users may have SCRAM-SHA-1 keys only: without them in the
	// key, two such users sharing a salt would share entries.
	h.Write(cred.SHA1Stored)
	h.Write(cred.Salt)
	h.Write([]byte{0})
	h.Write([]byte(pw))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	c.mu.Lock()
	_, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return true
	}
	if !cred.Verify(pw) {
		return false
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = map[[32]byte]struct{}{}
	}
	c.m[k] = struct{}{}
	c.mu.Unlock()
	return true
}

var (
	dummyOnce sync.Once
	dummyCred credential.SCRAM
)

// dummyVerify spends the time of a password check, so that an unknown JID
// cannot be told from a wrong password by the answer's timing.
func dummyVerify(pw string) {
	dummyOnce.Do(func() { dummyCred, _ = credential.New("xmppgate-dummy-password") })
	dummyCred.Verify(pw)
}

// authenticate reads the Authorization header (ejabberd_http:parse_auth):
// Basic with a full bare JID and its password, checked against the user's
// SCRAM keys; Bearer tokens are not issued yet, so every one is invalid;
// anything else is refused. No header is an anonymous caller.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, req *request) (identity, *reply) {
	fail := func(rep reply) (identity, *reply) { return identity{}, &rep }
	header := r.Header.Get("Authorization")
	if header == "" {
		return identity{}, nil
	}
	scheme, cred, _ := strings.Cut(header, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		return fail(badToken())
	case "basic":
	default:
		return fail(unauthorized())
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return fail(unauthorized())
	}
	name, pw, ok := strings.Cut(string(dec), ":")
	local, domain, isJID := strings.Cut(name, "@")
	if !ok || !isJID {
		return fail(unauthorized())
	}
	bare, err := commands.ParseBareJID(local + "@" + domain)
	if err != nil || !strings.Contains(bare, "@") {
		return fail(unauthorized())
	}
	local, domain, _ = strings.Cut(bare, "@")
	req.actor = bare
	u, err := h.env.Store.UserByJID(ctx, domain, local)
	if errors.Is(err, store.ErrNotFound) {
		dummyVerify(pw)
		return fail(unauthorized())
	}
	if err != nil {
		return fail(internalError(err))
	}
	if u.Status != store.StatusActive || !u.DomainEnabled || !h.verified.check(u.Cred, pw) {
		return fail(unauthorized())
	}
	id := identity{jid: bare, account: u.AccountID}
	req.account = u.AccountID
	perm, err := h.env.Store.EjabberdPermission(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fail(internalError(err))
	case perm.AccountID == u.AccountID:
		id.what = perm.What
	}
	if id.accounts, err = h.env.Store.AccountTree(ctx, u.AccountID); err != nil {
		return fail(internalError(err))
	}
	acc, err := h.env.Store.Account(ctx, u.AccountID)
	if err != nil {
		return fail(internalError(err))
	}
	id.operator = acc.Operator
	return id, nil
}
