package xmppcore

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/smacks"
)

// XEP-0198 Stream Management: the glue between a session and its
// smacks.State. Everything here runs under the session's write lock
// (wmu) except where said: the state lives with the session, not with
// the transport, so a resumption hands a new transport to the old
// session whatever listener it came in on.

const (
	// maxUnacked bounds the unacked queue (ejabberd's max_ack_queue): a
	// client that never acks, or a flood to a hibernated session, ends
	// the session instead of growing without limit.
	maxUnacked = 5000
	// takeoverWait is how long a resumption waits for the old transport
	// of a live session to be let go.
	takeoverWait = 5 * time.Second
)

var (
	condUndefined = stream.UndefinedCondition
	smR           = []byte("<r xmlns='" + smacks.NS + "'/>")
	errSMBad      = errors.New("xmppcore: malformed stream management element")
)

// hibernation is a session waiting for its resumption.
type hibernation struct {
	timer *time.Timer
	// move is set while the session is handed to another node where its
	// client resumes (sm_cluster.go); no other resumption may take it then.
	move *smMove
}

// boundFeatures adds the features offered with resource binding.
func (c *conn) boundFeatures(b *strings.Builder) {
	if c.domain().On(modcfg.StreamManagement) {
		b.WriteString("<sm xmlns='" + smacks.NS + "'/>")
	}
	if c.domain().On(modcfg.ClientState) {
		b.WriteString("<csi xmlns='" + nsCSI + "'/>")
	}
}

// smFailed sends <failed/> with a stanza error condition (XEP-0198 1.6
// puts one in every <failed/>).
func (c *conn) smFailed(cond, text string) {
	s := "<failed xmlns='" + smacks.NS + "'><" + cond + " xmlns='" + nsStanzas + "'/>"
	if text != "" {
		s += "<text xmlns='" + nsStanzas + "' xml:lang='en'>" + text + "</text>"
	}
	c.writeNonza(s + "</failed>")
}

// writeNonza writes a stream management element: it is no stanza, so it
// is neither counted nor queued.
func (c *conn) writeNonza(s string) {
	c.wmu.Lock()
	c.writeLocked([]byte(s))
	c.wmu.Unlock()
}

// smOff answers any stream management element of a domain that switched
// the module off.
func (c *conn) smOff() bool {
	if c.srv.domainOf(c).On(modcfg.StreamManagement) {
		return false
	}
	c.smFailed("feature-not-implemented", "")
	return true
}

// smBeforeBind handles a stream management element after authentication
// and before binding: only <resume/> is allowed there (ejabberd answers
// the others the same way).
func (c *conn) smBeforeBind(el *xmlel.Element) error {
	if c.smOff() {
		return nil
	}
	switch el.Name.Local {
	case "resume":
		return c.resume(el)
	case "enable", "r", "a":
		c.smFailed("unexpected-request", "")
	default:
		c.smFailed("bad-request", "")
	}
	return nil
}

// smElement handles a stream management element of a bound session.
func (c *conn) smElement(el *xmlel.Element) error {
	switch el.Name.Local {
	case "enable":
		if c.smOff() {
			return nil
		}
		if c.sm != nil {
			c.smFailed("unexpected-request", "")
			return nil
		}
		c.enable(el)
	case "r":
		if c.sm == nil {
			c.smFailed("unexpected-request", "")
			return nil
		}
		c.writeNonza("<a xmlns='" + smacks.NS + "' h='" + strconv.FormatUint(uint64(c.sm.In), 10) + "'/>")
	case "a":
		if c.sm == nil {
			c.smFailed("unexpected-request", "")
			return nil
		}
		h, err := strconv.ParseUint(el.Get("h"), 10, 32)
		if err != nil {
			return streamErr{condBadFormat, "h must be an unsigned 32-bit integer"}
		}
		return c.ack(uint32(h))
	case "resume":
		if !c.smOff() {
			c.smFailed("unexpected-request", "")
		}
	default:
		if !c.smOff() {
			c.smFailed("bad-request", "")
		}
	}
	return nil
}

// enable turns stream management on (XEP-0198 section 3), resumable if
// asked; the timeout is ours, or the client's max if shorter.
func (c *conn) enable(el *xmlel.Element) {
	st := &smacks.State{Max: c.srv.cfg.SMResumeTimeout}
	out := "<enabled xmlns='" + smacks.NS + "'"
	// An anonymous user cannot log in as the same user again: no resumption.
	if r := el.Get("resume"); (r == "true" || r == "1") && !c.anon {
		if m, err := strconv.ParseUint(el.Get("max"), 10, 32); err == nil && m > 0 && time.Duration(m)*time.Second < st.Max {
			st.Max = time.Duration(m) * time.Second
		}
		st.ID = smacks.NewID()
		out += " id='" + st.ID + "' resume='true' max='" + strconv.Itoa(int(st.Max/time.Second)) + "'"
		c.srv.mu.Lock()
		c.srv.smIDs[st.ID] = c
		c.srv.mu.Unlock()
	}
	c.wmu.Lock()
	c.sm = st
	c.writeLocked([]byte(out + "/>"))
	c.wmu.Unlock()
}

// handled counts a stanza received from the client. Only the reader
// goroutine writes In, and a resumption reads it after the hibernation
// that ended that reader, so no lock is needed.
func (c *conn) handled() {
	if c.sm != nil {
		c.sm.In++
	}
}

// ack applies the client's <a h=”/>: drop what it confirmed, and ask
// again at once if stanzas went out after the request it answered.
func (c *conn) ack(h uint32) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.sm.Ack(h); err != nil {
		return appStreamErr{streamErr{condUndefined, "acknowledged more stanzas than were sent"},
			"<handled-count-too-high xmlns='" + smacks.NS + "' h='" + strconv.FormatUint(uint64(h), 10) +
				"' send-count='" + strconv.FormatUint(uint64(c.sm.Out), 10) + "'/>"}
	}
	c.sm.Requested = false
	if c.ackTimer != nil {
		c.ackTimer.Stop()
	}
	if c.sm.Unacked() > 0 {
		c.writeLocked(smR)
		c.requestedLocked()
	}
	return nil
}

// requestedLocked notes an <r/> just sent: an <a/> must come back within
// SMAckTimeout, or the connection counts as lost and the session
// hibernates (ejabberd's ack_timeout). A phone whose network went away
// without a word is found this way long before TCP gives up, so push can
// wake it. The timer is made at the first request and reused.
func (c *conn) requestedLocked() {
	c.sm.Requested = true
	d := c.srv.cfg.SMAckTimeout
	c.ackBy = time.Now().Add(d)
	if c.ackTimer == nil {
		c.ackTimer = time.AfterFunc(d, c.ackExpired)
	} else {
		c.ackTimer.Reset(d)
	}
}

// ackExpired cuts the transport of a session whose client did not answer
// an <r/> in time; its reader then hibernates it.
func (c *conn) ackExpired() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sm == nil || !c.sm.Requested || c.hib != nil || c.closed || time.Now().Before(c.ackBy) {
		return // answered, or re-armed since this firing was scheduled
	}
	c.log.Info("no stream management ack in time, connection taken as lost", zap.String("jid", c.jidStr),
		zap.Duration("ack_timeout", c.srv.cfg.SMAckTimeout))
	c.nc.Close()
}

// sendManagedLocked sends a stanza of a session with stream management or
// client state indication on: CSI may hold it back, SM counts and queues
// it, and asks for an ack unless one is already asked for. While the
// session hibernates, stanzas are only queued.
func (c *conn) sendManagedLocked(b []byte) {
	if c.csi != nil {
		if c.csi.hold(b) {
			return
		}
		for _, h := range c.csi.take() {
			c.smSendLocked(h)
		}
	}
	c.smSendLocked(b)
}

func (c *conn) smSendLocked(b []byte) {
	if c.sm == nil {
		c.writeLocked(b)
		return
	}
	c.sm.Sent(b)
	if c.sm.Unacked() > maxUnacked && !c.terminated {
		c.terminated = true // one goroutine is enough
		go c.fail(condPolicyViolation, "too many unacknowledged stanzas")
		return
	}
	if c.hib != nil || c.closed {
		return
	}
	if c.sm.Requested || c.framed {
		// A framed transport takes one element per write.
		c.writeLocked(b)
		if !c.sm.Requested {
			c.writeLocked(smR)
			c.requestedLocked()
		}
		return
	}
	// The request goes in the stanza's write: one TLS record, one syscall.
	buf := withR.Get().(*[]byte)
	*buf = append(append((*buf)[:0], b...), smR...)
	c.writeLocked(*buf)
	if cap(*buf) <= 64<<10 {
		withR.Put(buf)
	}
	c.requestedLocked()
}

// withR holds the buffers stanzas and their ack request are joined in.
var withR = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// hibernate keeps a resumable session whose transport was lost (not one
// the client closed, broke or the server ended) for its resumption
// timeout. It reports whether it did; the session's goroutine then ends
// and the hibernation holds its count in srv.wg.
func (c *conn) hibernate(err error) bool {
	var se streamErr
	var ae appStreamErr
	if err == nil || errors.Is(err, errStreamEnd) || errors.As(err, &se) || errors.As(err, &ae) ||
		c.lim.err == nil || errors.Is(c.lim.err, errTooLarge) {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sm == nil || c.sm.ID == "" || c.terminated {
		return false
	}
	c.closed = true
	c.dropHeldLocked()
	c.nc.Close()
	c.hib = &hibernation{timer: time.AfterFunc(c.sm.Max, c.expire)}
	c.srv.hibernated.Add(1)
	// A message the client may never have seen: wake it (ejabberd does
	// the same when a session with unacked stanzas goes pending).
	if m := firstBodyMessage(c.sm.Pending()); m != nil {
		go c.srv.pushNotify(m, c.srv.domainOf(c), c.bare, c.user.ID)
	}
	c.sm.Requested = false
	if c.ackTimer != nil {
		c.ackTimer.Stop()
	}
	if c.csi != nil { // the client says again how it is after resuming
		c.csi = nil
	}
	c.log.Info("session hibernated", zap.String("jid", c.jidStr), zap.Int("unacked", c.sm.Unacked()),
		zap.Duration("timeout", c.sm.Max))
	return true
}

// expire ends a hibernated session whose timeout passed.
func (c *conn) expire() {
	c.wmu.Lock()
	if c.hib == nil || c.hib.move != nil { // resumed, ended, or moving meanwhile
		c.wmu.Unlock()
		return
	}
	c.hib, c.terminated = nil, true
	c.srv.hibernated.Add(-1)
	c.wmu.Unlock()
	c.log.Info("hibernated session timed out", zap.String("jid", c.jidStr))
	c.cleanup()
	c.srv.wg.Done()
}

// endHibernation ends a hibernated session now (kick, replacement,
// shutdown); c.wmu is held.
func (c *conn) endHibernation() {
	c.hib.timer.Stop()
	if c.hib.move != nil {
		c.hib.move.timer.Stop()
	}
	c.hib = nil
	c.srv.hibernated.Add(-1)
	go func() {
		defer c.srv.wg.Done()
		c.cleanup()
	}()
}

// live reports whether the session counts as online: its stream runs, or
// it hibernates awaiting a resumption.
func (c *conn) live() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return !c.closed || c.hib != nil
}

// hibernating reports whether the session waits for a resumption.
func (c *conn) hibernating() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.hib != nil
}

// resume answers <resume/> (XEP-0198 section 5) on a new, authenticated
// stream c: the old session takes c's transport over, and serve then runs
// the old session's read loop on it.
func (c *conn) resume(el *xmlel.Element) error {
	h, err := strconv.ParseUint(el.Get("h"), 10, 32)
	previd := el.Get("previd")
	if err != nil || previd == "" {
		c.smFailed("bad-request", "")
		return nil
	}
	c.srv.mu.RLock()
	old := c.srv.smIDs[previd]
	c.srv.mu.RUnlock()
	// Another user's id is as unknown as an expired one: the answer must
	// not tell ids of others apart.
	me, _ := jid.New(c.user.Username, c.domain().FQDN, "")
	if old == nil && !c.anon && c.resumeFromCluster(previd, uint32(h)) {
		return nil
	}
	if old == nil || old.anon || c.anon || old.user.ID != c.user.ID || old.bare != me.String() || !old.takeOver(c, uint32(h)) {
		c.smFailed("item-not-found", "Previous session not found")
		return nil
	}
	c.resumedInto = old
	return nil
}

// takeOver gives the transport of the new stream nc to the hibernated (or
// still connected) session c, acks what the client says it got, answers
// <resumed/> and sends the rest of the queue again.
func (c *conn) takeOver(nc *conn, h uint32) bool {
	if !c.awaitHibernation(takeoverWait) {
		return false
	}
	defer c.wmu.Unlock()
	c.hib.timer.Stop()
	c.hib = nil
	c.srv.hibernated.Add(-1)
	nc.wmu.Lock()
	c.nc, c.secure, c.ip, c.port = nc.nc, nc.secure, nc.ip, nc.port
	c.framed, c.kind, c.tlsOn = nc.framed, nc.kind, nc.tlsOn
	nc.wmu.Unlock()
	c.lim, c.br, c.dec = nc.lim, nc.br, nc.dec
	c.dropHeldLocked() // meant for the lost transport; the queue resends them
	c.closed, c.headerSent = false, true
	pending := c.answerResumeLocked(h)
	c.log.Info("session resumed", zap.String("jid", c.jidStr), zap.String("ip", c.ip), zap.Int("resent", len(pending)))
	return true
}

// awaitHibernation returns with c.wmu held and c hibernated, not being
// moved to another node, when it can be resumed (false, unlocked,
// otherwise). A session whose transport was not noticed gone yet (the
// client came back before that) has it cut, and its reader then
// hibernates it, within wait.
func (c *conn) awaitHibernation(wait time.Duration) bool {
	c.wmu.Lock()
	if c.terminated || c.sm == nil {
		c.wmu.Unlock()
		return false
	}
	if c.hib == nil {
		old := c.nc
		c.wmu.Unlock()
		old.Close()
		deadline := time.Now().Add(wait)
		for !c.hibernating() {
			if time.Now().After(deadline) || !c.liveOrStarting() {
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.wmu.Lock()
	}
	if c.terminated || c.hib == nil || c.hib.move != nil {
		c.wmu.Unlock()
		return false
	}
	return true
}

// liveOrStarting: the session was neither ended nor given up; a
// resumption may still wait for its reader to hibernate it.
func (c *conn) liveOrStarting() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return !c.terminated
}

// settleUnacked runs when a session ends: its resumption id is forgotten
// and what the client never acknowledged is dealt with as XEP-0198
// section 5 asks (as if never delivered; see unacked).
func (c *conn) settleUnacked() {
	c.wmu.Lock()
	sm := c.sm
	var q [][]byte
	if sm != nil {
		q = sm.Take()
	}
	c.csi = nil
	if c.ackTimer != nil {
		c.ackTimer.Stop()
	}
	c.wmu.Unlock()
	if sm == nil {
		return
	}
	if sm.ID != "" {
		c.srv.mu.Lock()
		if c.srv.smIDs[sm.ID] == c {
			delete(c.srv.smIDs, sm.ID)
		}
		c.srv.mu.Unlock()
	}
	for _, b := range q {
		if el, err := parseClient(b); err == nil {
			c.srv.unacked(c, el)
		}
	}
}

// answerResumeLocked takes the client's h, answers <resumed/> and sends
// again the stanzas the client has not acknowledged, with a request for
// an ack; it returns them. c.wmu is held.
func (c *conn) answerResumeLocked(h uint32) [][]byte {
	if err := c.sm.Ack(h); err != nil {
		// ejabberd's leniency: the client got everything.
		c.log.Warn("resumption acknowledged more stanzas than were sent", zap.String("jid", c.jidStr),
			zap.Uint32("h", h), zap.Uint32("sent", c.sm.Out))
		c.sm.Ack(c.sm.Out)
	}
	c.writeLocked([]byte("<resumed xmlns='" + smacks.NS + "' previd='" + c.sm.ID + "' h='" +
		strconv.FormatUint(uint64(c.sm.In), 10) + "'/>"))
	pending := c.sm.Pending()
	for _, b := range pending {
		c.writeLocked(b)
	}
	if len(pending) > 0 {
		c.writeLocked(smR)
		c.requestedLocked()
	}
	return pending
}

// unacked deals with one stanza the client of the ended session c never
// acknowledged. A message with a body goes to offline storage when the
// user has no session left on any node (Prosody 0.12's mod_smacks does
// the same), or through normal routing again to its original address
// otherwise (a session that replaced c on the same resource gets it, on
// whichever node; ejabberd's resend_on_timeout): a resource online on
// another node gets it live, by priority, rather than from the offline
// store after that node was told to drain it, delay-stamped. Copies of
// the user's own traffic (carbons), presences, results and errors are
// dropped; an IQ request is answered with service-unavailable.
func (s *Server) unacked(c *conn, st *xmlel.Element) {
	from, _ := jid.Parse(st.Get("from"))
	if from.Bare().String() == c.bare {
		return
	}
	switch st.Name.Local {
	case "iq":
		s.bounce(st, errServiceUnavailable)
	case "message":
		typ := msgType(st)
		if (typ != "chat" && typ != "normal") || st.Child(nsClient, "body") == nil {
			return
		}
		d := s.domainOf(c)
		if len(s.sessionsOf(c.bare)) == 0 && len(s.remoteOf(c.bare)) == 0 {
			s.storeOffline(st, d, c.bare, c.user.Username, c.user)
			return
		}
		to, err := jid.Parse(st.Get("to"))
		if err != nil {
			return
		}
		s.routeMessage(st, from, to)
	}
}

// firstBodyMessage returns the first message with a body among the
// queued stanzas q, parsed, or nil.
func firstBodyMessage(q [][]byte) *xmlel.Element {
	for _, b := range q {
		if !strings.HasPrefix(string(b[:min(len(b), 8)]), "<message") {
			continue
		}
		if m, err := parseClient(b); err == nil && m.Child(nsClient, "body") != nil {
			return m
		}
	}
	return nil
}

// parseClient parses a stanza serialised within a jabber:client stream
// (its namespace not declared).
func parseClient(b []byte) (*xmlel.Element, error) {
	w, err := xmlel.Parse([]byte("<w xmlns='" + nsClient + "'>" + string(b) + "</w>"))
	if err != nil {
		return nil, err
	}
	if el := w.First(); el != nil {
		return el, nil
	}
	return nil, errSMBad
}
