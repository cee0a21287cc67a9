-- The hot path of a delivery, in as few statements as it takes (issue 15).

-- name: insert_message
-- The new row's id is known before the insert (one writer at a time: BEGIN IMMEDIATE), so a
-- message that starts its own thread points at itself in the same statement.
INSERT INTO messages (id, text, title, link, images, content_warning, language, overrides, route,
                      created_by, created_at, scheduled_at, expires_at, thread_id,
                      idempotency_key, request_hash, traceparent)
SELECT n.id, :text, :title, :link, :images, :content_warning, :language, :overrides, :route,
       :created_by, :created_at, :scheduled_at, :expires_at, coalesce(:thread_id, n.id),
       :idempotency_key, :request_hash, :traceparent
FROM (SELECT coalesce(max(id), 0) + 1 AS id FROM messages) AS n
RETURNING *;

-- name: messages_by_ids
-- The messages of a batch of claimed deliveries, read in the claim's own transaction.
SELECT * FROM messages WHERE id IN (SELECT value FROM json_each(:ids));

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
