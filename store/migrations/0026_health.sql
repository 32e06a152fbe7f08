-- One row the readiness probe (GET /readyz) rewrites: a write that
-- commits proves the database file and its WAL can be written.
CREATE TABLE health (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    checked TEXT    NOT NULL
) STRICT;
