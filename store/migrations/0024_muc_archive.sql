-- XEP-0313 archive of MUC rooms: one row per groupchat message a room
-- broadcast (not one per occupant). id is the room's stanza-id and
-- archive ID, a microsecond timestamp like the users' archive's (its
-- time is the message's). nick is the sender's occupant nickname (the
-- MAM "with" of a room archive is room/nick); sender its real bare JID,
-- for a non-anonymous room's moderators and for erasure.
CREATE TABLE muc_archive (
    id      INTEGER PRIMARY KEY,
    room_id INTEGER NOT NULL REFERENCES muc_rooms(id) ON DELETE CASCADE,
    nick    TEXT    NOT NULL,
    sender  TEXT    NOT NULL,
    stanza  BLOB    NOT NULL
) STRICT;

CREATE INDEX muc_archive_room ON muc_archive(room_id, id);
