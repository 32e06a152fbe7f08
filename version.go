package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at link time by `make release`
// (-ldflags "-X main.version=v1.2.3"); empty means the module version.
var version string

// buildInfo is what `xmppgate version` and /healthz tell about the binary.
type buildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// readBuildInfo takes the version from the linker flag, else from the
// module (a tagged `go install` gives v1.2.3, a plain build "(devel)"),
// and the commit from the VCS stamp the go command writes when it builds
// in a checkout with -buildvcs.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "unknown"
		}
		return b
	}
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func printVersion(w io.Writer) {
	b := readBuildInfo()
	fmt.Fprintf(w, "xmppgate %s", b.Version)
	if b.Revision != "" {
		fmt.Fprintf(w, " commit %s", b.Revision)
		if b.Modified {
			fmt.Fprint(w, " (modified)")
		}
	}
	if b.Time != "" {
		fmt.Fprintf(w, " built from %s", b.Time)
	}
	fmt.Fprintf(w, " %s %s/%s\n", b.Go, runtime.GOOS, runtime.GOARCH)
}
