package credential

import (
	"syscall"
	"testing"
	"time"
)

// cpuPerOp reports the process CPU time per iteration beside ns/op: on a
// shared machine wall time per op depends on the other load, CPU time much
// less.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}
