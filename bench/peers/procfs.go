package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/internal/peer"
)

// rssKiB reads VmRSS of pid from /proc/<pid>/status.
func rssKiB(pid int) (float64, error) { return benchproc.RSSKiB(pid) }

// cpuTime is pid's user+system CPU time (utime+stime, all threads).
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// selfCPU is this process's CPU time: the load client's cost.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitIdle waits (at most max) until pid uses less than 10% of a core over
// half a second, so one run's tail (logouts, GC) does not leak into the next.
func waitIdle(ctx context.Context, pid int, max time.Duration) {
	for end := time.Now().Add(max); time.Now().Before(end); {
		a := cpuTime(pid)
		if peer.Sleep(ctx, 500*time.Millisecond) != nil {
			return
		}
		if cpuTime(pid)-a <= 50*time.Millisecond {
			return
		}
	}
}

// settledRSS waits until pid went idle (at most wait) and idleSettle more,
// then reads its VmRSS.
func (b *bench) settledRSS(ctx context.Context, pid int, wait time.Duration) (float64, error) {
	waitIdle(ctx, pid, wait)
	if err := peer.Sleep(ctx, b.cfg.idleSettle); err != nil {
		return 0, err
	}
	return rssKiB(pid)
}
