-- Hosted-XMPP REST API (chatwith.it style, docs/rest.md): the account's API
-- password and the per-user ACL flags. Domain settings live in
-- domains.settings (the REST domain object's writable fields).

-- One API password per account (HTTP Basic: account name + this password).
-- It is kept as a salted PBKDF2-SHA-256 SCRAM key (store/credential), checked
-- in constant time; the sealed copy only lets bootstrap.json be rewritten.
CREATE TABLE rest_credentials (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    salt            BLOB    NOT NULL,
    iterations      INTEGER NOT NULL CHECK (iterations > 0),
    stored_key      BLOB    NOT NULL,
    password_sealed BLOB    NOT NULL,
    updated         TEXT    NOT NULL
) STRICT;

-- The user ACL resource: a JSON object of flag name -> boolean; absent = defaults.
CREATE TABLE rest_user_acls (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    acl     TEXT    NOT NULL CHECK (json_valid(acl) AND json_type(acl) = 'object'),
    updated TEXT    NOT NULL
) STRICT;
