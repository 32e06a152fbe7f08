package bosh

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Stream is the XMPP side of a session, made by an Opener.
//
// Its methods are called in rid order, one at a time per session, from
// whichever HTTP request delivers them, and never with a lock of this
// package held: a Stream may call Session.Write from them.
type Stream interface {
	// Receive takes the payloads of one request; it is called for empty
	// requests too (els nil): every request shows the client is there.
	Receive(els []*xmlel.Element)
	// Restart is XEP-0206's stream restart (xmpp:restart='true').
	Restart()
	// End says the session ended on the HTTP side: byClient, the
	// client terminated it (after Receive got its last payloads); else it
	// was inactive for too long, broke the session rules, or the manager
	// shuts down (as if its connection was lost). It is not called after
	// the Stream ended the session itself with Session.Terminate.
	End(byClient bool)
}

// Opener starts the XMPP side of a new session. b is the session creation
// request (to, xml:lang, xmpp:version, ...). An *Error refuses the session
// with its condition (e.g. HostUnknown); any other error is
// internal-server-error.
type Opener interface {
	Open(s *Session, b *Body, r *http.Request) (Stream, error)
}

// OpenerFunc adapts a function to Opener.
type OpenerFunc func(s *Session, b *Body, r *http.Request) (Stream, error)

// Open calls f.
func (f OpenerFunc) Open(s *Session, b *Body, r *http.Request) (Stream, error) { return f(s, b, r) }

// Session is one BOSH session. Its exported methods are for its Stream
// and are safe from any goroutine.
type Session struct {
	m      *Manager
	sid    string
	stream Stream
	legacy bool // no ver in the creation request: HTTP error codes
	acks   bool // the client acknowledges responses (ack='1')
	ver    string

	wait, inactivity, polling, maxPause time.Duration
	hold, requests                      int

	mu sync.Mutex
	// hi is the highest rid processed; all lower ones were processed.
	hi uint64
	// queued are requests above hi+1 waiting for the gap to fill, in no
	// order; held are processed requests not yet answered, in rid order.
	queued, held []*request
	// cache holds the responses a repeated rid gets again (XEP-0124 14.3).
	cache []cached
	// out is what the Stream wrote that no response carried yet.
	out bytes.Buffer
	// created: the session creation response went out. from and authid
	// are the stream's, sent with the next response.
	created      bool
	from, authid string
	// last: arrival of the previous new request; lastEmpty: it was empty
	// and answered without payload (the polling rules of XEP-0124 11, 12).
	last      time.Time
	lastEmpty bool
	// key is the expected SHA-1 of the next key (XEP-0124 15), hex.
	key string
	// idle fires after inactivity (or a pause) with nothing held.
	idle  *time.Timer
	pause time.Duration
	// inbox, delivering: payloads for the Stream, delivered outside mu
	// by one goroutine at a time so that they keep rid order.
	inbox      []delivery
	delivering bool
	closed     bool
	// final is the terminate response for the next request after the
	// Stream ended the session while nothing was held.
	final []byte
}

type delivery struct {
	els      []*xmlel.Element
	restart  bool
	close    bool
	byClient bool
}

type cached struct {
	rid  uint64
	resp []byte
}

// request is one HTTP request in flight.
type request struct {
	b       *Body
	arrived time.Time
	// done is closed once resp is set; a resp without body means a
	// repeat of the same rid took over and this one has nothing to say.
	done     chan struct{}
	resp     response
	answered bool
	pause    bool
	// parked: the request's connection was taken from net/http for the
	// wait (park.go); the answer is written from reply.
	parked *parkedReq
}

func newRequest(b *Body, now time.Time) *request {
	return &request{b: b, arrived: now, done: make(chan struct{})}
}

func (r *request) terminating() bool { return r.b.Type == "terminate" || r.b.Pause >= 0 }

// SID returns the session identifier.
func (s *Session) SID() string { return s.sid }

// StreamOpened gives the stream's from (the domain) and id (XEP-0206
// authid), sent with the next response.
func (s *Session) StreamOpened(from, id string) {
	s.mu.Lock()
	s.from, s.authid = from, id
	s.mu.Unlock()
}

// ErrClosed is returned by Write after the session ended.
var ErrClosed = errors.New("bosh: session closed")

// errBacklog: the client has not fetched what it was sent for too long.
var errBacklog = errors.New("bosh: too much data waiting for the client")

// Write queues complete elements (each naming its namespace) for the
// client; a held request carries them at once. It fails once the session
// ended, or when more than the manager's MaxPending bytes wait (the
// session then ends with undefined-condition).
func (s *Session) Write(p []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.out.Write(p)
	if len(s.held) > 0 {
		s.answerLocked(s.held[0], nil)
	} else if s.out.Len() > s.m.cfg.MaxPending {
		s.mu.Unlock()
		s.end(&Error{Cond: UndefinedCondition, Text: "too much data waiting"}, true)
		return errBacklog
	}
	s.mu.Unlock()
	return nil
}

// Terminate ends the session from the XMPP side: the client gets what was
// written, then payload, in a response of type terminate with cond ("" for
// a stream closed without error). XEP-0206 reports a stream error as
// RemoteStreamError with the <stream:error/> as payload.
func (s *Session) Terminate(cond Condition, payload []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.out.Write(payload)
	s.closeLocked(cond)
	if s.final != nil {
		// Kept until the client's next request fetches the end (or
		// the inactivity period passes).
		s.armIdle()
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.m.remove(s)
}

// closeLocked marks the session ended and answers every waiting request:
// the oldest with what is left to say and the end, the others with the end
// alone. With nothing held the end waits for the client's next request.
func (s *Session) closeLocked(cond Condition) {
	s.closed = true
	if s.idle != nil {
		s.idle.Stop()
	}
	for _, q := range s.queued {
		s.reply(q, response{200, terminateBody(cond, nil)})
	}
	s.queued = nil
	if len(s.held) == 0 {
		s.final = terminateBody(cond, s.out.Bytes())
		s.out = bytes.Buffer{}
		return
	}
	for i, r := range s.held {
		var payload []byte
		if i == 0 {
			payload = s.out.Bytes()
		}
		s.reply(r, response{200, terminateBody(cond, payload)})
	}
	s.held, s.out = nil, bytes.Buffer{}
}

// end ends the session for a reason of the HTTP side and tells the
// Stream (if tell).
func (s *Session) end(e *Error, tell bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closeLocked(e.Cond)
	if tell {
		s.inbox = append(s.inbox, delivery{close: true})
	}
	s.mu.Unlock()
	s.m.remove(s)
	s.m.log(s, e)
	s.deliver()
}

// reply hands resp to r's waiting handler (once).
func (s *Session) reply(r *request, resp response) {
	if r.answered {
		return
	}
	r.answered, r.resp = true, resp
	close(r.done)
	if r.parked != nil {
		go r.parked.finish()
	}
}

// answerLocked answers r (held) with what the Stream wrote, removes it
// from held and, if nothing is held any more, starts the inactivity clock.
// extra are more attributes (none for a plain response).
func (s *Session) answerLocked(r *request, extra []attr) {
	var as []attr
	if !s.created {
		s.created = true
		as = append(as,
			attr{"sid", s.sid}, attr{"wait", secs(s.wait)}, attr{"requests", strconv.Itoa(s.requests)},
			attr{"hold", strconv.Itoa(s.hold)}, attr{"inactivity", secs(s.inactivity)},
			attr{"polling", secs(s.polling)}, attr{"maxpause", secs(s.maxPause)}, attr{"ver", s.ver},
			attr{"xmpp:version", "1.0"}, attr{"xmpp:restartlogic", "true"})
		if s.acks {
			as = append(as, attr{"ack", strconv.FormatUint(r.b.RID, 10)})
		}
	} else if s.acks && s.hi != r.b.RID {
		as = append(as, attr{"ack", strconv.FormatUint(s.hi, 10)})
	}
	if s.from != "" {
		as = append(as, attr{"from", s.from}, attr{"authid", s.authid})
		s.from, s.authid = "", ""
	}
	as = append(as, extra...)
	var payload []byte
	if !r.pause { // a pause response carries nothing (XEP-0124 10)
		payload = s.out.Bytes()
	}
	var b bytes.Buffer
	writeBody(&b, as, payload)
	// Exactly sized: the buffer's spare room would stay with every idle
	// session's buffered responses.
	resp := bytes.Clone(b.Bytes())
	if !r.pause {
		s.lastEmpty = r.b.empty() && len(payload) == 0
		s.out = bytes.Buffer{}
		s.remember(r.b.RID, resp)
	}
	for i, h := range s.held {
		if h == r {
			s.held = append(s.held[:i], s.held[i+1:]...)
			break
		}
	}
	s.reply(r, response{200, resp})
	if len(s.held) == 0 && len(s.queued) == 0 {
		s.armIdle()
	}
}

// remember keeps resp for a repeat of rid: the last `requests' responses,
// or with acknowledgements those the client did not acknowledge (bounded
// all the same, so a client that never acks cannot grow it).
func (s *Session) remember(rid uint64, resp []byte) {
	s.cache = append(s.cache, cached{rid, resp})
	max := s.requests
	if s.acks {
		max = 4 * s.requests
	}
	if n := len(s.cache) - max; n > 0 {
		s.cache = append(s.cache[:0], s.cache[n:]...)
	}
}

func (s *Session) armIdle() {
	d := s.inactivity
	if s.pause >= 0 {
		d = s.pause
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(d, s.expire)
		return
	}
	s.idle.Reset(d)
}

// expire ends a session whose client made no request for the inactivity
// period (XEP-0124 10: without telling the client).
func (s *Session) expire() {
	s.mu.Lock()
	closed := s.closed
	idle := len(s.held) == 0 && len(s.queued) == 0
	s.mu.Unlock()
	switch {
	case closed: // the end the Stream left was never fetched
		s.m.remove(s)
	case idle:
		s.end(&Error{Cond: "", Text: "inactive"}, true)
	}
}

// handle runs one request of an existing session: a repeat gets its
// response again, a new one waits for its turn (rid order), then is
// processed. The returned request's done channel gets the response.
func (s *Session) handle(b *Body, now time.Time) *request {
	r := newRequest(b, now)
	s.mu.Lock()
	if s.closed {
		resp := s.m.terminate(s.legacy, ItemNotFound)
		if s.final != nil {
			resp = response{200, s.final}
		}
		s.reply(r, resp)
		s.mu.Unlock()
		s.m.remove(s)
		return r
	}
	switch {
	case b.RID <= s.hi:
		err := s.repeatLocked(r)
		s.mu.Unlock()
		if err != nil {
			s.fail(r, err)
		}
		return r
	case b.RID > s.hi+uint64(s.requests):
		s.mu.Unlock()
		s.fail(r, errorf(ItemNotFound, "rid %d beyond the window above %d", b.RID, s.hi))
		return r
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	for i, q := range s.queued {
		if q.b.RID == b.RID { // a repeat of a request still waiting for its turn
			s.queued[i] = r
			s.reply(q, response{})
			s.mu.Unlock()
			return r
		}
	}
	limit := s.requests
	if r.terminating() || s.queuedTerminating() { // XEP-0124 11: one more to pause or terminate
		limit++
	}
	if len(s.held)+len(s.queued)+1 > limit {
		s.mu.Unlock()
		s.fail(r, errorf(PolicyViolation, "more than %d simultaneous requests", s.requests))
		return r
	}
	s.queued = append(s.queued, r)
	var err *Error
	var failed *request
	for err == nil {
		if failed = s.take(s.hi + 1); failed == nil {
			break
		}
		err = s.processLocked(failed)
	}
	closed := s.closed
	s.mu.Unlock()
	if err != nil {
		s.fail(failed, err)
	} else if closed { // terminated by the client
		s.m.remove(s)
	}
	s.deliver()
	return r
}

func (s *Session) queuedTerminating() bool {
	for _, q := range s.queued {
		if q.terminating() {
			return true
		}
	}
	return false
}

// take removes and returns the queued request with rid, if any.
func (s *Session) take(rid uint64) *request {
	for i, q := range s.queued {
		if q.b.RID == rid {
			s.queued = append(s.queued[:i], s.queued[i+1:]...)
			return q
		}
	}
	return nil
}

// repeatLocked answers a rid seen before: from the cache, or by taking
// over the held request of that rid whose connection was presumably lost.
func (s *Session) repeatLocked(r *request) *Error {
	for _, c := range s.cache {
		if c.rid == r.b.RID {
			s.reply(r, response{200, c.resp})
			return nil
		}
	}
	for i, h := range s.held {
		if h.b.RID == r.b.RID {
			r.pause = h.pause
			s.held[i] = r
			s.reply(h, response{})
			return nil
		}
	}
	return errorf(ItemNotFound, "rid %d no longer buffered", r.b.RID)
}

// fail answers r with e and ends the session.
func (s *Session) fail(r *request, e *Error) {
	s.mu.Lock()
	if !r.answered {
		s.queued = slices.DeleteFunc(s.queued, func(q *request) bool { return q == r })
		s.held = slices.DeleteFunc(s.held, func(h *request) bool { return h == r })
		s.reply(r, s.m.terminate(s.legacy, e.Cond))
	}
	s.mu.Unlock()
	s.end(e, true)
}

// processLocked runs the request whose turn it is (rid hi+1).
func (s *Session) processLocked(r *request) *Error {
	b := r.b
	s.hi = b.RID
	if err := s.checkKey(b); err != nil {
		return err
	}
	// XEP-0124 11 and 12: too frequent empty requests.
	if s.polling > 0 && b.empty() && b.Type == "" && b.Pause < 0 && !b.Restart && !s.last.IsZero() &&
		r.arrived.Sub(s.last) < s.polling {
		full := len(s.held)+1 >= s.requests // all allowed requests unanswered
		if s.hold == 0 && s.lastEmpty || s.hold > 0 && full {
			return errorf(PolicyViolation, "empty requests more often than every %s", s.polling)
		}
	}
	s.last = r.arrived
	s.pause = -1
	if s.acks && b.Ack > 0 {
		i := 0
		for i < len(s.cache) && s.cache[i].rid <= b.Ack {
			i++
		}
		s.cache = append(s.cache[:0], s.cache[i:]...)
	}
	switch {
	case b.Type == "terminate":
		if len(b.Payload) > 0 {
			s.inbox = append(s.inbox, delivery{els: b.Payload})
		}
		s.inbox = append(s.inbox, delivery{close: true, byClient: true})
		s.held = append(s.held, r)
		s.closeLocked("")
		return nil
	case b.Pause >= 0:
		if s.maxPause == 0 || time.Duration(b.Pause)*time.Second > s.maxPause {
			return errorf(PolicyViolation, "pause %d s beyond maxpause", b.Pause)
		}
		for len(s.held) > 0 {
			s.answerLocked(s.held[0], nil)
		}
		r.pause = true
		s.held = append(s.held, r)
		s.answerLocked(r, nil)
		s.pause = time.Duration(b.Pause) * time.Second
		s.armIdle()
		return nil
	case b.Restart:
		if len(b.Payload) > 0 {
			return errorf(BadRequest, "a restart request carries no payload")
		}
		s.inbox = append(s.inbox, delivery{restart: true})
	default:
		s.inbox = append(s.inbox, delivery{els: b.Payload})
	}
	s.held = append(s.held, r)
	if s.out.Len() > 0 {
		s.answerLocked(s.held[0], nil)
	}
	for len(s.held) > s.hold {
		s.answerLocked(s.held[0], nil)
	}
	return nil
}

// checkKey verifies the key sequence of XEP-0124 15, once a client
// started one.
func (s *Session) checkKey(b *Body) *Error {
	if s.key != "" {
		sum := sha1.Sum([]byte(b.Key))
		if b.Key == "" || subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(s.key)) != 1 {
			return errorf(ItemNotFound, "wrong key")
		}
		s.key = b.Key
	}
	if b.NewKey != "" {
		s.key = b.NewKey
	}
	return nil
}

// deliver hands the inbox to the Stream in order. One goroutine delivers
// at a time; the others leave their items to it.
func (s *Session) deliver() {
	s.mu.Lock()
	if s.delivering {
		s.mu.Unlock()
		return
	}
	s.delivering = true
	for len(s.inbox) > 0 {
		d := s.inbox[0]
		s.inbox = s.inbox[1:]
		s.mu.Unlock()
		switch {
		case d.close:
			s.stream.End(d.byClient)
		case d.restart:
			s.stream.Restart()
		default:
			s.stream.Receive(d.els)
		}
		s.mu.Lock()
	}
	s.inbox = nil
	s.delivering = false
	s.mu.Unlock()
}

// timeout answers r empty when it was held for the session's wait.
func (s *Session) timeout(r *request) {
	s.mu.Lock()
	for _, h := range s.held {
		if h == r {
			s.answerLocked(r, nil)
			break
		}
	}
	s.mu.Unlock()
}

// abandon: r's client went away. A held request is answered (and the
// answer buffered, for a repeat); a queued one is dropped unprocessed, so
// a repeat of it is processed afresh.
func (s *Session) abandon(r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.answered {
		return
	}
	if q := s.take(r.b.RID); q != nil {
		q.answered = true
		if len(s.held) == 0 && len(s.queued) == 0 && !s.closed {
			s.armIdle()
		}
		return
	}
	for _, h := range s.held {
		if h == r {
			s.answerLocked(r, nil)
			return
		}
	}
}

func secs(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.Itoa(int(d / time.Second))
}

func newSID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
