-- The nodes sharing this store (issue #17): each serving process keeps a
-- row alive with a lease, and a batch records which node claimed it, so
-- crash recovery takes only the batches of this node or of a dead one.
-- SQLite serves one node, but keeps the same table and column.
CREATE TABLE nodes (
    name        TEXT    PRIMARY KEY,
    -- incarnation is random per process start: a renewal that finds
    -- another one knows a newer process of the same name took over.
    incarnation TEXT    NOT NULL,
    started     TEXT    NOT NULL,
    -- heartbeat and lease_until are Unix milliseconds of the database's
    -- clock (see nodes.go); the node is dead once lease_until has passed.
    heartbeat   INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    addrs       TEXT    NOT NULL DEFAULT '{}',
    leaving     INTEGER NOT NULL DEFAULT 0 CHECK (leaving IN (0, 1))
) STRICT;

ALTER TABLE batches ADD COLUMN claimed_by TEXT;
