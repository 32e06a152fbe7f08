package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/store"
)

// storeCLICommands move a store between engines.
var storeCLICommands = []cliCommand{
	{Path: "migrate-store", Usage: "--from sqlite:PATH|postgres://… --to postgres://…|sqlite:PATH",
		Short: "Copy a whole store to another engine (stop the server first); the target must be empty. Prints the rows per table.",
		Flags: func(fs *flag.FlagSet, v *cliVars) {
			fs.StringVar(&v.from, "from", "", "the store to copy: sqlite:PATH or a postgres:// URL (required)")
			fs.StringVar(&v.to, "to", "", "the new store: a postgres:// URL or sqlite:PATH (required)")
		},
		Run: func(ctx context.Context, c *cliRun) error {
			if c.vars.from == "" || c.vars.to == "" {
				return usageError{"migrate-store: --from and --to are required"}
			}
			return migrateStore(ctx, storeArg(c.vars.from), storeArg(c.vars.to), c.stdout)
		}},
}

// storeArg turns "sqlite:PATH" into the path store.Open takes; a URL or
// a bare path is taken as it is.
func storeArg(s string) string { return strings.TrimPrefix(s, "sqlite:") }

// migrateStore copies every row of from into to through the portable dump
// (store.Dump/Load, one read transaction, one write transaction), then
// compares the row counts of every table. The target's schema is migrated
// on open; it must hold no account yet, so nothing there is overwritten.
func migrateStore(ctx context.Context, from, to string, out io.Writer) error {
	if from == to {
		return usageError{"migrate-store: --from and --to name the same store"}
	}
	src, err := store.Open(ctx, from, store.Options{})
	if err != nil {
		return fmt.Errorf("migrate-store: open %s: %w", redactURL(from), err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, to, store.Options{})
	if err != nil {
		return fmt.Errorf("migrate-store: open %s: %w", redactURL(to), err)
	}
	defer dst.Close()
	accs, err := dst.Accounts(ctx)
	if err != nil {
		return err
	}
	if len(accs) > 0 {
		return fmt.Errorf("migrate-store: %s is not empty (%d accounts); copy into a new database", redactURL(to), len(accs))
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(src.Dump(ctx, pw)) }()
	err = dst.Load(ctx, pr)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("migrate-store: %w", err)
	}
	want, err := src.TableCounts(ctx)
	if err != nil {
		return err
	}
	got, err := dst.TableCounts(ctx)
	if err != nil {
		return err
	}
	tables := make([]string, 0, len(want))
	for t := range want {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var bad []string
	fmt.Fprintln(out, "TABLE\tROWS")
	for _, t := range tables {
		fmt.Fprintf(out, "%s\t%d\n", t, got[t])
		if got[t] != want[t] {
			bad = append(bad, fmt.Sprintf("%s: %d rows, the source has %d", t, got[t], want[t]))
		}
	}
	if len(bad) > 0 {
		return errors.New("migrate-store: the copy differs: " + strings.Join(bad, "; "))
	}
	return nil
}

// redactURL hides a password in a postgres:// URL for messages.
func redactURL(s string) string {
	if !store.IsPostgres(s) {
		return s
	}
	scheme, rest, _ := strings.Cut(s, "://")
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, ok := strings.Cut(rest[:at], ":"); ok {
			return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
		}
	}
	return s
}
