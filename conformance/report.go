package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/internal/conformance"
	"github.com/xmppgate/xmppgate/internal/peer"
)

// ctlSample is one command line given to both ejabberdctl and xmppgate ctl.
type ctlSample struct {
	tag  string
	args []string
	why  string // a deliberate divergence
}

const (
	whyCountCtl   = "ejabberd 23.01's registeredusers count is not what registered_users lists (see the API table)"
	whyOutsideCtl = "ejabberd takes any absolute path of its host; xmppgate only those inside transfer_dirs (here FILES; " +
		"the API table's reason)"
	whyNoFileCtl = "the directory does not exist: ejabberdctl prints the Erlang error (enoent), xmppgate ctl the " +
		"answer's text naming the path (the API table's reason)"
	whyErrorTerm = "ejabberdctl prints the Erlang error as the command returned it (a tuple, or an atom without " +
		"\"Error:\"), which the HTTP answer does not carry; xmppgate ctl prints \"Error: \" and the answer's text"
	whyArgCount = "ejabberdctl prints the command's help before the error; xmppgate ctl names the help command instead"
)

// ctlSamples cover every tag of the implemented commands whose commands
// need no files: state first, then reads of it, then error handling.
var ctlSamples = []ctlSample{
	{tag: "accounts", args: []string{"register", "ctl1", "one.example", "pw one"}},
	{tag: "accounts", args: []string{"check_account", "ctl1", "one.example"}},
	{tag: "accounts", args: []string{"check_account", "nobody", "one.example"},
		why: "for a rescode of 1 ejabberdctl prints the command's Erlang result (here \"Error: false\"), which the HTTP answer does not carry; xmppgate ctl prints nothing (exit status 1 on both)"},
	{tag: "accounts", args: []string{"check_password", "ctl1", "one.example", "pw one"}},
	{tag: "accounts", args: []string{"registered_users", "two.example"}},
	{tag: "server", args: []string{"registered_vhosts"}},
	{tag: "server", args: []string{"status"}},
	{tag: "statistics", args: []string{"stats", "registeredusers"}, why: whyCountCtl},
	{tag: "statistics", args: []string{"stats_host", "registeredusers", "two.example"}, why: whyCountCtl},
	{tag: "session", args: []string{"connected_users"}},
	{tag: "session", args: []string{"connected_users_number"}},
	{tag: "session", args: []string{"num_resources", "ctl1", "one.example"}},
	{tag: "roster", args: []string{"add_rosteritem", "ctl1", "one.example", "c1", "two.example", "Cee One", "Friends", "both"}},
	{tag: "roster", args: []string{"get_roster", "ctl1", "one.example"}},
	{tag: "vcard", args: []string{"set_vcard", "ctl1", "one.example", "FN", "Ctl One"}},
	{tag: "vcard", args: []string{"get_vcard", "ctl1", "one.example", "FN"}},
	{tag: "private", args: []string{"private_get", "ctl1", "one.example", "storage", "storage:bookmarks"}},
	{tag: "stanza", args: []string{"send_message", "chat", "chk@one.example", "ctl1@one.example", "", "hi"}},
	{tag: "offline", args: []string{"get_offline_count", "ctl1", "one.example"}},
	{tag: "last", args: []string{"set_last", "ctl1", "one.example", "1700000000", "away"}},
	{tag: "last", args: []string{"get_last", "ctl1", "one.example"}},
	{tag: "shared_roster_group", args: []string{"srg_create", "ctlg", "one.example", "Ctl", "", "ctlg"}},
	{tag: "shared_roster_group", args: []string{"srg_list", "one.example"}},
	{tag: "purge", args: []string{"delete_old_messages_status", "one.example"}},
	{tag: "logs", args: []string{"get_loglevel"}},
	{tag: "oauth", args: []string{"oauth_remove_client", "nope"}},
	{tag: "s2s", args: []string{"outgoing_s2s_number"}},
	{tag: "config", args: []string{"reload_config"}},
	{tag: "mnesia", args: []string{"dump", conformance.FilesDir + "/ctl.dump"}},
	{tag: "mnesia", args: []string{"dump", conformance.OutsideDir + "/ctl.dump"}, why: whyOutsideCtl},
	{tag: "documentation", args: []string{"gen_markdown_doc_for_tags", conformance.FilesDir + "/ctl-tags.md"}},
	{tag: "(none)", args: []string{"import_prosody", conformance.FilesDir + "/no-such-dir"}, why: whyNoFileCtl},
	{tag: "errors", args: []string{"check_account", "ctl1"}, why: whyArgCount},
	{tag: "errors", args: []string{"check_account", "a", "b", "c"}, why: whyArgCount},
	{tag: "errors", args: []string{"no_such_command"}},
	{tag: "errors", args: []string{"register", "ctl1", "one.example", "pw"}},
	{tag: "errors", args: []string{"change_password", "nobody", "one.example", "pw"}, why: whyErrorTerm},
	{tag: "errors", args: []string{"get_vcard", "ctl1", "one.example", "TITLE"}, why: whyErrorTerm},
	{tag: "errors", args: []string{"register", "ctl1", "nohost.example", "pw"}},
}

// ctlResult is one sample's outputs, normalised.
type ctlResult struct {
	ctlSample
	ej, xg ctlOut
}

type ctlOut struct {
	out  string
	exit int
}

func (o ctlOut) String() string {
	return fmt.Sprintf("exit %d: `%s`", o.exit, strings.ReplaceAll(strings.TrimSpace(o.out), "\n", "⏎"))
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func compareCtl(ctx context.Context, ej *peer.Ejabberd, bin string, env []string) []ctlResult {
	var out []ctlResult
	for _, s := range ctlSamples {
		r := ctlResult{ctlSample: s}
		ejArgs := make([]string, len(s.args))
		for i, a := range s.args {
			ejArgs[i] = strings.ReplaceAll(a, conformance.FilesDir, ejFiles)
		}
		b, err := ej.Ctl(ctx, ejArgs...)
		r.ej = ctlOut{ctlNormalise(string(b), ejFiles), exitCode(err)}
		cmd := exec.CommandContext(ctx, bin, append([]string{"ctl"}, s.args...)...)
		cmd.Env = env
		b, err = cmd.CombinedOutput()
		r.xg = ctlOut{ctlNormalise(string(b), conformance.FilesDir), exitCode(err)}
		out = append(out, r)
	}
	return out
}

// ctlNormalise is Normalise for a ctl output, with the server's files
// directory shown as FILES, as in the API table.
func ctlNormalise(out, files string) string {
	return conformance.Normalise(conformance.Answer{Body: strings.ReplaceAll(out, files, "FILES")}).Body
}

type reportText struct {
	text        string
	unexplained int
}

// report is docs/ejabberd-conformance.md.
func report(recs []conformance.Recorded, ctl []ctlResult) reportText {
	type row struct {
		cases, equal, diverge, unexplained int
		whys                               []string
	}
	rows := map[string]*row{}
	var tot row
	var diverges, unexplained []conformance.Recorded
	for _, r := range recs {
		w := rows[r.Command]
		if w == nil {
			w = &row{}
			rows[r.Command] = w
		}
		w.cases++
		tot.cases++
		switch {
		case r.Ejabberd == r.Xmppgate:
			w.equal++
			tot.equal++
		case r.Why != "":
			w.diverge++
			tot.diverge++
			diverges = append(diverges, r)
			if !slices.Contains(w.whys, r.Why) {
				w.whys = append(w.whys, r.Why)
			}
		default:
			w.unexplained++
			tot.unexplained++
			unexplained = append(unexplained, r)
			w.whys = append(w.whys, "**unexplained**: "+r.Name)
		}
	}
	var b strings.Builder
	b.WriteString("<!-- Code generated by `make conformance` (go run ./conformance). DO NOT EDIT. -->\n\n")
	b.WriteString("# ejabberd 23.01 conformance of the ejabberd dialect\n\n")
	b.WriteString("`make conformance` starts Debian's ejabberd 23.01 (a private node, `internal/peer`) and `bin/xmppgate serve`\n" +
		"side by side on loopback, both serving `one.example` and `two.example` with the same admin JID and password\n" +
		"(HTTP Basic; ejabberd's `api_permissions` lets the admin ACL call every command over `mod_http_api`), sends every\n" +
		"case of `internal/conformance/cases.go` to both in the same order (each case's setup through the API first), and\n" +
		"compares status and body byte for byte after normalising only what must differ: node names (`NODE`), the\n" +
		"server's name and version (`SERVER`), time stamps (`TIME`), OAuth tokens (`TOKEN`) and their remaining seconds,\n" +
		"xmppgate's data directory (`DATA`), each server's files directory (`FILES`) and the numbers of the statistics that\n" +
		"change by themselves (uptime, processes: `N`); lists ejabberd answers in Mnesia's order (get_roster,\n" +
		"process_rosteritems, srg_get_info) are compared sorted. The file commands' absolute paths name `" + conformance.FilesDir + "`,\n" +
		"which stands for a directory of each server's own (ejabberd's `" + ejFiles + "`; xmppgate's is the path itself, its\n" +
		"`transfer_dirs`), filled with the same input files, so each reads what it wrote itself; `" + conformance.OutsideDir + "`\n" +
		"lies outside `transfer_dirs`. ejabberd runs Debian's settings (`auth_password_format: scram`, log level error like\n" +
		"xmppgate), with Debian's `erlang-luerl` for `import_prosody`. Its answers are kept in\n" +
		"`testdata/ejabberd-conformance/` (one txtar file per command), which `TestEjabberdConformance` replays on xmppgate in\n" +
		"`make test`: an answer that drifts from ejabberd's, or from what is recorded for a deliberate divergence, fails.\n\n")
	fmt.Fprintf(&b, "**%d commands (with the unknown command no_such_command), %d cases: %d equal, %d deliberate divergences, %d unexplained differences.**\n\n",
		len(rows), tot.cases, tot.equal, tot.diverge, tot.unexplained)
	b.WriteString("| command | cases | equal | differs | why |\n| --- | --- | --- | --- | --- |\n")
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w := rows[n]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", n, w.cases, w.equal, w.diverge+w.unexplained, cell(strings.Join(w.whys, "; ")))
	}
	fmt.Fprintf(&b, "| **total** | %d | %d | %d | |\n\n", tot.cases, tot.equal, tot.diverge+tot.unexplained)

	b.WriteString("## Deliberate divergences\n\n")
	if len(diverges) == 0 {
		b.WriteString("None.\n\n")
	} else {
		b.WriteString("| command | case | ejabberd | xmppgate | why |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range diverges {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.Command, cell(r.Name), ans(r.Ejabberd), ans(r.Xmppgate), cell(r.Why))
		}
		b.WriteString("\n")
	}
	if len(unexplained) > 0 {
		b.WriteString("## Unexplained differences (to fix)\n\n| command | case | request | ejabberd | xmppgate |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range unexplained {
			fmt.Fprintf(&b, "| %s | %s | `%s %s` | %s | %s |\n", r.Command, cell(r.Name), r.Path(), cell(r.Body), ans(r.Ejabberd), ans(r.Xmppgate))
		}
		b.WriteString("\n")
	}

	b.WriteString("## xmppgate ctl and ejabberdctl\n\n" +
		"The same command lines given to `ejabberdctl` (the private node) and `xmppgate ctl` (the running server), in this\n" +
		"order, after the API cases; output (stdout and stderr) and exit status, normalised as above.\n\n")
	ctlEqual := 0
	for _, r := range ctl {
		if r.ej == r.xg {
			ctlEqual++
		}
	}
	fmt.Fprintf(&b, "**%d command lines: %d equal.**\n\n", len(ctl), ctlEqual)
	b.WriteString("| tag | command line | ejabberdctl | xmppgate ctl | equal | why |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range ctl {
		eq, why := "yes", ""
		if r.ej != r.xg {
			eq, why = "no", r.why
			if why == "" {
				why = "**unexplained**"
			}
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", r.tag, cell(strings.Join(quoteArgs(r.args), " ")), cell(r.ej.String()), cell(r.xg.String()), eq, cell(why))
	}
	return reportText{text: b.String(), unexplained: tot.unexplained}
}

func ans(a conformance.Answer) string {
	return cell(fmt.Sprintf("%d `%s`", a.Status, a.Body))
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}
