package commands

import (
	"context"
	"time"

	"go.uber.org/zap/zapcore"
)

// Control is the server process as the server-wide commands (stop, restart,
// reload_config, the log level, files written under the data directory) see
// it. main implements it (control.go) and sets Env.Control when it serves;
// nil elsewhere, where those commands answer that no server runs.
type Control interface {
	// Stop shuts the server down gracefully once delay has passed (HTTP
	// listeners drained, XMPP streams closed with system-shutdown, the
	// worker stopped); with restart, the process then starts again. It
	// returns at once, so the caller still gets its answer.
	Stop(delay time.Duration, restart bool) error
	// ReloadConfig re-reads the configuration the server was started from
	// and applies what can change while it runs.
	ReloadConfig(ctx context.Context) (ConfigReload, error)
	// LogLevel and SetLogLevel read and set the running logger's level.
	LogLevel() zapcore.Level
	SetLogLevel(zapcore.Level)
	// DataDir is the data directory: the only place commands write files.
	DataDir() string
	// EffectiveConfig is the running configuration as YAML, secrets redacted.
	EffectiveConfig() ([]byte, error)
}

// ConfigReload says what a reload changed: keys applied at once, and keys
// whose new value waits for a restart.
type ConfigReload struct {
	Applied     []string
	NeedRestart []string
}

// processStart is when this process started: ejabberd's uptimeseconds is
// the node's uptime, and a Go process is the node here.
var processStart = time.Now()

// control returns Env.Control or the error of a process that is not a server.
func control(c *Call) (Control, error) {
	if c.Env.Control == nil {
		return nil, Errorf(Invalid, ReasonNoServer, "", "no xmppgate server runs in this process")
	}
	return c.Env.Control, nil
}
