package xmppcore

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"sync"
	"unsafe"
)

// crypto/tls keeps the read buffers a connection ever grew: rawInput (the
// records as read from the socket) and hand (handshake messages) both hold
// the capacity the ClientHello needed, about 3.5 KiB per connection, for as
// long as the connection lives, and it has no API to give them back. For an
// idle session that is a fifth of what it costs (heap profile with
// MemProfileRate=1, bench/xmpp: bytes.growSlice under readClientHello). So
// when a session goes idle with nothing buffered, releaseTLSBuffers drops
// them; the next record read allocates a small buffer again.
//
// This reaches into unexported fields, by name and type through reflect,
// under the connection's own read lock (the first field of tls.Conn's
// halfConn "in", which Read and the handshake hold while they use these
// buffers). Where the layout is not the one expected (a Go release that
// renamed or retyped them), tlsIdle.ok is false and nothing is touched:
// sessions then cost what they did. TestReleaseTLSBuffers fails in that
// case, so a Go upgrade that breaks it is seen.
var tlsIdle = func() (l struct {
	ok                   bool
	in, raw, input, hand uintptr
}) {
	t := reflect.TypeOf(tls.Conn{})
	field := func(name string, typ reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		return f.Offset, ok && len(f.Index) == 1 && (typ == nil || f.Type == typ)
	}
	in, ok1 := field("in", nil)
	raw, ok2 := field("rawInput", reflect.TypeOf(bytes.Buffer{}))
	input, ok3 := field("input", reflect.TypeOf(bytes.Reader{}))
	hand, ok4 := field("hand", reflect.TypeOf(bytes.Buffer{}))
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return l
	}
	f, _ := t.FieldByName("in")
	if f.Type.Kind() != reflect.Struct || f.Type.NumField() == 0 {
		return l
	}
	mu := f.Type.Field(0)
	if !mu.Anonymous || mu.Offset != 0 || mu.Type != reflect.TypeOf(sync.Mutex{}) {
		return l
	}
	l.ok, l.in, l.raw, l.input, l.hand = true, in, raw, input, hand
	return l
}()

// releaseTLSBuffers drops tc's read buffers when they hold nothing; it
// reports whether it did.
func releaseTLSBuffers(tc *tls.Conn) bool {
	if !tlsIdle.ok || tc == nil {
		return false
	}
	base := unsafe.Pointer(tc)
	mu := (*sync.Mutex)(unsafe.Add(base, tlsIdle.in))
	raw := (*bytes.Buffer)(unsafe.Add(base, tlsIdle.raw))
	input := (*bytes.Reader)(unsafe.Add(base, tlsIdle.input))
	hand := (*bytes.Buffer)(unsafe.Add(base, tlsIdle.hand))
	mu.Lock()
	defer mu.Unlock()
	if raw.Len() != 0 || input.Len() != 0 || hand.Len() != 0 {
		return false
	}
	*raw = bytes.Buffer{}
	input.Reset(nil) // it still points into rawInput's array
	*hand = bytes.Buffer{}
	return true
}

// tlsBufferCap is the capacity tc's read buffers hold (for tests).
func tlsBufferCap(tc *tls.Conn) int {
	if !tlsIdle.ok {
		return -1
	}
	base := unsafe.Pointer(tc)
	return (*bytes.Buffer)(unsafe.Add(base, tlsIdle.raw)).Cap() + (*bytes.Buffer)(unsafe.Add(base, tlsIdle.hand)).Cap()
}

// ReleaseTLSBuffers is releaseTLSBuffers for a transport that holds an
// idle TLS connection of its own (a BOSH request parked without a reader,
// xmppcore/bosh): it drops tc's read buffers when they hold nothing.
func ReleaseTLSBuffers(tc *tls.Conn) bool { return releaseTLSBuffers(tc) }
