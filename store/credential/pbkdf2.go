package credential

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"encoding"
	"encoding/binary"
	"hash"
)

// SaltedPassword is Hi(password, salt, i) of RFC 5802: PBKDF2 (RFC 8018) with
// HMAC-h and one output block of h's size, which is all SCRAM needs.
//
// Key derivation is most of the CPU an account costs, and crypto/pbkdf2 spends
// more than half of it outside the compression function: every iteration goes
// through HMAC's generic Reset/Write/Sum, which copies the digest, pads the
// message again and appends to slices. For the 64-byte-block hashes whose
// state marshals as "magic, chaining value, buffer, length" (crypto/sha1,
// crypto/sha256) a chain does it with one digest and fixed buffers; see
// chain. Any other hash goes to crypto/pbkdf2.
func SaltedPassword(h func() hash.Hash, password string, salt []byte, iterations int) ([]byte, error) {
	if c, ok := newChain(h, password, salt, iterations); ok {
		for c.n < iterations {
			c.step()
		}
		return c.result(), nil
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// stateHash is a hash whose state can be saved and restored without
// allocating.
type stateHash interface {
	hash.Hash
	encoding.BinaryAppender
	encoding.BinaryUnmarshaler
}

const (
	blockSize  = 64
	magicLen   = 4 // "sha\x01" (SHA-1), "sha\x03" (SHA-256)
	maxSize    = 32
	lenOfState = 8 // the byte count at the end of a marshalled state
	stateSize  = magicLen + maxSize + blockSize + lenOfState
)

// chain runs the iterations of one PBKDF2 block. Each HMAC of an iteration
// restores the precomputed ipad or opad state, writes one block that already
// carries U and its padding (the HMAC messages are always pad+size bytes, so
// the padding never changes), and reads the chaining value back from the
// marshalled state: no allocation, no second padding, no digest copy.
//
// The block lives inside the marshalling buffer, right after the magic: the
// state that AppendBinary writes there starts with the chaining value (the
// digest, already in place for the next HMAC) followed by the empty input
// buffer as zeros, so only the padding's 0x80 and length need writing again.
type chain struct {
	d            stateHash
	size         int
	inner, outer []byte // marshalled states after the ipad and opad blocks
	buf          [stateSize]byte
	t            []byte // U1 ^ U2 ^ ... ^ Un
	n            int    // iterations done
}

// blk is the last (only) block of both HMAC messages after the pad: U or the
// inner digest, 0x80, zeros, and the bit length of pad+digest.
func (c *chain) blk() []byte { return c.buf[magicLen : magicLen+blockSize] }

func (c *chain) pad() {
	b := c.blk()
	b[c.size] = 0x80
	binary.BigEndian.PutUint64(b[blockSize-8:], uint64(blockSize+c.size)*8)
}

// newChain returns a chain that has done two iterations, or ok=false when h
// is not a hash it can run. The first iteration (U1, of the salt) is
// crypto/hmac's; the second is checked against crypto/hmac, so a future
// change of a hash's state layout costs speed, not correctness.
func newChain(h func() hash.Hash, password string, salt []byte, iterations int) (*chain, bool) {
	d, ok := h().(stateHash)
	if !ok || iterations < 2 || d.BlockSize() != blockSize || d.Size() > maxSize {
		return nil, false
	}
	c := &chain{d: d, size: d.Size()}
	st, err := d.AppendBinary(c.buf[:0])
	if err != nil || len(st) != magicLen+c.size+blockSize+lenOfState || !bytes.HasPrefix(st, []byte("sha")) || &st[0] != &c.buf[0] {
		return nil, false
	}

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
	padState := func(b byte) []byte {
		for i := range pad {
			pad[i] = key[i] ^ b
		}
		d.Reset()
		d.Write(pad[:])
		s, err := d.AppendBinary(make([]byte, 0, len(st)))
		if err != nil {
			return nil
		}
		return s
	}
	c.inner, c.outer = padState(0x36), padState(0x5c)
	clear(key[:])
	clear(pad[:])
	if c.inner == nil || c.outer == nil {
		return nil, false
	}

	// U1 = HMAC(password, salt || INT(1)).
	m := hmac.New(h, []byte(password))
	m.Write(salt)
	m.Write([]byte{0, 0, 0, 1})
	c.t = m.Sum(nil)

	clear(c.buf[:])
	copy(c.blk(), c.t)
	c.pad()
	c.n = 1

	m.Reset()
	m.Write(c.t)
	want := m.Sum(nil)
	if !c.prf() || !bytes.Equal(c.blk()[:c.size], want) {
		return nil, false
	}
	c.xor()
	return c, true
}

// prf replaces U in blk with HMAC(password, U).
func (c *chain) prf() bool {
	for _, s := range [2][]byte{c.inner, c.outer} {
		if c.d.UnmarshalBinary(s) != nil {
			return false
		}
		if _, err := c.d.Write(c.blk()); err != nil {
			return false
		}
		if st, err := c.d.AppendBinary(c.buf[:0]); err != nil || &st[0] != &c.buf[0] {
			return false
		}
		c.pad()
	}
	return true
}

func (c *chain) xor() {
	u := c.blk()[:c.size]
	i := 0
	for ; i+8 <= len(u); i += 8 {
		binary.LittleEndian.PutUint64(c.t[i:], binary.LittleEndian.Uint64(c.t[i:])^binary.LittleEndian.Uint64(u[i:]))
	}
	for ; i < len(u); i++ {
		c.t[i] ^= u[i]
	}
	c.n++
}

// step does one more iteration; it cannot fail once newChain checked the
// same states with the same hash.
func (c *chain) step() {
	c.prf()
	c.xor()
}

// result returns T and wipes the password-derived states.
func (c *chain) result() []byte {
	clear(c.buf[:])
	clear(c.inner)
	clear(c.outer)
	return c.t
}
