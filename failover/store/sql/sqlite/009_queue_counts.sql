-- How many deliveries are pending, kept by triggers in the transaction that changes a state,
-- so the status API and the dashboard read one row instead of counting every queued
-- delivery (100,000 posts scheduled ahead made GET /api/v1/status 34 times slower). SQLite
-- has one writer at a time, so the single counter row costs no contention. PostgreSQL counts
-- from its partial index instead (a hot row there would serialise the daemons' commits).
CREATE TABLE queue_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO queue_counts (state, n)
VALUES ('pending', (SELECT count(*) FROM deliveries WHERE state = 'pending'));

CREATE TRIGGER queue_counts_insert AFTER INSERT ON deliveries
WHEN new.state = 'pending'
BEGIN
    UPDATE queue_counts SET n = n + 1 WHERE state = 'pending';
END;

CREATE TRIGGER queue_counts_update AFTER UPDATE OF state ON deliveries
WHEN (old.state = 'pending') <> (new.state = 'pending')
BEGIN
    UPDATE queue_counts SET n = n + (CASE WHEN new.state = 'pending' THEN 1 ELSE -1 END)
    WHERE state = 'pending';
END;

CREATE TRIGGER queue_counts_delete AFTER DELETE ON deliveries
WHEN old.state = 'pending'
BEGIN
    UPDATE queue_counts SET n = n - 1 WHERE state = 'pending';
END;
