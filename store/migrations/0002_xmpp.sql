-- Data of the embedded XMPP server (xmppcore). Every row hangs off a user and
-- goes with them (ON DELETE CASCADE). JIDs are stored bare and normalised.

-- RFC 6121 roster items with their subscription state. visible = 0 marks a row
-- that only records an incoming subscription request ("None + Pending In")
-- for a contact the user has not put into the roster.
CREATE TABLE roster_items (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact      TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    subscription TEXT    NOT NULL DEFAULT 'none' CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask          INTEGER NOT NULL DEFAULT 0 CHECK (ask IN (0, 1)),
    pending_in   INTEGER NOT NULL DEFAULT 0 CHECK (pending_in IN (0, 1)),
    visible      INTEGER NOT NULL DEFAULT 1 CHECK (visible IN (0, 1)),
    groups       TEXT    NOT NULL DEFAULT '[]',
    ver          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, contact)
) STRICT, WITHOUT ROWID;

-- The roster version (RFC 6121 2.6): bumped on every change of a user's roster.
CREATE TABLE roster_versions (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    ver     INTEGER NOT NULL
) STRICT;

-- Messages kept for users without an available resource (XEP-0160).
CREATE TABLE offline_messages (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sender  TEXT    NOT NULL,
    created TEXT    NOT NULL,
    stanza  BLOB    NOT NULL
) STRICT;

CREATE INDEX offline_messages_user ON offline_messages(user_id, id);

-- vcard-temp (XEP-0054): the serialised <vCard/> element.
CREATE TABLE vcards (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    vcard   BLOB    NOT NULL,
    updated TEXT    NOT NULL
) STRICT;

-- Private XML storage (XEP-0049): one serialised element per namespace.
CREATE TABLE private_storage (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ns      TEXT    NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (user_id, ns)
) STRICT, WITHOUT ROWID;

-- Last activity (XEP-0012): when the last session ended, and its status text.
CREATE TABLE last_activity (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    seen    TEXT    NOT NULL,
    status  TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Blocking command (XEP-0191): blocked JIDs (bare, full or domain).
CREATE TABLE blocklist (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    jid     TEXT    NOT NULL,
    PRIMARY KEY (user_id, jid)
) STRICT, WITHOUT ROWID;
