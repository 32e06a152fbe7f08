package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// The three servers, in table order.
const (
	srvOurs     = "xmppgate"
	srvEjabberd = "ejabberd"
	srvProsody  = "Prosody"
)

var servers = []string{srvOurs, srvEjabberd, srvProsody}

// row is one figure of the table: the runs of each server.
type row struct {
	Label  string
	Better int     // +1 higher is better, -1 lower is better, 0 no ratio
	Target float64 // ratio to the best peer the target asks for; 0 none
	Vals   map[string][]float64
	Note   map[string]string    // text instead of a value (e.g. "no HTTP API")
	Client map[string][]float64 // load client CPU, % of one core, per run
}

func newRow(label string, better int, target float64) *row {
	return &row{Label: label, Better: better, Target: target, Vals: map[string][]float64{},
		Note: map[string]string{}, Client: map[string][]float64{}}
}

func (r *row) add(server string, v float64) { r.Vals[server] = append(r.Vals[server], v) }

// median of vs (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// num formats a figure with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "·"
	case a >= 100:
		return withThousands(fmt.Sprintf("%.0f", v))
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// withThousands puts a space between groups of three digits: 16400 →
// "16 400" (the anchor tables' style).
func withThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= 3 {
		if neg {
			return "-" + s
		}
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune(' ')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cell is "median (min–max)" of the runs, or the median alone for one run.
func cell(vs []float64) string {
	if len(vs) == 0 {
		return "·"
	}
	m := num(median(vs))
	if len(vs) == 1 {
		return m
	}
	lo, hi := vs[0], vs[0]
	for _, v := range vs {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return fmt.Sprintf("%s (%s–%s)", m, num(lo), num(hi))
}

// ratio is ours / the best peer's median (best: highest if higher is
// better, lowest otherwise); ok says whether the target is met. has is false
// when there is nothing to compare.
func (r *row) ratio() (ratio float64, ok, has bool) {
	if r.Better == 0 || len(r.Vals[srvOurs]) == 0 {
		return 0, false, false
	}
	best := math.NaN()
	for _, s := range servers[1:] {
		if len(r.Vals[s]) == 0 {
			continue
		}
		m := median(r.Vals[s])
		if math.IsNaN(best) || (r.Better > 0 && m > best) || (r.Better < 0 && m < best) {
			best = m
		}
	}
	if math.IsNaN(best) || best == 0 {
		return 0, false, false
	}
	ratio = median(r.Vals[srvOurs]) / best
	if r.Better > 0 {
		ok = ratio >= r.Target
	} else {
		ok = ratio <= r.Target
	}
	return ratio, ok, true
}

// markdown renders the rows as one table.
func markdown(rows []*row) string {
	var b strings.Builder
	b.WriteString("| figure | xmppgate | ejabberd 23.01 | Prosody 0.12 | xmppgate / best peer | target | result | client CPU % (xg / ej / pr) |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		cols := []string{r.Label}
		for _, s := range servers {
			if n, ok := r.Note[s]; ok && len(r.Vals[s]) == 0 {
				cols = append(cols, n)
			} else {
				cols = append(cols, cell(r.Vals[s]))
			}
		}
		ratio, ok, has := r.ratio()
		switch {
		case !has:
			cols = append(cols, "·", "·", "·")
		case r.Target == 0:
			cols = append(cols, fmt.Sprintf("%.2f×", ratio), "·", "·")
		default:
			cmp := "≥"
			if r.Better < 0 {
				cmp = "≤"
			}
			res := "**fail**"
			if ok {
				res = "pass"
			}
			cols = append(cols, fmt.Sprintf("%.2f×", ratio), fmt.Sprintf("%s %g×", cmp, r.Target), res)
		}
		var cpu []string
		for _, s := range servers {
			if len(r.Client[s]) == 0 {
				cpu = append(cpu, "·")
			} else {
				cpu = append(cpu, fmt.Sprintf("%.0f", median(r.Client[s])))
			}
		}
		if strings.Trim(strings.Join(cpu, ""), "·") == "" {
			cols = append(cols, "·")
		} else {
			cols = append(cols, strings.Join(cpu, " / "))
		}
		b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
	}
	return b.String()
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
