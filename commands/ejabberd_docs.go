package commands

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The ejabberd documentation family (ejabberd_commands_doc, ejabberd_doc):
// gen_markdown_doc_for_commands, gen_html_doc_for_commands,
// gen_markdown_doc_for_tags and man write documents generated from the
// registry into the data directory, the only place commands write files.

// reservedData are the server's own files and folders in the data
// directory; no command writes over them.
var reservedData = map[string]bool{"xmppgate.db": true, "xmppgate.db-wal": true, "xmppgate.db-shm": true,
	"xmppgate.db-journal": true, "secret.key": true, "bootstrap.json": true, "lock": true, "tls": true}

// writeDataFile writes data to name, a path inside the data directory
// (relative paths are taken from it), atomically with mode 0600; the
// directory must exist and every symbolic link is resolved before the
// check, so none leads out. It returns the path written.
func writeDataFile(ctl Control, arg, name string, data []byte) (string, error) {
	refuse := func(format string, a ...any) (string, error) {
		return "", Errorf(Invalid, ReasonBadValue, arg, format, a...)
	}
	dir, err := filepath.EvalSymlinks(ctl.DataDir())
	if err != nil {
		return "", err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	inside := func(p string) (string, bool) {
		rel, err := filepath.Rel(dir, p)
		return rel, err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	p := filepath.Clean(name)
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if _, ok := inside(p); !ok || name == "" {
		return refuse("%s is outside the data directory %s; files are written only there", name, dir)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return refuse("%s: the directory does not exist", filepath.Dir(p))
	}
	target := filepath.Join(parent, filepath.Base(p))
	rel, ok := inside(target)
	if !ok {
		return refuse("%s leads outside the data directory %s; files are written only there", name, dir)
	}
	if reservedData[strings.Split(rel, string(filepath.Separator))[0]] {
		return refuse("%s is one of the server's own files", name)
	}
	if fi, err := os.Lstat(target); err == nil && !fi.Mode().IsRegular() {
		return refuse("%s exists and is not a regular file", name)
	}
	tmp, err := os.CreateTemp(parent, ".xmppgate-write-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return target, os.Rename(tmp.Name(), target)
}

// ejDoc is one command of the reference as the documents show it.
type ejDoc struct {
	ref    EjabberdCommand
	def    *Def
	result EjabberdResult
	ok     bool // implemented
}

// ejDocs lists the reference's commands whose name, registry name or a
// tag matches re (nil: all), by name.
func ejDocs(reg *Registry, re *regexp.Regexp) []ejDoc {
	var out []ejDoc
	for _, c := range EjabberdCommands() {
		def, _ := reg.Lookup(Ejabberd, c.Name)
		d := ejDoc{ref: c, def: def}
		d.result, d.ok = EjabberdResultOf(def)
		match := re == nil || re.MatchString(c.Name) || (def != nil && re.MatchString(def.Name))
		for _, t := range c.Tags {
			match = match || re.MatchString(t)
		}
		if match {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ref.Name < out[j].ref.Name })
	return out
}

var ejKindText = map[EjabberdKind]string{EjRescode: "integer : 0 on success, 1 otherwise", EjRestuple: "string",
	EjInteger: "integer", EjString: "string", EjList: "[string]", EjTuples: "[{...}]", EjTuple: "{...}"}

func (d ejDoc) args() []Arg {
	if !d.ok {
		return nil
	}
	return d.def.ArgsIn(Ejabberd)
}

func argType(a Arg) string {
	switch a.Type {
	case Int:
		return "integer"
	case List:
		return "[string]"
	}
	return "string"
}

func (d ejDoc) resultLine() string {
	k := ejKindText[d.result.Kind]
	if d.def != nil && (d.result.Kind == EjTuples || d.result.Kind == EjTuple) {
		k = strings.Replace(k, "...", strings.Join(d.def.Result.Columns, ", "), 1)
	}
	return d.result.Name + " :: " + k
}

func (d ejDoc) text() string {
	if !d.ok {
		why := d.ref.Refused
		if why == "" {
			why = refusedLater
		}
		return "Refused by xmppgate: " + why + "."
	}
	return d.def.Doc
}

// jsonExample is a request with each argument's type as its value.
func (d ejDoc) jsonExample() string {
	var b strings.Builder
	b.WriteString("POST /api/" + d.ref.Name + "\n{")
	for i, a := range d.args() {
		if i > 0 {
			b.WriteByte(',')
		}
		v := `"` + argType(a) + `"`
		switch a.Type {
		case Int:
			v = "0"
		case List:
			v = `["string"]`
		}
		fmt.Fprintf(&b, "\n  %q: %s", a.WireName(Ejabberd), v)
	}
	b.WriteString("\n}\n")
	return b.String()
}

// docLangs splits the examples argument: json examples are written; the
// other languages ejabberd knows have no client interface here.
func docLangs(examples string) (json bool, skipped []string, err error) {
	for _, l := range strings.Split(examples, ",") {
		switch l = strings.TrimSpace(l); l {
		case "":
		case "json":
			json = true
		case "java", "perl", "xmlrpc":
			skipped = append(skipped, l)
		default:
			return false, nil, Errorf(Invalid, ReasonBadValue, "examples", "unknown example language %q: java, perl, xmlrpc or json", l)
		}
	}
	return json, skipped, nil
}

// EjabberdCommandsMarkdown is gen_markdown_doc_for_commands' document.
func EjabberdCommandsMarkdown(reg *Registry, re *regexp.Regexp, json bool, skipped []string) []byte {
	var b bytes.Buffer
	b.WriteString("# Administration API reference\n\nThe ejabberd admin API of xmppgate (`POST /api/<command>`), " +
		"generated by gen_markdown_doc_for_commands from the command registry.\n")
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "Examples are JSON only; xmppgate has no %s interface.\n", strings.Join(skipped, ", "))
	}
	for _, d := range ejDocs(reg, re) {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", d.ref.Name, d.text())
		if d.ok {
			b.WriteString("Arguments:\n")
			for _, a := range d.args() {
				fmt.Fprintf(&b, "- %s :: %s : %s\n", a.WireName(Ejabberd), argType(a), a.Doc)
			}
			fmt.Fprintf(&b, "\nResult:\n- %s\n\n", d.resultLine())
		}
		fmt.Fprintf(&b, "Tags: %s\n", strings.Join(d.ref.Tags, " "))
		if d.ok && json {
			fmt.Fprintf(&b, "\nExample:\n\n~~~ json\n%s~~~\n", d.jsonExample())
		}
	}
	return b.Bytes()
}

// EjabberdCommandsHTML is gen_html_doc_for_commands' document.
func EjabberdCommandsHTML(reg *Registry, re *regexp.Regexp, json bool, skipped []string) []byte {
	e := html.EscapeString
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Administration API reference</title></head>\n<body>\n" +
		"<h1>Administration API reference</h1>\n<p>The ejabberd admin API of xmppgate, generated by gen_html_doc_for_commands from the command registry.</p>\n")
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "<p>Examples are JSON only; xmppgate has no %s interface.</p>\n", e(strings.Join(skipped, ", ")))
	}
	for _, d := range ejDocs(reg, re) {
		fmt.Fprintf(&b, "<h2 id=\"%s\">%s</h2>\n<p>%s</p>\n", e(d.ref.Name), e(d.ref.Name), e(d.text()))
		if d.ok {
			b.WriteString("<p>Arguments:</p>\n<ul>\n")
			for _, a := range d.args() {
				fmt.Fprintf(&b, "<li><code>%s :: %s</code>: %s</li>\n", e(a.WireName(Ejabberd)), argType(a), e(a.Doc))
			}
			fmt.Fprintf(&b, "</ul>\n<p>Result: <code>%s</code></p>\n", e(d.resultLine()))
		}
		fmt.Fprintf(&b, "<p>Tags: %s</p>\n", e(strings.Join(d.ref.Tags, " ")))
		if d.ok && json {
			fmt.Fprintf(&b, "<pre>%s</pre>\n", e(d.jsonExample()))
		}
	}
	b.WriteString("</body>\n</html>\n")
	return b.Bytes()
}

// EjabberdTagsMarkdown is gen_markdown_doc_for_tags' document.
func EjabberdTagsMarkdown(reg *Registry) []byte {
	tags := map[string][]ejDoc{}
	for _, d := range ejDocs(reg, nil) {
		for _, t := range d.ref.Tags {
			tags[t] = append(tags[t], d)
		}
	}
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# API tags\n\nThe tags of the ejabberd admin API commands and their commands, generated by gen_markdown_doc_for_tags.\n" +
		"A tag is also an api permission pattern: [tag:NAME].\n")
	for _, t := range names {
		fmt.Fprintf(&b, "\n## %s\n\n", t)
		for _, d := range tags[t] {
			if d.ok {
				fmt.Fprintf(&b, "- %s\n", d.ref.Name)
			} else {
				fmt.Fprintf(&b, "- %s (refused)\n", d.ref.Name)
			}
		}
	}
	return b.Bytes()
}

// roff escapes text for a man page line.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// ManPage is man's page: every registry command, in every dialect.
func ManPage(reg *Registry) []byte {
	var b bytes.Buffer
	b.WriteString(".TH XMPPGATE-COMMANDS 8 \"\" \"xmppgate\" \"xmppgate commands\"\n.SH NAME\nxmppgate\\-commands \\- the provisioning commands of xmppgate\n" +
		".SH DESCRIPTION\nEvery command of the xmppgate command registry, with its name in each API dialect " +
		"(dreamhost, ejabberd, openfire, rest), its arguments and what it does. Generated by the ejabberd admin API command man.\n.SH COMMANDS\n")
	for _, d := range reg.Defs() {
		fmt.Fprintf(&b, ".SS %s\n%s\n", roff(d.Name), roff(d.Doc))
		var dialects []string
		for _, dl := range []Dialect{DreamHost, Ejabberd, Openfire, REST} {
			if n, ok := d.Names[dl]; ok {
				dialects = append(dialects, string(dl)+": "+n)
			}
		}
		if len(dialects) > 0 {
			fmt.Fprintf(&b, ".PP\nDialects: %s.\n", roff(strings.Join(dialects, ", ")))
		}
		for _, a := range d.Args {
			opt := ""
			if a.Optional {
				opt = ", optional"
			}
			fmt.Fprintf(&b, ".TP\n.B %s\n(%s%s) %s\n", roff(a.Name), a.Type, opt, roff(a.Doc))
		}
	}
	return b.Bytes()
}

var (
	ejDocFile     = Arg{Name: "file", Type: String, Doc: "The file to write, inside the data directory (relative paths are taken from it)."}
	ejDocRegexp   = Arg{Name: "regexp", Type: String, Optional: true, Doc: "Go (RE2) regular expression on command names, registry names and tags; empty: all."}
	ejDocExamples = Arg{Name: "examples", Type: String, Optional: true, Doc: "Comma-separated languages among java, perl, xmlrpc, json; only json examples are written."}
)

func genDoc(name, doc string, render func(reg *Registry, re *regexp.Regexp, json bool, skipped []string) []byte) *Def {
	return serverDef(name, doc, []Arg{ejDocFile, ejDocRegexp, ejDocExamples}, func(_ context.Context, c *Call, ctl Control) error {
		var re *regexp.Regexp
		if s := c.Args.String("regexp"); s != "" {
			var err error
			if re, err = regexp.Compile(s); err != nil {
				return Errorf(Invalid, ReasonBadValue, "regexp", "regexp: %v", err)
			}
		}
		json, skipped, err := docLangs(c.Args.String("examples"))
		if err != nil {
			return err
		}
		_, err = writeDataFile(ctl, "file", c.Args.String("file"), render(c.Reg, re, json, skipped))
		return err
	})
}

// The documentation commands.
var (
	GenMarkdownDocForCommands = genDoc("gen_markdown_doc_for_commands",
		"Operator only. Writes the Markdown reference of the ejabberd admin API commands matching regexp (all if empty) to file, "+
			"inside the data directory: description, arguments, result, tags and a JSON example. ", EjabberdCommandsMarkdown)
	GenHTMLDocForCommands = genDoc("gen_html_doc_for_commands",
		"Operator only. gen_markdown_doc_for_commands as an HTML page.", EjabberdCommandsHTML)
	GenMarkdownDocForTags = serverDef("gen_markdown_doc_for_tags",
		"Operator only. Writes the Markdown list of tags with their commands to file, inside the data directory.",
		[]Arg{ejDocFile}, func(_ context.Context, c *Call, ctl Control) error {
			_, err := writeDataFile(ctl, "file", c.Args.String("file"), EjabberdTagsMarkdown(c.Reg))
			return err
		})
)

// ManFile is where man writes its page, in the data directory.
const ManFile = "xmppgate-commands.8"

// Man is ejabberd_doc's man: a man page, here of the command registry.
var Man = &Def{
	Name: "man",
	Doc: "Operator only. Writes the man page of every registry command (section 8, " + ManFile + ") into the data directory " +
		"and answers \"The manpage saved as <path>\", as ejabberd does for its configuration man page.",
	Operator: true,
	Result:   Result{Kind: ResultScalar},
	Names:    map[Dialect]string{Ejabberd: "man"},
	Ejabberd: &EjabberdResult{Kind: EjRestuple, Name: "res"},
	Handle: func(_ context.Context, c *Call) (any, error) {
		ctl, err := control(c)
		if err != nil {
			return nil, err
		}
		p, err := writeDataFile(ctl, "file", ManFile, ManPage(c.Reg))
		if err != nil {
			return nil, err
		}
		return "The manpage saved as " + p, nil
	},
}
