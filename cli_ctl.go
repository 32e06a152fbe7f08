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
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

func runCtl(ctx context.Context, c *cliRun) error {
	if len(c.args) == 0 {
		return usageError{"ctl: no command given; 'xmppgate ctl help' lists them"}
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("ctl: the working directory: %w", err)
	}
	ctl := &ejabberd.Ctl{Reg: commands.MustNew(commands.All()...), Stdout: c.stdout, Stderr: c.stderr, WorkDir: wd,
		Terminal: isTerminal(c.stderr)}
	ctl.Post = func(ctx context.Context, name string, body map[string]any) (int, []byte, error) {
		return ctlPost(ctx, c.cfg, name, body, func(v string) { ctl.Progress(name, v) })
	}
	if c.args[0] == "help" {
		err = ctl.Help(c.args[1:])
	} else {
		err = ctl.Run(ctx, c.args)
	}
	var status ejabberd.ExitStatus
	if errors.As(err, &status) {
		return exitCode(status)
	}
	return err
}

// isTerminal says whether w is a terminal (a character device), where ctl
// draws its progress bar; a file, pipe or test buffer gets plain lines.
// The file's mode says it without golang.org/x/term: the bar needs no
// terminal size or raw mode.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
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

// ctlPost sends the command to the running server; progress is given
// each progress value the server reports before its answer (a long import).
func ctlPost(ctx context.Context, cfg Config, name string, body map[string]any, progress func(string)) (int, []byte, error) {
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
	u := fmt.Sprintf("%s%s%s/v%d", base, ejabberd.Prefix, name, ejabberd.CtlVersion)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ejabberd.CtlHeader, strings.TrimSpace(string(secret)))
	req.Header.Set(ejabberd.ProgressHeader, "1")
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if v := h.Get(ejabberd.ProgressHeader); code == http.StatusProcessing && v != "" {
				progress(v)
			}
			return nil
		}}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("no xmppgate server answers at %s (data directory %s): %w", base, cfg.Data, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}
