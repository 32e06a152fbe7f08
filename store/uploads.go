package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Upload is one XEP-0363 slot: the file a user announced, and once the PUT
// arrived, the file held under the data directory.
type Upload struct {
	ID          string
	UserID      int64
	Filename    string
	Size        int64
	ContentType string
	// TokenHash is SHA-256 of the PUT's bearer token; the token itself is
	// only ever in the slot answer.
	TokenHash []byte
	Created   time.Time
	PutBy     time.Time
	Uploaded  time.Time // zero until the PUT completed
	Expires   time.Time // zero: never
}

// ErrQuota is returned when a slot would take a user over their quota.
var ErrQuota = errors.New("store: upload quota exceeded")

const uploadCols = `id, user_id, filename, size, content_type, token_hash, created, put_by, uploaded, expires`

func scanUpload(row rowScanner) (Upload, error) {
	var u Upload
	var created, putBy, uploaded, expires sql.NullString
	if err := row.Scan(&u.ID, &u.UserID, &u.Filename, &u.Size, &u.ContentType, &u.TokenHash, &created, &putBy, &uploaded, &expires); err != nil {
		return u, err
	}
	u.Created, u.PutBy, u.Uploaded, u.Expires = parseTime(created), parseTime(putBy), parseTime(uploaded), parseTime(expires)
	return u, nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(TimeLayout)
}

// UploadUsage is the bytes a user's uploads hold or have reserved: stored
// files and slots that may still be used.
func (r Reader) UploadUsage(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := r.q.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM uploads
		WHERE user_id = ? AND (uploaded IS NOT NULL OR put_by >= ?)`, userID, r.stamp()).Scan(&n)
	return n, err
}

// ReserveUpload records a new slot unless it would take its user over
// quota bytes (quota <= 0: no quota); the check and the insert are one
// transaction, so two slot requests cannot both squeeze under the quota.
func (t *Tx) ReserveUpload(ctx context.Context, u Upload, quota int64) error {
	if quota > 0 {
		used, err := t.UploadUsage(ctx, u.UserID)
		if err != nil {
			return err
		}
		if used+u.Size > quota {
			return ErrQuota
		}
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
		u.ID, u.UserID, u.Filename, u.Size, u.ContentType, u.TokenHash, t.stamp(), nullTime(u.PutBy), nullTime(u.Expires))
	return constraintErr(err)
}

// Upload returns the slot id.
func (r Reader) Upload(ctx context.Context, id string) (Upload, error) {
	u, err := scanUpload(r.q.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	return u, err
}

// MarkUploaded records that slot id's file is complete. It fails with
// ErrNotFound when the slot is gone, lapsed or already used: a slot takes
// one PUT.
func (t *Tx) MarkUploaded(ctx context.Context, id string) error {
	now := t.stamp()
	return mustAffect(t.q.ExecContext(ctx, `UPDATE uploads SET uploaded = ? WHERE id = ? AND uploaded IS NULL AND put_by >= ?`, now, id, now))
}

// ExpireUploads deletes the slots that expired and the unused ones that
// lapsed; their ids go to the trash for the files to follow.
func (t *Tx) ExpireUploads(ctx context.Context) (int64, error) {
	now := t.stamp()
	res, err := t.q.ExecContext(ctx, `DELETE FROM uploads WHERE (expires IS NOT NULL AND expires < ?) OR (uploaded IS NULL AND put_by < ?)`, now, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// UploadTrash returns up to limit ids of deleted slots whose files may
// still be on disk.
func (r Reader) UploadTrash(ctx context.Context, limit int) ([]string, error) {
	return r.stringColumn(ctx, `SELECT id FROM upload_trash LIMIT ?`, limit)
}

// ForgetUploadTrash drops ids from the trash once their files are gone.
func (t *Tx) ForgetUploadTrash(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := t.q.ExecContext(ctx, `DELETE FROM upload_trash WHERE id = ?`, id); err != nil {
			return err
		}
	}
	return nil
}
