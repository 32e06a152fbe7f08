package commands

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Where the file commands (the transfer and backup families) may read and
// write. ejabberd takes any absolute path the node's user can reach; guides
// show `ejabberdctl import_piefxis /var/backups/x.xml`. xmppgate takes an
// absolute path too, but only inside a directory the operator listed in
// the config (transfer_dirs, Env.TransferDirs; default DATA/transfer/),
// because the same commands are open to tenants over HTTP. A relative
// path keeps meaning "inside the caller's own folder". An account never
// leaves its own folder, whatever the list says (an absolute path into
// it is taken, any other refused). Symbolic links are followed before the
// check, so a link inside an allowed directory cannot lead out of it; the
// resolved path is what the command then opens. (A link inside the
// operator's folder may lead into another allowed directory: the operator
// could have named that one directly.)

// TransferDirsKey is the config key of Env.TransferDirs, named in refusals
// so the operator knows what to change.
const TransferDirsKey = "transfer_dirs"

// allowedDirs is where an operator's absolute paths may point: the
// configured list, or DATA/transfer/ when it is empty.
func allowedDirs(c *Call, data string) []string {
	if len(c.Env.TransferDirs) > 0 {
		return c.Env.TransferDirs
	}
	return []string{filepath.Join(data, TransferDir)}
}

// filePath resolves the argument arg of the file commands. root is the
// caller's folder for relative names (shown to callers as rootShown). It
// returns the path with symbolic links resolved as far as it exists, the
// folder it lies in (for readers that follow includes) and the name to
// show in messages: rootShown plus the relative name, or the absolute name
// as given.
func filePath(c *Call, arg, root, rootShown string) (path, base, shown string, err error) {
	name := c.Args.String(arg)
	if strings.ContainsRune(name, 0) {
		return "", "", "", Errorf(Invalid, ReasonBadPath, arg, "%s is not a path", arg)
	}
	dirs := []string{root}
	if c.Caller.Operator {
		data, err := dataDir(c)
		if err != nil {
			return "", "", "", err
		}
		dirs = append(dirs, allowedDirs(c, data)...)
	}
	if filepath.IsAbs(name) {
		path = filepath.Clean(name)
		shown = path
	} else {
		if path, err = underRoot(root, rootShown, arg, name); err != nil {
			return "", "", "", err
		}
		shown = rootShown + filepath.ToSlash(filepath.Clean(name))
	}
	real, err := resolveExisting(path)
	if err != nil {
		return "", "", "", Errorf(Invalid, ReasonBadPath, arg, "%s cannot be resolved", shown)
	}
	for _, d := range dirs {
		rd, err := resolveExisting(d)
		if err != nil {
			continue
		}
		if within(rd, real) {
			return real, rd, shown, nil
		}
	}
	switch {
	case !filepath.IsAbs(name):
		return "", "", "", Errorf(Invalid, ReasonBadPath, arg, "%s must stay inside %s (a symbolic link leads out)", arg, rootShown)
	case !c.Caller.Operator:
		return "", "", "", Errorf(Invalid, ReasonBadPath, arg,
			"%s must be a path relative to %s, or inside it (an account's files stay in its own folder)", arg, rootShown)
	}
	return "", "", "", Errorf(Invalid, ReasonBadPath, arg,
		"%s is outside the directories this server may use for files (%s: %s); add %s (or a parent) to %s in the "+
			"config (or XMPPGATE_%s) and restart the server, or give a path relative to %s",
		shown, TransferDirsKey, allowedShown(c), filepath.Dir(path), TransferDirsKey, strings.ToUpper(TransferDirsKey), rootShown)
}

// allowedShown is the allow-list for a refusal. The default is named
// relative to DATA, as every other message does: errors never show where
// the data directory is.
func allowedShown(c *Call) string {
	if len(c.Env.TransferDirs) == 0 {
		return "unset, so DATA/" + TransferDir + "/ only"
	}
	return strings.Join(c.Env.TransferDirs, ", ")
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of the path p and appends the rest, which does not
// exist yet (a file a command is about to write) and so holds no links.
// A relative p (a relative data directory) is taken from the working
// directory first.
func resolveExisting(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// within reports whether path lies in dir (or is dir); both are resolved.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
