-- XEP-0045 multi-user chat: the rooms of each domain's service
-- (conference.<domain>) that outlive their occupants (persistent rooms, and
-- temporary rooms while a command or a client keeps them), their
-- affiliations, the nicknames registered with a service, and ejabberd's
-- MUC/Sub subscriptions. Occupants and roles live in memory only.
--
-- Affiliations, nicknames and subscriptions name bare JIDs as text, not
-- users: a room may make anyone on any server a member or an outcast, as
-- every MUC service does. Everything goes with its room, and rooms with
-- their domain.

-- config is the room's configuration as xmppcore/muc encodes it (JSON);
-- subject and subject_by (the nickname that set it) the last subject;
-- last_active when someone last spoke or joined, coarse (the service
-- writes it at most once an hour per room), for rooms_unused_list.
CREATE TABLE muc_rooms (
    id          INTEGER PRIMARY KEY,
    domain_id   INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL, -- the room JID's localpart
    config      TEXT    NOT NULL DEFAULT '{}',
    subject     TEXT    NOT NULL DEFAULT '',
    subject_by  TEXT    NOT NULL DEFAULT '',
    created     TEXT    NOT NULL,
    last_active TEXT    NOT NULL,
    UNIQUE (domain_id, name)
) STRICT;

-- affiliation: owner, admin, member or outcast (none is no row).
CREATE TABLE muc_affiliations (
    room_id     INTEGER NOT NULL REFERENCES muc_rooms(id) ON DELETE CASCADE,
    jid         TEXT    NOT NULL, -- bare JID, or a server's JID
    affiliation TEXT    NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
    reason      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, jid)
) STRICT;

CREATE INDEX muc_affiliations_jid ON muc_affiliations(jid);

-- Nicknames registered with a domain's service (XEP-0045 7.10,
-- muc_register_nick): one per JID, and a nickname belongs to one JID.
CREATE TABLE muc_nicks (
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    jid       TEXT    NOT NULL,
    nick      TEXT    NOT NULL,
    PRIMARY KEY (domain_id, jid),
    UNIQUE (domain_id, nick)
) STRICT;

-- ejabberd's MUC/Sub: jid receives the events of nodes (a JSON array of
-- urn:xmpp:mucsub:nodes:* names) of the room under nick, online or not.
CREATE TABLE muc_subscriptions (
    room_id INTEGER NOT NULL REFERENCES muc_rooms(id) ON DELETE CASCADE,
    jid     TEXT    NOT NULL,
    nick    TEXT    NOT NULL,
    nodes   TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (room_id, jid)
) STRICT;

CREATE INDEX muc_subscriptions_jid ON muc_subscriptions(jid);
