-- The server's operator: an account whose admins may call server-wide
-- commands (stop, backup, set_loglevel …) that act beyond their own tenants.
-- The bootstrap account is one; `xmppgate account add --operator` makes more.
ALTER TABLE accounts ADD COLUMN operator INTEGER NOT NULL DEFAULT 0 CHECK (operator IN (0, 1));

-- Data directories made before this migration: the bootstrap account.
UPDATE accounts SET operator = 1 WHERE name = 'admin' AND parent_id IS NULL;
