-- Cluster membership and the leader lease (one row). With SQLite there is one daemon, which
-- records itself here too so `failover status` reads the same on every backend.
CREATE TABLE nodes (
    node       TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    seen_at    REAL NOT NULL,
    expires_at REAL NOT NULL,
    info       TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE leader (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    node       TEXT    NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at REAL    NOT NULL
);
