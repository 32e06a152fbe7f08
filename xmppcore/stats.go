package xmppcore

import "sync/atomic"

// Counters are cumulative event counts for monitoring (the metrics
// endpoint reads them when scraped). They are atomics bumped on the login
// and routing paths, so those pay one uncontended add and no lock or map.
type Counters struct {
	// LoginsOK and LoginsFailed count SASL outcomes: every <success/>
	// and every <failure/> (a wrong password, a disabled account, a
	// malformed exchange, a client's abort).
	LoginsOK, LoginsFailed atomic.Uint64
	// Messages, Presences and IQs count the stanzas clients sent to be
	// routed or answered.
	Messages, Presences, IQs atomic.Uint64
}

// Counters returns the server's live counters.
func (s *Server) Counters() *Counters { return &s.stats }

// ListenersUp reports whether every configured XMPP listener still
// accepts connections (false after Shutdown or a fatal accept error).
func (s *Server) ListenersUp() bool {
	s.mu.RLock()
	closing, want := s.closing, len(s.listeners)
	s.mu.RUnlock()
	return !closing && want > 0 && int(s.accepting.Load()) == want
}

// countStanza counts one stanza a client sent.
func (s *Server) countStanza(name string) {
	switch name {
	case "message":
		s.stats.Messages.Add(1)
	case "presence":
		s.stats.Presences.Add(1)
	case "iq":
		s.stats.IQs.Add(1)
	}
}
