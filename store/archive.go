package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
)

// The XEP-0313 message archive (migration 0016): rows written in batches by
// the XMPP server's archive writer, read page by page by its queries, and
// deleted by retention and the ejabberd MAM purge commands. An archive ID
// is the archiving time in microseconds, so "before a time" is "below an
// ID" everywhere here.

// ArchiveRow is one archived message of one user.
type ArchiveRow struct {
	ID     int64
	UserID int64
	// Peer is the other party's bare JID, Resource its resource ("" none).
	Peer, Resource string
	// Stanza is the serialised <message/>.
	Stanza []byte
}

// ArchiveFilter selects a page of one user's archive. IDs are bounds
// inclusive at both ends; the caller turns start/end times and exclusive
// before/after IDs into them.
type ArchiveFilter struct {
	UserID       int64
	MinID, MaxID int64
	// Peer ("" any) and Resource ("" any resource of Peer).
	Peer, Resource string
	// IDs, when not nil, keeps only these archive IDs.
	IDs []int64
	// Limit is how many rows at most; Last takes them from the end of the
	// range instead of its start. Rows come back oldest first either way.
	Limit int
	Last  bool
}

const insertArchiveChunk = 64

const (
	qArchiveInsert1 = `INSERT INTO archive (id, user_id, peer, resource, stanza) VALUES (?, ?, ?, ?, ?)`
	qArchiveValues  = `, (?, ?, ?, ?, ?)`

	qArchiveSelect   = `SELECT id, user_id, peer, resource, stanza FROM archive WHERE user_id = ? AND id BETWEEN ? AND ?`
	qArchivePeer     = ` AND peer = ?`
	qArchiveResource = ` AND resource = ?`
	qArchiveIDs      = ` AND id IN (SELECT value FROM json_each(?))`
	qArchiveAsc      = ` ORDER BY id LIMIT ?`
	qArchiveDesc     = ` ORDER BY id DESC LIMIT ?`

	qArchiveHas   = `SELECT 1 FROM archive WHERE user_id = ? AND id = ?`
	qArchiveMaxID = `SELECT coalesce(max(id), 0) FROM archive`

	qArchiveOfDomains      = ` AND user_id IN (SELECT id FROM users WHERE domain_id IN (SELECT value FROM json_each(?)))`
	qDeleteOldArchive      = `DELETE FROM archive WHERE id < ?` + qArchiveOfDomains
	qOldArchiveIDs         = `SELECT a.id FROM users u JOIN archive a ON a.user_id = u.id WHERE u.domain_id = ? AND a.id < ? ORDER BY a.id LIMIT ?`
	qDeleteArchiveIDs      = `DELETE FROM archive WHERE id IN (SELECT value FROM json_each(?))`
	qDeleteArchiveUser     = `DELETE FROM archive WHERE user_id = ?`
	qDeleteArchiveUserPeer = `DELETE FROM archive WHERE user_id = ? AND peer = ?`

	qArchivePrefs    = `SELECT default_mode, always, never FROM archive_prefs WHERE user_id = ?`
	qSetArchivePrefs = `INSERT INTO archive_prefs (user_id, default_mode, always, never) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET default_mode = excluded.default_mode, always = excluded.always, never = excluded.never`
)

// qArchiveInsertChunk inserts insertArchiveChunk rows in one statement: one
// cgo call and one parse-free run instead of 64.
var qArchiveInsertChunk = qArchiveInsert1 + strings.Repeat(qArchiveValues, insertArchiveChunk-1)

// InsertArchive stores rows (their IDs given by the caller, unique).
func (t *Tx) InsertArchive(ctx context.Context, rows []ArchiveRow) error {
	args := make([]any, 0, 5*insertArchiveChunk)
	for len(rows) >= insertArchiveChunk {
		args = args[:0]
		for _, r := range rows[:insertArchiveChunk] {
			args = append(args, r.ID, r.UserID, r.Peer, r.Resource, r.Stanza)
		}
		if _, err := t.q.ExecContext(ctx, qArchiveInsertChunk, args...); err != nil {
			return err
		}
		rows = rows[insertArchiveChunk:]
	}
	for _, r := range rows {
		if _, err := t.q.ExecContext(ctx, qArchiveInsert1, r.ID, r.UserID, r.Peer, r.Resource, r.Stanza); err != nil {
			return err
		}
	}
	return nil
}

func scanArchive(row rowScanner) (ArchiveRow, error) {
	var r ArchiveRow
	err := row.Scan(&r.ID, &r.UserID, &r.Peer, &r.Resource, &r.Stanza)
	return r, err
}

// Archive returns the page f selects, oldest first.
func (r Reader) Archive(ctx context.Context, f ArchiveFilter) ([]ArchiveRow, error) {
	q := qArchiveSelect
	args := []any{f.UserID, f.MinID, f.MaxID}
	if f.Peer != "" {
		q += qArchivePeer
		args = append(args, f.Peer)
		if f.Resource != "" {
			q += qArchiveResource
			args = append(args, f.Resource)
		}
	}
	if f.IDs != nil {
		q += qArchiveIDs
		args = append(args, idList(f.IDs))
	}
	if f.Last {
		q += qArchiveDesc
	} else {
		q += qArchiveAsc
	}
	args = append(args, f.Limit)
	out, err := queryAll(ctx, r.q, scanArchive, q, args...)
	if f.Last {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, err
}

// ArchiveHas reports whether id is in the user's archive.
func (r Reader) ArchiveHas(ctx context.Context, userID, id int64) (bool, error) {
	var one int
	err := r.q.QueryRowContext(ctx, qArchiveHas, userID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ArchiveMaxID is the highest archive ID stored (0 when empty): the
// server's IDs continue above it even if the clock went back.
func (r Reader) ArchiveMaxID(ctx context.Context) (int64, error) {
	var id int64
	err := r.q.QueryRowContext(ctx, qArchiveMaxID).Scan(&id)
	return id, err
}

// DeleteOldArchive deletes the archived messages below beforeID of the
// users of domains; it returns how many.
func (t *Tx) DeleteOldArchive(ctx context.Context, domainIDs []int64, beforeID int64) (int64, error) {
	return affected(t.q.ExecContext(ctx, qDeleteOldArchive, beforeID, idList(domainIDs)))
}

// OldArchiveIDs returns up to limit IDs below beforeID of the users of one
// domain, oldest first: one batch of a paced purge.
func (r Reader) OldArchiveIDs(ctx context.Context, domainID, beforeID int64, limit int) ([]int64, error) {
	return queryAll(ctx, r.q, scanColumn[int64], qOldArchiveIDs, domainID, beforeID, limit)
}

// DeleteArchiveIDs deletes the archived messages ids; it returns how many.
func (t *Tx) DeleteArchiveIDs(ctx context.Context, ids []int64) (int64, error) {
	return affected(t.q.ExecContext(ctx, qDeleteArchiveIDs, idList(ids)))
}

// DeleteUserArchive deletes a user's archive, or only the messages
// exchanged with peer (a bare JID) when it is not ""; it returns how many.
func (t *Tx) DeleteUserArchive(ctx context.Context, userID int64, peer string) (int64, error) {
	if peer == "" {
		return affected(t.q.ExecContext(ctx, qDeleteArchiveUser, userID))
	}
	return affected(t.q.ExecContext(ctx, qDeleteArchiveUserPeer, userID, peer))
}

func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ArchivePrefs are a user's XEP-0313 preferences: Default is "always",
// "never" or "roster"; Always and Never list JIDs.
type ArchivePrefs struct {
	Default       string
	Always, Never []string
}

// ArchivePrefs returns the user's preferences, ErrNotFound if never set.
func (r Reader) ArchivePrefs(ctx context.Context, userID int64) (ArchivePrefs, error) {
	var p ArchivePrefs
	var always, never string
	err := r.q.QueryRowContext(ctx, qArchivePrefs, userID).Scan(&p.Default, &always, &never)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(always), &p.Always); err != nil {
		return p, err
	}
	return p, json.Unmarshal([]byte(never), &p.Never)
}

// SetArchivePrefs replaces the user's preferences.
func (t *Tx) SetArchivePrefs(ctx context.Context, userID int64, p ArchivePrefs) error {
	always, err := json.Marshal(append([]string{}, p.Always...))
	if err != nil {
		return err
	}
	never, err := json.Marshal(append([]string{}, p.Never...))
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, qSetArchivePrefs, userID, p.Default, string(always), string(never))
	return err
}
