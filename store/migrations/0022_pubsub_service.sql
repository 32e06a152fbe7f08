-- XEP-0060 publish-subscribe service at pubsub.<domain>: nodes of a domain,
-- their items, affiliations and subscriptions. Nodes go with their domain;
-- affiliations and subscriptions with their user, and a node whose last
-- owner goes goes too (trigger below): nobody could configure or delete it.

-- config, max_items and item_expire as in pubsub_nodes (0017).
CREATE TABLE pubsub_service_nodes (
    id          INTEGER PRIMARY KEY,
    domain_id   INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    node        TEXT    NOT NULL,
    config      TEXT    NOT NULL DEFAULT '{}',
    max_items   INTEGER NOT NULL CHECK (max_items >= 0),
    item_expire INTEGER NOT NULL DEFAULT 0 CHECK (item_expire >= 0),
    created     TEXT    NOT NULL,
    UNIQUE (domain_id, node)
) STRICT;

CREATE TABLE pubsub_service_items (
    id        INTEGER PRIMARY KEY,
    node_id   INTEGER NOT NULL REFERENCES pubsub_service_nodes(id) ON DELETE CASCADE,
    item_id   TEXT    NOT NULL,
    payload   BLOB    NOT NULL,
    publisher TEXT    NOT NULL,
    published TEXT    NOT NULL,
    UNIQUE (node_id, item_id)
) STRICT;

CREATE INDEX pubsub_service_items_order ON pubsub_service_items(node_id, id);
CREATE INDEX pubsub_service_items_published ON pubsub_service_items(published);

-- affiliation: owner, publisher, member or outcast (none is no row).
CREATE TABLE pubsub_service_affiliations (
    node_id     INTEGER NOT NULL REFERENCES pubsub_service_nodes(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    affiliation TEXT    NOT NULL CHECK (affiliation IN ('owner', 'publisher', 'member', 'outcast')),
    PRIMARY KEY (node_id, user_id)
) STRICT;

CREATE INDEX pubsub_service_affiliations_user ON pubsub_service_affiliations(user_id);

CREATE TRIGGER pubsub_service_last_owner AFTER DELETE ON pubsub_service_affiliations
WHEN OLD.affiliation = 'owner' AND NOT EXISTS
    (SELECT 1 FROM pubsub_service_affiliations WHERE node_id = OLD.node_id AND affiliation = 'owner')
BEGIN
    DELETE FROM pubsub_service_nodes WHERE id = OLD.node_id;
END;

-- A subscription of a local user's bare or full JID (jid) to a node.
CREATE TABLE pubsub_service_subscriptions (
    node_id INTEGER NOT NULL REFERENCES pubsub_service_nodes(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    jid     TEXT    NOT NULL,
    subid   TEXT    NOT NULL,
    PRIMARY KEY (node_id, jid)
) STRICT;

CREATE INDEX pubsub_service_subscriptions_user ON pubsub_service_subscriptions(user_id);
