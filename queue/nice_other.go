//go:build !linux

package queue

// backgroundThread lowers nothing where threads have no nice value of
// their own.
func backgroundThread() {}
