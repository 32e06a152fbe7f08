package credential

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"encoding/binary"
	"hash"
	"reflect"
	"unsafe"
)

// SaltedPassword is Hi(password, salt, i) of RFC 5802: PBKDF2 (RFC 8018) with
// HMAC-h and one output block of h's size, which is all SCRAM needs.
//
// Key derivation is most of the CPU an account costs, and crypto/pbkdf2 spends
// more than half of it outside the compression function: every iteration goes
// through HMAC's generic Reset/Write/Sum, which copies the digest, pads the
// message again and appends to slices. For crypto/sha1 and crypto/sha256 a
// chain does it with one digest and fixed buffers; see chain. Any other
// hash goes to crypto/pbkdf2.
func SaltedPassword(h func() hash.Hash, password string, salt []byte, iterations int) ([]byte, error) {
	if c, ok := newChain(h, password, salt, iterations); ok {
		for c.n < iterations {
			c.step()
		}
		return c.result(), nil
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// The hashes a chain runs: 64-byte blocks, a digest of at most 32 bytes.
const (
	blockSize = 64
	maxSize   = 32
)

// chain runs the iterations of one PBKDF2 block. Each HMAC of an iteration
// sets the digest's chaining value to the precomputed ipad or opad state,
// writes one block that already carries U and its padding (the HMAC
// messages are always pad+size bytes, so the padding never changes), and
// reads the chaining value back as the digest: two compressions and a few
// word copies, where HMAC's Reset/Write/Sum copy the digest, pad the
// message again and append to slices, and where restoring a marshalled
// state (UnmarshalBinary, AppendBinary) cost a third of the derivation.
//
// The chaining value is reached in place (see chainingValue), after a
// check of the digest's layout by reflection; a hash laid out otherwise
// goes to crypto/pbkdf2.
type chain struct {
	d            hash.Hash
	h            []uint32 // the digest's chaining value, in place
	inner, outer [maxSize / 4]uint32
	blk          [blockSize]byte // U or the inner digest, 0x80, zeros, bit length
	size         int
	t            []byte // U1 ^ U2 ^ ... ^ Un
	n            int    // iterations done
}

// chainingValue returns the chaining value inside d, a digest of
// crypto/sha1 or crypto/sha256: a pointer to a struct whose field h is an
// array of size/4 words and whose field nx counts the buffered bytes. A
// block-sized Write with nothing buffered compresses straight from the
// caller's slice and leaves nx at zero, so setting h before it and reading
// h after it is one compression. Anything else (a boringcrypto digest, a
// future layout) reports false.
func chainingValue(d hash.Hash, size int) ([]uint32, bool) {
	v := reflect.ValueOf(d)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	st := v.Elem().Type()
	h, ok := st.FieldByName("h")
	want := reflect.ArrayOf(size/4, reflect.TypeFor[uint32]())
	if !ok || h.Type != want || len(h.Index) != 1 {
		return nil, false
	}
	if nx, ok := st.FieldByName("nx"); !ok || nx.Type.Kind() != reflect.Int {
		return nil, false
	}
	return unsafe.Slice((*uint32)(unsafe.Add(v.UnsafePointer(), h.Offset)), size/4), true
}

// newChain returns a chain that has done two iterations, or ok=false when h
// is not a hash it can run. The first iteration (U1, of the salt) is
// crypto/hmac's; the second is checked against crypto/hmac, so a change of
// a digest's workings costs speed, not correctness.
func newChain(h func() hash.Hash, password string, salt []byte, iterations int) (*chain, bool) {
	d := h()
	if iterations < 2 || d.BlockSize() != blockSize || d.Size() > maxSize || d.Size()%4 != 0 {
		return nil, false
	}
	words, ok := chainingValue(d, d.Size())
	if !ok {
		return nil, false
	}
	c := &chain{d: d, h: words, size: d.Size()}

	// The HMAC key block (RFC 2104): the password, hashed first if longer
	// than a block, padded with zeros.
	var key, pad [blockSize]byte
	if len(password) > blockSize {
		d.Reset()
		d.Write([]byte(password))
		d.Sum(key[:0])
	} else {
		copy(key[:], password)
	}
	padState := func(b byte, into *[maxSize / 4]uint32) {
		for i := range pad {
			pad[i] = key[i] ^ b
		}
		d.Reset()
		d.Write(pad[:])
		copy(into[:], c.h)
	}
	padState(0x36, &c.inner)
	padState(0x5c, &c.outer)
	clear(key[:])
	clear(pad[:])

	// U1 = HMAC(password, salt || INT(1)).
	m := hmac.New(h, []byte(password))
	m.Write(salt)
	m.Write([]byte{0, 0, 0, 1})
	c.t = m.Sum(nil)

	copy(c.blk[:], c.t)
	c.blk[c.size] = 0x80
	binary.BigEndian.PutUint64(c.blk[blockSize-8:], uint64(blockSize+c.size)*8)
	c.n = 1

	m.Reset()
	m.Write(c.t)
	want := m.Sum(nil)
	c.prf()
	if !bytes.Equal(c.blk[:c.size], want) {
		c.result()
		return nil, false
	}
	c.xor()
	return c, true
}

// prf replaces U in blk with HMAC(password, U).
func (c *chain) prf() {
	for _, s := range [2]*[maxSize / 4]uint32{&c.inner, &c.outer} {
		copy(c.h, s[:])
		c.d.Write(c.blk[:])
		for i, w := range c.h {
			binary.BigEndian.PutUint32(c.blk[4*i:], w)
		}
	}
}

func (c *chain) xor() {
	u := c.blk[:c.size]
	i := 0
	for ; i+8 <= len(u); i += 8 {
		binary.LittleEndian.PutUint64(c.t[i:], binary.LittleEndian.Uint64(c.t[i:])^binary.LittleEndian.Uint64(u[i:]))
	}
	for ; i < len(u); i++ {
		c.t[i] ^= u[i]
	}
	c.n++
}

// step does one more iteration.
func (c *chain) step() {
	c.prf()
	c.xor()
}

// result returns T and wipes the password-derived states.
func (c *chain) result() []byte {
	clear(c.blk[:])
	clear(c.inner[:])
	clear(c.outer[:])
	clear(c.h)
	return c.t
}
