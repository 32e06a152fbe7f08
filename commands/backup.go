package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// The backup family: backup, restore, dump and load act on the whole
// server, so only the operator may call them. ejabberd's Mnesia becomes
// xmppgate's SQLite database: backup is an SQLite copy (VACUUM INTO), dump
// a portable JSON-lines text; restore and load replace the rows of every
// table in one store transaction. Those two are the only writes that
// bypass the queue: they replace the queue itself. They wait while the
// worker applies a batch, and close every XMPP session after, so no client
// keeps state of the old database. See docs/backup.md. The data-directory
// helpers here (dataDir, underRoot, existingFile, writeAtomically) serve
// the transfer and roster file commands too.

// backupDefs is the backup family.
var backupDefs = []*Def{Backup, Restore, Dump, Load}

// BackupsDir is where backup, restore, dump and load keep the operator's
// files, relative to the data directory.
const BackupsDir = "backups"

// ReasonBusy: a batch kept being applied (Kind Invalid: the ejabberd
// dialect answers 400 with the message).
const ReasonBusy Reason = "busy"

// busyWait bounds how long restore and load wait for a running batch.
const busyWait = 30 * time.Second

// underRoot resolves a relative name under root (shown to callers as
// shown): absolute names and names leaving root are refused.
func underRoot(root, shown, arg, name string) (string, error) {
	if strings.ContainsRune(name, 0) || filepath.IsAbs(name) || strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || filepath.VolumeName(name) != "" {
		return "", Errorf(Invalid, ReasonBadPath, arg, "%s must be a path relative to %s (absolute paths are refused)", arg, shown)
	}
	clean := filepath.Clean(filepath.FromSlash(name))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", Errorf(Invalid, ReasonBadPath, arg, "%s must stay inside %s (no '..')", arg, shown)
	}
	return filepath.Join(root, clean), nil
}

func dataDir(c *Call) (string, error) {
	if c.Env.DataDir == "" {
		return "", Errorf(NotImplemented, ReasonRefused, "", "%s: no data directory is configured", c.Def.Name)
	}
	return c.Env.DataDir, nil
}

// backupFile is the file argument: relative to DATA/backups/, or absolute
// inside an allowed directory (filePath); returned with the name shown in
// messages. exists says whether the file must already be
// there (a copy to read back) or must not (a copy never replaces
// another).
func backupFile(c *Call, arg string, exists bool) (path, shown string, err error) {
	data, err := dataDir(c)
	if err != nil {
		return "", "", err
	}
	path, dir, shown, err := filePath(c, arg, filepath.Join(data, BackupsDir), BackupsDir+"/")
	if err != nil {
		return "", "", err
	}
	if path == dir {
		return "", "", Errorf(Invalid, ReasonBadPath, arg, "%s must name a file, not the folder %s", arg, shown)
	}
	check := newFile
	if exists {
		check = existingFile
	}
	if err := check(path, shown, arg); err != nil {
		return "", "", err
	}
	return path, shown, nil
}

// newFile refuses to overwrite: a backup or dump is never replaced.
func newFile(path, shown, arg string) error {
	if _, err := os.Stat(path); err == nil {
		return Errorf(Invalid, ReasonBadPath, arg, "%s exists; choose another name", shown)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Errorf(Invalid, ReasonBadPath, arg, "%s cannot be created (a file is in the way)", shown)
	}
	return nil
}

func existingFile(path, shown, arg string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Errorf(Invalid, ReasonNoFile, arg, "%s does not exist", shown)
	case err != nil:
		return err
	case st.IsDir():
		return Errorf(Invalid, ReasonBadFile, arg, "%s is a directory", shown)
	}
	return nil
}

var argBackupFile = Arg{Name: "file", Type: String, Path: true,
	Doc: "A file name relative to DATA/backups/, or an absolute path inside a directory of the config's transfer_dirs " +
		"(default DATA/transfer/); '..' and symbolic links may not lead out."}

// Backup is ejabberd's backup.
var Backup = &Def{
	Name: "backup",
	Doc: "Writes a consistent SQLite copy of the whole database to DATA/backups/<file> (which must not exist) while " +
		"the server runs. Operator only.",
	Args:     []Arg{argBackupFile},
	Result:   Result{Kind: ResultMessage},
	Names:    map[Dialect]string{Ejabberd: "backup"},
	Operator: true,
	Handle:   backup,
}

func backup(ctx context.Context, c *Call) (any, error) {
	path, _, err := backupFile(c, "file", false)
	if err != nil {
		return nil, err
	}
	// Progress: the copy's size so far of the database's (VACUUM INTO
	// writes the file directly and leaves out free pages, so it ends at or
	// below the total, which is reported once it is done).
	total, err := c.Env.Store.Size(ctx)
	if err != nil {
		return nil, err
	}
	err = c.watch("KiB", kib(total), func() int64 { return kib(fileSize(path)) },
		func() error { return c.Env.Store.BackupTo(ctx, path) })
	if err != nil {
		return nil, err
	}
	return "", os.Chmod(path, 0o600)
}

// kib is n bytes in KiB, rounded up: a backup's progress unit.
func kib(n int64) int64 { return (n + 1023) / 1024 }

// fileSize is the size of the file at path (0 if there is none yet).
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lineCounter counts the lines written through it: a dump writes one line
// per row.
type lineCounter struct {
	w     io.Writer
	lines *atomic.Int64
}

func (l lineCounter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	l.lines.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}

// byteCounter counts the bytes read through it.
type byteCounter struct {
	r    io.Reader
	read *atomic.Int64
}

func (b byteCounter) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// Restore is ejabberd's restore.
var Restore = &Def{
	Name: "restore",
	Doc: "Replaces the whole database with the copy DATA/backups/<file> made by backup (an older xmppgate's copy is " +
		"migrated first). Not queued: it waits while a batch is being applied, replaces every table in one " +
		"transaction (changes queued after the backup are lost with it), then closes every XMPP session. Operator only.",
	Args:     []Arg{argBackupFile},
	Result:   Result{Kind: ResultMessage},
	Names:    map[Dialect]string{Ejabberd: "restore"},
	Operator: true,
	Handle:   restore,
}

func restore(ctx context.Context, c *Call) (any, error) {
	path, shown, err := backupFile(c, "file", true)
	if err != nil {
		return nil, err
	}
	return replaceDatabase(ctx, c, shown, "backup", func() error { return c.Env.Store.RestoreFrom(ctx, path) })
}

// Dump is ejabberd's dump.
var Dump = &Def{
	Name: "dump",
	Doc: "Writes the whole database as a portable JSON-lines text to DATA/backups/<file> (which must not exist): " +
		"one header line, then per table a line of column names and a line per row. Operator only.",
	Args:     []Arg{argBackupFile},
	Result:   Result{Kind: ResultMessage},
	Names:    map[Dialect]string{Ejabberd: "dump"},
	Operator: true,
	Handle:   dump,
}

func dump(ctx context.Context, c *Call) (any, error) {
	path, _, err := backupFile(c, "file", false)
	if err != nil {
		return nil, err
	}
	rows, err := c.Env.Store.Rows(ctx)
	if err != nil {
		return nil, err
	}
	var lines atomic.Int64
	return "", writeAtomically(path, func(f *os.File) error {
		return c.watch("rows", rows, lines.Load, func() error { return c.Env.Store.Dump(ctx, lineCounter{f, &lines}) })
	})
}

// Load is ejabberd's load.
var Load = &Def{
	Name: "load",
	Doc: "Replaces the whole database with the dump DATA/backups/<file> made by dump, as restore does; a malformed " +
		"or truncated dump changes nothing. Operator only.",
	Args:     []Arg{argBackupFile},
	Result:   Result{Kind: ResultMessage},
	Names:    map[Dialect]string{Ejabberd: "load"},
	Operator: true,
	Handle:   load,
}

func load(ctx context.Context, c *Call) (any, error) {
	path, shown, err := backupFile(c, "file", true)
	if err != nil {
		return nil, err
	}
	// Progress: the dump's KiB read (a retry after a busy worker reads it
	// again from the start).
	var read atomic.Int64
	var res any
	err = c.watch("KiB", kib(fileSize(path)), func() int64 { return kib(read.Load()) }, func() (err error) {
		res, err = replaceDatabase(ctx, c, shown, "dump", func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			read.Store(0)
			return c.Env.Store.Load(ctx, byteCounter{f, &read})
		})
		return err
	})
	return res, err
}

// writeAtomically writes path through a temporary file beside it, so a
// failed dump leaves no partial file behind.
func writeAtomically(path string, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// replaceDatabase runs a restore, retrying while a batch is being applied,
// maps the store's refusals, and then makes the live server forget the old
// database: every session is closed and every domain's settings re-read.
// what names the kind of file ("backup", "dump") for the refusal.
func replaceDatabase(ctx context.Context, c *Call, shown, what string, replace func() error) (any, error) {
	deadline := time.Now().Add(busyWait)
	for {
		err := replace()
		switch {
		case err == nil:
			forgetLiveState(ctx, c)
			return "", nil
		case errors.Is(err, store.ErrBusy) && time.Now().Before(deadline):
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			continue
		case errors.Is(err, store.ErrBusy):
			return nil, Errorf(Invalid, ReasonBusy, "file", "the worker kept applying batches for %s; try again", busyWait)
		case errors.Is(err, store.ErrNewerSchema):
			return nil, Errorf(Invalid, ReasonBadFile, "file", "%s was written by a newer xmppgate", shown)
		case errors.Is(err, store.ErrNotACopy):
			return nil, &Error{Kind: Invalid, Reason: ReasonBadFile, Arg: "file", Msg: fmt.Sprintf("%s is not an xmppgate %s", shown, what), Err: err}
		}
		return nil, err
	}
}

func forgetLiveState(ctx context.Context, c *Call) {
	if c.Env.Live == nil {
		return
	}
	kicked := map[string]bool{}
	for _, s := range c.Env.Live.Sessions("", "") {
		key := s.Domain + "\x00" + s.Username
		if !kicked[key] {
			kicked[key] = true
			c.Env.Live.Kick(s.Domain, s.Username, "", "database restored")
		}
	}
	ds, err := c.Env.Store.Domains(ctx, nil)
	if err != nil {
		return
	}
	for _, d := range ds {
		c.Env.Live.DomainSettingsChanged(d.FQDN)
	}
}
