-- RFC 6121 3.4 subscription pre-approval: the user approved the
-- contact's subscription before the contact asked for it.
ALTER TABLE roster_items ADD COLUMN approved INTEGER NOT NULL DEFAULT 0;
