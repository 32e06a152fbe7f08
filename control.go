package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/yaml.v3"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/dreamhost"
	"github.com/xmppgate/xmppgate/queue"
)

// errRestart ends serve when the restart command asked for a new process;
// run answers exitRestart and main executes the binary again.
var errRestart = errors.New("restart requested")

// exitRestart is the exit status of a restart whose re-execution failed:
// a supervisor (systemd Restart=on-failure) then starts the server again.
const exitRestart = 3

// configSource is how the running configuration was read, so that
// reload_config can read it again: the file, the environment, and the
// flags that override both.
type configSource struct {
	file       string
	environ    []string
	data, http string
}

func (s configSource) load() (Config, error) {
	cfg, err := LoadConfig(s.file, s.environ)
	if err != nil {
		return cfg, err
	}
	if s.data != "" {
		cfg.Data = s.data
	}
	if s.http != "" {
		cfg.HTTPAddr = s.http
	}
	return cfg, nil
}

// control is commands.Control for a running serve.
type control struct {
	level  zap.AtomicLevel
	log    *zap.Logger
	worker *queue.Worker
	done   chan struct{} // closed when serve must stop

	// certs loads the XMPP listeners' certificate again (from these files;
	// both empty: the self-signed one), limits replaces the DreamHost rate
	// limits: what a reload applies besides the level and the schedule.
	// serve sets them; nil does nothing.
	certs  func(ctx context.Context, certFile, keyFile string) error
	limits func([]dreamhost.Limit)
	// origins replaces web chat's CORS and WebSocket origin policy
	// (cors_origins; read with http_addr when unset).
	origins func(Config)

	mu       sync.Mutex
	cfg      Config // as started, plus what reload_config applied
	stopping bool
	restart  bool
}

var _ commands.Control = (*control)(nil)

func newControl(cfg Config, level zap.AtomicLevel, log *zap.Logger, worker *queue.Worker) *control {
	return &control{cfg: cfg, level: level, log: log.Named("control"), worker: worker, done: make(chan struct{})}
}

// Stop closes done once delay has passed; serve then shuts down.
func (c *control) Stop(delay time.Duration, restart bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return commands.Errorf(commands.Invalid, commands.ReasonBadValue, "", "the server is already stopping")
	}
	c.stopping, c.restart = true, restart
	c.log.Info("stop requested", zap.Duration("delay", delay), zap.Bool("restart", restart))
	time.AfterFunc(delay, func() { close(c.done) })
	return nil
}

func (c *control) restarting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restart
}

// ReloadConfig reads the configuration again (reload_config, SIGHUP) and
// applies without dropping sessions what can change while serving:
// log_level (which also replaces one set_loglevel set), worker_schedule,
// dreamhost_limits, cors_origins, and the certificate, loaded again from
// cert_file and key_file on every reload (a renewed certificate keeps its
// file names). Every other changed key is reported, and logged, as waiting
// for a restart (listener addresses, data, the store's settings). Nothing
// is applied unless the whole new configuration loads, the live keys are
// valid and the certificate loads.
func (c *control) ReloadConfig(ctx context.Context) (commands.ConfigReload, error) {
	var r commands.ConfigReload
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.source == nil {
		return r, errors.New("this server was not started from a configuration it can read again")
	}
	next, err := c.cfg.source.load()
	if err != nil {
		return r, err
	}
	level, err := zapcore.ParseLevel(next.LogLevel)
	if err != nil {
		return r, fmt.Errorf("config: log_level: %w", err)
	}
	if _, err := cron.ParseStandard(next.WorkerSchedule); err != nil {
		return r, fmt.Errorf("config: worker_schedule %q: %w", next.WorkerSchedule, err)
	}
	if c.certs != nil {
		// The last check, and the first change: new handshakes get it.
		if err := c.certs(ctx, next.CertFile, next.KeyFile); err != nil {
			return r, fmt.Errorf("config: certificate: %w", err)
		}
	}
	cur, nv := reflect.ValueOf(&c.cfg).Elem(), reflect.ValueOf(next)
	for i := 0; i < cur.NumField(); i++ {
		key := cur.Type().Field(i).Tag.Get("yaml")
		if key == "" || key == "-" || sameYAML(cur.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		switch key {
		case "log_level":
			c.level.SetLevel(level)
		case "worker_schedule":
			c.worker.Stop()
			if err := c.worker.Start(next.WorkerSchedule); err != nil {
				return r, err // cannot happen: the schedule parsed above
			}
		case "cert_file", "key_file":
			if c.certs == nil {
				r.NeedRestart = append(r.NeedRestart, key)
				continue
			}
		case "dreamhost_limits":
			if c.limits == nil {
				r.NeedRestart = append(r.NeedRestart, key)
				continue
			}
			c.limits(next.DreamHostLimits)
		case "cors_origins":
			if c.origins == nil {
				r.NeedRestart = append(r.NeedRestart, key)
				continue
			}
			// An unset list depends on http_addr, which keeps its running value.
			p := next
			p.HTTPAddr = c.cfg.HTTPAddr
			c.origins(p)
		default:
			r.NeedRestart = append(r.NeedRestart, key)
			continue
		}
		cur.Field(i).Set(nv.Field(i))
		r.Applied = append(r.Applied, key)
	}
	// The configured level holds again even when the file did not change
	// it: ejabberd's reload_config undoes a set_loglevel too.
	c.level.SetLevel(level)
	c.log.Info("configuration reloaded", zap.Strings("applied", r.Applied), zap.Bool("certificate", c.certs != nil))
	if len(r.NeedRestart) > 0 {
		c.log.Warn("configuration keys changed that take effect only after a restart", zap.Strings("need_restart", r.NeedRestart))
	}
	return r, nil
}

// sameYAML compares two values as the configuration file writes them (an
// absent list and an empty one are the same).
func sameYAML(a, b any) bool {
	x, err1 := yaml.Marshal(a)
	y, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func (c *control) LogLevel() zapcore.Level { return c.level.Level() }

func (c *control) SetLogLevel(l zapcore.Level) {
	c.level.SetLevel(l)
	c.log.Warn("log level set", zap.String("level", l.String()))
}

func (c *control) DataDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Data
}

// EffectiveConfig marshals the running configuration; a field tagged
// redact:"true" is written as "[redacted]". Config holds no secret today:
// the sealing key is DATA/secret.key and the bootstrap credentials
// DATA/bootstrap.json, which are never dumped.
func (c *control) EffectiveConfig() ([]byte, error) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	cfg.LogLevel = c.level.Level().String() // set_loglevel changes it too
	v := reflect.ValueOf(&cfg).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Tag.Get("redact") == "true" && v.Field(i).Kind() == reflect.String && v.Field(i).String() != "" {
			v.Field(i).SetString("[redacted]")
		}
	}
	return yaml.Marshal(cfg)
}

// reexec replaces the process with a new run of the same binary, arguments
// and environment (restart); if that fails it says why and returns the
// status for a supervisor to act on.
func reexec(stderr io.Writer) int {
	bin, err := exec.LookPath(os.Args[0])
	if err == nil {
		err = syscall.Exec(bin, os.Args, os.Environ())
	}
	fmt.Fprintln(stderr, "xmppgate: restart: cannot execute itself again:", err)
	return exitRestart
}
