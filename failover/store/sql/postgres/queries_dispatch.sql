-- The hot path of a delivery, in as few statements as it takes (issue 15).

-- name: insert_message
-- The message, its deliveries and its events in one statement (writable CTEs); recorded =
-- true says so, and the deliveries come back as JSON (SQLite's version writes the message
-- alone). The new row's id is drawn first, so a message that starts its own thread points at
-- itself. An idempotency key already used inserts nothing and returns no row (a request with
-- the same key at the same time waits for this one's commit, then does so).
WITH message AS (
    INSERT INTO messages (id, text, title, link, images, content_warning, language, overrides,
                          route, created_by, created_at, scheduled_at, expires_at, thread_id,
                          idempotency_key, request_hash, traceparent)
    SELECT n.id, %(text)s, %(title)s, %(link)s, %(images)s, %(content_warning)s, %(language)s,
           %(overrides)s, %(route)s, %(created_by)s, %(created_at)s, %(scheduled_at)s,
           %(expires_at)s, coalesce(CAST(%(thread_id)s AS BIGINT), n.id), %(idempotency_key)s,
           %(request_hash)s, %(traceparent)s
    FROM (SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id) AS n
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
), added AS (
    INSERT INTO deliveries (message_id, channel, tier, state, due_at, last_error, updated_at)
    SELECT message.id, d.value ->> 'channel', (d.value ->> 'tier')::integer,
           d.value ->> 'state', (d.value ->> 'due_us')::double precision / 1000000,
           d.value ->> 'note', %(created_at)s
    FROM message, jsonb_array_elements(%(deliveries)s::jsonb) WITH ORDINALITY AS d (value, n)
    ORDER BY d.n
    ON CONFLICT (message_id, channel) DO NOTHING
    RETURNING *
), event AS (
    INSERT INTO events (at, kind, actor, channel, message_id, delivery_id, detail)
    SELECT %(created_at)s, e.value ->> 'kind', e.value ->> 'actor', e.value ->> 'channel',
           coalesce((e.value ->> 'message_id')::bigint, message.id),
           (e.value ->> 'delivery_id')::bigint, e.value ->> 'detail'
    FROM message, jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e (value, n)
    ORDER BY e.n
)
SELECT message.*, true AS recorded,
       (SELECT coalesce(json_agg(added ORDER BY added.id), '[]') FROM added)::text AS deliveries
FROM message;

-- name: insert_deliveries
-- A message's deliveries, in one statement from a JSON array (channel, tier, state, due_us,
-- note), in the array's order; due times as integer microseconds, as SQLite needs them.
INSERT INTO deliveries (message_id, channel, tier, state, due_at, last_error, updated_at)
SELECT %(message_id)s, d.value ->> 'channel', (d.value ->> 'tier')::integer,
       d.value ->> 'state', (d.value ->> 'due_us')::double precision / 1000000,
       d.value ->> 'note', %(now)s
FROM jsonb_array_elements(%(deliveries)s::jsonb) WITH ORDINALITY AS d (value, n)
ORDER BY d.n
ON CONFLICT (message_id, channel) DO NOTHING
RETURNING *;

-- name: insert_events
-- Events in one statement from a JSON array (kind, actor, channel, message_id, delivery_id,
-- detail as JSON text), in the array's order, all at one time (at).
INSERT INTO events (at, kind, actor, channel, message_id, delivery_id, detail)
SELECT %(at)s, e.value ->> 'kind', e.value ->> 'actor', e.value ->> 'channel',
       (e.value ->> 'message_id')::bigint, (e.value ->> 'delivery_id')::bigint,
       e.value ->> 'detail'
FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e (value, n)
ORDER BY e.n;

-- name: finish_delivery
-- The outcome, its attempt (when the platform was called: started_at) and its events in one
-- statement, written only if the claim is still ours. recorded = true: nothing is left to
-- write (SQLite's version writes the outcome alone).
WITH finished AS (
    UPDATE deliveries
    SET state = %(state)s,
        due_at = %(due_at)s,
        attempts = attempts + %(attempted)s,
        first_attempt_at = coalesce(first_attempt_at, %(started_at)s),
        last_attempt_at = coalesce(%(started_at)s, last_attempt_at),
        last_error = %(last_error)s,
        remote_id = coalesce(%(remote_id)s, remote_id),
        url = coalesce(%(url)s, url),
        receipt = %(receipt)s,
        progress = %(progress)s,
        uncertain = %(uncertain)s,
        claimed_by = NULL,
        claim_expires_at = NULL,
        updated_at = %(now)s
    WHERE id = %(id)s AND state = 'sending' AND claimed_by = %(owner)s
      AND (CAST(%(epoch)s AS BIGINT) IS NULL OR claim_epoch = %(epoch)s)
    RETURNING *
), attempt AS (
    INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, error, status,
                          claimed_by, claim_epoch)
    SELECT id, attempts, %(started_at)s, %(finished_at)s, %(outcome)s, %(error)s, %(status)s,
           %(owner)s, coalesce(CAST(%(epoch)s AS BIGINT), claim_epoch)
    FROM finished
    WHERE CAST(%(started_at)s AS DOUBLE PRECISION) IS NOT NULL
), event AS (
    INSERT INTO events (at, kind, actor, channel, message_id, delivery_id, detail)
    SELECT %(now)s, e.value ->> 'kind', e.value ->> 'actor', e.value ->> 'channel',
           (e.value ->> 'message_id')::bigint, (e.value ->> 'delivery_id')::bigint,
           e.value ->> 'detail'
    FROM finished, jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e (value, n)
    ORDER BY e.n
)
SELECT *, true AS recorded FROM finished;

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
