package queue

import (
	"runtime"
	"syscall"
)

// backgroundThread runs the calling goroutine on an OS thread of its own
// at the lowest priority (nice 19) until the goroutine ends, when Go ends
// the thread with it (it is never unlocked). The deriver's SCRAM loops
// then yield the CPU to the process's other threads, which acknowledge
// changes and answer polls, and to the rest of the machine: Go's own
// scheduler has no priorities. Best effort: an error leaves the thread as
// it was.
func backgroundThread() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
