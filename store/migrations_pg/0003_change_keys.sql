-- SQLite migration 0030: the SCRAM keys derived ahead for a queued change.
ALTER TABLE changes ADD COLUMN derived BYTEA;
