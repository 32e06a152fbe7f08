package xmppcore

// SetSMCounters sets the stream management counters of the session bound
// to full, so a test can watch them wrap without sending 2^32 stanzas.
func (s *Server) SetSMCounters(full string, in, out uint32) bool {
	c := s.sessionByString(full)
	if c == nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sm == nil || c.sm.Unacked() != 0 {
		return false
	}
	c.sm.In, c.sm.Out = in, out
	return true
}
