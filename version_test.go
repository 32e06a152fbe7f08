package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestVersionLinkerFlags builds the binary with the release's -X flags and
// runs `xmppgate version`: the version and commit given at link time are
// what it prints, with the Go toolchain and platform.
func TestVersionLinkerFlags(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "xmppgate")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=v9.8.7-test -X main.commit=0123456789abcdef", ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=1")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "version")
	cmd.Stdout = &stdout
	require.NoError(t, cmd.Run())
	require.Regexp(t, regexp.MustCompile(`^xmppgate v9\.8\.7-test commit 0123456789abcdef .*`+regexp.QuoteMeta(runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)+"\n$"),
		stdout.String())
}
