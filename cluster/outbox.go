package cluster

import (
	"strconv"
	"strings"
	"sync"
)

// What a node keeps of the stanzas it sent to the others, so that those
// the NATS server reports undelivered can be routed again.
//
// A stanza for another node is published with a reply subject under this
// node's miss prefix (xmppgate.miss.<incarnation>.<peer>.<seq>, seq in
// base 36).
// Nobody ever answers it: the receiving node does not ack. But when no
// subscription matches the node's subject, as soon as the NATS server has
// seen the connection of a SIGKILLed node close, the server answers on the
// reply subject with a status 503 (no responders; nats.go asks for it in
// CONNECT). The sequence number in that subject finds the stanza here.
//
// Bounds, per node sent to: the last ringSize stanzas and at most
// ringBytes of them: 2,048 entries of 48 bytes (96 KiB, allocated on the
// first stanza to the node), plus at most 2 MiB of stanzas, or one stanza
// if it is larger (a chat message is 0.3-1 KiB, so about 2,048 of them).
// A 503 comes back a NATS round trip after the publish and is handled
// when the receive loop reaches it; the first one drops the node, so no
// more stanzas go to it. At 40,000 stanzas a second to one node (what
// BenchmarkCrossNodeMessages reaches on two quiet cores), 2,048 cover 50
// ms: a round trip on a LAN is under one. A stanza evicted before its 503
// is handled is lost, and logged.
const (
	ringSize  = 2048
	ringBytes = 2 << 20
)

// sent is one stanza sent to another node: to and data as Forward got
// them; to is "" for a sync (send me your sessions), which has no data.
type sent struct {
	seq  uint64
	to   string
	data []byte
}

// ring holds the last stanzas sent to one node, by sequence number: those
// from first to next-1 that were neither evicted nor taken.
type ring struct {
	node        string
	id          string // the node's token in this node's reply subjects
	e           []sent
	first, next uint64
	bytes       int
}

func newRing(node, id string, size int) *ring {
	return &ring{node: node, id: id, e: make([]sent, size), first: 1, next: 1}
}

// put keeps a stanza, evicting the oldest ones past the bounds, and
// returns its sequence number.
func (r *ring) put(to string, data []byte, maxBytes int) uint64 {
	seq := r.next
	for r.first < seq && (seq-r.first >= uint64(len(r.e)) || r.bytes+len(data) > maxBytes) {
		r.drop(r.first)
		r.first++
	}
	r.e[seq%uint64(len(r.e))] = sent{seq: seq, to: to, data: data}
	r.bytes += len(data)
	r.next++
	return seq
}

// take removes and returns the stanza seq, if it is still held.
func (r *ring) take(seq uint64) (sent, bool) {
	if seq < r.first || seq >= r.next {
		return sent{}, false
	}
	s := r.e[seq%uint64(len(r.e))]
	if s.seq != seq {
		return sent{}, false // taken already
	}
	r.drop(seq)
	return s, true
}

func (r *ring) drop(seq uint64) {
	e := &r.e[seq%uint64(len(r.e))]
	if e.seq == seq {
		r.bytes -= len(e.data)
		*e = sent{}
	}
}

// outbox is the rings of the nodes this one sends stanzas to. Its mutex
// is held for a map lookup and a slot write per stanza; the publish that
// follows takes the NATS connection's own mutex anyway.
type outbox struct {
	prefix string // this node's miss prefix, with its trailing dot
	size   int
	bytes  int

	mu     sync.Mutex
	byNode map[string]*ring
	byID   []*ring // a ring stays for the process's life: one per node name ever sent to
}

func newOutbox(prefix string, size, bytes int) *outbox {
	return &outbox{prefix: prefix, size: size, bytes: bytes, byNode: map[string]*ring{}}
}

// put keeps a stanza for node and returns the reply subject to send it with.
func (o *outbox) put(node, to string, data []byte) string {
	o.mu.Lock()
	r := o.byNode[node]
	if r == nil {
		r = newRing(node, strconv.Itoa(len(o.byID)), o.size)
		o.byNode[node] = r
		o.byID = append(o.byID, r)
	}
	seq := r.put(to, data, o.bytes)
	o.mu.Unlock()
	return o.prefix + r.id + "." + strconv.FormatUint(seq, 36)
}

// take returns the stanza a reply subject names: node is "" if the
// subject is not one of put's, ok false if the stanza is no longer held.
func (o *outbox) take(subject string) (node string, s sent, ok bool) {
	rest, found := strings.CutPrefix(subject, o.prefix)
	id, seqS, found2 := strings.Cut(rest, ".")
	i, err := strconv.Atoi(id)
	seq, err2 := strconv.ParseUint(seqS, 36, 64)
	if !found || !found2 || err != nil || err2 != nil {
		return "", sent{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if i < 0 || i >= len(o.byID) {
		return "", sent{}, false
	}
	r := o.byID[i]
	s, ok = r.take(seq)
	return r.node, s, ok
}
