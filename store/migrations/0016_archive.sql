-- XEP-0313 message archive: one row per message per local user who sent
-- or received it. id is the archive ID the user sees (XEP-0359 stanza-id):
-- the archiving time in microseconds since the epoch, bumped by the server
-- to stay unique, so "ordered by id" is "ordered by time" and a start/end
-- filter is an id range. Rows go with their user.
CREATE TABLE archive (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer     TEXT    NOT NULL, -- the other party's bare JID
    resource TEXT    NOT NULL, -- and its resource ('' when it had none)
    stanza   BLOB    NOT NULL  -- the <message/> as routed, without stanza-id
) STRICT;

-- A user's archive by time (the last page, start/end). peer rides in the
-- index so a with filter (and remove_mam_for_user_with_peer) reads the
-- index alone, fetching only the rows it returns: a second index by
-- correspondent cost every archived message as much again as this one
-- (bench-peers: archive-on 0.35x the archive-off rate with it, 0.55x
-- without), for queries that stay index-only scans without it.
CREATE INDEX archive_user ON archive(user_id, id, peer);

-- XEP-0313 preferences; a user without a row archives everything.
CREATE TABLE archive_prefs (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    default_mode TEXT    NOT NULL CHECK (default_mode IN ('always', 'never', 'roster')),
    always       TEXT    NOT NULL, -- JSON array of JIDs
    never        TEXT    NOT NULL  -- JSON array of JIDs
) STRICT;
