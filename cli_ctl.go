package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
)

// `xmppgate ctl` is ejabberdctl over the running server: it posts the
// command to the server's ejabberd API (/api/<command>) from loopback with
// the secret the server wrote to DATA/ctl.secret on start, as ejabberdctl
// reaches its node with the Erlang cookie. The server takes that secret
// only from loopback and treats its holder as the operator: every account,
// every command (ejabberd's "console commands" permission group). Reading
// the file needs the data directory's owner, who can read the database
// anyway, so the secret gives nothing more than that.

// ctlSecretFile is the secret's file in the data directory.
const ctlSecretFile = "ctl.secret"

// ctlVersion is the API version ctl asks for: the latest, as ejabberdctl
// does (its DEFAULT_VERSION), so results come unwrapped.
const ctlVersion = 1000000

// exitCode ends the process with that status and prints nothing more (the
// command printed what it had to).
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// writeCtlSecret writes a fresh random secret to DATA/ctl.secret (0600),
// replacing the one of an earlier run, and returns it.
func writeCtlSecret(dir string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b)
	path := filepath.Join(dir, ctlSecretFile)
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("ctl secret: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if err = errors.Join(err, f.Close()); err != nil {
		return "", fmt.Errorf("ctl secret: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("ctl secret: %w", err)
	}
	return secret, nil
}

// removeCtlSecret removes the secret on shutdown, so ctl can tell that no
// server runs; it leaves a file another server wrote since.
func removeCtlSecret(dir, secret string) {
	path := filepath.Join(dir, ctlSecretFile)
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == secret {
		_ = os.Remove(path)
	}
}

var ctlCLICommands = []cliCommand{
	{Path: "ctl", Usage: "COMMAND [ARGS...] | help [COMMAND]  [--http ADDR]",
		Short: "Run an ejabberd API command on the running server, as ejabberdctl does (arguments in the reference's order).",
		Args:  -1,
		Flags: func(fs *flag.FlagSet, v *cliVars) {
			fs.StringVar(&v.http, "http", "", "the server's HTTP address (XMPPGATE_HTTP_ADDR)")
		},
		Run: runCtl},
}

func ejabberdRegistry() *commands.Registry { return commands.MustNew(commands.All()...) }

// ctlArgs are a command's ejabberd arguments at ctl's API version, in the
// reference's order.
func ctlArgs(d *commands.Def) []commands.Arg {
	var out []commands.Arg
	for _, a := range d.ArgsIn(commands.Ejabberd) {
		if a.InEjabberd(ctlVersion) {
			out = append(out, a)
		}
	}
	return out
}

func runCtl(ctx context.Context, c *cliRun) error {
	if len(c.args) == 0 {
		return usageError{"ctl: no command given; 'xmppgate ctl help' lists them"}
	}
	reg := ejabberdRegistry()
	if c.args[0] == "help" {
		return ctlHelp(c, reg, c.args[1:])
	}
	// ejabberdctl takes my-command for my_command.
	name := strings.ReplaceAll(c.args[0], "-", "_")
	def, ok := reg.Lookup(commands.Ejabberd, name)
	if !ok {
		return ctlError(c, "Error: unknown command '%s'. Did you mean '%s'?", c.args[0], bestMatch(reg, name))
	}
	spec, implemented := commands.EjabberdResultOf(def)
	args := c.args[1:]
	body := map[string]any{}
	if implemented {
		declared := ctlArgs(def)
		// Positional: only trailing optional arguments may be left out
		// (give "" for an optional one before a required one).
		required := 0
		for i, a := range declared {
			if !a.Optional {
				required = i + 1
			}
		}
		switch {
		case len(args) < required:
			return ctlError(c, "Error: the command '%s' requires %d more argument(s); see 'xmppgate ctl help %s'.", name, required-len(args), name)
		case len(args) > len(declared):
			return ctlError(c, "Error: the command '%s' requires %d less argument(s); see 'xmppgate ctl help %s'.", name, len(args)-len(declared), name)
		}
		for i, v := range args {
			body[declared[i].WireName(commands.Ejabberd)] = ctlArg(declared[i], v)
		}
	}
	status, raw, err := ctlPost(ctx, c.cfg, name, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return ctlError(c, "Error: %s", errorText(raw))
	}
	return ctlPrint(c, spec.In(ctlVersion), raw)
}

// ctlArg turns a positional argument into its JSON value: an integer for
// an integer argument (anything else is sent as text, for the server to
// refuse as it would any client's), a list for a list (a JSON array, or
// items separated by the argument's separator), else the text.
func ctlArg(a commands.Arg, v string) any {
	switch {
	case a.Type == commands.Int:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case a.Type == commands.List && (a.EjabberdListSince == 0 || ctlVersion >= a.EjabberdListSince):
		var l []any
		if strings.HasPrefix(strings.TrimSpace(v), "[") && json.Unmarshal([]byte(v), &l) == nil {
			return l
		}
		sep := a.Sep
		if sep == "" {
			sep = ","
		}
		items := []string{}
		for _, it := range strings.Split(v, sep) {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		return items
	}
	return v
}

// ctlError prints an ejabberdctl-style error on stderr and fails.
func ctlError(c *cliRun, format string, a ...any) error {
	fmt.Fprintf(c.stderr, format+"\n", a...)
	return exitCode(1)
}

// ctlURL is where ctl reaches the server: http_addr, its host replaced by
// loopback when it listens on every address. A server listening only on
// another address cannot be reached over loopback, which the secret needs.
func ctlURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("ctl: http_addr %q: %w", addr, err)
	}
	switch ip, err := netip.ParseAddr(host); {
	case host == "" || err == nil && ip.Is4() && ip.IsUnspecified():
		host = "127.0.0.1"
	case err == nil && ip.IsUnspecified():
		host = "::1"
	case host == "localhost" || err == nil && ip.Unmap().IsLoopback():
	default:
		return "", fmt.Errorf("ctl: the server's http_addr %s is not a loopback or wildcard address; ctl talks to it over loopback only", addr)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// ctlPost sends the command to the running server.
func ctlPost(ctx context.Context, cfg Config, name string, body map[string]any) (int, []byte, error) {
	secret, err := os.ReadFile(filepath.Join(cfg.Data, ctlSecretFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, fmt.Errorf("no xmppgate server is running on data directory %s (no %s; start 'xmppgate serve')", cfg.Data, ctlSecretFile)
	}
	if err != nil {
		return 0, nil, err
	}
	base, err := ctlURL(cfg.HTTPAddr)
	if err != nil {
		return 0, nil, err
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	u := fmt.Sprintf("%s%s%s/v%d", base, ejabberd.Prefix, name, ctlVersion)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ejabberd.CtlHeader, strings.TrimSpace(string(secret)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("no xmppgate server answers at %s (data directory %s): %w", base, cfg.Data, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// errorText is the message of an error answer: the object's message or
// the bare string.
func errorText(raw []byte) string {
	var obj struct{ Message string }
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// ctlPrint prints a result as ejabberdctl does for its kind: a rescode is
// only the exit status; a string or integer is printed (an empty string
// is not); a list one item per line; a tuple its fields separated by tabs,
// one tuple per line.
func ctlPrint(c *cliRun, spec commands.EjabberdResult, raw []byte) error {
	var lines []string
	switch spec.Kind {
	case commands.EjRescode:
		if strings.TrimSpace(string(raw)) != "0" {
			return exitCode(1)
		}
		return nil
	case commands.EjRestuple, commands.EjString, commands.EjInteger:
		if s := ctlValue(raw); s != "" {
			lines = append(lines, s)
		}
	case commands.EjList:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("ctl: unexpected answer %s", raw)
		}
		for _, it := range items {
			lines = append(lines, ctlValue(it))
		}
	case commands.EjTuples:
		var rows []json.RawMessage
		if err := json.Unmarshal(raw, &rows); err != nil {
			return fmt.Errorf("ctl: unexpected answer %s", raw)
		}
		for _, r := range rows {
			lines = append(lines, tupleLine(r))
		}
	case commands.EjTuple:
		lines = append(lines, tupleLine(raw))
	}
	for _, l := range lines {
		fmt.Fprintln(c.stdout, l)
	}
	return nil
}

// ctlValue prints one JSON value: a string as is, a list its items
// separated by ';', anything else as JSON.
func ctlValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []json.RawMessage
	if json.Unmarshal(raw, &l) == nil {
		parts := make([]string, len(l))
		for i, v := range l {
			parts[i] = ctlValue(v)
		}
		return strings.Join(parts, ";")
	}
	return strings.TrimSpace(string(raw))
}

// tupleLine is a JSON object's values in their order, tab-separated.
func tupleLine(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ctlValue(raw)
	}
	var fields []string
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		fields = append(fields, ctlValue(v))
	}
	return strings.Join(fields, "\t")
}

// bestMatch is the command name closest to name (edit distance), for
// ejabberdctl's "Did you mean" hint.
func bestMatch(reg *commands.Registry, name string) string {
	best, bestD := "", -1
	for _, d := range reg.Dialect(commands.Ejabberd) {
		n := d.Names[commands.Ejabberd]
		if dist := editDistance(name, n); bestD < 0 || dist < bestD {
			best, bestD = n, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// ctlHelp lists the commands, or explains one, from the registry.
func ctlHelp(c *cliRun, reg *commands.Registry, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(c.stdout, "Usage: xmppgate ctl [--data DIR] [--http ADDR] COMMAND [ARGS...]")
		fmt.Fprintln(c.stdout, "\nCommands of the running server (refused ones answer why):")
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		for _, d := range reg.Dialect(commands.Ejabberd) {
			fmt.Fprintf(tw, "  %s\t%s\n", ctlSynopsis(d), firstSentence(d.Doc))
		}
		tw.Flush()
		fmt.Fprintln(c.stdout, "\nRun 'xmppgate ctl help COMMAND' for one command's arguments and result.")
		return nil
	}
	name := strings.ReplaceAll(args[0], "-", "_")
	d, ok := reg.Lookup(commands.Ejabberd, name)
	if !ok {
		return ctlError(c, "No command matches '%s'. Did you mean '%s'?", args[0], bestMatch(reg, name))
	}
	w := c.stdout
	fmt.Fprintf(w, "  Command Name: %s\n\n", name)
	spec, implemented := commands.EjabberdResultOf(d)
	if implemented {
		fmt.Fprint(w, "  Arguments:")
		declared := ctlArgs(d)
		if len(declared) == 0 {
			fmt.Fprint(w, " none\n")
		}
		for i, a := range declared {
			pad := " "
			if i > 0 {
				pad = "             "
			}
			opt := ""
			if a.Optional {
				opt = " (optional)"
			}
			fmt.Fprintf(w, "%s%s::%s%s : %s\n", pad, a.WireName(commands.Ejabberd), ctlArgType(a), opt, a.Doc)
		}
		fmt.Fprintf(w, "\n  Result: %s\n\n", ctlResultType(d, spec.In(ctlVersion)))
	}
	if tags := commands.EjabberdTags(name); len(tags) > 0 {
		fmt.Fprintf(w, "  Tags: %s\n\n", strings.Join(tags, " "))
	}
	fmt.Fprintf(w, "  Description: %s\n", d.Doc)
	return nil
}

func ctlSynopsis(d *commands.Def) string {
	parts := []string{d.Names[commands.Ejabberd]}
	for _, a := range ctlArgs(d) {
		n := a.WireName(commands.Ejabberd)
		if a.Optional {
			n = "[" + n + "]"
		}
		parts = append(parts, n)
	}
	return strings.Join(parts, " ")
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func ctlArgType(a commands.Arg) string {
	switch {
	case a.Type == commands.Int:
		return "integer"
	case a.Type == commands.List && (a.EjabberdListSince == 0 || ctlVersion >= a.EjabberdListSince):
		sep := a.Sep
		if sep == "" {
			sep = ","
		}
		return "[string] (a JSON array, or items separated by '" + sep + "')"
	}
	return "string"
}

func ctlResultType(d *commands.Def, spec commands.EjabberdResult) string {
	cols := "{" + strings.Join(d.Columns(), ", ") + "}"
	switch spec.Kind {
	case commands.EjRescode:
		return spec.Name + "::rescode (exit status 0 for success, 1 otherwise)"
	case commands.EjRestuple:
		return spec.Name + "::restuple (the text)"
	case commands.EjInteger:
		return spec.Name + "::integer"
	case commands.EjString:
		return spec.Name + "::string"
	case commands.EjList:
		return spec.Name + "::[string] (one per line)"
	case commands.EjTuples:
		return spec.Name + "::[" + cols + "] (one per line, fields separated by tabs)"
	case commands.EjTuple:
		return spec.Name + "::" + cols + " (fields separated by tabs)"
	}
	return spec.Name
}
