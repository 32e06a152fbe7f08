package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/internal/peer"
)

// machine describes the host for the results: CPU, cores, memory, kernel,
// distribution, Go, the packages the peers run on, and the load when the
// run began (other processes share these cores).
// versionPackages are reported with the results (the peers and what their
// speed depends on).
var versionPackages = []string{"ejabberd", "prosody", "erlang-base", "lua5.4", "lua-sec", "libssl3"}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	kernel := readTrim("/proc/sys/kernel/osrelease")
	debian := readTrim("/etc/debian_version")
	load := strings.Join(strings.Fields(readTrim("/proc/loadavg"))[:3], " ")
	vers := peer.Installed(versionPackages...)
	var pk []string
	for _, p := range versionPackages {
		if v := vers[p]; v != "" {
			pk = append(pk, p+" "+v)
		}
	}
	sort.Strings(pk[2:])
	return fmt.Sprintf("Machine: %s, %d cores%s; Linux %s, Debian %s; %s; %s. Load average at start: %s.\n",
		model, runtime.NumCPU(), mem, kernel, debian, runtime.Version(), strings.Join(pk, ", "), load)
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
