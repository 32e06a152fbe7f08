package commands

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/store"
	"go.uber.org/zap/zapcore"
)

// The server and statistics family (ejabberd_admin, mod_admin_extra):
// stats, stats_host, the s2s counters, reload_config, the log level,
// reopen_log, rotate_log, stop, restart, stop_kindly and dump_config.
// Commands acting on the whole server are Operator-only;
// docs/ejabberd-server.md explains each choice.

// serverDefs is the server and statistics family.
var serverDefs = []*Def{Stats, StatsHost, IncomingS2SNumber, OutgoingS2SNumber, StopS2SConnections, ReloadConfig, SetLoglevel, GetLoglevel,
	ReopenLog, RotateLog, Stop, Restart, StopKindly, DumpConfig}

// ReasonNeedsRestart: reload_config read changes that apply only at the next start.
const ReasonNeedsRestart Reason = "needs_restart"

// rescode is the answer of an Operator-only server command: 0, or its
// error.
func rescode(err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return StatusOK, nil
}

var argStatName = Arg{Name: "name", Type: String, Doc: "registeredusers, onlineusers, onlineusersnode, uptimeseconds or processes."}

// callerDomains lists the domains a command without a host covers (a
// stat counts, a purge or an export reaches): every domain for the
// operator, the caller's accounts' otherwise.
func callerDomains(ctx context.Context, c *Call) ([]store.Domain, error) {
	accounts := c.Caller.Accounts
	if c.Caller.Operator {
		accounts = nil
	}
	return c.Env.Store.Domains(ctx, accounts)
}

// statDomains names the domains a stat counts.
func statDomains(ctx context.Context, c *Call) ([]string, error) {
	ds, err := callerDomains(ctx, c)
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.FQDN)
	}
	return out, err
}

func countRegisteredUsers(ctx context.Context, c *Call, domains []string) (int64, error) {
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

// onlineUsersNode counts the sessions of domains on the node asked only.
func onlineUsersNode(c *Call, domains []string) int64 {
	if c.Env.Live == nil {
		return 0
	}
	var n int64
	for _, d := range domains {
		for _, s := range c.Env.Live.Sessions(d, "") {
			if !s.Remote {
				n++
			}
		}
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
	Doc: "A statistic: registeredusers (accounts in every state), onlineusers (live sessions, on every node of a cluster), onlineusersnode (those of the node asked), " +
		"counted over every domain for the operator and over the caller's domains for anyone else; uptimeseconds (of the process) " +
		"and processes (goroutines), of the whole process. Another name: 500 internal_error, as ejabberd answers.",
	Args:   []Arg{argStatName},
	Result: Result{Kind: ResultNumber, Name: "stat"},
	Names:  map[Dialect]string{Ejabberd: "stats"},
	Handle: stats,
}

func stats(ctx context.Context, c *Call) (any, error) {
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
		return countRegisteredUsers(ctx, c, ds)
	}
	if name == "onlineusersnode" {
		return onlineUsersNode(c, ds), nil
	}
	return onlineUsers(c, ds), nil
}

// StatsHost is mod_admin_extra's stats_host.
var StatsHost = &Def{
	Name:   "stats_host",
	Doc:    "A statistic of one domain: registeredusers or onlineusers. Another name: 500 internal_error.",
	Args:   []Arg{argStatName, argDomain},
	Result: Result{Kind: ResultNumber, Name: "stat"},
	Names:  map[Dialect]string{Ejabberd: "stats_host"},
	Handle: statsHost,
}

func statsHost(ctx context.Context, c *Call) (any, error) {
	ds := []string{c.Args.Domain("domain").FQDN}
	switch name := c.Args.String("name"); name {
	case "registeredusers":
		return countRegisteredUsers(ctx, c, ds)
	case "onlineusers":
		return onlineUsers(c, ds), nil
	default:
		return nil, unknownStat(name)
	}
}

// IncomingS2SNumber is ejabberd's incoming_s2s_number.
var IncomingS2SNumber = &Def{
	Name: "incoming_s2s_number",
	Doc: "The number of incoming server-to-server (federation) streams: every one for the operator, those authenticated " +
		"for one of the caller's domains for anyone else (docs/federation.md).",
	Result: Result{Kind: ResultNumber, Name: "s2s_incoming"},
	Names:  map[Dialect]string{Ejabberd: "incoming_s2s_number"},
	Handle: s2sIncoming,
}

// OutgoingS2SNumber is ejabberd's outgoing_s2s_number.
var OutgoingS2SNumber = &Def{
	Name: "outgoing_s2s_number",
	Doc: "The number of outgoing server-to-server (federation) streams: every one for the operator, those from one of the " +
		"caller's domains for anyone else.",
	Result: Result{Kind: ResultNumber, Name: "s2s_outgoing"},
	Names:  map[Dialect]string{Ejabberd: "outgoing_s2s_number"},
	Handle: s2sOutgoing,
}

// ReloadConfig is ejabberd_admin's reload_config.
var ReloadConfig = &Def{
	Name: "reload_config",
	Doc: "Operator only. Re-reads the configuration file and environment the server started with (as SIGHUP does) and " +
		"applies log_level, worker_schedule, dreamhost_limits and cors_origins at once and loads the certificate again (cert_file, key_file), " +
		"without dropping sessions. If other keys changed, they wait for a restart and the answer names them (400), so a " +
		"change is never reported as applied when it is not; a file or certificate that does not load answers why and " +
		"changes nothing.",
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "reload_config"},
	Handle:   reloadConfig,
}

func reloadConfig(ctx context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	r, err := ctl.ReloadConfig(ctx)
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadValue, "", "%v", err)
	}
	if len(r.NeedRestart) > 0 {
		applied := "nothing"
		if len(r.Applied) > 0 {
			applied = strings.Join(r.Applied, ", ")
		}
		return nil, Errorf(Invalid, ReasonNeedsRestart, "", "configuration reloaded; applied: %s; changed but applied only by a restart: %s",
			applied, strings.Join(r.NeedRestart, ", "))
	}
	return StatusOK, nil
}

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
var SetLoglevel = &Def{
	Name: "set_loglevel",
	Doc: "Operator only. Sets the running log level: none, emergency, alert, critical, error, warning, notice, info or debug, " +
		"or ejabberd's older numbers 0 (none) to 5 (debug). zap has no notice: it logs as info. Anything else: Invalid log level.",
	Args:     []Arg{{Name: "loglevel", Type: String, Doc: "The level's name or number."}},
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "set_loglevel"},
	Handle:   setLoglevel,
}

func setLoglevel(_ context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	l, ok := EjabberdLogLevel(c.Args.String("loglevel"))
	if !ok {
		return nil, Errorf(Invalid, ReasonBadValue, "loglevel", "Invalid log level")
	}
	ctl.SetLogLevel(l)
	return StatusOK, nil
}

// GetLoglevel is ejabberd's get_loglevel.
var GetLoglevel = &Def{
	Name:   "get_loglevel",
	Doc:    "The running log level by ejabberd's name (debug, info, warning, error, critical, alert, emergency or none).",
	Result: Result{Kind: ResultString, Name: "levelatom"},
	Names:  map[Dialect]string{Ejabberd: "get_loglevel"},
	Handle: getLoglevel,
}

func getLoglevel(_ context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	return ejabberdLevelName(ctl.LogLevel()), nil
}

const logNote = "xmppgate writes its log to stderr only (journald or the supervisor keeps it), so there is no log file to "

// ReopenLog is ejabberd_admin's reopen_log.
var ReopenLog = &Def{
	Name:     "reopen_log",
	Doc:      "Operator only. Answers 0 and does nothing: " + logNote + "reopen. ejabberd 23.01 with the OTP logger does the same.",
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "reopen_log"},
	Handle:   noLogFile,
}

// RotateLog is ejabberd_admin's rotate_log.
var RotateLog = &Def{
	Name: "rotate_log",
	Doc: "Operator only. Answers 0 and does nothing: " + logNote + "rotate; rotation is journald's or logrotate's. " +
		"ejabberd 23.01 with the OTP logger does the same.",
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "rotate_log"},
	Handle:   noLogFile,
}

// noLogFile answers reopen_log and rotate_log, which have no file to act
// on; like every server command, it needs a server.
func noLogFile(_ context.Context, c *Call) (any, error) {
	_, err := control(c)
	return rescode(err)
}

// Stop is ejabberd_admin's stop.
var Stop = &Def{
	Name: "stop",
	Doc: "Operator only. Answers 0, then stops the server gracefully: HTTP requests finish, XMPP streams " +
		"end with system-shutdown, the worker stops.",
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "stop"},
	Handle:   stop,
}

func stop(_ context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	return rescode(ctl.Stop(0, false))
}

// Restart is ejabberd_admin's restart.
var Restart = &Def{
	Name: "restart",
	Doc: "Operator only. Answers 0, stops the server as stop does, then the process executes itself " +
		"again with the same arguments and environment (same PID, so systemd and Docker see one process).",
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "restart"},
	Handle:   restart,
}

func restart(_ context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	return rescode(ctl.Stop(0, true))
}

// StopKindly is ejabberd_admin's stop_kindly.
var StopKindly = &Def{
	Name: "stop_kindly",
	Doc: "Operator only. Sends every live session of every domain a headline message from its domain, subject " +
		"\"Server stop in <delay> seconds!\" and the announcement as body (as mod_announce does), answers 0, waits delay seconds " +
		"and stops as stop does. The answer comes at once, not after the delay.",
	Args: []Arg{{Name: "delay", Type: Int, Doc: "Seconds to wait, 0 or more."},
		{Name: "announcement", Type: String, Optional: true, Doc: "The text sent to the users."}},
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "stop_kindly"},
	Handle:   stopKindly,
}

func stopKindly(ctx context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	delay := c.Args.Int("delay")
	if delay < 0 {
		return nil, Errorf(Invalid, ReasonMalformed, "delay", "delay must be 0 or more seconds")
	}
	if c.Env.Live != nil {
		subject := fmt.Sprintf("Server stop in %d seconds!", delay)
		for _, s := range c.Env.Live.Sessions("", "") {
			if s.Remote {
				continue // only this node stops
			}
			_ = c.Env.Live.SendMessage(ctx, s.Domain, s.JID, "headline", subject, c.Args.String("announcement"))
		}
	}
	return rescode(ctl.Stop(time.Duration(delay)*time.Second, false))
}

// DumpConfig is ejabberd_admin's dump_config.
var DumpConfig = &Def{
	Name: "dump_config",
	Doc: "Operator only. Writes the running configuration as YAML (secrets redacted) to out, a path inside the data directory " +
		"(relative paths are taken from it) or inside a directory of transfer_dirs; any other path, or one of the server's own files, is refused.",
	Args:     []Arg{{Name: "out", Type: String, Doc: "The file to write, inside the data directory (relative paths are taken from it) or, absolute, inside a directory of transfer_dirs."}},
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "dump_config"},
	Handle:   dumpConfig,
}

func dumpConfig(_ context.Context, c *Call) (any, error) {
	ctl, err := control(c)
	if err != nil {
		return nil, err
	}
	b, err := ctl.EffectiveConfig()
	if err != nil {
		return nil, err
	}
	_, err = writeDataFile(ctl, c.Env.TransferDirs, "out", c.Args.String("out"), b)
	return rescode(err)
}
