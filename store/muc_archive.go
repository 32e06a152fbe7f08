package store

import (
	"context"
)

// The archive of MUC rooms (migration 0024): what each room broadcast,
// once per message.

// RoomArchiveRow is one archived groupchat message of a room.
type RoomArchiveRow struct {
	ID     int64 // microseconds since the epoch, unique
	RoomID int64
	Nick   string
	Sender string // the sender's real bare JID
	Stanza []byte
}

// RoomArchiveFilter selects a room's archived messages.
type RoomArchiveFilter struct {
	RoomID       int64
	MinID, MaxID int64
	Nick         string // "" matches all
	IDs          []int64
	Limit        int
	Last         bool // the last Limit rows (still returned in ascending order)
}

// A SELECT list's placeholders have no type PostgreSQL can infer: it is spelled out.
const (
	qInsertRoomArchive = `INSERT INTO muc_archive (id, room_id, nick, sender, stanza)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM muc_rooms WHERE id = ?)`
	qInsertRoomArchivePG = `INSERT INTO muc_archive (id, room_id, nick, sender, stanza)
			SELECT ?::bigint, ?::bigint, ?::text, ?::text, ?::bytea WHERE EXISTS (SELECT 1 FROM muc_rooms WHERE id = ?)`
)

// InsertRoomArchive stores rows with their IDs. A row whose room is gone
// meanwhile is skipped, not an error: the room and its archive went together.
func (t *Tx) InsertRoomArchive(ctx context.Context, rows []RoomArchiveRow) error {
	for _, r := range rows {
		if _, err := t.q.ExecContext(ctx, t.pick(qInsertRoomArchive, qInsertRoomArchivePG),
			r.ID, r.RoomID, r.Nick, r.Sender, r.Stanza, r.RoomID); err != nil {
			return err
		}
	}
	return nil
}

func scanRoomArchive(row rowScanner) (RoomArchiveRow, error) {
	var r RoomArchiveRow
	err := row.Scan(&r.ID, &r.RoomID, &r.Nick, &r.Sender, &r.Stanza)
	return r, err
}

// RoomArchive returns a room's archived messages in ascending ID order.
func (r Reader) RoomArchive(ctx context.Context, f RoomArchiveFilter) ([]RoomArchiveRow, error) {
	q := `SELECT id, room_id, nick, sender, stanza FROM muc_archive WHERE room_id = ? AND id BETWEEN ? AND ?`
	args := []any{f.RoomID, f.MinID, f.MaxID}
	if f.Nick != "" {
		q += ` AND nick = ?`
		args = append(args, f.Nick)
	}
	if f.IDs != nil {
		q += ` AND id IN (SELECT value FROM json_each(?))`
		args = append(args, idList(f.IDs))
	}
	if f.Last {
		q += ` ORDER BY id DESC LIMIT ?`
	} else {
		q += ` ORDER BY id LIMIT ?`
	}
	args = append(args, f.Limit)
	rows, err := queryAll(ctx, r.q, scanRoomArchive, q, args...)
	if f.Last {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	return rows, err
}

// RoomArchiveHas reports whether a room's archive holds id.
func (r Reader) RoomArchiveHas(ctx context.Context, roomID, id int64) (bool, error) {
	var one int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM muc_archive WHERE room_id = ? AND id = ?`, roomID, id).Scan(&one)
	return one > 0, err
}

// RoomArchiveMaxID is the highest archive ID of any room (0 if none).
func (r Reader) RoomArchiveMaxID(ctx context.Context) (int64, error) {
	var id int64
	err := r.q.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM muc_archive`).Scan(&id)
	return id, err
}

// DeleteOldRoomArchive deletes the archived messages below beforeID of
// the rooms of a domain (modMam's retention).
func (t *Tx) DeleteOldRoomArchive(ctx context.Context, domainID, beforeID int64) (int64, error) {
	return affected(t.q.ExecContext(ctx, `DELETE FROM muc_archive WHERE id < ? AND room_id IN (SELECT id FROM muc_rooms WHERE domain_id = ?)`,
		beforeID, domainID))
}
