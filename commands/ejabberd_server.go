package commands

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// The ejabberd server and statistics family (ejabberd_admin,
// mod_admin_extra): stats, stats_host, the s2s counters, reload_config,
// the log level, reopen_log, rotate_log, stop, restart, stop_kindly and
// dump_config. Commands acting on the whole server are Operator-only;
// docs/ejabberd-server.md explains each choice.

// ReasonNeedsRestart: reload_config read changes that apply only at the next start.
const ReasonNeedsRestart Reason = "needs_restart"

// control returns Env.Control or the error of a process that is not a server.
func control(c *Call) (Control, error) {
	if c.Env.Control == nil {
		return nil, Errorf(Invalid, ReasonNoServer, "", "no xmppgate server runs in this process")
	}
	return c.Env.Control, nil
}

var ejStatName = Arg{Name: "name", Type: String, Doc: "registeredusers, onlineusers, onlineusersnode, uptimeseconds or processes."}

// statDomains returns the domains a stat counts: every domain for the
// operator, the caller's own otherwise.
func statDomains(ctx context.Context, c *Call) ([]string, error) {
	var accounts []int64
	if !c.Caller.Operator {
		accounts = c.Caller.Accounts
	}
	ds, err := c.Env.Store.Domains(ctx, accounts)
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.FQDN)
	}
	return out, err
}

func registeredUsers(ctx context.Context, c *Call, domains []string) (int64, error) {
	var n int64
	for _, fqdn := range domains {
		d, err := c.Env.Store.DomainByFQDN(ctx, fqdn)
		if err != nil {
			return 0, err
		}
		k, err := c.Env.Store.CountDomainUsers(ctx, d.ID)
		if err != nil {
			return 0, err
		}
		n += int64(k)
	}
	return n, nil
}

func onlineUsers(c *Call, domains []string) int64 {
	if c.Env.Live == nil {
		return 0
	}
	var n int64
	for _, d := range domains {
		n += int64(c.Env.Live.OnlineCount(d))
	}
	return n
}

// unknownStat is what ejabberd does with another name: its case clause
// crashes (500 "internal_error"); out_of_range maps to that answer.
func unknownStat(name string) error {
	return Errorf(Invalid, ReasonOutOfRange, "name", "unknown statistic %q", name)
}

// Stats is mod_admin_extra's stats.
var Stats = &Def{
	Name: "stats",
	Doc: "A statistic: registeredusers (accounts in every state), onlineusers and onlineusersnode (live sessions; one node), " +
		"counted over every domain for the operator and over the caller's domains for anyone else; uptimeseconds (of the process) " +
		"and processes (goroutines), of the whole process. Another name: 500 internal_error, as ejabberd answers.",
	Args:   []Arg{ejStatName},
	Result: Result{Kind: ResultNumber, Name: "stat"},
	Names:  map[Dialect]string{Ejabberd: "stats"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		name := c.Args.String("name")
		switch name {
		case "uptimeseconds":
			return int64(time.Since(processStart) / time.Second), nil
		case "processes":
			return int64(runtime.NumGoroutine()), nil
		case "registeredusers", "onlineusers", "onlineusersnode":
		default:
			return nil, unknownStat(name)
		}
		ds, err := statDomains(ctx, c)
		if err != nil {
			return nil, err
		}
		if name == "registeredusers" {
			return registeredUsers(ctx, c, ds)
		}
		return onlineUsers(c, ds), nil
	},
}

// StatsHost is mod_admin_extra's stats_host.
var StatsHost = &Def{
	Name:   "stats_host",
	Doc:    "A statistic of one domain: registeredusers or onlineusers. Another name: 500 internal_error.",
	Args:   []Arg{ejStatName, argDomain},
	Result: Result{Kind: ResultNumber, Name: "stat"},
	Names:  map[Dialect]string{Ejabberd: "stats_host"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ds := []string{c.Args.Domain("domain").FQDN}
		switch name := c.Args.String("name"); name {
		case "registeredusers":
			return registeredUsers(ctx, c, ds)
		case "onlineusers":
			return onlineUsers(c, ds), nil
		default:
			return nil, unknownStat(name)
		}
	},
}

func s2sNumber(name, result, dir string) *Def {
	return &Def{
		Name:   name,
		Doc:    "Always 0: xmppgate does not federate, so there is no " + dir + " s2s connection.",
		Result: Result{Kind: ResultNumber, Name: result},
		Names:  map[Dialect]string{Ejabberd: name},
		Handle: func(context.Context, *Call) (any, error) { return int64(0), nil },
	}
}

// IncomingS2SNumber and OutgoingS2SNumber are ejabberd's s2s counters.
var (
	IncomingS2SNumber = s2sNumber("incoming_s2s_number", "s2s_incoming", "incoming")
	OutgoingS2SNumber = s2sNumber("outgoing_s2s_number", "s2s_outgoing", "outgoing")
)

// serverDef builds an Operator-only rescode command.
func serverDef(name, doc string, args []Arg, handle func(ctx context.Context, c *Call, ctl Control) error) *Def {
	return &Def{
		Name: name, Doc: doc, Args: args, Operator: true,
		Result: Result{Kind: ResultStatus},
		Names:  map[Dialect]string{Ejabberd: name},
		Handle: func(ctx context.Context, c *Call) (any, error) {
			ctl, err := control(c)
			if err != nil {
				return nil, err
			}
			if err := handle(ctx, c, ctl); err != nil {
				return nil, err
			}
			return StatusOK, nil
		},
	}
}

// ReloadConfig is ejabberd_admin's reload_config.
var ReloadConfig = serverDef("reload_config",
	"Operator only. Re-reads the configuration file and environment the server started with and applies log_level and "+
		"worker_schedule at once. If other keys changed, they wait for a restart and the answer names them (400), so a "+
		"change is never reported as applied when it is not; a file that does not load answers why and changes nothing.",
	nil, func(ctx context.Context, c *Call, ctl Control) error {
		r, err := ctl.ReloadConfig(ctx)
		if err != nil {
			return Errorf(Invalid, ReasonBadValue, "", "%v", err)
		}
		if len(r.NeedRestart) > 0 {
			applied := "nothing"
			if len(r.Applied) > 0 {
				applied = strings.Join(r.Applied, ", ")
			}
			return Errorf(Invalid, ReasonNeedsRestart, "", "configuration reloaded; applied: %s; changed but applied only by a restart: %s",
				applied, strings.Join(r.NeedRestart, ", "))
		}
		return nil
	})

// The log levels of ejabberd (ejabberd_logger:loglevels/0) and the zap
// levels they select; the numbers 0 to 5 are ejabberd's older names.
var ejLogLevels = []struct {
	name string
	zap  zapcore.Level
}{
	{"none", zapcore.InvalidLevel}, {"emergency", zapcore.FatalLevel}, {"alert", zapcore.PanicLevel},
	{"critical", zapcore.DPanicLevel}, {"error", zapcore.ErrorLevel}, {"warning", zapcore.WarnLevel},
	{"notice", zapcore.InfoLevel}, {"info", zapcore.InfoLevel}, {"debug", zapcore.DebugLevel},
}

var ejLogNumbers = []string{"none", "critical", "error", "warning", "info", "debug"}

// EjabberdLogLevel maps an ejabberd level name or number to a zap level.
func EjabberdLogLevel(s string) (zapcore.Level, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(ejLogNumbers) {
		s = ejLogNumbers[n]
	}
	for _, l := range ejLogLevels {
		if l.name == s {
			return l.zap, true
		}
	}
	return 0, false
}

// ejabberdLevelName names a zap level as ejabberd does (notice reads back as info).
func ejabberdLevelName(l zapcore.Level) string {
	for i := len(ejLogLevels) - 1; i >= 0; i-- {
		if ejLogLevels[i].zap == l && ejLogLevels[i].name != "notice" {
			return ejLogLevels[i].name
		}
	}
	if l > zapcore.FatalLevel {
		return "none"
	}
	return "debug"
}

// SetLoglevel is ejabberd_admin's set_loglevel.
var SetLoglevel = serverDef("set_loglevel",
	"Operator only. Sets the running log level: none, emergency, alert, critical, error, warning, notice, info or debug, "+
		"or ejabberd's older numbers 0 (none) to 5 (debug). zap has no notice: it logs as info. Anything else: Invalid log level.",
	[]Arg{{Name: "loglevel", Type: String, Doc: "The level's name or number."}},
	func(_ context.Context, c *Call, ctl Control) error {
		l, ok := EjabberdLogLevel(c.Args.String("loglevel"))
		if !ok {
			return Errorf(Invalid, ReasonBadValue, "loglevel", "Invalid log level")
		}
		ctl.SetLogLevel(l)
		return nil
	})

// GetLoglevel is ejabberd's get_loglevel.
var GetLoglevel = &Def{
	Name:   "get_loglevel",
	Doc:    "The running log level by ejabberd's name (debug, info, warning, error, critical, alert, emergency or none).",
	Result: Result{Kind: ResultString, Name: "levelatom"},
	Names:  map[Dialect]string{Ejabberd: "get_loglevel"},
	Handle: func(_ context.Context, c *Call) (any, error) {
		ctl, err := control(c)
		if err != nil {
			return nil, err
		}
		return ejabberdLevelName(ctl.LogLevel()), nil
	},
}

const logNote = "xmppgate writes its log to stderr only (journald or the supervisor keeps it), so there is no log file to "

// ReopenLog and RotateLog are ejabberd_admin's reopen_log and rotate_log.
var (
	ReopenLog = serverDef("reopen_log", "Operator only. Answers 0 and does nothing: "+logNote+"reopen. "+
		"ejabberd 23.01 with the OTP logger does the same.", nil, func(context.Context, *Call, Control) error { return nil })
	RotateLog = serverDef("rotate_log", "Operator only. Answers 0 and does nothing: "+logNote+"rotate; rotation is "+
		"journald's or logrotate's. ejabberd 23.01 with the OTP logger does the same.", nil, func(context.Context, *Call, Control) error { return nil })
)

// Stop and Restart are ejabberd_admin's stop and restart.
var (
	Stop = serverDef("stop", "Operator only. Answers 0, then stops the server gracefully: HTTP requests finish, XMPP streams "+
		"end with system-shutdown, the worker stops.", nil, func(_ context.Context, _ *Call, ctl Control) error { return ctl.Stop(0, false) })
	Restart = serverDef("restart", "Operator only. Answers 0, stops the server as stop does, then the process executes itself "+
		"again with the same arguments and environment (same PID, so systemd and Docker see one process).", nil,
		func(_ context.Context, _ *Call, ctl Control) error { return ctl.Stop(0, true) })
)

// StopKindly is ejabberd_admin's stop_kindly.
var StopKindly = serverDef("stop_kindly",
	"Operator only. Sends every live session of every domain a headline message from its domain, subject "+
		"\"Server stop in <delay> seconds!\" and the announcement as body (as mod_announce does), answers 0, waits delay seconds "+
		"and stops as stop does. The answer comes at once, not after the delay.",
	[]Arg{{Name: "delay", Type: Int, Doc: "Seconds to wait, 0 or more."},
		{Name: "announcement", Type: String, Optional: true, Doc: "The text sent to the users."}},
	func(ctx context.Context, c *Call, ctl Control) error {
		delay := c.Args.Int("delay")
		if delay < 0 {
			return Errorf(Invalid, ReasonMalformed, "delay", "delay must be 0 or more seconds")
		}
		if c.Env.Live != nil {
			subject := fmt.Sprintf("Server stop in %d seconds!", delay)
			for _, s := range c.Env.Live.Sessions("", "") {
				_ = c.Env.Live.SendMessage(ctx, s.Domain, s.JID, "headline", subject, c.Args.String("announcement"))
			}
		}
		return ctl.Stop(time.Duration(delay)*time.Second, false)
	})

// DumpConfig is ejabberd_admin's dump_config.
var DumpConfig = serverDef("dump_config",
	"Operator only. Writes the running configuration as YAML (secrets redacted) to out, a path inside the data directory "+
		"(relative paths are taken from it); any other path, or one of the server's own files, is refused.",
	[]Arg{{Name: "out", Type: String, Doc: "The file to write, inside the data directory."}},
	func(_ context.Context, c *Call, ctl Control) error {
		b, err := ctl.EffectiveConfig()
		if err != nil {
			return err
		}
		_, err = writeDataFile(ctl, "out", c.Args.String("out"), b)
		return err
	})
