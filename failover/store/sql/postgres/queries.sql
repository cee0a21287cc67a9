-- The PostgreSQL store's own queries, overriding sql/common/: only what truly differs
-- (row locks, jsonb, the database's own clock for leases shared by several daemons).

-- name: due_channels
SELECT channel, count(*) AS n FROM deliveries
WHERE (state = 'pending' AND due_at <= %(now)s)
   OR (state = 'sending' AND claim_expires_at <= %(now)s)
GROUP BY channel;

-- name: claim_due
-- Each claimed delivery with its message's columns (m_*), so the dispatcher reads nothing more.
-- Two index ranges, each cut at the limit, so a claim costs the same with a backlog of
-- thousands (one OR over both read and sorted the channel's whole backlog).
WITH claimed AS (
    UPDATE deliveries
    SET state = 'sending',
        uncertain = CASE WHEN state = 'sending' THEN 1 ELSE uncertain END,
        claimed_by = %(owner)s,
        claim_expires_at = %(lease_until)s,
        claim_epoch = claim_epoch + 1,
        updated_at = %(now)s
    WHERE id IN (
        SELECT id FROM (
            SELECT id, due_at FROM (
                SELECT id, due_at FROM deliveries
                WHERE channel = %(channel)s AND state = 'pending' AND due_at <= %(now)s
                ORDER BY due_at, id LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED) AS due
            UNION ALL
            SELECT id, due_at FROM (
                SELECT id, due_at FROM deliveries
                WHERE channel = %(channel)s AND state = 'sending' AND claim_expires_at <= %(now)s
                ORDER BY due_at, id LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED) AS lapsed) AS claimable
        ORDER BY due_at, id
        LIMIT %(limit)s)
    RETURNING *)
SELECT claimed.*,
       m.text AS m_text, m.title AS m_title, m.link AS m_link, m.images AS m_images,
       m.content_warning AS m_content_warning, m.language AS m_language,
       m.overrides AS m_overrides, m.route AS m_route, m.created_by AS m_created_by,
       m.created_at AS m_created_at, m.scheduled_at AS m_scheduled_at,
       m.expires_at AS m_expires_at, m.thread_id AS m_thread_id,
       m.idempotency_key AS m_idempotency_key, m.request_hash AS m_request_hash,
       m.cancelled_at AS m_cancelled_at, m.traceparent AS m_traceparent
FROM claimed JOIN messages m ON m.id = claimed.message_id;

-- name: next_due_at
SELECT min(t) AS t FROM (
    SELECT min(due_at) AS t FROM deliveries WHERE state = 'pending'
    UNION ALL
    SELECT min(claim_expires_at) FROM deliveries
    WHERE state = 'sending' AND claimed_by IS DISTINCT FROM %(owner)s
    UNION ALL
    -- The soonest expiry of a message still pending (009_delivery_expiry).
    SELECT min(expires_at) FROM deliveries
    WHERE state = 'pending' AND expires_at IS NOT NULL) AS due;

-- name: renew_claims
-- Extend the claims a daemon still holds (each named "id:epoch"); what it no longer holds
-- (taken over after its lease lapsed, or finished) is left alone and missing from the answer.
UPDATE deliveries SET claim_expires_at = %(lease_until)s
WHERE id IN (SELECT jsonb_array_elements_text(%(ids)s::jsonb)::bigint)
  AND state = 'sending' AND claimed_by = %(owner)s
  AND id::text || ':' || claim_epoch::text IN (SELECT jsonb_array_elements_text(%(claims)s::jsonb))
RETURNING id, claim_epoch;

-- name: advance_late_cursor
INSERT INTO channel_states (channel, late_cursor) VALUES (%(channel)s, %(now)s + %(spacing)s)
ON CONFLICT (channel) DO UPDATE SET
    late_cursor = GREATEST(channel_states.late_cursor, %(now)s) + %(spacing)s
RETURNING late_cursor;

-- name: heartbeat
INSERT INTO nodes (node, started_at, seen_at, expires_at, info)
VALUES (%(node)s, extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp()),
        extract(epoch FROM clock_timestamp()) + %(ttl)s, %(info)s)
ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at, expires_at = excluded.expires_at,
    info = excluded.info;

-- name: live_nodes
SELECT n.*, (l.node = n.node AND l.expires_at > extract(epoch FROM clock_timestamp())) AS leads
FROM nodes n LEFT JOIN leader l ON l.id = 1
WHERE n.expires_at > extract(epoch FROM clock_timestamp()) ORDER BY n.started_at;

-- name: try_lead
INSERT INTO leader (id, node, epoch, expires_at)
VALUES (1, %(node)s, 1, extract(epoch FROM clock_timestamp()) + %(ttl)s)
ON CONFLICT (id) DO UPDATE SET
    epoch = CASE WHEN leader.node = excluded.node THEN leader.epoch ELSE leader.epoch + 1 END,
    node = excluded.node,
    expires_at = excluded.expires_at
WHERE leader.node = excluded.node OR leader.expires_at <= extract(epoch FROM clock_timestamp())
RETURNING epoch;

-- name: lock_deliveries
SELECT * FROM deliveries WHERE message_id = %(message_id)s ORDER BY id FOR UPDATE;
