-- XEP-0163 Personal Eventing: the pubsub nodes of a user's account (bare JID)
-- and their items. Both go with the user (ON DELETE CASCADE).

-- config is the node configuration as a JSON object (xmppcore/pubsub owns
-- its fields). The two the store enforces are columns: max_items (0: items
-- are not kept, pubsub#persist_items false) and item_expire (seconds; 0:
-- items never expire).
CREATE TABLE pubsub_nodes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    config      TEXT    NOT NULL DEFAULT '{}',
    max_items   INTEGER NOT NULL CHECK (max_items >= 0),
    item_expire INTEGER NOT NULL DEFAULT 0 CHECK (item_expire >= 0),
    created     TEXT    NOT NULL,
    UNIQUE (user_id, node)
) STRICT;

-- Items in publication order: a republished item id gets a new row id, so
-- the highest id is the last published item.
CREATE TABLE pubsub_items (
    id        INTEGER PRIMARY KEY,
    node_id   INTEGER NOT NULL REFERENCES pubsub_nodes(id) ON DELETE CASCADE,
    item_id   TEXT    NOT NULL,
    payload   BLOB    NOT NULL,
    publisher TEXT    NOT NULL,
    published TEXT    NOT NULL,
    UNIQUE (node_id, item_id)
) STRICT;

CREATE INDEX pubsub_items_order ON pubsub_items(node_id, id);
CREATE INDEX pubsub_items_published ON pubsub_items(published);
