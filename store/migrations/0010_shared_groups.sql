-- Shared roster groups as ejabberd's mod_shared_roster knows them, over the
-- Openfire groups of 0004 (docs/shared-groups.md): one group table, read by
-- both dialects and by xmppcore, which shows the groups in members' rosters.

-- srg_create's description (Openfire groups have one too).
ALTER TABLE shared_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';

-- ejabberd's displayed_groups: a JSON array of group names of the same
-- domain whose members this group's members see. Names may name groups that
-- do not exist (yet); they are resolved when a roster is read.
ALTER TABLE shared_groups ADD COLUMN displayed TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(displayed) AND json_type(displayed) = 'array');

-- ejabberd's @all@ member: every user of the group's domain is a member.
ALTER TABLE shared_groups ADD COLUMN all_users INTEGER NOT NULL DEFAULT 0 CHECK (all_users IN (0, 1));
