package peer

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunDirMarker is in the name of every run directory of ours (bench/peers'
// temporary one, conformance's), hence in our instances' command lines: a
// process with it is never taken for a packaged daemon.
const RunDirMarker = "xmppgate-"

const policyRCD = "/usr/sbin/policy-rc.d"

// Installed reports which of pkgs dpkg has fully installed, with their versions.
func Installed(pkgs ...string) map[string]string {
	out, _ := exec.Command("dpkg-query", append([]string{"-W", "-f=${Package} ${Version} ${Status}\n"}, pkgs...)...).Output()
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Join(f[2:], " ") == "install ok installed" {
			got[f[0]] = f[1]
		}
	}
	return got
}

// Ensure installs the Debian packages pkgs (ejabberd, prosody) with apt-get
// if missing. Debian's postinsts would enable and start the system services
// on the default ports; a policy-rc.d that forbids every start is in place while
// apt runs (ours if there was none), the services are disabled afterwards,
// and any daemon that started anyway is killed.
func Ensure(ctx context.Context, pkgs ...string) error {
	have := Installed(pkgs...)
	var missing []string
	for _, p := range pkgs {
		if have[p] == "" {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	log.Printf("installing %s from Debian's packages", strings.Join(missing, ", "))
	restore, err := forbidServiceStarts()
	if err != nil {
		return err
	}
	defer restore()
	apt := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600", "-q"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(out.String(), 2000))
		}
		return nil
	}
	if err := apt("update"); err != nil {
		return err
	}
	if err := apt(append([]string{"install", "-y", "--no-install-recommends"}, missing...)...); err != nil {
		return err
	}
	disableSystemServices(ctx)
	return nil
}

// forbidServiceStarts makes invoke-rc.d refuse to start services (exit
// code 101, "action forbidden by policy") and returns how to undo it.
func forbidServiceStarts() (func(), error) {
	old, err := os.ReadFile(policyRCD)
	if err == nil && bytes.Contains(old, []byte("exit 101")) {
		return func() {}, nil // already forbids everything (the usual container set-up)
	}
	const ours = "#!/bin/sh\n# written by xmppgate (internal/peer) while it installs ejabberd or prosody\nexit 101\n"
	if err == nil {
		if err := os.Rename(policyRCD, policyRCD+".xmppgate"); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(policyRCD, []byte(ours), 0o755); err != nil {
		return nil, err
	}
	return func() {
		os.Remove(policyRCD)
		if old != nil {
			os.Rename(policyRCD+".xmppgate", policyRCD)
		}
	}, nil
}

// disableSystemServices keeps the packaged services from running: systemd
// units disabled and stopped where systemd runs, and any packaged daemon
// (started despite the policy, e.g. by a postinst that does not use
// invoke-rc.d) killed.
func disableSystemServices(ctx context.Context) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		exec.CommandContext(ctx, "systemctl", "disable", "--now", "ejabberd.service", "prosody.service").Run()
	}
	for _, pid := range packagedDaemons() {
		log.Printf("killing packaged daemon pid %d", pid)
		syscall.Kill(pid, syscall.SIGTERM)
		if !WaitGone(pid, 10*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// packagedDaemons finds the system instances: beam.smp running the
// packaged node (ejabberd@...), epmd, and prosody with /etc/prosody's config
// — never our own instances, whose command lines name our run directory.
func packagedDaemons() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		cmd := string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '}))
		if strings.Contains(cmd, RunDirMarker) {
			continue
		}
		switch {
		case strings.Contains(cmd, "beam") && strings.Contains(cmd, "ejabberd@"),
			strings.HasPrefix(cmd, "/usr/bin/epmd") && strings.Contains(cmd, "-daemon"),
			strings.Contains(cmd, "/usr/bin/prosody") && !strings.Contains(cmd, "--config"):
			pids = append(pids, pid)
		}
	}
	return pids
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
