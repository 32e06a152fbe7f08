-- OAuth for the ejabberd admin API dialect (docs/ejabberd.md, "OAuth"):
-- bearer tokens issued by oauth_issue_token or POST /oauth/token, and the
-- OAuth clients registered by oauth_add_client_password/_implicit.

-- A token is kept only as the SHA-256 of its text, so a copy of the
-- database lets nobody call the API. It goes with its user (the JID it
-- acts as) and is seen by the callers of account_id (the account of the
-- user's domain). expires is Unix time in milliseconds: the token is valid
-- while the store clock is before it.
CREATE TABLE oauth_tokens (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    jid        TEXT    NOT NULL,
    scopes     TEXT    NOT NULL CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    expires    INTEGER NOT NULL,
    created    TEXT    NOT NULL
) STRICT;

CREATE INDEX oauth_tokens_account ON oauth_tokens(account_id, expires);
CREATE INDEX oauth_tokens_user ON oauth_tokens(user_id);

-- An OAuth client of an account: a password-grant client has a secret,
-- sealed with the data directory's key (store/sealbox) so /oauth/token can
-- compare it; an implicit-grant client has a redirect URI.
CREATE TABLE oauth_clients (
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    grant_type    TEXT    NOT NULL CHECK (grant_type IN ('password', 'implicit')),
    secret_sealed BLOB,
    redirect_uri  TEXT,
    updated       TEXT    NOT NULL,
    PRIMARY KEY (account_id, client_id),
    CHECK ((grant_type = 'password') = (secret_sealed IS NOT NULL))
) STRICT;
