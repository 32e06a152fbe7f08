package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
)

var errHelp = errors.New("help shown")

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// cliCommand is one admin CLI command; help is generated from this table.
type cliCommand struct {
	Path  string // words after "xmppgate"
	Usage string // positional arguments and flags
	Short string
	Args  int // number of positional arguments; -1: any number
	Flags func(fs *flag.FlagSet, v *cliVars)
	Run   func(ctx context.Context, c *cliRun) error
}

// cliVars collects every flag any command takes.
type cliVars struct {
	config, data, http    string
	parent, account       int64
	operator              bool
	cmds, ip, comment     string
	accountSet, parentSet bool
	openfire              openfireFlags
	from, to              string // migrate-store
}

// openfireFlags are the flags of "openfire set".
type openfireFlags struct {
	domain, secret, ip string
	random, enable     bool
	disable, ipSet     bool
}

type cliRun struct {
	vars    cliVars
	args    []string
	environ []string
	stdout  io.Writer
	stderr  io.Writer
	cfg     Config
}

func (c *cliRun) app(ctx context.Context) (*app, error) { return openApp(ctx, c.cfg, nil) }

// cliCommands is the CLI's table: the core commands, then each dialect's.
var cliCommands = append(append(append(coreCLICommands[:len(coreCLICommands):len(coreCLICommands)], openfireCLICommands...), ctlCLICommands...), storeCLICommands...)

var coreCLICommands = []cliCommand{
	{Path: "serve", Usage: "[--config FILE] [--data DIR] [--http ADDR]",
		Short: "Run the HTTP APIs, the XMPP server and the queue worker.",
		Flags: func(fs *flag.FlagSet, v *cliVars) {
			fs.StringVar(&v.http, "http", "", "HTTP listen address (XMPPGATE_HTTP_ADDR)")
		},
		Run: func(ctx context.Context, c *cliRun) error { return serve(ctx, c.cfg, c.stdout, nil) }},
	{Path: "version", Short: "Print the version, commit and Go toolchain of this binary.",
		Run: func(_ context.Context, c *cliRun) error { printVersion(c.stdout); return nil }},
	{Path: "account add", Usage: "NAME [--parent ID] [--operator]", Short: "Create an account (a tenant); prints its id.", Args: 1,
		Flags: func(fs *flag.FlagSet, v *cliVars) {
			fs.Int64Var(&v.parent, "parent", 0, "id of the reseller account owning it")
			fs.BoolVar(&v.operator, "operator", false, "let its admins call server-wide commands (stop, backup, ...)")
		},
		Run: func(ctx context.Context, c *cliRun) error {
			a, err := withApp(ctx, c, func(a *app) (any, error) {
				return commands.CreateAccount(ctx, a.env, c.args[0], c.vars.parent, c.vars.operator)
			})
			if err == nil {
				fmt.Fprintln(c.stdout, a.(store.Account).ID)
			}
			return err
		}},
	{Path: "account list", Short: "List accounts.",
		Run: func(ctx context.Context, c *cliRun) error {
			return listWith(ctx, c, "ID\tNAME\tPARENT\tCREATED", func(a *app, w io.Writer) error {
				accs, err := a.env.Store.Accounts(ctx)
				for _, x := range accs {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", x.ID, x.Name, idOrDash(x.ParentID), x.Created.Format("2006-01-02 15:04:05"))
				}
				return err
			})
		}},
	{Path: "key add", Usage: "--account ID --cmds PATTERNS [--ip CIDR] [--comment TEXT]",
		Short: "Create a DreamHost-style API key; prints the 16-character key.",
		Flags: func(fs *flag.FlagSet, v *cliVars) {
			fs.Int64Var(&v.account, "account", 0, "account id (required)")
			fs.StringVar(&v.cmds, "cmds", "", "comma-separated command patterns: *, jabber-*, services-progress (required)")
			fs.StringVar(&v.ip, "ip", "", "comma-separated addresses or CIDRs the key may be used from (default any)")
			fs.StringVar(&v.comment, "comment", "", "free text shown by api-list_keys")
		},
		Run: func(ctx context.Context, c *cliRun) error {
			if !c.vars.accountSet {
				return usageError{"key add: --account is required"}
			}
			text, err := withApp(ctx, c, func(a *app) (any, error) {
				text, _, err := commands.CreateKey(ctx, a.env, commands.KeySpec{Account: c.vars.account,
					Cmds: strings.Split(c.vars.cmds, ","), IPAllow: c.vars.ip, Comment: c.vars.comment})
				return text, err
			})
			if err == nil {
				fmt.Fprintln(c.stdout, text)
			}
			return err
		}},
	{Path: "key list", Usage: "[--account ID]", Short: "List API keys (ids, accounts, patterns; not the keys).",
		Flags: func(fs *flag.FlagSet, v *cliVars) { fs.Int64Var(&v.account, "account", 0, "only this account") },
		Run: func(ctx context.Context, c *cliRun) error {
			return listWith(ctx, c, "ID\tACCOUNT\tCMDS\tIP\tCOMMENT\tCREATED", func(a *app, w io.Writer) error {
				ids, err := a.accountFilter(ctx, c.vars.accountSet, c.vars.account)
				if err != nil {
					return err
				}
				keys, err := a.env.Store.Keys(ctx, ids)
				for _, k := range keys {
					fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\n", k.ID, k.AccountID, strings.Join(k.Cmds, ","), dash(k.IPAllow), dash(k.Comment), k.Created.Format("2006-01-02 15:04:05"))
				}
				return err
			})
		}},
	{Path: "domain add", Usage: "FQDN --account ID", Short: "Add an XMPP domain to an account.", Args: 1,
		Flags: func(fs *flag.FlagSet, v *cliVars) { fs.Int64Var(&v.account, "account", 0, "account id (required)") },
		Run: func(ctx context.Context, c *cliRun) error {
			if !c.vars.accountSet {
				return usageError{"domain add: --account is required"}
			}
			_, err := withApp(ctx, c, func(a *app) (any, error) { return commands.CreateDomain(ctx, a.env, c.args[0], c.vars.account) })
			return err
		}},
	{Path: "domain list", Usage: "[--account ID]", Short: "List domains.",
		Flags: func(fs *flag.FlagSet, v *cliVars) { fs.Int64Var(&v.account, "account", 0, "only this account") },
		Run: func(ctx context.Context, c *cliRun) error {
			return listWith(ctx, c, "ID\tFQDN\tACCOUNT\tENABLED\tCREATED", func(a *app, w io.Writer) error {
				var ids []int64
				if c.vars.accountSet {
					ids = []int64{c.vars.account}
				}
				ds, err := a.env.Store.Domains(ctx, ids)
				for _, d := range ds {
					fmt.Fprintf(w, "%d\t%s\t%d\t%t\t%s\n", d.ID, d.FQDN, d.AccountID, d.Enabled, d.Created.Format("2006-01-02 15:04:05"))
				}
				return err
			})
		}},
}

func idOrDash(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func withApp(ctx context.Context, c *cliRun, f func(a *app) (any, error)) (any, error) {
	a, err := c.app(ctx)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return f(a)
}

func listWith(ctx context.Context, c *cliRun, header string, f func(a *app, w io.Writer) error) error {
	_, err := withApp(ctx, c, func(a *app) (any, error) {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		if err := f(a, tw); err != nil {
			return nil, err
		}
		return nil, tw.Flush()
	})
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: xmppgate COMMAND [ARGS] [FLAGS]")
	fmt.Fprintln(w, "\nCommands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cliCommands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.Path, c.Usage, c.Short)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nEvery command takes --config FILE and --data DIR; every config key can be set as XMPPGATE_<KEY>.")
	fmt.Fprintln(w, "Run 'xmppgate COMMAND --help' for a command's flags.")
}

// dispatch finds the longest command path matching args and runs it.
func dispatch(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		usage(stdout)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return errHelp
	}
	var cmd *cliCommand
	for i := range cliCommands {
		words := strings.Fields(cliCommands[i].Path)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == cliCommands[i].Path {
			cmd = &cliCommands[i]
			args = args[len(words):]
			break
		}
	}
	if cmd == nil {
		usage(stderr)
		return usageError{fmt.Sprintf("unknown command %q", strings.Join(args, " "))}
	}
	r := &cliRun{environ: environ, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("xmppgate "+cmd.Path, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&r.vars.config, "config", "", "YAML config file")
	fs.StringVar(&r.vars.data, "data", "", "data directory (XMPPGATE_DATA)")
	if cmd.Flags != nil {
		cmd.Flags(fs, &r.vars)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: xmppgate %s %s\n\n%s\n\nFlags:\n", cmd.Path, cmd.Usage, cmd.Short)
		fs.PrintDefaults()
	}
	// Flags may follow positional arguments ("domain add x.org --account 1").
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errHelp
			}
			return usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		// After "--" every word is an argument, even one starting with "-".
		if n := len(args) - fs.NArg(); n > 0 && args[n-1] == "--" {
			r.args = append(r.args, fs.Args()...)
			break
		}
		r.args = append(r.args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if cmd.Args >= 0 && len(r.args) != cmd.Args {
		fs.Usage()
		return usageError{fmt.Sprintf("%s takes %d argument(s), got %d", cmd.Path, cmd.Args, len(r.args))}
	}
	fs.Visit(func(f *flag.Flag) {
		r.vars.accountSet = r.vars.accountSet || f.Name == "account"
		r.vars.parentSet = r.vars.parentSet || f.Name == "parent"
	})
	cfg, err := LoadConfig(r.vars.config, environ)
	if err != nil {
		return err
	}
	if r.vars.data != "" {
		cfg.Data = r.vars.data
	}
	if r.vars.http != "" {
		cfg.HTTPAddr = r.vars.http
	}
	cfg.source = &configSource{file: r.vars.config, environ: environ, data: r.vars.data, http: r.vars.http}
	r.cfg = cfg
	return cmd.Run(ctx, r)
}
