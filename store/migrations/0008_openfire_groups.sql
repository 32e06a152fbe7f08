-- Openfire REST groups (GET/POST/PUT/DELETE /groups, docs/openfire.md): a
-- group has a description, and its members are plain members or admins.
-- show_in_roster stays the "shared" switch (nobody = not shared).
ALTER TABLE shared_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE shared_group_members ADD COLUMN admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1));
