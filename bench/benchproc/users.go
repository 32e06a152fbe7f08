package benchproc

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// DataDir makes a data directory for bin with the active users
// u0..u(n-1), password "pw", in its bootstrap domain, which it returns.
// A first start creates the store and the domain; the users are then
// written straight into it (one password derivation, shared). The caller
// removes dir.
func DataDir(bin string, n int) (dir, domain string, err error) {
	dir, err = os.MkdirTemp("", "xmppgate-bench")
	if err != nil {
		return "", "", err
	}
	p, err := Start(bin, dir, nil)
	if err != nil {
		return dir, "", err
	}
	p.Stop()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "xmppgate.db"), store.Options{})
	if err != nil {
		return dir, "", err
	}
	defer st.Close()
	cred, err := credential.New("pw")
	if err != nil {
		return dir, "", err
	}
	d, err := st.DomainByFQDN(ctx, p.Boot.Domain)
	if err != nil {
		return dir, "", err
	}
	err = st.Write(ctx, func(tx *store.Tx) error { return InsertUsers(ctx, tx, d.ID, n, cred) })
	return dir, p.Boot.Domain, err
}

// RaiseNoFile lifts the soft limit of open files to the hard one: a
// benchmark with 10,000 connections needs that many descriptors.
func RaiseNoFile() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
