package commandstest

import (
	"crypto/rand"
	"encoding"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store/credential"
)

// Template is a fixture built once per test binary and copied for each
// test that asks for one. A golden walker runs hundreds of cases from the
// same accounts and users; building them costs the migrations and, for
// every user, PBKDF2 at the production iteration count, while copying them
// is one file write. Each copy is its own store file, so cases stay as
// independent as with New, and every credential in it was derived for
// real.
//
// The build runs on a plain fixture (a worker, no live server, no data
// directory); only the store, Accs, the sealing key and Env.Rand's state
// are copied, so a build must not write files. What the build returns is
// handed to every copy as is: copy what a test changes.
type Template[T any] struct {
	build func(f *Fixture) T
	once  sync.Once
	snap  *snapshot[T]
}

type snapshot[T any] struct {
	files    map[string][]byte // the store's files by suffix to its path
	key      []byte
	accs     map[string]int64
	rand     []byte       // Env.Rand's state, if the build set one
	randType reflect.Type // and its type
	data     T
}

// NewTemplate returns a template that build fills the first time it is
// used.
func NewTemplate[T any](build func(f *Fixture) T) *Template[T] {
	return &Template[T]{build: build}
}

// New builds a fixture as the package's New does with o, on a copy of the
// template's store, and returns it with the build's value. The first call
// builds the template under t; if that fails, every call fails.
func (tp *Template[T]) New(t testing.TB, o Options) (*Fixture, T) {
	t.Helper()
	tp.once.Do(func() { tp.snap = tp.make(t) })
	s := tp.snap
	require.NotNil(t, s, "the template's build failed in the first test that used it")
	path := filepath.Join(t.TempDir(), "x.db")
	for suffix, b := range s.files {
		require.NoError(t, os.WriteFile(path+suffix, b, 0o600))
	}
	f := open(t, o, path, s.key)
	maps.Copy(f.Accs, s.accs)
	if s.randType != nil {
		r := reflect.New(s.randType.Elem()).Interface()
		require.NoError(t, r.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.rand))
		f.Env.Rand = r.(io.Reader)
	}
	return f, s.data
}

func (tp *Template[T]) make(t testing.TB) *snapshot[T] {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	path := filepath.Join(t.TempDir(), "x.db")
	f := open(t, Options{}, path, key)
	s := &snapshot[T]{files: map[string][]byte{}, key: key}
	s.data = tp.build(f)
	s.accs = maps.Clone(f.Accs)
	if f.Env.Rand != nil {
		typ := reflect.TypeOf(f.Env.Rand)
		m, ok := f.Env.Rand.(encoding.BinaryMarshaler)
		if ok = ok && typ.Kind() == reflect.Pointer; ok {
			_, ok = reflect.New(typ.Elem()).Interface().(encoding.BinaryUnmarshaler)
		}
		require.True(t, ok, "template: Env.Rand (%T) cannot be copied", f.Env.Rand)
		var err error
		s.rand, err = m.MarshalBinary()
		require.NoError(t, err)
		s.randType = typ
	}
	// Closed, the store is all in its file (the WAL is checkpointed); a WAL
	// left behind is copied with it.
	require.NoError(t, f.Store.Close())
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if suffix != "" && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		s.files[suffix] = b
	}
	return s
}

var verified sync.Map // verifyKey → bool

// Verify is c.Verify(password), remembered: a state dump checks the same
// template users' passwords in every case, and the answer depends only on
// the credential and the password. The first check of each pair derives
// the keys for real.
func Verify(c credential.SCRAM, password string) bool {
	k := fmt.Sprintf("%x|%d|%x|%x|%q", c.Salt, c.Iterations, c.SHA1Stored, c.SHA256Stored, password)
	if ok, hit := verified.Load(k); hit {
		return ok.(bool)
	}
	ok := c.Verify(password)
	verified.Store(k, ok)
	return ok
}
