-- XEP-0363 HTTP File Upload: one row per slot handed out. The file itself
-- is under DATA/upload/; a row that goes (expiry, its user deleted by
-- cascade) leaves its id in upload_trash so the sweeper removes the file
-- too: SQL cannot delete files, and a cascade must not be missed.
CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    created      TEXT NOT NULL,
    put_by       TEXT NOT NULL,  -- an unused slot lapses then
    uploaded     TEXT,
    expires      TEXT            -- NULL: kept until its user goes
);
CREATE INDEX uploads_user ON uploads (user_id);
CREATE INDEX uploads_expires ON uploads (expires) WHERE expires IS NOT NULL;
CREATE INDEX uploads_unused ON uploads (put_by) WHERE uploaded IS NULL;

CREATE TABLE upload_trash (id TEXT PRIMARY KEY);
CREATE TRIGGER uploads_trash AFTER DELETE ON uploads
BEGIN
    INSERT OR IGNORE INTO upload_trash (id) VALUES (old.id);
END;
