package commands

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/commands/piefxis"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmlel"
)

// The transfer family (ejabberd's migration commands): export_piefxis,
// export_piefxis_host, import_piefxis and import_prosody. Files live under
// DATA/transfer/ (an account's under DATA/transfer/<account id>/, see
// transferRoot). An account exports and imports only its own domains; the
// operator reaches every domain. Imports are queued changes, one per user,
// applied before the answer. See docs/backup.md.

// transferDefs is the transfer family.
var transferDefs = []*Def{ExportPiefxis, ExportPiefxisHost, ImportPiefxis, ImportProsody, ImportOpenfire}

// TransferDir is where XEP-0227 and Prosody files go, relative to the data
// directory; an account's own under transfer/<account id>/.
const TransferDir = "transfer"

// ReasonImportRefused: an import the caller may not make (Kind Invalid:
// the ejabberd dialect answers 400 with the message).
const ReasonImportRefused Reason = "import_refused"

var (
	argTransferDir = Arg{Name: "dir", Type: String, Path: true,
		Doc: "A directory relative to the caller's transfer folder (DATA/transfer/, or DATA/transfer/<account id>/ for an account), " +
			"or for the operator an absolute path inside transfer_dirs; created if missing."}
	argTransferFile = Arg{Name: "file", Type: String, Path: true,
		Doc: "An XEP-0227 file relative to the caller's transfer folder (DATA/transfer/, or DATA/transfer/<account id>/ for an account), " +
			"or for the operator an absolute path inside transfer_dirs."}
)

// transferRoot is where the caller's XEP-0227 and Prosody files live: the
// operator reaches all of DATA/transfer/, an account only its own folder.
func transferRoot(c *Call) (root, shown string, err error) {
	data, err := dataDir(c)
	if err != nil {
		return "", "", err
	}
	if c.Caller.Operator {
		return filepath.Join(data, TransferDir), TransferDir + "/", nil
	}
	id := strconv.FormatInt(c.Caller.Account, 10)
	return filepath.Join(data, TransferDir, id), TransferDir + "/" + id + "/", nil
}

// transferPath is a dir or file argument: relative to the caller's
// transfer root, or absolute inside a directory the operator allows
// (filePath). root is the allowed folder it lies in.
func transferPath(c *Call, arg string) (path, root, shown string, err error) {
	root, rootShown, err := transferRoot(c)
	if err != nil {
		return "", "", "", err
	}
	return filePath(c, arg, root, rootShown)
}

// ExportPiefxis is ejabberd's export_piefxis.
var ExportPiefxis = &Def{
	Name: "export_piefxis",
	Doc: "Writes XEP-0227 files of every domain of the caller's accounts (the operator: of the server) into dir, as " +
		"ejabberd lays them out: YYYYMMDD-HHMMSS.xml including one YYYYMMDD-HHMMSS_<host>.xml per domain. Users " +
		"carry their SCRAM keys, roster, vCard, private storage and offline messages.",
	Args:   []Arg{argTransferDir},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "export_piefxis"},
	Handle: exportPiefxis,
}

func exportPiefxis(ctx context.Context, c *Call) (any, error) {
	ds, err := callerDomains(ctx, c)
	if err != nil {
		return nil, err
	}
	return exportDomains(ctx, c, ds)
}

// ExportPiefxisHost is ejabberd's export_piefxis_host.
var ExportPiefxisHost = &Def{
	Name:   "export_piefxis_host",
	Doc:    "Writes the XEP-0227 files of one domain of the caller's accounts into dir, as export_piefxis does.",
	Args:   []Arg{argTransferDir, {Name: "host", Type: String, Doc: "A domain of the caller's accounts (the operator: any)."}},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "export_piefxis_host"},
	Handle: exportPiefxisHost,
}

func exportPiefxisHost(ctx context.Context, c *Call) (any, error) {
	d, err := callerDomain(ctx, c, "host", c.Args.String("host"))
	if err != nil {
		return nil, err
	}
	return exportDomains(ctx, c, []store.Domain{d})
}

// callerDomain resolves a domain the caller may export or import into: one
// of its accounts', or any for the operator. Others look unknown.
func callerDomain(ctx context.Context, c *Call, arg, name string) (store.Domain, error) {
	unknown := Errorf(Invalid, ReasonUnknownDomain, arg, "%s is not a domain of this account", name)
	fqdn, err := NormalizeDomain(name)
	if err != nil {
		return store.Domain{}, unknown
	}
	d, err := c.Env.Store.DomainByFQDN(ctx, fqdn)
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.Caller.Operator && !c.Caller.Owns(d.AccountID) {
		return store.Domain{}, unknown
	}
	return d, err
}

func exportDomains(ctx context.Context, c *Call, ds []store.Domain) (any, error) {
	dir, _, shown, err := transferPath(c, "dir")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Errorf(Invalid, ReasonBadPath, "dir", "%s is not a directory that can be written", shown)
	}
	hosts := make([]string, len(ds))
	for i, d := range ds {
		hosts[i] = d.FQDN
	}
	main, files := piefxis.FileNames(c.Env.Store.Now().UTC(), hosts)
	for i, d := range ds {
		h, err := exportHost(ctx, c, d)
		if err != nil {
			return nil, err
		}
		if err := writeAtomically(filepath.Join(dir, files[i]), func(f *os.File) error { return piefxis.WriteHost(f, h) }); err != nil {
			return nil, err
		}
	}
	if err := writeAtomically(filepath.Join(dir, main), func(f *os.File) error { return piefxis.WriteServer(f, files) }); err != nil {
		return nil, err
	}
	return StatusOK, nil
}

// exportHost reads one domain's users. Users whose keys are not derived
// yet (pending-active) or that are being deleted are left out; inactive
// users are exported like active ones (XEP-0227 has no account state).
func exportHost(ctx context.Context, c *Call, d store.Domain) (piefxis.Host, error) {
	h := piefxis.Host{JID: d.FQDN}
	users, err := c.Env.Store.DomainUsers(ctx, d.ID)
	if err != nil {
		return h, err
	}
	r := c.Env.Store.Reader
	for _, u := range users {
		if u.Status == store.StatusPendingActive || u.Status == store.StatusPendingDelete || len(u.Cred.Salt) == 0 {
			continue
		}
		pu := piefxis.User{Name: u.Username}
		if len(u.Cred.SHA1Stored) > 0 {
			pu.SCRAM = append(pu.SCRAM, piefxis.SCRAM{Mechanism: piefxis.ScramSHA1, Salt: u.Cred.Salt, Iterations: u.Cred.Iterations,
				StoredKey: u.Cred.SHA1Stored, ServerKey: u.Cred.SHA1Server})
		}
		if len(u.Cred.SHA256Stored) > 0 {
			pu.SCRAM = append(pu.SCRAM, piefxis.SCRAM{Mechanism: piefxis.ScramSHA256, Salt: u.Cred.Salt, Iterations: u.Cred.Iterations,
				StoredKey: u.Cred.SHA256Stored, ServerKey: u.Cred.SHA256Server})
		}
		items, _, err := r.RosterItems(ctx, u.ID)
		if err != nil {
			return h, err
		}
		for _, it := range items {
			if it.Visible {
				pu.Roster = append(pu.Roster, piefxis.Item{JID: it.Contact, Name: it.Name, Subscription: it.Subscription, Ask: it.Ask, Groups: it.Groups})
			}
			if it.PendingIn {
				pu.Pending = append(pu.Pending, it.Contact)
			}
		}
		if v, err := r.VCard(ctx, u.ID); err == nil {
			if pu.VCard, err = xmlel.Parse(v); err != nil {
				return h, fmt.Errorf("vcard of user %d: %w", u.ID, err)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return h, err
		}
		priv, err := r.PrivateItems(ctx, u.ID)
		if err != nil {
			return h, err
		}
		for _, p := range priv {
			el, err := xmlel.Parse(p.Data)
			if err != nil {
				return h, fmt.Errorf("private %s of user %d: %w", p.NS, u.ID, err)
			}
			pu.Private = append(pu.Private, el)
		}
		msgs, err := r.OfflineMessages(ctx, u.ID)
		if err != nil {
			return h, err
		}
		for _, m := range msgs {
			el, err := xmlel.Parse(m.Stanza)
			if err != nil {
				return h, fmt.Errorf("offline message %d: %w", m.ID, err)
			}
			pu.Offline = append(pu.Offline, piefxis.Offline{Stamp: m.Created, Message: el})
		}
		h.Users = append(h.Users, pu)
	}
	return h, nil
}

// ImportPiefxis is ejabberd's import_piefxis.
var ImportPiefxis = &Def{
	Name: "import_piefxis",
	Doc: "Imports an XEP-0227 file as ejabberd writes it (a main file and the host files it includes, or one host " +
		"file) or as Prosody does (one file per user): users with their password or SCRAM keys, rosters and " +
		"subscription requests, vCards, private storage and offline messages, all applied before the answer. Every " +
		"host must be a domain of the caller's accounts, and a user with credentials must not exist yet; otherwise " +
		"nothing is imported. A user without credentials that exists gets the data added (as in ejabberd).",
	Args:    []Arg{argTransferFile},
	Result:  Result{Kind: ResultStatus},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "import_piefxis"},
	Handle:  importPiefxis,
	Prepare: prepareImport,
	Derive:  keysAhead(importSealed),
	Apply:   applyImport,
}

// ImportProsody is ejabberd's import_prosody.
var ImportProsody = &Def{
	Name: "import_prosody",
	Doc: "Imports a Prosody 0.12 data directory (internal storage: <host>/accounts, roster, vcard, private .dat " +
		"files and offline .list files, host and user names %-encoded) with the rules of import_piefxis, and the " +
		"persistent rooms of its MUC components (<service>/config) into the MUC service of the domain the component " +
		"is a subdomain of, with their configuration, subject, affiliations and reserved nicknames (a room that " +
		"exists refuses the import). Other component directories are skipped.",
	Args: []Arg{{Name: "dir", Type: String, Path: true,
		Doc: "The Prosody data directory, relative to the caller's transfer folder (DATA/transfer/, or DATA/transfer/<account id>/), " +
			"or for the operator an absolute path inside transfer_dirs."}},
	Result:  Result{Kind: ResultStatus},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "import_prosody"},
	Handle:  importProsody,
	Prepare: prepareImport,
	Derive:  keysAhead(importSealed),
	Apply:   applyImport,
}

func importPiefxis(ctx context.Context, c *Call) (any, error) {
	return importFrom(ctx, c, "file", false)
}

func importProsody(ctx context.Context, c *Call) (any, error) { return importFrom(ctx, c, "dir", true) }

// importFrom reads the file (or Prosody directory) argument and imports it.
func importFrom(ctx context.Context, c *Call, arg string, prosody bool) (any, error) {
	path, root, shown, err := transferPath(c, arg)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, Errorf(Invalid, ReasonNoFile, arg, "%s does not exist", shown)
	case err != nil:
		return nil, err
	case prosody && !st.IsDir():
		return nil, Errorf(Invalid, ReasonBadFile, arg, "%s is not a directory", shown)
	case !prosody && st.IsDir():
		return nil, Errorf(Invalid, ReasonBadFile, arg, "%s is a directory", shown)
	}
	var hosts []piefxis.Host
	if prosody {
		hosts, err = piefxis.ReadProsodyDir(path)
	} else {
		hosts, err = piefxis.ReadFile(path, root)
	}
	if err != nil {
		// The reader names files relative to the transfer folder; never
		// show where the data directory is.
		_, rootShown, _ := transferRoot(c)
		if filepath.IsAbs(shown) {
			rootShown = root + string(filepath.Separator)
		}
		msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), rootShown)
		if prosody {
			return nil, Errorf(Invalid, ReasonBadFile, arg, "%s: %s", shown, msg)
		}
		return nil, Errorf(Invalid, ReasonBadFile, arg, "%s%s", rootShown, msg)
	}
	plans, err := planImport(ctx, c, arg, hosts)
	if err != nil {
		return nil, err
	}
	rooms, err := planRooms(ctx, c, arg, hosts)
	if err != nil || len(rooms) == 0 {
		if err != nil {
			return nil, err
		}
		return runImport(ctx, c, arg, plans)
	}
	return runImport(ctx, c, arg, plans, func(tx *store.Tx, add func(store.Change) error) error {
		for _, nr := range rooms {
			if _, err := tx.Room(ctx, nr.DomainID, nr.Room); err == nil {
				return Errorf(Invalid, ReasonImportRefused, arg, "room %s@%s exists; nothing was imported", nr.Room, nr.Domain)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		args, err := json.Marshal(importChange{Rooms: rooms})
		if err != nil {
			return err
		}
		return add(store.Change{Args: args})
	})
}

// planRooms turns the imported persistent rooms into rooms of the MUC
// service of the domain they belong to (the Prosody component's parent).
func planRooms(ctx context.Context, c *Call, arg string, hosts []piefxis.Host) ([]newRoom, error) {
	var out []newRoom
	for _, h := range hosts {
		if len(h.Rooms) == 0 {
			continue
		}
		d, err := callerDomain(ctx, c, arg, h.JID)
		if AsError(err).Reason == ReasonUnknownDomain {
			return nil, Errorf(Invalid, ReasonImportRefused, arg, "host %s is not a domain of this account; nothing was imported", h.JID)
		}
		if err != nil {
			return nil, err
		}
		for _, r := range h.Rooms {
			nr, err := importedRoom(d, r)
			if err != nil {
				return nil, Errorf(Invalid, ReasonImportRefused, arg, "room %s: %v; nothing was imported", r.JID, err)
			}
			out = append(out, nr)
		}
	}
	return out, nil
}

// importedRoom maps one Prosody room onto the service's configuration.
func importedRoom(d store.Domain, r piefxis.Room) (newRoom, error) {
	local, _, _ := strings.Cut(r.JID, "@")
	name, ok := roomName(local)
	if !ok {
		return newRoom{}, errors.New(msgBadName)
	}
	cfg := newRoomConfig(d)
	cfg.Persistent, cfg.Name, cfg.Description, cfg.Lang = true, r.Name, r.Description, r.Language
	cfg.Public, cfg.MembersOnly, cfg.Moderated, cfg.Password = r.Public, r.MembersOnly, r.Moderated, r.Password
	cfg.Whois, cfg.AllowInvites, cfg.ChangeSubject = r.Whois, r.AllowInvites, r.ChangeSubject
	if r.HistoryLength >= 0 {
		cfg.HistoryLength = r.HistoryLength
	}
	nr := newRoom{roomRef: roomRef{DomainID: d.ID, Domain: d.FQDN, Room: name}, Config: cfg.Encode(),
		Subject: r.Subject, SubjectBy: r.SubjectBy}
	jids := make([]string, 0, len(r.Affiliations))
	for j := range r.Affiliations {
		jids = append(jids, j)
	}
	sort.Strings(jids)
	for _, j := range jids {
		b, err := ParseBareJID(j)
		if err != nil {
			return newRoom{}, fmt.Errorf("affiliation of %q: %v", j, err)
		}
		nr.Affs = append(nr.Affs, roomAffiliation{JID: b, Aff: r.Affiliations[j]})
		if nick := r.Nicks[j]; nick != "" {
			nr.Nicks = append(nr.Nicks, roomNick{JID: b, Nick: nick})
		}
	}
	return nr, nil
}

// importChange is the argument record of one imported user's change.
// Sealed is the AES-GCM copy of a plaintext password, never the password.
type importChange struct {
	Username string          `json:"username"`
	Domain   string          `json:"domain"`
	Existing bool            `json:"existing,omitempty"`
	FullName string          `json:"name,omitempty"`
	Email    string          `json:"email,omitempty"`
	Sealed   []byte          `json:"sealed,omitempty"`
	SCRAM    *importSCRAM    `json:"scram,omitempty"`
	Roster   []importItem    `json:"roster,omitempty"`
	Pending  []string        `json:"pending,omitempty"`
	VCard    string          `json:"vcard,omitempty"`
	Private  []string        `json:"private,omitempty"`
	Offline  []importOffline `json:"offline,omitempty"`
	// Rooms, on a change of no user, are the imported MUC rooms.
	Rooms []newRoom `json:"rooms,omitempty"`
}

type importSCRAM struct {
	Iterations   int    `json:"iterations"`
	Salt         []byte `json:"salt"`
	SHA1Stored   []byte `json:"sha1_stored,omitempty"`
	SHA1Server   []byte `json:"sha1_server,omitempty"`
	SHA256Stored []byte `json:"sha256_stored,omitempty"`
	SHA256Server []byte `json:"sha256_server,omitempty"`
}

type importItem struct {
	Contact      string   `json:"contact"`
	Name         string   `json:"name,omitempty"`
	Subscription string   `json:"subscription"`
	Ask          bool     `json:"ask,omitempty"`
	Groups       []string `json:"groups,omitempty"`
}

type importOffline struct {
	From   string    `json:"from"`
	Stamp  time.Time `json:"stamp"`
	Stanza string    `json:"stanza"`
}

type importPlan struct {
	domain  store.Domain
	ch      importChange
	hasCred bool
}

// planImport checks everything a file says before anything is queued, so
// a refused import changes nothing.
func planImport(ctx context.Context, c *Call, arg string, hosts []piefxis.Host) ([]importPlan, error) {
	refuse := func(format string, a ...any) error {
		return Errorf(Invalid, ReasonImportRefused, arg, format+"; nothing was imported", a...)
	}
	var plans []importPlan
	seen := map[string]bool{}
	for _, h := range hosts {
		d, err := callerDomain(ctx, c, arg, h.JID)
		if AsError(err).Reason == ReasonUnknownDomain {
			return nil, refuse("host %s is not a domain of this account", h.JID)
		}
		if err != nil {
			return nil, err
		}
		for _, u := range h.Users {
			name, err := NormalizeLocalpart(u.Name)
			if err != nil {
				return nil, refuse("user %q of %s: %v", u.Name, d.FQDN, err)
			}
			jid := name + "@" + d.FQDN
			if seen[jid] {
				return nil, refuse("user %s appears twice", jid)
			}
			seen[jid] = true
			p := importPlan{domain: d, ch: importChange{Username: name, Domain: d.FQDN}}
			switch {
			case u.Password != "":
				if _, err := credential.Prepare(u.Password); err != nil || len(u.Password) > MaxPasswordBytes {
					return nil, refuse("user %s: the password is not allowed by the OpaqueString profile of RFC 8265", jid)
				}
				p.ch.Sealed, p.hasCred = c.Env.Box.Seal([]byte(u.Password), PurposePassword), true
			case len(u.SCRAM) > 0:
				s, err := scramOf(u.SCRAM)
				if err != nil {
					return nil, refuse("user %s: %v", jid, err)
				}
				p.ch.SCRAM, p.hasCred = s, true
			}
			if p.ch.Roster, p.ch.Pending, err = rosterOf(u); err != nil {
				return nil, refuse("user %s: %v", jid, err)
			}
			if u.VCard != nil {
				p.ch.VCard = string(u.VCard.Bytes(""))
			}
			for _, el := range u.Private {
				if el.Name.Space == "" || el.Name.Space == piefxis.NSClient || strings.HasPrefix(el.Name.Space, "jabber:") {
					return nil, refuse("user %s: private storage element %s has no namespace of its own", jid, el.Name.Local)
				}
				p.ch.Private = append(p.ch.Private, string(el.Bytes("")))
			}
			for _, o := range u.Offline {
				m := o.Message.Copy()
				from, err := parseFullJID(m.Get("from"))
				if err != nil {
					return nil, refuse("user %s: an offline message without a valid from", jid)
				}
				m.Set("to", jid)
				stamp := o.Stamp
				if stamp.IsZero() {
					stamp = c.Env.Store.Now().UTC()
				}
				p.ch.Offline = append(p.ch.Offline, importOffline{From: from, Stamp: stamp, Stanza: string(m.Bytes(""))})
			}
			plans = append(plans, p)
		}
	}
	return plans, nil
}

// parseFullJID checks a JID that may carry a resource and returns it with
// its bare part normalised.
func parseFullJID(s string) (string, error) {
	bare, res, hasRes := strings.Cut(s, "/")
	b, err := ParseBareJID(bare)
	if err != nil || hasRes && res == "" {
		return "", errors.New("not a JID")
	}
	if hasRes {
		return b + "/" + res, nil
	}
	return b, nil
}

// scramOf keeps what the store can hold: one salt and iteration count for
// both families. SCRAM-SHA-256 wins when the two differ (clients pick the
// strongest mechanism offered), SCRAM-SHA-1 joins it when they agree.
func scramOf(list []piefxis.SCRAM) (*importSCRAM, error) {
	var s1, s256 *piefxis.SCRAM
	var names []string
	for i := range list {
		size := 0
		switch list[i].Mechanism {
		case piefxis.ScramSHA1:
			s1, size = &list[i], sha1.Size
		case piefxis.ScramSHA256:
			s256, size = &list[i], sha256.Size
		default:
			names = append(names, list[i].Mechanism)
			continue
		}
		if n := len(list[i].StoredKey); n != size {
			return nil, fmt.Errorf("%s stored-key is %d bytes, not %d", list[i].Mechanism, n, size)
		}
		if n := len(list[i].ServerKey); n != size {
			return nil, fmt.Errorf("%s server-key is %d bytes, not %d", list[i].Mechanism, n, size)
		}
	}
	var out *importSCRAM
	if s256 != nil {
		out = &importSCRAM{Iterations: s256.Iterations, Salt: s256.Salt, SHA256Stored: s256.StoredKey, SHA256Server: s256.ServerKey}
	}
	switch {
	case s1 != nil && out == nil:
		out = &importSCRAM{Iterations: s1.Iterations, Salt: s1.Salt}
		fallthrough
	case s1 != nil && out.Iterations == s1.Iterations && bytes.Equal(out.Salt, s1.Salt):
		out.SHA1Stored, out.SHA1Server = s1.StoredKey, s1.ServerKey
	}
	if out == nil {
		return nil, fmt.Errorf("no SCRAM-SHA-1 or SCRAM-SHA-256 keys (only %s)", strings.Join(names, ", "))
	}
	return out, nil
}

func rosterOf(u piefxis.User) ([]importItem, []string, error) {
	var items []importItem
	seen := map[string]bool{}
	for _, it := range u.Roster {
		contact, err := ParseBareJID(it.JID)
		if err != nil {
			return nil, nil, fmt.Errorf("roster item %q is not a JID", it.JID)
		}
		switch it.Subscription {
		case store.SubNone, store.SubTo, store.SubFrom, store.SubBoth:
		case "remove":
			continue
		default:
			return nil, nil, fmt.Errorf("roster item %s has subscription %q", contact, it.Subscription)
		}
		if seen[contact] {
			continue
		}
		seen[contact] = true
		groups := []string{}
		gseen := map[string]bool{}
		for _, g := range it.Groups {
			if g != "" && !gseen[g] {
				gseen[g] = true
				groups = append(groups, g)
			}
		}
		items = append(items, importItem{Contact: contact, Name: it.Name, Subscription: it.Subscription, Ask: it.Ask, Groups: groups})
	}
	var pending []string
	pseen := map[string]bool{}
	for _, from := range u.Pending {
		b, err := ParseBareJID(from)
		if err != nil {
			return nil, nil, fmt.Errorf("subscription request from %q is not a JID", from)
		}
		if !pseen[b] {
			pseen[b] = true
			pending = append(pending, b)
		}
	}
	return items, pending, nil
}

// runImport queues one change per user in one transaction (creating the
// new users pending-active), then what more queues in the same
// transaction, applies the batch and answers 0, or the first failure.
func runImport(ctx context.Context, c *Call, arg string, plans []importPlan, more ...func(*store.Tx, func(store.Change) error) error) (any, error) {
	if len(plans) == 0 && len(more) == 0 {
		return StatusOK, nil
	}
	if c.Env.Worker == nil {
		return nil, fmt.Errorf("commands: %s needs Env.Worker", c.Def.Name)
	}
	qs, err := c.MutateEach(ctx, func(tx *store.Tx, add func(store.Change) error) error {
		for _, p := range plans {
			u, err := tx.UserByJID(ctx, p.domain.FQDN, p.ch.Username)
			switch {
			case err == nil && p.hasCred:
				return Errorf(Invalid, ReasonUserExists, arg, "user %s@%s exists; nothing was imported", p.ch.Username, p.domain.FQDN)
			case err == nil && u.Status.Pending():
				// Not ReasonPending: that one means "retry after a flush" to RunNow.
				return Errorf(Invalid, ReasonImportRefused, arg, "user %s@%s is %s; nothing was imported", p.ch.Username, p.domain.FQDN, u.Status)
			case err == nil:
				p.ch.Existing = true
			case errors.Is(err, store.ErrNotFound) && !p.hasCred:
				return Errorf(Invalid, ReasonImportRefused, arg, "user %s@%s does not exist and has no password or SCRAM keys; nothing was imported", p.ch.Username, p.domain.FQDN)
			case errors.Is(err, store.ErrNotFound):
				u, err = tx.InsertUser(ctx, store.User{DomainID: p.domain.ID, Domain: p.domain.FQDN, Username: p.ch.Username,
					Status: store.StatusPendingActive, PasswordSealed: p.ch.Sealed, Name: p.ch.FullName, Email: p.ch.Email})
				if err != nil {
					return err
				}
			default:
				return err
			}
			args, err := json.Marshal(p.ch)
			if err != nil {
				return err
			}
			if err := add(store.Change{UserID: u.ID, Args: args}); err != nil {
				return err
			}
		}
		for _, m := range more {
			if err := m(tx, add); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.applyWatched(ctx, len(plans), qs); err != nil {
		return nil, err
	}
	return StatusOK, nil
}

func prepareImport(ctx context.Context, env *Env, w *queue.Work) error {
	var ch importChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	if ch.Rooms != nil {
		return nil
	}
	defer countImported(env, w.BatchID)
	if ch.Existing {
		return nil
	}
	return deriveSealed(env, w, ch.Sealed)
}

// importSealed is the password an import change derives keys for; nil
// for rooms and existing users.
func importSealed(w *queue.Work) ([]byte, error) {
	var ch importChange
	if err := json.Unmarshal(w.Args, &ch); err != nil || ch.Rooms != nil || ch.Existing {
		return nil, err
	}
	return ch.Sealed, nil
}

// applyImport activates a new user with its credentials (or finds the
// existing one) and writes the imported data: roster items replace the
// user's items for the same contacts, the vCard and the private elements
// replace theirs, offline messages are added with their original time.
func applyImport(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch importChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	if ch.Rooms != nil {
		return applyRoomCreate(ctx, env, tx, w)
	}
	if ch.Existing {
		u, err := tx.UserByID(ctx, w.UserID)
		if errors.Is(err, store.ErrNotFound) || err == nil && u.Status == store.StatusPendingDelete {
			return noUser("username", ch.Username, ch.Domain)
		}
		if err != nil {
			return err
		}
	} else {
		var cred credential.SCRAM
		switch {
		case ch.Sealed != nil:
			c, ok := w.Prepared.(credential.SCRAM)
			if !ok {
				return errors.New("import: password keys were not derived")
			}
			cred = c
		case ch.SCRAM != nil:
			s := ch.SCRAM
			cred = credential.SCRAM{Salt: s.Salt, Iterations: s.Iterations, SHA1Stored: s.SHA1Stored, SHA1Server: s.SHA1Server,
				SHA256Stored: s.SHA256Stored, SHA256Server: s.SHA256Server}
		default:
			return errors.New("import: a new user without credentials")
		}
		if err := stateError(tx.ActivateUser(ctx, w.UserID, cred), w, store.StatusPendingActive); err != nil {
			return err
		}
	}
	pending := map[string]bool{}
	for _, p := range ch.Pending {
		pending[p] = true
	}
	push := func(contact string) {
		if ch.Existing {
			w.After(func(e queue.Effects) { e.RosterChanged(ch.Domain, ch.Username, contact) })
		}
	}
	for _, it := range ch.Roster {
		if _, err := tx.PutRosterItem(ctx, w.UserID, store.RosterItem{Contact: it.Contact, Name: it.Name, Subscription: it.Subscription,
			Ask: it.Ask, PendingIn: pending[it.Contact], Visible: true, Groups: it.Groups}); err != nil {
			return err
		}
		delete(pending, it.Contact)
		push(it.Contact)
	}
	for _, from := range ch.Pending {
		if !pending[from] {
			continue
		}
		old, err := tx.Reader.RosterItem(ctx, w.UserID, from)
		switch {
		case errors.Is(err, store.ErrNotFound):
			old = store.RosterItem{Contact: from, Subscription: store.SubNone}
		case err != nil:
			return err
		}
		old.PendingIn = true
		if _, err := tx.PutRosterItem(ctx, w.UserID, old); err != nil {
			return err
		}
	}
	if ch.VCard != "" {
		if err := tx.SetVCard(ctx, w.UserID, []byte(ch.VCard)); err != nil {
			return err
		}
	}
	for _, p := range ch.Private {
		el, err := xmlel.Parse([]byte(p))
		if err != nil {
			return err
		}
		if err := tx.SetPrivateXML(ctx, w.UserID, el.Name.Space, []byte(p)); err != nil {
			return err
		}
	}
	for _, o := range ch.Offline {
		if err := tx.ImportOffline(ctx, w.UserID, o.From, []byte(o.Stanza), o.Stamp); err != nil {
			return err
		}
	}
	return nil
}
