// Package smacks implements the counting side of XEP-0198 Stream
// Management: the handled counters of both directions, with their 32-bit
// wrap, and the queue of stanzas the client has not acknowledged yet. It
// knows nothing of connections, so a session keeps its State across the
// transports it is resumed on (TCP, direct TLS, later WebSocket and BOSH).
package smacks

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"
)

// NS is the XEP-0198 namespace (version 3).
const NS = "urn:xmpp:sm:3"

// ErrTooHigh: the peer acknowledged more stanzas than it was sent
// (XEP-0198 section 4, handled-count-too-high).
var ErrTooHigh = errors.New("smacks: acknowledged more stanzas than were sent")

// State is one session's stream management. The zero value counts
// without resumption. It is not safe for concurrent use: the session
// guards it with its write lock.
type State struct {
	// ID is the resumption id ("" when the session is not resumable).
	ID string
	// Max is how long the session waits for a resumption once its
	// transport is lost.
	Max time.Duration
	// In counts the stanzas received from the client (its h on <r/>).
	In uint32
	// Out counts the stanzas sent to the client, acked or not.
	Out uint32
	// Requested: an <r/> went out and its <a/> has not come back.
	Requested bool
	// queue holds the unacked stanzas, oldest first: queue[i] is stanza
	// number Out-len(queue)+1+i. It is nil while empty: an idle session
	// holds no buffer.
	queue [][]byte
}

// NewID returns a fresh resumption id: 128 random bits.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Sent records one stanza sent (or queued while the transport is gone).
// b is kept, not copied: the caller must not change it afterwards.
func (s *State) Sent(b []byte) {
	s.Out++
	s.queue = append(s.queue, b)
}

// Acked is the h the client last confirmed.
func (s *State) Acked() uint32 { return s.Out - uint32(len(s.queue)) }

// Unacked is the number of stanzas waiting for the client's ack.
func (s *State) Unacked() int { return len(s.queue) }

// Ack drops the stanzas up to the client's handled count h. Counts are
// compared modulo 2^32, so h wraps from 4294967295 to 0 as the XEP says.
// An h beyond Out is ErrTooHigh and changes nothing; an h below what was
// already acked counts as too high as well, as the difference wraps.
func (s *State) Ack(h uint32) error {
	n := h - s.Acked()
	if n > uint32(len(s.queue)) {
		return ErrTooHigh
	}
	if int(n) == len(s.queue) {
		s.queue = nil // release the array: the next stanza starts a small one
		return nil
	}
	clear(s.queue[:n]) // let the acked stanzas go before the array does
	s.queue = s.queue[n:]
	return nil
}

// Take returns the unacked stanzas, oldest first, and empties the queue;
// the counters stay (a session ending hands them to offline storage).
func (s *State) Take() [][]byte {
	q := s.queue
	s.queue = nil
	return q
}

// Pending returns the unacked stanzas without removing them (to resend
// them after a resumption; they stay unacked until the client says so).
func (s *State) Pending() [][]byte { return s.queue }
