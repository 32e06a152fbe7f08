-- Openfire REST groups (GET/POST/PUT/DELETE /groups, docs/openfire.md): a
-- group's members are plain members or admins. The description is 0010's;
-- show_in_roster stays the "shared" switch (nobody = not shared).
ALTER TABLE shared_group_members ADD COLUMN admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1));
