package main

import (
	"errors"
	"os"
	"strings"
)

const resultsHeader = `# Side-by-side results: xmppgate, ejabberd, Prosody

Written by ` + "`make bench-peers`" + ` (bench/peers; how to run it: bench/README.md). Newest run first; older runs are
kept below. Each figure is the median of the runs with the range in parentheses; "xmppgate / best peer" divides
our median by the better peer's (the higher rate, the lower latency or memory). Client CPU is the load client's
CPU time over the wall time of the measurement, in % of one core (near 100 % the client, not the server, limits).

`

// prependResults puts section on top of the results file, under its
// header, keeping every older section below.
func prependResults(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	rest := string(old)
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[i+1:]
	} else {
		rest = ""
	}
	return os.WriteFile(path, []byte(resultsHeader+section+rest), 0o644)
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}
