-- SQLite migration 0030: the node table and which node claimed a batch.
CREATE TABLE nodes (
    name        TEXT    PRIMARY KEY,
    incarnation TEXT    NOT NULL,
    started     TEXT    NOT NULL,
    heartbeat   BIGINT  NOT NULL,
    lease_until BIGINT  NOT NULL,
    addrs       TEXT    NOT NULL DEFAULT '{}',
    leaving     BIGINT  NOT NULL DEFAULT 0 CHECK (leaving IN (0, 1))
);

ALTER TABLE batches ADD COLUMN claimed_by TEXT;
