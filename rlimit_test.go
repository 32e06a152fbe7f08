package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestRaiseFileLimit: started with a soft open-file limit below the hard
// one, the server raises it to the hard one and logs how many sessions
// that allows. It runs in a child process, whose limits it may change.
func TestRaiseFileLimit(t *testing.T) {
	t.Parallel()
	if os.Getenv("XMPPGATE_TEST_RLIMIT_CHILD") == "1" {
		rlimitChild()
		return
	}
	var rl syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl))
	if rl.Max <= 512 {
		t.Skipf("hard open-file limit %d leaves nothing to raise", rl.Max)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaiseFileLimit$")
	cmd.Env = append(os.Environ(), "XMPPGATE_TEST_RLIMIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	var before, after, logged, allowed uint64
	line := out[strings.Index(string(out), "RLIMIT "):]
	_, err = fmt.Sscanf(string(line), "RLIMIT %d %d %d %d", &before, &after, &logged, &allowed)
	require.NoError(t, err, string(out))
	require.Equal(t, uint64(256), before)
	require.Equal(t, rl.Max, after, "raised to the hard limit")
	require.Equal(t, rl.Max, logged, "the log says the new limit")
	require.Positive(t, allowed)
	require.Less(t, allowed, rl.Max)
}

func rlimitChild() {
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	rl.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	core, logs := observer.New(zap.InfoLevel)
	raiseFileLimit(zap.New(core))
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	var soft, allowed uint64
	for _, e := range logs.FilterMessage("open-file limit").All() {
		m := e.ContextMap()
		soft, _ = strconv.ParseUint(fmt.Sprint(m["soft"]), 10, 64)
		allowed, _ = strconv.ParseUint(fmt.Sprint(m["sessions_allowed"]), 10, 64)
	}
	fmt.Printf("RLIMIT 256 %d %d %d\n", rl.Cur, soft, allowed)
	os.Exit(0)
}
