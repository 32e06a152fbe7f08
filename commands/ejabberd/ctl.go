package ejabberd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xmppgate/xmppgate/commands"
)

// CtlVersion is the API version ctl asks for: the latest, as ejabberdctl
// does (its DEFAULT_VERSION), so results come unwrapped.
const CtlVersion = 1000000

// ExitStatus is ctl's failure that printed what it had to: the process
// ends with that status.
type ExitStatus int

func (e ExitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// Ctl is `xmppgate ctl`, ejabberdctl for xmppgate: positional arguments in
// the reference's order become the command's JSON arguments, Post sends
// them to the running server's API, and the answer is printed as
// ejabberdctl prints its kind of result.
type Ctl struct {
	Reg            *commands.Registry
	Stdout, Stderr io.Writer
	// Post sends a command with its arguments to the running server and
	// returns the HTTP status and body.
	Post func(ctx context.Context, name string, body map[string]any) (int, []byte, error)
	// WorkDir is the shell's working directory: a relative file argument
	// (Arg.Path) is taken from it, as ejabberdctl users expect. "" sends
	// such names as given (relative to the caller's folder on the server).
	WorkDir string
	// Terminal says Stderr is a terminal: progress is then one bar redrawn
	// in place; otherwise one plain line per report, for logs and pipes.
	Terminal bool
	// barOpen: a bar is drawn and its line not ended yet.
	barOpen bool
}

// ctlArgs are a command's ejabberd arguments at ctl's API version, in the
// reference's order.
func ctlArgs(d *commands.Def) []commands.Arg {
	var out []commands.Arg
	for _, a := range d.ArgsIn(commands.Ejabberd) {
		if a.InEjabberd(CtlVersion) {
			out = append(out, a)
		}
	}
	return out
}

// Run runs one command; args are its name and positional arguments.
func (c *Ctl) Run(ctx context.Context, args []string) error {
	// ejabberdctl takes my-command for my_command.
	name := strings.ReplaceAll(args[0], "-", "_")
	if _, known := lookup(name); !known {
		return c.fail("Error: unknown command '%s'. Did you mean '%s'?", args[0], bestMatch(name))
	}
	def, implemented := c.Reg.Lookup(commands.Ejabberd, name)
	args = args[1:]
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
			return c.fail("Error: the command '%s' requires %d more argument(s); see 'xmppgate ctl help %s'.", name, required-len(args), name)
		case len(args) > len(declared):
			return c.fail("Error: the command '%s' requires %d less argument(s); see 'xmppgate ctl help %s'.", name, len(args)-len(declared), name)
		}
		for i, v := range args {
			if declared[i].Path && c.WorkDir != "" && v != "" && !filepath.IsAbs(v) {
				v = filepath.Join(c.WorkDir, v)
			}
			body[declared[i].WireName(commands.Ejabberd)] = ctlArg(declared[i], v)
		}
	}
	status, raw, err := c.Post(ctx, name, body)
	c.endBar()
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return c.fail("Error: %s", errorText(raw))
	}
	if name == "status" {
		// ejabberdctl's status is its own text, not the API command's.
		fmt.Fprintf(c.Stdout, "The node %s is started with status: started\n%s is running in that node\n", commands.NodeName, commands.ServerName)
		return nil
	}
	spec, _ := ShapeOf(def, CtlVersion)
	return c.print(spec, raw)
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
	case a.Type == commands.List && (a.EjabberdListSince == 0 || CtlVersion >= a.EjabberdListSince):
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

// fail prints an ejabberdctl-style error on stderr and fails.
func (c *Ctl) fail(format string, a ...any) error {
	fmt.Fprintf(c.Stderr, format+"\n", a...)
	return ExitStatus(1)
}

// errorAtoms are the error atoms ejabberdctl prints before the message of
// an error that mod_http_api answers as an object with this code.
var errorAtoms = map[int]string{10001: "cannot_register", 10090: "conflict"}

// errorText is the message of an error answer: the object's message (after
// its error atom, as ejabberdctl prints it) or the bare string.
func errorText(raw []byte) string {
	var obj struct {
		Code    int
		Message string
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		if atom, ok := errorAtoms[obj.Code]; ok {
			return atom + ": " + obj.Message
		}
		return obj.Message
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// print prints a result as ejabberdctl does for its kind: a rescode is
// only the exit status; a string or integer is printed (an empty string
// is not); a list one item per line; a tuple its fields separated by tabs,
// one tuple per line.
func (c *Ctl) print(spec Shape, raw []byte) error {
	var lines []string
	switch spec.Kind {
	case Rescode:
		if strings.TrimSpace(string(raw)) != "0" {
			return ExitStatus(1)
		}
		return nil
	case Restuple, String, Integer:
		if s := ctlValue(raw); s != "" {
			lines = append(lines, s)
		}
	case List:
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("ctl: unexpected answer %s", raw)
		}
		for _, it := range items {
			lines = append(lines, ctlValue(it))
		}
	case Tuples:
		var rows []json.RawMessage
		if err := json.Unmarshal(raw, &rows); err != nil {
			return fmt.Errorf("ctl: unexpected answer %s", raw)
		}
		for _, r := range rows {
			lines = append(lines, tupleLine(r))
		}
	case Tuple:
		lines = append(lines, tupleLine(raw))
	case Dict:
		d := json.NewDecoder(bytes.NewReader(raw))
		if t, err := d.Token(); err != nil || t != json.Delim('{') {
			return fmt.Errorf("ctl: unexpected answer %s", raw)
		}
		for d.More() {
			k, err := d.Token()
			var v json.RawMessage
			if err != nil || d.Decode(&v) != nil {
				return fmt.Errorf("ctl: unexpected answer %s", raw)
			}
			lines = append(lines, fmt.Sprint(k)+"\t"+ctlValue(v))
		}
	}
	for _, l := range lines {
		fmt.Fprintln(c.Stdout, l)
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

// bestMatch is the reference's command name closest to name (edit
// distance), for ejabberdctl's "Did you mean" hint.
func bestMatch(name string) string {
	best, bestD := "", -1
	for _, c := range byName() {
		if dist := editDistance(name, c.Name); bestD < 0 || dist < bestD {
			best, bestD = c.Name, dist
		}
	}
	return best
}

// byName is the reference sorted by command name.
func byName() []command {
	out := append([]command(nil), reference...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
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

// Help lists the commands, or explains one (args: none, or its name).
func (c *Ctl) Help(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(c.Stdout, "Usage: xmppgate ctl [--data DIR] [--http ADDR] COMMAND [ARGS...]")
		fmt.Fprintln(c.Stdout, "\nCommands of the running server (refused ones answer why):")
		tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
		for _, ref := range byName() {
			synopsis, doc := ref.Name, "Refused: "+ref.Refused+"."
			if d, ok := c.Reg.Lookup(commands.Ejabberd, ref.Name); ok {
				synopsis, doc = ctlSynopsis(d), d.Doc
			}
			fmt.Fprintf(tw, "  %s\t%s\n", synopsis, firstSentence(doc))
		}
		tw.Flush()
		fmt.Fprintln(c.Stdout, "\nRun 'xmppgate ctl help COMMAND' for one command's arguments and result.")
		return nil
	}
	name := strings.ReplaceAll(args[0], "-", "_")
	ref, known := lookup(name)
	if !known {
		return c.fail("No command matches '%s'. Did you mean '%s'?", args[0], bestMatch(name))
	}
	w := c.Stdout
	fmt.Fprintf(w, "  Command Name: %s\n\n", name)
	doc := "Refused: " + ref.Refused + "."
	if d, implemented := c.Reg.Lookup(commands.Ejabberd, name); implemented {
		doc = d.Doc
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
		spec, _ := ShapeOf(d, CtlVersion)
		fmt.Fprintf(w, "\n  Result: %s\n\n", ctlResultType(d, spec))
	}
	if len(ref.Tags) > 0 {
		fmt.Fprintf(w, "  Tags: %s\n\n", strings.Join(ref.Tags, " "))
	}
	fmt.Fprintf(w, "  Description: %s\n", doc)
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
	case a.Type == commands.List && (a.EjabberdListSince == 0 || CtlVersion >= a.EjabberdListSince):
		sep := a.Sep
		if sep == "" {
			sep = ","
		}
		return "[string] (a JSON array, or items separated by '" + sep + "')"
	case a.Path:
		return "string (a path; a relative one is taken from the working directory)"
	}
	return "string"
}

func ctlResultType(d *commands.Def, spec Shape) string {
	cols := "{" + strings.Join(d.Columns(), ", ") + "}"
	switch spec.Kind {
	case Rescode:
		return spec.Name + "::rescode (exit status 0 for success, 1 otherwise)"
	case Restuple:
		return spec.Name + "::restuple (the text)"
	case Integer:
		return spec.Name + "::integer"
	case String:
		return spec.Name + "::string"
	case List:
		return spec.Name + "::[string] (one per line)"
	case Tuples:
		return spec.Name + "::[" + cols + "] (one per line, fields separated by tabs)"
	case Tuple:
		return spec.Name + "::" + cols + " (fields separated by tabs)"
	case Dict:
		return spec.Name + "::[{name, value}] (one per line, separated by a tab)"
	}
	return spec.Name
}

// ProgressHeader asks for progress (ctl sends it with CtlHeader) and
// carries it, as "done/total unit" ("40/100 users"), in the 102 Processing
// responses the server sends before the answer. Informational responses
// leave the request and its one answer as they are: ejabberdctl's output on
// stdout stays the same, and no second request or endpoint is needed.
const ProgressHeader = "X-Xmppgate-Progress"

// informProgress sends the progress of a call as a 102 response on w.
func informProgress(w http.ResponseWriter) func(done, total int, unit string) {
	return func(done, total int, unit string) {
		w.Header().Set(ProgressHeader, strconv.Itoa(done)+"/"+strconv.Itoa(total)+" "+unit)
		w.WriteHeader(http.StatusProcessing)
		w.Header().Del(ProgressHeader)
	}
}

// Progress prints the progress the server reported for command name (the
// value of ProgressHeader, "done/total unit") on stderr: on a terminal as
// a bar redrawn in place, else as a line "name: done/total unit". A value
// it cannot read is ignored (a newer server's, say).
func (c *Ctl) Progress(name, value string) {
	counts, unit, _ := strings.Cut(value, " ")
	d, t, ok := strings.Cut(counts, "/")
	done, err1 := strconv.Atoi(d)
	total, err2 := strconv.Atoi(t)
	if !ok || err1 != nil || err2 != nil || done < 0 || total <= 0 || done > total {
		return
	}
	if unit == "" {
		unit = "users" // servers before units counted imported users only
	}
	if !c.Terminal {
		fmt.Fprintf(c.Stderr, "%s: %d/%d %s\n", name, done, total, unit)
		return
	}
	fmt.Fprintf(c.Stderr, "\r%s", progressBar(name, done, total, unit))
	c.barOpen = true
	if done == total {
		c.endBar()
	}
}

// endBar ends the bar's line, so what follows starts on a line of its own.
func (c *Ctl) endBar() {
	if c.barOpen {
		fmt.Fprintln(c.Stderr)
		c.barOpen = false
	}
}

// barWidth is the bar's width in cells; with the name and the counts a
// line stays within 80 columns for the commands' names.
const barWidth = 30

// progressBar draws "name [#####.....]  50% 5/10 unit". Written by hand:
// it is one line of text, and a progress library would bring a terminal
// layer (widths, colours, goroutines) for what ctl draws in ten lines.
func progressBar(name string, done, total int, unit string) string {
	filled := done * barWidth / total
	return fmt.Sprintf("%s [%s%s] %3d%% %d/%d %s", name, strings.Repeat("#", filled),
		strings.Repeat(".", barWidth-filled), done*100/total, done, total, unit)
}
