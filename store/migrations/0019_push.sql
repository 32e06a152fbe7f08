-- XEP-0357 push registrations: the app server (jid, node) a user's client
-- enabled, with the publish-options form to send along (the serialised
-- <x xmlns='jabber:x:data'/>, or empty). They go with their user (ON
-- DELETE CASCADE); created is what delete_old_push_sessions ages by.
CREATE TABLE push_sessions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    jid     TEXT    NOT NULL,
    node    TEXT    NOT NULL,
    options BLOB    NOT NULL,
    created TEXT    NOT NULL,
    PRIMARY KEY (user_id, jid, node)
) STRICT, WITHOUT ROWID;

CREATE INDEX push_sessions_created ON push_sessions(created);
