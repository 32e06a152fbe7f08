package conformance

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/txtar"
)

// OrderFile, in GoldenDir, says in which order the cases ran (each sees
// the state the ones before it left): a line "COMMAND N" per run of N
// consecutive cases of that command's file.
const OrderFile = "order.txt"

// GoldenDir is where `make conformance` writes one golden file per command
// (relative to the module root).
const GoldenDir = "testdata/ejabberd-conformance"

// Recorded is one case as a golden file keeps it: the case, ejabberd's
// normalised answer and, for a deliberate divergence, xmppgate's.
type Recorded struct {
	Case
	Ejabberd Answer
	Xmppgate Answer // only for a divergence (Why set)
}

// Want is what xmppgate must answer: ejabberd's answer, or for a
// deliberate divergence what was recorded for xmppgate.
func (r Recorded) Want() Answer {
	if r.Why != "" {
		return r.Xmppgate
	}
	return r.Ejabberd
}

// Encode writes one command's cases, in order, as a txtar file. Each case
// n has the sections "n NAME/setup" (if any), "n NAME/auth" (if not the
// admin's credentials), "n NAME/request",
// "n NAME/ejabberd" and, for a divergence, "n NAME/xmppgate" and
// "n NAME/why". A request is "POST PATH" and the body on the next line
// ("GET PATH" and the query string).
func Encode(cmd string, recs []Recorded) []byte {
	ar := &txtar.Archive{Comment: []byte(fmt.Sprintf(
		"%s: %d cases, ejabberd 23.01's answers recorded by `make conformance` (do not edit;\n"+
			"internal/conformance/cases.go has the cases). TestEjabberdConformance replays them on xmppgate.\n", cmd, len(recs)))}
	add := func(name, text string) {
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(text)})
	}
	for i, r := range recs {
		pre := strconv.Itoa(i+1) + " " + r.Name + "/"
		if len(r.Setup) > 0 {
			var lines []string
			for _, s := range r.Setup {
				lines = append(lines, s.Method()+" "+s.Path()+" "+s.Body)
			}
			add(pre+"setup", strings.Join(lines, "\n"))
		}
		if r.Auth != "" {
			add(pre+"auth", r.Auth)
		}
		add(pre+"request", r.Method()+" "+r.Path()+"\n"+r.Body)
		add(pre+"ejabberd", r.Ejabberd.String())
		if r.Why != "" {
			add(pre+"xmppgate", r.Xmppgate.String())
			add(pre+"why", r.Why)
		}
	}
	return txtar.Format(ar)
}

// Decode reads a file Encode wrote.
func Decode(data []byte) ([]Recorded, error) {
	ar := txtar.Parse(data)
	byNum := map[int]*Recorded{}
	for _, f := range ar.Files {
		head, section, ok := strings.Cut(f.Name, "/")
		numText, name, ok2 := strings.Cut(head, " ")
		n, err := strconv.Atoi(numText)
		if !ok || !ok2 || err != nil {
			return nil, fmt.Errorf("section %q is not \"N NAME/PART\"", f.Name)
		}
		r := byNum[n]
		if r == nil {
			r = &Recorded{Case: Case{Name: name}}
			byNum[n] = r
		}
		text := strings.TrimSuffix(string(f.Data), "\n")
		switch section {
		case "setup":
			for _, l := range strings.Split(text, "\n") {
				c, err := parseCall(l)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f.Name, err)
				}
				r.Setup = append(r.Setup, c)
			}
		case "request":
			first, body, _ := strings.Cut(text, "\n")
			c, err := parseCall(first)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			c.Body = body
			r.Call = c
		case "ejabberd", "xmppgate":
			a, err := ParseAnswer(text)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			if section == "ejabberd" {
				r.Ejabberd = a
			} else {
				r.Xmppgate = a
			}
		case "why":
			r.Why = text
		case "auth":
			r.Auth = text
		default:
			return nil, fmt.Errorf("section %q: unknown part", f.Name)
		}
	}
	nums := make([]int, 0, len(byNum))
	for n := range byNum {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	out := make([]Recorded, 0, len(nums))
	for i, n := range nums {
		if n != i+1 {
			return nil, fmt.Errorf("case %d missing", i+1)
		}
		out = append(out, *byNum[n])
	}
	return out, nil
}

// parseCall reads "POST|GET /api/CMD[/vN][ BODY]".
func parseCall(line string) (Call, error) {
	method, rest, _ := strings.Cut(line, " ")
	path, body, _ := strings.Cut(rest, " ")
	cmd, ok := strings.CutPrefix(path, "/api/")
	if method != "POST" && method != "GET" || !ok || cmd == "" {
		return Call{}, fmt.Errorf("%q is not POST or GET /api/CMD", line)
	}
	c := Call{Cmd: cmd, Body: body, GET: method == "GET"}
	if name, v, ok := strings.Cut(cmd, "/v"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Call{}, fmt.Errorf("%q: version %q", line, v)
		}
		c.Cmd, c.Version = name, n
	}
	return c, nil
}
