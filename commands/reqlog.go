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

// RequestObserver is told of every request a dialect answered (the
// metrics endpoint counts them). It runs on the request's goroutine, so it
// must be cheap.
type RequestObserver interface {
	ObserveRequest(l RequestLine, took time.Duration)
}

// Log writes the line, with the dialect's extra fields.
func (l RequestLine) Log(log *zap.Logger, extra ...zap.Field) {
	l.log(log, time.Since(l.Start), extra)
}

func (l RequestLine) log(log *zap.Logger, took time.Duration, extra []zap.Field) {
	fields := append([]zap.Field{zap.String("dialect", string(l.Dialect)), zap.String("command", l.Command),
		zap.Int64("account", l.Account), zap.String("result", l.Result), zap.Int("status", l.Status),
		zap.Duration("duration", took)}, extra...)
	if l.Err != nil {
		log.Error("request", append(fields, zap.Error(l.Err))...)
		return
	}
	log.Info("request", fields...)
}

// LogRequest tells e.Requests (if set) of the request, then logs its line.
// Dialects call it once per request, after writing the answer.
func (e *Env) LogRequest(l RequestLine, log *zap.Logger, extra ...zap.Field) {
	took := time.Since(l.Start)
	if e != nil && e.Requests != nil {
		e.Requests.ObserveRequest(l, took)
	}
	l.log(log, took, extra)
}
