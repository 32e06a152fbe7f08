package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
)

var openfireCLICommands = []cliCommand{
	{Path: "openfire set", Usage: "--account ID [--domain FQDN] [--secret S|--random] [--ip LIST] [--enable|--disable]",
		Short: "Create or change an account's Openfire User Service secret; prints the secret.",
		Flags: func(fs *flag.FlagSet, v *cliVars) {
			f := &v.openfire
			fs.Int64Var(&v.account, "account", 0, "account id (required)")
			fs.StringVar(&f.domain, "domain", "", "domain the secret works on (default: the account's oldest domain)")
			fs.StringVar(&f.secret, "secret", "", "the secret (default: keep the current one, or a random one for a new credential)")
			fs.BoolVar(&f.random, "random", false, "replace the secret with a random one")
			fs.Func("ip", "comma-separated client addresses, compared as exact strings; \"\" allows any (default: keep)", func(s string) error {
				f.ip, f.ipSet = s, true
				return nil
			})
			fs.BoolVar(&f.enable, "enable", false, "switch the API on (the default for a new credential)")
			fs.BoolVar(&f.disable, "disable", false, "switch the API off")
		},
		Run: func(ctx context.Context, c *cliRun) error {
			f := c.vars.openfire
			switch {
			case !c.vars.accountSet:
				return usageError{"openfire set: --account is required"}
			case f.secret != "" && f.random:
				return usageError{"openfire set: --secret and --random exclude each other"}
			case f.enable && f.disable:
				return usageError{"openfire set: --enable and --disable exclude each other"}
			}
			spec := commands.OpenfireSpec{Account: c.vars.account, Domain: f.domain, Secret: f.secret, Random: f.random}
			if f.ipSet {
				spec.IPAllow = &f.ip
			}
			if f.enable || f.disable {
				on := f.enable
				spec.Enabled = &on
			}
			secret, err := withApp(ctx, c, func(a *app) (any, error) {
				secret, _, err := commands.SetOpenfire(ctx, a.env, spec)
				return secret, err
			})
			if err == nil {
				fmt.Fprintln(c.stdout, secret)
			}
			return err
		}},
	{Path: "openfire list", Short: "List Openfire User Service credentials (accounts, domains, switches; not the secrets).",
		Run: func(ctx context.Context, c *cliRun) error {
			return listWith(ctx, c, "ACCOUNT\tDOMAIN\tENABLED\tIP\tUPDATED", func(a *app, w io.Writer) error {
				cs, err := a.env.Store.OpenfireCredentials(ctx)
				for _, x := range cs {
					fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\n", strconv.FormatInt(x.AccountID, 10), x.Domain, x.Enabled, dash(x.IPAllow),
						x.Updated.Format(store.TimeLayout))
				}
				return err
			})
		}},
}
