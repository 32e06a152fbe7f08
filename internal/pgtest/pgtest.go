// Package pgtest starts a throw-away PostgreSQL cluster from Debian's
// binaries for tests: one cluster per test binary (TestMain), one database
// per test, made from a template so each starts migrated and costs a copy.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// Bin is the directory of the newest Debian PostgreSQL binaries
// (/usr/lib/postgresql/N/bin), or "" when none is installed.
func Bin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Cluster is a running postgres on a unix socket in its own temp dir.
type Cluster struct {
	dir   string
	cmd   *exec.Cmd
	alive io.WriteCloser // closing it (or our exit) stops postgres
	// exited is closed once postgres (its shell) has exited.
	exited chan struct{}
	host   string // the socket directory
	n      atomic.Int64

	tmplOnce sync.Once
	tmplErr  error
}

// Start initialises and starts a cluster. CI runs as root, which initdb and
// postgres refuse, so as root both run as nobody on a directory it owns.
func Start() (*Cluster, error) {
	bin := Bin()
	if bin == "" {
		return nil, errors.New("no PostgreSQL under /usr/lib/postgresql (make deps installs Debian's postgresql)")
	}
	dir, err := os.MkdirTemp("", "xmppgate-pgtest-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no user nobody to run postgres as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	c := &Cluster{dir: dir, host: dir}
	data := filepath.Join(dir, "data")
	run := func(path string, args ...string) *exec.Cmd {
		cmd := exec.Command(path, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	// Locale C: text sorts byte-wise, as SQLite's default collation does.
	if out, err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--locale=C", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// Durability is worthless for a throw-away cluster; speed is not.
	// postgres runs under a shell that waits for its stdin to close: when
	// Stop closes it, or the test binary dies (a timeout's panic), the
	// shell asks postgres for a fast shutdown, so no cluster outlives us.
	c.cmd = run("/bin/sh", "-c", `exec 3<&0; "$0" "$@" </dev/null & p=$!; read _ <&3; kill -INT $p; wait $p`,
		filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=400", "-c", "shared_buffers=32MB", "-c", "log_min_messages=fatal")
	if c.alive, err = c.cmd.StdinPipe(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err == nil {
		c.cmd.Stdout, c.cmd.Stderr = logf, logf
	}
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	exited := make(chan error, 1)
	c.exited = make(chan struct{})
	go func() { exited <- c.cmd.Wait(); close(c.exited) }()
	db, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		c.Stop()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := db.Ping()
		if err == nil {
			break
		}
		select {
		case e := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited: %v\n%s", e, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("postgres did not answer within 60s: %w", err)
		}
	}
	return c, nil
}

// DSN is the URL of database name on the cluster.
func (c *Cluster) DSN(name string) string {
	return "postgres://postgres@/" + name + "?host=" + url.QueryEscape(c.host) + "&sslmode=disable"
}

// Stop ends postgres (a fast shutdown) and removes the cluster.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.alive.Close()
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
		}
	}
	os.RemoveAll(c.dir)
}

const template = "xg_template"

// NewDB creates a database for t and returns its DSN. With prepare set, the
// first call creates a template database, runs prepare on its DSN (e.g.
// applies migrations) and every database is then a copy of it. The
// database is dropped when t ends.
func (c *Cluster) NewDB(t testing.TB, prepare func(dsn string) error) string {
	t.Helper()
	db, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	from := "template0"
	if prepare != nil {
		c.tmplOnce.Do(func() {
			if _, err := db.ExecContext(ctx, `CREATE DATABASE `+template+` TEMPLATE template0`); err != nil {
				c.tmplErr = err
				return
			}
			c.tmplErr = prepare(c.DSN(template))
		})
		if c.tmplErr != nil {
			t.Fatalf("pgtest: template: %v", c.tmplErr)
		}
		from = template
	}
	name := fmt.Sprintf("t%d", c.n.Add(1))
	// A copy fails while anything else is connected to the template (a
	// racing CREATE DATABASE is): retry for a while.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err = db.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+from)
		if err == nil || !strings.Contains(err.Error(), "being accessed by other users") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", c.DSN("postgres"))
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return c.DSN(name)
}

// Main is TestMain for a package whose tests use PostgreSQL: it starts the
// cluster into *c (left nil, with the reason in *skip, when PostgreSQL is
// not there or will not start), runs the tests, and stops the cluster.
func Main(m *testing.M, c **Cluster, skip *string) {
	cl, err := Start()
	if err != nil {
		*skip = "PostgreSQL unavailable: " + err.Error()
		fmt.Fprintln(os.Stderr, "pgtest:", *skip)
	}
	*c = cl
	code := m.Run()
	if cl != nil {
		cl.Stop()
	}
	os.Exit(code)
}
