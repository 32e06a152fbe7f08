// Command xmppgate is a provisioning gateway and XMPP server for hosting
// companies: it answers the DreamHost, ejabberd, Openfire and REST
// provisioning APIs over one command registry and serves the XMPP users it
// provisions.
//
// Usage:
//
//	xmppgate serve [--config FILE] [--data DIR] [--http ADDR]
//	xmppgate account add NAME [--parent ID] | account list
//	xmppgate key add --account ID --cmds PATTERNS [--ip CIDR] [--comment TEXT] | key list
//	xmppgate domain add FQDN --account ID | domain list
//	xmppgate ctl COMMAND [ARGS...] | ctl help [COMMAND]   (ejabberdctl over the running server)
//
// Run `xmppgate help` for every command and flag.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if code == exitRestart {
		code = reexec(os.Stderr)
	}
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, environ, stdout, stderr)
	var u usageError
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &u):
		fmt.Fprintln(stderr, "xmppgate:", err)
		return 2
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errRestart):
		return exitRestart
	default:
		fmt.Fprintln(stderr, "xmppgate:", err)
		return 1
	}
}
