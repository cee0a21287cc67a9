-- The hot path of a delivery, in as few statements as it takes (issue 15).

-- name: insert_message
-- The message alone: SQLite has no writes inside a statement, so its deliveries and events
-- follow as statements of their own (recorded = 0; see PostgreSQL's version). The new row's
-- id is known before the insert (one writer at a time: BEGIN IMMEDIATE), so a message that
-- starts its own thread points at itself in the same statement. An idempotency key already
-- used inserts nothing and returns no row. (WHERE true: SQLite reads an ON after a bare FROM
-- as a join's.)
INSERT INTO messages (id, text, title, link, images, content_warning, language, overrides, route,
                      created_by, created_at, scheduled_at, expires_at, thread_id,
                      idempotency_key, request_hash, traceparent)
SELECT n.id, :text, :title, :link, :images, :content_warning, :language, :overrides, :route,
       :created_by, :created_at, :scheduled_at, :expires_at, coalesce(:thread_id, n.id),
       :idempotency_key, :request_hash, :traceparent
FROM (SELECT coalesce((SELECT max(id) FROM messages), 0) + 1 AS id) AS n  -- max(): one index step
WHERE true
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING *, 0 AS recorded;

-- name: insert_deliveries
-- A message's deliveries, in one statement from a JSON array (channel, tier, state, due_us,
-- note), in the array's order. A due time travels as integer microseconds: SQLite does not
-- read a JSON real exactly, an integer it does, and the division gives the very double that
-- datetime.timestamp() gives.
INSERT INTO deliveries (message_id, channel, tier, state, due_at, last_error, updated_at)
SELECT :message_id, json_extract(d.value, '$.channel'), json_extract(d.value, '$.tier'),
       json_extract(d.value, '$.state'), json_extract(d.value, '$.due_us') / 1000000.0,
       json_extract(d.value, '$.note'), :now
FROM json_each(:deliveries) AS d
WHERE true
ORDER BY d.key
ON CONFLICT (message_id, channel) DO NOTHING
RETURNING *;

-- name: insert_events
-- Events in one statement from a JSON array (kind, actor, channel, message_id, delivery_id,
-- detail as JSON text), in the array's order, all at one time (at).
INSERT INTO events (at, kind, actor, channel, message_id, delivery_id, detail)
SELECT :at, json_extract(e.value, '$.kind'), json_extract(e.value, '$.actor'),
       json_extract(e.value, '$.channel'), json_extract(e.value, '$.message_id'),
       json_extract(e.value, '$.delivery_id'), json_extract(e.value, '$.detail')
FROM json_each(:events) AS e
ORDER BY e.key;

-- name: finish_delivery
-- The outcome only: SQLite has no writes inside a statement, so the attempt and the events
-- follow as statements of their own (recorded = 0; see PostgreSQL's version).
UPDATE deliveries
SET state = :state,
    due_at = :due_at,
    attempts = attempts + :attempted,
    first_attempt_at = coalesce(first_attempt_at, :started_at),
    last_attempt_at = coalesce(:started_at, last_attempt_at),
    last_error = :last_error,
    remote_id = coalesce(:remote_id, remote_id),
    url = coalesce(:url, url),
    receipt = :receipt,
    progress = :progress,
    uncertain = :uncertain,
    claimed_by = NULL,
    claim_expires_at = NULL,
    updated_at = :now
WHERE id = :id AND state = 'sending' AND claimed_by = :owner
  AND (:epoch IS NULL OR claim_epoch = :epoch)
RETURNING *, 0 AS recorded;

-- name: queue_front
-- What a scheduler pass needs, in one read: per channel with work, how many deliveries are due
-- now (or hold a lapsed claim), counted up to :cap (more than any channel's free slots, so
-- a backlog of thousands costs a pass no more than a short one); and, on one row without a
-- channel, when the next one comes due or another daemon's claim lapses (t) and when the
-- soonest pending message expires (e, from the copy 010_delivery_expiry keeps on deliveries).
-- The channels with work are found by a skip scan of deliveries_active (one index search per
-- channel); every part is an index search.
WITH RECURSIVE active(channel) AS (
    SELECT min(channel) FROM deliveries WHERE state IN ('pending', 'sending')
    UNION ALL
    SELECT (SELECT min(channel) FROM deliveries
            WHERE state IN ('pending', 'sending') AND channel > active.channel)
    FROM active WHERE active.channel IS NOT NULL)
SELECT channel, min(
       (SELECT count(*) FROM (
            SELECT 1 FROM deliveries
            WHERE channel = active.channel AND state IN ('pending', 'sending')
              AND state = 'pending' AND due_at <= :now LIMIT :cap))
     + (SELECT count(*) FROM (
            SELECT 1 FROM deliveries
            WHERE channel = active.channel AND state = 'sending'
              AND claim_expires_at <= :now LIMIT :cap)), :cap) AS n,
       NULL AS t, NULL AS e
FROM active WHERE channel IS NOT NULL
UNION ALL
SELECT NULL, 0,
       (SELECT min(x) FROM (
            SELECT min(due_at) AS x FROM deliveries WHERE state = 'pending' AND due_at > :now
            UNION ALL
            SELECT min(claim_expires_at) FROM deliveries
            WHERE state = 'sending' AND claim_expires_at > :now AND claimed_by IS NOT :owner)),
       (SELECT min(expires_at) FROM deliveries
        WHERE state = 'pending' AND expires_at IS NOT NULL);

-- name: queue_stats
-- Pending from the trigger-kept counter (009_queue_counts); due, sending and the oldest due
-- from their partial indexes, each bounded by what is due or in flight, not by the queue.
SELECT (SELECT n FROM queue_counts WHERE state = 'pending') AS pending,
       (SELECT count(*) FROM deliveries WHERE state = 'pending' AND due_at <= :now) AS due,
       (SELECT count(*) FROM deliveries WHERE state = 'sending') AS sending,
       (SELECT min(due_at) FROM deliveries WHERE state = 'pending' AND due_at <= :now)
           AS oldest_due;
