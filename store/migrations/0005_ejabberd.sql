-- ejabberd admin API dialect (docs/ejabberd.md): which JIDs of an account may
-- call the API with HTTP Basic, and which commands, in the spirit of
-- ejabberd's api_permissions. A row grants one bare JID, which must be a user
-- of a domain of the account (the user's password is the credential); it
-- goes with the user. what is a JSON array of patterns: "*", a command name,
-- "[tag:TAG]", each optionally prefixed with "!" to subtract.
CREATE TABLE ejabberd_api_permissions (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    what       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(what) AND json_type(what) = 'array'),
    updated    TEXT    NOT NULL
) STRICT;

CREATE INDEX ejabberd_api_permissions_account ON ejabberd_api_permissions(account_id);
