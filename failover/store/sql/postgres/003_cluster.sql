-- Cluster membership and the leader lease (one row). Expiry times come from the database's
-- clock, so daemons on hosts with skewed clocks still agree on who leads.
CREATE TABLE nodes (
    node       TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at    DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    info       TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE leader (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    node       TEXT    NOT NULL,
    epoch      BIGINT  NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
