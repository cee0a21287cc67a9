-- The hot path of a delivery, in as few statements as it takes (issue 15).

-- name: insert_message
-- The new row's id is drawn first, so a message that starts its own thread points at itself
-- in the same statement.
INSERT INTO messages (id, text, title, link, images, content_warning, language, overrides, route,
                      created_by, created_at, scheduled_at, expires_at, thread_id,
                      idempotency_key, request_hash, traceparent)
SELECT n.id, %(text)s, %(title)s, %(link)s, %(images)s, %(content_warning)s, %(language)s,
       %(overrides)s, %(route)s, %(created_by)s, %(created_at)s, %(scheduled_at)s,
       %(expires_at)s, coalesce(CAST(%(thread_id)s AS BIGINT), n.id), %(idempotency_key)s,
       %(request_hash)s, %(traceparent)s
FROM (SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id) AS n
RETURNING *;

-- name: messages_by_ids
-- The messages of a batch of claimed deliveries, read in the claim's own transaction.
SELECT * FROM messages WHERE id IN (SELECT jsonb_array_elements_text(%(ids)s::jsonb)::bigint);

-- name: queue_front
-- What a scheduler pass needs, in one read: per channel with work, how many deliveries are due
-- now (or hold a lapsed claim), counted up to %(cap)s (more than any channel's free slots, so
-- a backlog of thousands costs a pass no more than a short one); and, on one row without a
-- channel, when the next one comes due or another daemon's claim lapses (t) and when the
-- soonest pending message expires (e). The channels with work are found by a skip scan of
-- deliveries_active (one index search per channel).
WITH RECURSIVE active(channel) AS (
    SELECT min(channel) FROM deliveries WHERE state IN ('pending', 'sending')
    UNION ALL
    SELECT (SELECT min(d.channel) FROM deliveries d
            WHERE d.state IN ('pending', 'sending') AND d.channel > active.channel)
    FROM active WHERE active.channel IS NOT NULL)
SELECT channel, LEAST(
       (SELECT count(*) FROM (
            SELECT 1 FROM deliveries d
            WHERE d.channel = active.channel AND d.state = 'pending'
              AND d.due_at <= %(now)s LIMIT %(cap)s) AS due)
     + (SELECT count(*) FROM (
            SELECT 1 FROM deliveries d
            WHERE d.channel = active.channel AND d.state = 'sending'
              AND d.claim_expires_at <= %(now)s LIMIT %(cap)s) AS lapsed), %(cap)s) AS n,
       NULL::double precision AS t, NULL::double precision AS e
FROM active WHERE channel IS NOT NULL
UNION ALL
SELECT NULL, 0,
       (SELECT min(x) FROM (
            SELECT min(due_at) AS x FROM deliveries WHERE state = 'pending' AND due_at > %(now)s
            UNION ALL
            SELECT min(claim_expires_at) FROM deliveries
            WHERE state = 'sending' AND claim_expires_at > %(now)s
              AND claimed_by IS DISTINCT FROM %(owner)s) AS due),
       (SELECT min(expires_at) FROM deliveries
        WHERE state = 'pending' AND expires_at IS NOT NULL);

-- name: queue_stats
-- Each figure from a partial index (007_due_indexes): pending is an index-only count, due,
-- sending and the oldest due are bounded by what is due or in flight, not by the queue.
SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending') AS pending,
       (SELECT count(*) FROM deliveries WHERE state = 'pending' AND due_at <= %(now)s) AS due,
       (SELECT count(*) FROM deliveries WHERE state = 'sending') AS sending,
       (SELECT min(due_at) FROM deliveries WHERE state = 'pending' AND due_at <= %(now)s)
           AS oldest_due;
