package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set at link time by `make release` and the
// Dockerfile (-ldflags "-X main.version=v1.2.3 -X main.commit=<sha>");
// empty means the module version and the VCS stamp. The go command stamps
// the commit only when it builds in a checkout whose .git is a directory
// (not a worktree's .git file, not a container's build context without
// .git), hence the second variable.
var version, commit string

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
		b.Revision = commit
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
	if b.Revision == "" {
		b.Revision = commit
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
