// Command conformance compares xmppgate's ejabberd dialect with a real
// ejabberd 23.01 (`make conformance`, as root): it installs Debian's
// ejabberd if missing (system service kept off), starts a private node and
// bin/xmppgate serve side by side on loopback with the same two vhosts and
// the same admin, sends every case of internal/conformance to both, and
// compares status and body after normalising what must differ. It writes
// docs/ejabberd-conformance.md and the golden files the replay test of
// `make test` reads (testdata/ejabberd-conformance/), then compares
// `xmppgate ctl` with `ejabberdctl` for a sample of commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/conformance"
	"github.com/xmppgate/xmppgate/internal/peer"
)

// The instance's fixed place (other helpers' instances use other ports).
const (
	runDir   = "/tmp/xmppgate-conformance"
	node     = "conformance@localhost"
	c2sPort  = 16222
	httpPort = 16280
	distPort = 16210
	// ejFiles is what conformance.FilesDir stands for on ejabberd.
	ejFiles = runDir + "/files-ejabberd"
)

// apiPermissions: the admin JIDs (HTTP Basic, as xmppgate's ejabberd
// dialect authenticates) may call every command over mod_http_api, so both
// servers answer after the same authentication and status codes compare.
const apiPermissions = `  "admin access":
    from:
      - mod_http_api
    who:
      access:
        allow:
          acl: admin
    what: "*"
`

func main() {
	bin := flag.String("bin", "bin/xmppgate", "the xmppgate binary")
	keep := flag.Bool("keep", false, "keep "+runDir+" and the servers' logs")
	write := flag.Bool("write", true, "write docs/ejabberd-conformance.md and the golden files")
	hold := flag.Bool("hold", false, "keep both servers running after the run until interrupted (to try requests by hand)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := run(ctx, *bin, *keep, *write, *hold); err != nil {
		log.Fatal(err)
	}
	log.Printf("done in %s", time.Since(start).Round(time.Second))
}

func run(ctx context.Context, bin string, keep, write, hold bool) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: ejabberd runs as its system user (setpriv)")
	}
	// erlang-luerl is what ejabberd's import_prosody reads Prosody's Lua
	// files with (Debian's ejabberd only suggests it; without it every
	// import answers "nofile").
	if err := peer.Ensure(ctx, "ejabberd", "erlang-luerl"); err != nil {
		return err
	}
	if err := os.RemoveAll(runDir); err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(runDir)
	}
	uid, gid, err := peer.SysUser("ejabberd")
	if err != nil {
		return err
	}
	// Each server's directory for the cases' files, and one outside
	// xmppgate's transfer_dirs; ejabberd writes into all three as its own
	// user, xmppgate (root here) reads what it wrote.
	for _, d := range []string{conformance.FilesDir, ejFiles, conformance.OutsideDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := conformance.PrepareFiles(d); err != nil {
			return err
		}
		if err := chownTree(d, uid, gid); err != nil {
			return err
		}
	}
	cert, err := peer.MakeCert(runDir, conformance.Hosts[0], "rsa")
	if err != nil {
		return err
	}

	// xmppgate first: its bootstrap admin is the admin of both.
	data := filepath.Join(runDir, "xmppgate")
	xg, err := benchproc.Start(bin, data, nil, "XMPPGATE_BOOTSTRAP_DOMAIN="+conformance.Hosts[0], "XMPPGATE_LOG_LEVEL=error",
		"XMPPGATE_CERT_FILE="+cert.Cert, "XMPPGATE_KEY_FILE="+cert.Key, "XMPPGATE_TRANSFER_DIRS="+conformance.FilesDir)
	if err != nil {
		return err
	}
	defer xg.Stop()
	var boot struct {
		Account int64 `json:"account"`
	}
	if raw, err := os.ReadFile(filepath.Join(data, "bootstrap.json")); err != nil || json.Unmarshal(raw, &boot) != nil {
		return fmt.Errorf("xmppgate bootstrap.json: %v", err)
	}
	xgEnv := append(os.Environ(), "XMPPGATE_DATA="+data, "XMPPGATE_HTTP_ADDR="+xg.Addr)
	for _, h := range conformance.Hosts[1:] {
		cmd := exec.CommandContext(ctx, bin, "domain", "add", h, "--account", fmt.Sprint(boot.Account))
		cmd.Env = xgEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("xmppgate domain add %s: %w: %s", h, err, out)
		}
	}

	t := time.Now()
	ej, err := peer.NewEjabberd(peer.EjabberdConfig{Dir: filepath.Join(runDir, "ejabberd"), Node: node,
		C2SPort: c2sPort, HTTPPort: httpPort, DistPort: distPort, Hosts: conformance.Hosts, Cert: cert,
		Admins: []string{xg.Boot.AdminJID}, APIPermissions: apiPermissions, LogLevel: "error",
		MAM: true}) // the MAM commands need mod_mam
	if err != nil {
		return err
	}
	defer ej.Stop()
	if err := ej.Start(ctx); err != nil {
		return err
	}
	user, host, _ := strings.Cut(xg.Boot.AdminJID, "@")
	if out, err := ej.Ctl(ctx, "register", user, host, xg.Boot.AdminPassword); err != nil {
		return fmt.Errorf("ejabberdctl register admin: %w: %s", err, out)
	}
	log.Printf("ejabberd %s up in %s; xmppgate at %s", node, time.Since(t).Round(100*time.Millisecond), xg.Addr)

	targets := [2]conformance.Target{
		{Base: "http://" + ej.HTTPAddr(), User: xg.Boot.AdminJID, Password: xg.Boot.AdminPassword, Files: ejFiles},
		{Base: "http://" + xg.Addr, User: xg.Boot.AdminJID, Password: xg.Boot.AdminPassword, DataDir: data, Files: conformance.FilesDir},
	}
	cases := conformance.Cases()
	if err := covered(cases); err != nil {
		return err
	}
	recs := make([]conformance.Recorded, 0, len(cases))
	t = time.Now()
	for _, c := range cases {
		ea, err := targets[0].Run(ctx, c)
		if err != nil {
			return fmt.Errorf("ejabberd, %s %q: %w", c.Command, c.Name, err)
		}
		xa, err := targets[1].Run(ctx, c)
		if err != nil {
			return fmt.Errorf("xmppgate, %s %q: %w", c.Command, c.Name, err)
		}
		if c.Why != "" && ea == xa {
			c.Why = "" // recorded as equal (the host rule names every unknown-host case; some are)
		}
		recs = append(recs, conformance.Recorded{Case: c, Ejabberd: ea, Xmppgate: xa})
	}
	log.Printf("%d cases in %s", len(recs), time.Since(t).Round(100*time.Millisecond))
	ctl := compareCtl(ctx, ej, bin, xgEnv)
	rep := report(recs, ctl)
	fmt.Print(rep.text)
	if write {
		if err := writeGoldens(recs); err != nil {
			return err
		}
		if err := os.WriteFile("docs/ejabberd-conformance.md", []byte(rep.text), 0o644); err != nil {
			return err
		}
		log.Printf("wrote docs/ejabberd-conformance.md and %s/", conformance.GoldenDir)
	}
	if hold {
		log.Printf("holding: ejabberd %s, xmppgate http://%s, admin %s %s; interrupt to stop", targets[0].Base, xg.Addr, xg.Boot.AdminJID, xg.Boot.AdminPassword)
		<-ctx.Done()
	}
	if rep.unexplained > 0 {
		return fmt.Errorf("%d cases differ without a recorded reason", rep.unexplained)
	}
	return nil
}

// chownTree gives dir and everything in it to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// covered checks that every ejabberd command of the registry has a case.
func covered(cases []conformance.Case) error {
	has := map[string]bool{}
	for _, c := range cases {
		has[c.Command] = true
	}
	reg := commands.MustNew(commands.All()...)
	var missing []string
	for _, d := range reg.Dialect(commands.Ejabberd) {
		if n := d.Names[commands.Ejabberd]; !has[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("no conformance case for %s", strings.Join(missing, ", "))
	}
	return nil
}

// writeGoldens replaces the golden folder: one file per command. A
// divergence keeps xmppgate's answer as well, so the replay catches drift
// on either side; a case that differs without a reason keeps ejabberd's
// only, and fails the replay until fixed.
func writeGoldens(recs []conformance.Recorded) error {
	if err := os.RemoveAll(conformance.GoldenDir); err != nil {
		return err
	}
	if err := os.MkdirAll(conformance.GoldenDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(conformance.GoldenDir, conformance.OrderFile), []byte(runs(recs)), 0o644); err != nil {
		return err
	}
	for _, cmd := range commandOrder(recs) {
		var mine []conformance.Recorded
		for _, r := range recs {
			if r.Command == cmd {
				mine = append(mine, r)
			}
		}
		if err := os.WriteFile(filepath.Join(conformance.GoldenDir, cmd+".txtar"), conformance.Encode(cmd, mine), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runs is the order file: one line "COMMAND N" per run of N consecutive
// cases of a command's file, in the order they ran.
func runs(recs []conformance.Recorded) string {
	var b strings.Builder
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Command == recs[i].Command {
			j++
		}
		fmt.Fprintf(&b, "%s %d\n", recs[i].Command, j-i)
		i = j
	}
	return b.String()
}

// commandOrder is the commands in the order their first case ran.
func commandOrder(recs []conformance.Recorded) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.Command] {
			seen[r.Command] = true
			out = append(out, r.Command)
		}
	}
	return out
}
