package commands

import (
	"time"

	"go.uber.org/zap"
)

// RequestLine is the one log line every dialect writes per request. It
// carries no argument values, so no secret can reach the log through it.
type RequestLine struct {
	Dialect Dialect
	Command string
	Account int64
	Result  string // "success" or the dialect's error code
	Status  int    // HTTP status
	Start   time.Time
	// Err is an internal error: logged at error level, never shown to the caller.
	Err error
}

// Log writes the line, with the dialect's extra fields.
func (l RequestLine) Log(log *zap.Logger, extra ...zap.Field) {
	fields := append([]zap.Field{zap.String("dialect", string(l.Dialect)), zap.String("command", l.Command),
		zap.Int64("account", l.Account), zap.String("result", l.Result), zap.Int("status", l.Status),
		zap.Duration("duration", time.Since(l.Start))}, extra...)
	if l.Err != nil {
		log.Error("request", append(fields, zap.Error(l.Err))...)
		return
	}
	log.Info("request", fields...)
}
