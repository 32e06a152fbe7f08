package main

import (
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{120, 108, 137}, 120},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestCell(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want string
	}{
		{nil, "·"},
		{[]float64{0.38}, "0.38"},
		{[]float64{313, 279, 340}, "313 (279–340)"},
		{[]float64{10780, 8810, 13980}, "10 780 (8 810–13 980)"},
		{[]float64{68.8, 66.04, 70.8}, "68.8 (66.0–70.8)"},
		{[]float64{4096, 4100, 4090}, "4 096 (4 090–4 100)"},
		{[]float64{999.4}, "999"},
		{[]float64{-16.7, 3.2, 1}, "1.00 (-16.7–3.20)"},
	} {
		if got := cell(tc.in); got != tc.want {
			t.Errorf("cell(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRatio(t *testing.T) {
	mk := func(better int, target float64, ours, ej, pr []float64) *row {
		r := newRow("x", better, target)
		r.Vals[srvOurs], r.Vals[srvEjabberd], r.Vals[srvProsody] = ours, ej, pr
		return r
	}
	for _, tc := range []struct {
		name    string
		r       *row
		ratio   float64
		ok, has bool
	}{
		{"rate vs better peer, met", mk(+1, 2, []float64{700, 650, 720}, []float64{313, 300, 320}, []float64{120}), 700.0 / 313, true, true},
		{"rate vs better peer, missed", mk(+1, 2, []float64{500}, []float64{313}, []float64{120}), 500.0 / 313, false, true},
		{"memory: lower is better, vs the lower peer", mk(-1, 0.5, []float64{27}, []float64{68.8}, []float64{49.4}), 27 / 49.4, false, true},
		{"memory met", mk(-1, 0.5, []float64{20}, []float64{68.8}, []float64{49.4}), 20 / 49.4, true, true},
		{"one peer only (no HTTP API in Prosody)", mk(+1, 5, []float64{600}, []float64{120}, nil), 5, true, true},
		{"no peer figures", mk(+1, 5, []float64{600}, nil, nil), 0, false, false},
		{"no ours", mk(+1, 5, nil, []float64{1}, nil), 0, false, false},
		{"informative row", mk(0, 0, []float64{1}, []float64{2}, nil), 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ratio, ok, has := tc.r.ratio()
			if math.Abs(ratio-tc.ratio) > 1e-9 || ok != tc.ok || has != tc.has {
				t.Errorf("ratio() = %v, %v, %v; want %v, %v, %v", ratio, ok, has, tc.ratio, tc.ok, tc.has)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	login := newRow("logins/s", +1, 2)
	login.Vals = map[string][]float64{srvOurs: {700, 690, 710}, srvEjabberd: {313, 279, 340}, srvProsody: {120, 93, 128}}
	login.Client = map[string][]float64{srvOurs: {61, 60, 62}, srvEjabberd: {40, 41, 39}, srvProsody: {12, 12, 12}}
	mem := newRow("KiB/session", -1, 0.5)
	mem.Vals = map[string][]float64{srvOurs: {27.3, 27.9, 27.5}, srvEjabberd: {68.8, 66, 70.8}, srvProsody: {49.4, 49, 49.6}}
	prov := newRow("accounts/s", +1, 5)
	prov.Vals = map[string][]float64{srvOurs: {507}, srvEjabberd: {120}}
	prov.Note[srvProsody] = "no HTTP admin API"
	p50 := newRow("… p50, ms", -1, 0)
	p50.Vals = map[string][]float64{srvOurs: {10}, srvEjabberd: {20}}
	batch := newRow("batch, s", 0, 0)
	batch.Vals = map[string][]float64{srvOurs: {0.38, 0.41, 0.36}}
	got := markdown([]*row{login, mem, prov, p50, batch})
	want := `| figure | xmppgate | ejabberd 23.01 | Prosody 0.12 | xmppgate / best peer | target | result | client CPU % (xg / ej / pr) |
| --- | --- | --- | --- | --- | --- | --- | --- |
| logins/s | 700 (690–710) | 313 (279–340) | 120 (93.0–128) | 2.24× | ≥ 2× | pass | 61 / 40 / 12 |
| KiB/session | 27.5 (27.3–27.9) | 68.8 (66.0–70.8) | 49.4 (49.0–49.6) | 0.56× | ≤ 0.5× | **fail** | · |
| accounts/s | 507 | 120 | no HTTP admin API | 4.22× | ≥ 5× | **fail** | · |
| … p50, ms | 10.0 | 20.0 | · | 0.50× | · | · | · |
| batch, s | 0.38 (0.36–0.41) | · | · | · | · | · | · |
`
	if got != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", got, want)
	}
}

func TestPrependResults(t *testing.T) {
	path := t.TempDir() + "/RESULTS.md"
	for _, sec := range []string{"## first\n\nA\n", "## second\n\nB\n"} {
		if err := prependResults(path, sec); err != nil {
			t.Fatal(err)
		}
	}
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b, resultsHeader) || strings.Count(b, "# Side-by-side") != 1 {
		t.Errorf("header missing or repeated:\n%s", b)
	}
	if i, j := strings.Index(b, "## second"), strings.Index(b, "## first"); i < 0 || j < i {
		t.Errorf("newest section must come first, older kept:\n%s", b)
	}
}
