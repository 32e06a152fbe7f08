-- Openfire User Service dialect: one credential per account, and the shared
-- groups its add/update commands create on demand (docs/openfire.md).

-- The secret is looked up by its SHA-256 (so no query compares secrets), then
-- the sealed copy is opened and compared with crypto/subtle. The credential is
-- bound to one domain of the account: Openfire serves one XMPP domain, and
-- its usernames are localparts there.
CREATE TABLE openfire_credentials (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    domain_id     INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    secret_hash   BLOB    NOT NULL UNIQUE,
    secret_sealed BLOB    NOT NULL,
    -- Comma-separated client addresses, compared as exact strings ('' = any).
    ip_allow      TEXT    NOT NULL DEFAULT '',
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    updated       TEXT    NOT NULL
) STRICT;

-- Openfire groups with their sharedRoster.* properties. Names are unique per
-- domain. Showing them in members' rosters is xmppcore's work.
CREATE TABLE shared_groups (
    id             INTEGER PRIMARY KEY,
    domain_id      INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    display_name   TEXT    NOT NULL,
    show_in_roster TEXT    NOT NULL DEFAULT 'onlyGroup'
                           CHECK (show_in_roster IN ('nobody', 'onlyGroup', 'everybody')),
    group_list     TEXT    NOT NULL DEFAULT '',
    created        TEXT    NOT NULL,
    UNIQUE (domain_id, name)
) STRICT;

CREATE TABLE shared_group_members (
    group_id INTEGER NOT NULL REFERENCES shared_groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX shared_group_members_user ON shared_group_members(user_id);
