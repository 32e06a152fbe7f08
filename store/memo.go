package store

import (
	"context"
	"sync"
	"time"
)

// MemoTTL is how long the hot lookups behind every API request (key by
// hash, account tree, account, domain by name) are served from memory. Writes made
// through this Store clear the memo at once; the TTL bounds how long a
// change made by another process (the admin CLI) takes to be seen.
const MemoTTL = 2 * time.Second

// memo caches successful lookups for MemoTTL; misses are never cached, so a
// key or domain created elsewhere works on its first use.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]memoEntry[V]
}

type memoEntry[V any] struct {
	v       V
	expires time.Time
}

func (m *memo[K, V]) get(ctx context.Context, k K, now time.Time, load func(context.Context, K) (V, error)) (V, error) {
	m.mu.Lock()
	e, ok := m.m[k]
	m.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := load(ctx, k)
	if err != nil {
		return v, err
	}
	m.mu.Lock()
	if m.m == nil || len(m.m) > 100000 {
		m.m = map[K]memoEntry[V]{}
	}
	m.m[k] = memoEntry[V]{v: v, expires: now.Add(MemoTTL)}
	m.mu.Unlock()
	return v, nil
}

func (m *memo[K, V]) clear() {
	m.mu.Lock()
	m.m = nil
	m.mu.Unlock()
}

// directory memoises the lookups of the request path.
type directory struct {
	keys     memo[string, Key]
	trees    memo[int64, []int64]
	accounts memo[int64, Account]
	domains  memo[string, Domain]
}

func (d *directory) clear() {
	d.keys.clear()
	d.trees.clear()
	d.accounts.clear()
	d.domains.clear()
}

// KeyByHash is Reader.KeyByHash, memoised.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (Key, error) {
	return s.dir.keys.get(ctx, string(hash), time.Now(), func(ctx context.Context, h string) (Key, error) {
		return s.Reader.KeyByHash(ctx, []byte(h))
	})
}

// AccountTree is Reader.AccountTree, memoised.
func (s *Store) AccountTree(ctx context.Context, id int64) ([]int64, error) {
	tree, err := s.dir.trees.get(ctx, id, time.Now(), s.Reader.AccountTree)
	// Callers may append to the result; never hand out the memo's slice.
	return append([]int64(nil), tree...), err
}

// Account is Reader.Account, memoised (the ejabberd dialect reads the
// caller's operator flag on every request).
func (s *Store) Account(ctx context.Context, id int64) (Account, error) {
	return s.dir.accounts.get(ctx, id, time.Now(), s.Reader.Account)
}

// DomainByFQDN is Reader.DomainByFQDN, memoised.
func (s *Store) DomainByFQDN(ctx context.Context, fqdn string) (Domain, error) {
	return s.dir.domains.get(ctx, fqdn, time.Now(), s.Reader.DomainByFQDN)
}
