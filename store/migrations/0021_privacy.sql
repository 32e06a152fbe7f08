-- XEP-0016 privacy lists: a user's named lists, each its serialised
-- <list/> element (the XMPP server parses it), one of them possibly the
-- user's default list. They go with their user (ON DELETE CASCADE).
CREATE TABLE privacy_lists (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    list       BLOB    NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    PRIMARY KEY (user_id, name)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX privacy_lists_default ON privacy_lists(user_id) WHERE is_default = 1;
