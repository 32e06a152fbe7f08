-- The spine: tenants, their credentials and domains, users, the service queue.
-- Times are UTC text 'YYYY-MM-DD HH:MM:SS' (what services-progress shows).

CREATE TABLE accounts (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL UNIQUE,
    parent_id INTEGER REFERENCES accounts(id),
    created   TEXT    NOT NULL
) STRICT;

-- DreamHost-style API keys. The key itself is kept sealed (api-list_keys shows it);
-- lookups go through its SHA-256 so no query ever compares secrets.
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    key_hash   BLOB    NOT NULL UNIQUE,
    key_sealed BLOB    NOT NULL,
    cmds       TEXT    NOT NULL,
    ip_allow   TEXT    NOT NULL DEFAULT '',
    comment    TEXT    NOT NULL DEFAULT '',
    created    TEXT    NOT NULL
) STRICT;

CREATE TABLE domains (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    fqdn       TEXT    NOT NULL UNIQUE,
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    settings   TEXT    NOT NULL DEFAULT '{}',
    created    TEXT    NOT NULL
) STRICT;

CREATE INDEX domains_account ON domains(account_id);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    domain_id       INTEGER NOT NULL REFERENCES domains(id),
    username        TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN
                        ('active', 'inactive', 'pending-active', 'pending-inactive', 'pending-delete')),
    -- SCRAM credentials (RFC 5802); NULL until the worker has derived them.
    iterations      INTEGER NOT NULL DEFAULT 0,
    salt            BLOB,
    sha1_stored     BLOB,
    sha1_server     BLOB,
    sha256_stored   BLOB,
    sha256_server   BLOB,
    -- AES-GCM copy of the password for jabber-list_users; NULL if never known.
    password_sealed BLOB,
    name            TEXT    NOT NULL DEFAULT '',
    email           TEXT    NOT NULL DEFAULT '',
    created         TEXT    NOT NULL,
    UNIQUE (domain_id, username)
) STRICT;

CREATE TABLE batches (
    id         INTEGER PRIMARY KEY,
    token      TEXT    NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    status     TEXT    NOT NULL CHECK (status IN ('waiting', 'running', 'success', 'failure')),
    scheduled  TEXT    NOT NULL,
    executed   TEXT,
    finished   TEXT,
    CONSTRAINT executed_when_started CHECK ((status = 'waiting') = (executed IS NULL)),
    CONSTRAINT finished_when_final CHECK ((status IN ('success', 'failure')) = (finished IS NOT NULL))
) STRICT;

-- At most one open batch per account: that is what makes the token shared.
CREATE UNIQUE INDEX batches_one_waiting ON batches(account_id) WHERE status = 'waiting';
CREATE INDEX batches_status ON batches(status, id);

CREATE TABLE changes (
    id       INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    command  TEXT    NOT NULL,
    user_id  INTEGER,
    args     TEXT    NOT NULL DEFAULT '{}',
    status   TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'failed')),
    error    TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX changes_batch ON changes(batch_id, id);

-- unique_id is an opaque byte string scoped to one key; a row exists only after success.
CREATE TABLE unique_ids (
    key_id    INTEGER NOT NULL REFERENCES api_keys(id),
    unique_id BLOB    NOT NULL,
    used      TEXT    NOT NULL,
    PRIMARY KEY (key_id, unique_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    time       TEXT    NOT NULL,
    account_id INTEGER,
    actor      TEXT    NOT NULL,
    command    TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT ''
) STRICT;
