package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// The commands over every room of a service (or, with service global, of
// every service of the caller's domains): listings, the clean-ups of empty
// and unused rooms, and the rooms files.

// serviceRooms lists the rooms of a service argument that may be global,
// by service then name; noService for a service that is not the caller's.
func serviceRooms(ctx context.Context, c *Call) ([]foundRoom, error) {
	ds, found, err := serviceDomains(ctx, c, c.Args.String("service"))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, noService()
	}
	var out []foundRoom
	for _, d := range ds {
		rs, err := c.Env.Store.Rooms(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, foundRoom{Domain: d, Room: r})
		}
	}
	return out, nil
}

// noService is the answer to a service that is not the caller's where
// ejabberd 23.01 crashes.
func noService() *Error { return badValue("service", msgBadService) }

// MucOnlineRooms is mod_muc_admin's muc_online_rooms.
var MucOnlineRooms = &Def{
	Name:   "muc_online_rooms",
	Doc:    "Lists the JIDs of the rooms the service holds (global: every service of the caller's domains).",
	Args:   []Arg{argServiceGlobal},
	Result: Result{Kind: ResultList, Name: "rooms"},
	Names:  map[Dialect]string{Ejabberd: "muc_online_rooms"},
	Handle: mucOnlineRooms,
}

func mucOnlineRooms(ctx context.Context, c *Call) (any, error) {
	rs, err := serviceRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, f := range rs {
		out = append(out, roomJID(f.Domain, f.Room.Name))
	}
	return out, nil
}

// MucOnlineRoomsByRegex is mod_muc_admin's muc_online_rooms_by_regex.
var MucOnlineRoomsByRegex = &Def{
	Name: "muc_online_rooms_by_regex",
	Doc: "Lists the rooms of the service (global: of every service of the caller's domains) whose name matches " +
		"regex (RE2 syntax, unanchored): JID, public (true or false) and the number of occupants.",
	Args:   []Arg{argServiceGlobal, {Name: "regex", Type: String, Doc: "A regular expression over room names."}},
	Result: Result{Kind: ResultTable, Name: "rooms", Columns: []string{"jid", "public", "participants"}},
	Names:  map[Dialect]string{Ejabberd: "muc_online_rooms_by_regex"},
	Handle: mucOnlineRoomsByRegex,
}

func mucOnlineRoomsByRegex(ctx context.Context, c *Call) (any, error) {
	re, err := regexp.Compile(c.Args.String("regex"))
	if err != nil {
		return nil, badValue("regex", "Invalid 'regex'")
	}
	rs, err := serviceRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: c.Def.Result.Columns}
	for _, f := range rs {
		if !re.MatchString(f.Room.Name) {
			continue
		}
		cfg := decodeRoomConfig(f.Room.Config, f.Domain)
		t.Rows = append(t.Rows, []any{roomJID(f.Domain, f.Room.Name), fmt.Sprint(cfg.Public), int64(len(occupantsOf(c, f)))})
	}
	return t, nil
}

// emptyRooms are the archived rooms with nothing in their archive nor in
// their history: what ejabberd's rooms_empty_list calls rooms with no
// messages in the archive.
func emptyRooms(ctx context.Context, c *Call) ([]foundRoom, error) {
	rs, err := serviceRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []foundRoom
	l := liveRooms(c)
	for _, f := range rs {
		if !decodeRoomConfig(f.Room.Config, f.Domain).Archive {
			continue
		}
		if l != nil && len(l.RoomHistory(f.Domain.FQDN, f.Room.Name)) > 0 {
			continue
		}
		rows, err := c.Env.Store.RoomArchive(ctx, store.RoomArchiveFilter{RoomID: f.Room.ID, MaxID: math.MaxInt64, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			out = append(out, f)
		}
	}
	return out, nil
}

// unusedRooms are the rooms without occupants whose last activity is
// days or more ago.
func unusedRooms(ctx context.Context, c *Call) ([]foundRoom, error) {
	rs, err := serviceRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	days := c.Args.Int("days")
	var out []foundRoom
	cut := time.Now().Add(-time.Duration(days) * 24 * time.Hour)
	for _, f := range rs {
		if len(occupantsOf(c, f)) == 0 && !f.Room.LastActive.After(cut) {
			out = append(out, f)
		}
	}
	return out, nil
}

func roomJIDs(rs []foundRoom) []string {
	out := []string{}
	for _, f := range rs {
		out = append(out, roomJID(f.Domain, f.Room.Name))
	}
	return out
}

var argRoomDays = Arg{Name: "days", Type: Int, Doc: "Days since the room was last active."}

// RoomsEmptyList is mod_muc_admin's rooms_empty_list.
var RoomsEmptyList = &Def{
	Name: "rooms_empty_list",
	Doc: "Lists the archived rooms (mam true) of the service (global: of every service of the caller's domains) " +
		"that have no message in their archive (nor in their history, for one that runs).",
	Args:   []Arg{argServiceGlobal},
	Result: Result{Kind: ResultList, Name: "rooms"},
	Names:  map[Dialect]string{Ejabberd: "rooms_empty_list"},
	Handle: roomsEmptyList,
}

func roomsEmptyList(ctx context.Context, c *Call) (any, error) {
	rs, err := emptyRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	return roomJIDs(rs), nil
}

// RoomsEmptyDestroy is mod_muc_admin's rooms_empty_destroy.
var RoomsEmptyDestroy = &Def{
	Name:    "rooms_empty_destroy",
	Doc:     "Destroys the rooms rooms_empty_list lists, applied before it answers their JIDs.",
	Args:    []Arg{argServiceGlobal},
	Result:  Result{Kind: ResultList, Name: "rooms"},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "rooms_empty_destroy"},
	Handle:  roomsEmptyDestroy,
	Apply:   applyRoomDestroy,
}

func roomsEmptyDestroy(ctx context.Context, c *Call) (any, error) {
	rs, err := emptyRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	return destroyListed(ctx, c, rs)
}

// destroyListed destroys rooms (those still there when the worker gets
// to them) and answers their JIDs.
func destroyListed(ctx context.Context, c *Call, rs []foundRoom) (any, error) {
	if len(rs) == 0 {
		return []string{}, nil
	}
	ch := roomDestroy{}
	for _, f := range rs {
		ch.Rooms = append(ch.Rooms, f.ref())
	}
	r, err := queueRoomChange(ctx, c, ch)
	if err != nil {
		return nil, err
	}
	if err := c.applyNow(ctx, r); err != nil {
		return nil, err
	}
	return roomJIDs(rs), nil
}

// RoomsUnusedList is mod_muc_admin's rooms_unused_list.
var RoomsUnusedList = &Def{
	Name: "rooms_unused_list",
	Doc: "Lists the rooms of the service (global: of every service of the caller's domains) that have no occupant " +
		"and were last active (a message or a join, recorded to the hour) days or more ago.",
	Args:   []Arg{argServiceGlobal, argRoomDays},
	Result: Result{Kind: ResultList, Name: "rooms"},
	Names:  map[Dialect]string{Ejabberd: "rooms_unused_list"},
	Handle: roomsUnusedList,
}

func roomsUnusedList(ctx context.Context, c *Call) (any, error) {
	rs, err := unusedRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	return roomJIDs(rs), nil
}

// RoomsUnusedDestroy is mod_muc_admin's rooms_unused_destroy.
var RoomsUnusedDestroy = &Def{
	Name:    "rooms_unused_destroy",
	Doc:     "Destroys the rooms rooms_unused_list lists, applied before it answers their JIDs.",
	Args:    []Arg{argServiceGlobal, argRoomDays},
	Result:  Result{Kind: ResultList, Name: "rooms"},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "rooms_unused_destroy"},
	Handle:  roomsUnusedDestroy,
	Apply:   applyRoomDestroy,
}

func roomsUnusedDestroy(ctx context.Context, c *Call) (any, error) {
	rs, err := unusedRooms(ctx, c)
	if err != nil {
		return nil, err
	}
	return destroyListed(ctx, c, rs)
}

// --- rooms files

// maxRoomsFile bounds a rooms file (a line per room).
const maxRoomsFile = 4 << 20

// ParseRoomsFile reads ejabberd's rooms file: one room JID (name@service)
// per line; blank lines are skipped. It answers the JIDs as written, or
// the number of the first line that is not a room JID.
func ParseRoomsFile(data []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxRoomsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, service, ok := strings.Cut(line, "@")
		if !ok || name == "" || service == "" || strings.ContainsRune(name, '/') || strings.ContainsAny(service, "/@") {
			return nil, fmt.Errorf("line %d is not a room JID", n)
		}
		if _, err := ParseBareJID(line); err != nil {
			return nil, fmt.Errorf("line %d is not a room JID", n)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, errors.New("a line is too long")
	}
	return out, nil
}

var argRoomsFile = Arg{Name: "file", Type: String, Path: true,
	Doc: "A file of room JIDs, one per line, relative to the caller's transfer folder (DATA/transfer/, or " +
		"DATA/transfer/<account id>/ for an account), or for the operator an absolute path inside transfer_dirs."}

// roomsFile reads the call's rooms file and resolves each room JID to a
// service of the caller's; a JID of another service fails the file.
func roomsFile(ctx context.Context, c *Call) ([]foundRoom, error) {
	path, _, shown, err := transferPath(c, "file")
	if err != nil {
		return nil, err
	}
	if err := existingFile(path, shown, "file"); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() > maxRoomsFile {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s is larger than %d bytes", shown, maxRoomsFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s cannot be read", shown)
	}
	jids, err := ParseRoomsFile(data)
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s: %v", shown, err)
	}
	var out []foundRoom
	for _, j := range jids {
		name, service, _ := strings.Cut(j, "@")
		d, found, err := serviceDomain(ctx, c, service)
		if err != nil {
			return nil, err
		}
		n, ok := roomName(name)
		if !found || !ok {
			return nil, Errorf(Invalid, ReasonBadFile, "file", "%s: %s is not a room of this account's MUC services", shown, j)
		}
		r, err := c.Env.Store.Room(ctx, d.ID, n)
		if errors.Is(err, store.ErrNotFound) {
			r, err = store.Room{Name: n}, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, foundRoom{Domain: d, Room: r})
	}
	return out, nil
}

// CreateRoomsFile is mod_muc_admin's create_rooms_file.
var CreateRoomsFile = &Def{
	Name: "create_rooms_file",
	Doc: "Creates the rooms a file names (one room JID per line, of the caller's MUC services) with the default " +
		"configuration, those that do not exist yet, applied before it answers 0 (ejabberd creates them at its next " +
		"start). A line that is not a room JID of the caller's fails the whole file.",
	Args:    []Arg{argRoomsFile},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "create_rooms_file"},
	Handle:  createRoomsFile,
	Apply:   applyRoomCreate,
}

func createRoomsFile(ctx context.Context, c *Call) (any, error) {
	rs, err := roomsFile(ctx, c)
	if err != nil {
		return nil, err
	}
	ch := roomCreate{}
	seen := map[roomRef]bool{}
	for _, f := range rs {
		ref := f.ref()
		if f.Room.ID != 0 || seen[ref] {
			continue
		}
		seen[ref] = true
		ch.Rooms = append(ch.Rooms, newRoom{roomRef: ref, Config: newRoomConfig(f.Domain).Encode()})
	}
	if len(ch.Rooms) == 0 {
		return StatusOK, nil
	}
	return queueRoomChange(ctx, c, ch)
}

// DestroyRoomsFile is mod_muc_admin's destroy_rooms_file.
var DestroyRoomsFile = &Def{
	Name: "destroy_rooms_file",
	Doc: "Destroys the rooms a file names (one room JID per line), applied before it answers 0. A room that does not " +
		"exist answers \"" + msgNoRoom + "\" with none destroyed.",
	Args:    []Arg{argRoomsFile},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "destroy_rooms_file"},
	Handle:  destroyRoomsFile,
	Apply:   applyRoomDestroy,
}

func destroyRoomsFile(ctx context.Context, c *Call) (any, error) {
	rs, err := roomsFile(ctx, c)
	if err != nil {
		return nil, err
	}
	ch := roomDestroy{Missing: msgNoRoom}
	seen := map[roomRef]bool{}
	for _, f := range rs {
		if f.Room.ID == 0 {
			return nil, noRoom(msgNoRoom)
		}
		if ref := f.ref(); !seen[ref] {
			seen[ref] = true
			ch.Rooms = append(ch.Rooms, ref)
		}
	}
	if len(ch.Rooms) == 0 {
		return StatusOK, nil
	}
	return queueRoomChange(ctx, c, ch)
}
