-- SQLite migration 0031: the SCRAM keys derived ahead for a queued change.
ALTER TABLE changes ADD COLUMN derived BYTEA;
