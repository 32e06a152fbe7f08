package xmppcore

// Parked reports whether the session bound to full waits without a
// goroutine (idlepoll_linux.go).
func (s *Server) Parked(full string) bool {
	c := s.sessionByString(full)
	return c != nil && idle.holds(c)
}
