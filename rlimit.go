package main

import (
	"os"
	"syscall"

	"go.uber.org/zap"
)

// fileReserve is what the open-file limit keeps back from c2s sessions: the
// store's connections and WAL, listeners, HTTP clients of the dialects,
// log files, with room to spare.
const fileReserve = 256

// raiseFileLimit raises the soft open-file limit to the hard one (each
// session is one descriptor) and logs how many sessions that allows. Go's
// os package already does the same at start on Linux since Go 1.19; doing
// it here says so in the log and does not depend on it.
func raiseFileLimit(log *zap.Logger) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Warn("open-file limit unknown", zap.Error(err))
		return
	}
	was := rl.Cur
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			log.Warn("could not raise the open-file limit", zap.Uint64("soft", was), zap.Uint64("hard", rl.Max), zap.Error(err))
			rl.Cur = was
		}
	}
	inUse := uint64(0)
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		inUse = uint64(len(ents))
	}
	sessions := uint64(0)
	if rl.Cur > inUse+fileReserve {
		sessions = rl.Cur - inUse - fileReserve
	}
	log.Info("open-file limit", zap.Uint64("soft", rl.Cur), zap.Uint64("hard", rl.Max), zap.Uint64("was", was),
		zap.Uint64("in_use", inUse), zap.Uint64("sessions_allowed", sessions))
	if sessions < 10000 {
		log.Warn("the open-file limit allows few XMPP sessions; raise the hard limit (LimitNOFILE= in the systemd unit, nofile in limits.conf)",
			zap.Uint64("sessions_allowed", sessions))
	}
}
