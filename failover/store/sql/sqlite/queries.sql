-- The SQLite store's own queries, overriding sql/common/: only what truly differs.

-- name: due_channels
-- Two index searches (007_due_indexes), not a scan of every queued delivery.
SELECT channel, count(*) AS n FROM (
    SELECT channel FROM deliveries WHERE state = 'pending' AND due_at <= :now
    UNION ALL
    SELECT channel FROM deliveries WHERE state = 'sending' AND claim_expires_at <= :now)
GROUP BY channel;

-- name: claim_due
-- Each claimed delivery with its message's columns (m_*), so the dispatcher reads nothing
-- more: SQLite's RETURNING cannot join, but a subquery by primary key per column can.
UPDATE deliveries
SET state = 'sending',
    uncertain = CASE WHEN state = 'sending' THEN 1 ELSE uncertain END,
    claimed_by = :owner,
    claim_expires_at = :lease_until,
    claim_epoch = claim_epoch + 1,
    updated_at = :now
WHERE id IN (
    -- Two index ranges, each cut at :limit, so a claim costs the same with a backlog of
    -- thousands (one OR over both made SQLite read and sort the channel's whole backlog).
    SELECT id FROM (
        SELECT id, due_at FROM (
            SELECT id, due_at FROM deliveries
            WHERE channel = :channel AND state IN ('pending', 'sending')
              AND state = 'pending' AND due_at <= :now
            ORDER BY due_at, id LIMIT :limit)
        UNION ALL
        SELECT id, due_at FROM (
            SELECT id, due_at FROM deliveries
            WHERE channel = :channel AND state = 'sending' AND claim_expires_at <= :now
            ORDER BY due_at, id LIMIT :limit))
    ORDER BY due_at, id
    LIMIT :limit)
RETURNING *,
    (SELECT text FROM messages WHERE id = deliveries.message_id) AS m_text,
    (SELECT title FROM messages WHERE id = deliveries.message_id) AS m_title,
    (SELECT link FROM messages WHERE id = deliveries.message_id) AS m_link,
    (SELECT images FROM messages WHERE id = deliveries.message_id) AS m_images,
    (SELECT content_warning FROM messages WHERE id = deliveries.message_id) AS m_content_warning,
    (SELECT language FROM messages WHERE id = deliveries.message_id) AS m_language,
    (SELECT overrides FROM messages WHERE id = deliveries.message_id) AS m_overrides,
    (SELECT route FROM messages WHERE id = deliveries.message_id) AS m_route,
    (SELECT created_by FROM messages WHERE id = deliveries.message_id) AS m_created_by,
    (SELECT created_at FROM messages WHERE id = deliveries.message_id) AS m_created_at,
    (SELECT scheduled_at FROM messages WHERE id = deliveries.message_id) AS m_scheduled_at,
    (SELECT expires_at FROM messages WHERE id = deliveries.message_id) AS m_expires_at,
    (SELECT thread_id FROM messages WHERE id = deliveries.message_id) AS m_thread_id,
    (SELECT idempotency_key FROM messages WHERE id = deliveries.message_id) AS m_idempotency_key,
    (SELECT request_hash FROM messages WHERE id = deliveries.message_id) AS m_request_hash,
    (SELECT cancelled_at FROM messages WHERE id = deliveries.message_id) AS m_cancelled_at,
    (SELECT traceparent FROM messages WHERE id = deliveries.message_id) AS m_traceparent;

-- name: next_due_at
SELECT min(t) AS t FROM (
    SELECT min(due_at) AS t FROM deliveries WHERE state = 'pending'
    UNION ALL
    SELECT min(claim_expires_at) FROM deliveries
    WHERE state = 'sending' AND claimed_by IS NOT :owner
    UNION ALL
    -- The soonest expiry of a message still pending (010_delivery_expiry).
    SELECT min(expires_at) FROM deliveries WHERE state = 'pending' AND expires_at IS NOT NULL);

-- name: renew_claims
-- Extend the claims a daemon still holds (each named "id:epoch"); what it no longer holds
-- (taken over after its lease lapsed, or finished) is left alone and missing from the answer.
UPDATE deliveries SET claim_expires_at = :lease_until
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state = 'sending' AND claimed_by = :owner
  AND id || ':' || claim_epoch IN (SELECT value FROM json_each(:claims))
RETURNING id, claim_epoch;

-- name: advance_late_cursor
INSERT INTO channel_states (channel, late_cursor) VALUES (:channel, :now + :spacing)
ON CONFLICT (channel) DO UPDATE SET
    late_cursor = max(coalesce(channel_states.late_cursor, :now), :now) + :spacing
RETURNING late_cursor;

-- name: heartbeat
INSERT INTO nodes (node, started_at, seen_at, expires_at, info)
VALUES (:node, :now, :now, :now + :ttl, :info)
ON CONFLICT (node) DO UPDATE SET seen_at = :now, expires_at = :now + :ttl, info = :info;

-- name: live_nodes
SELECT n.*, (l.node = n.node AND l.expires_at > :now) AS leads
FROM nodes n LEFT JOIN leader l ON l.id = 1
WHERE n.expires_at > :now ORDER BY n.started_at;

-- name: try_lead
INSERT INTO leader (id, node, epoch, expires_at) VALUES (1, :node, 1, :now + :ttl)
ON CONFLICT (id) DO UPDATE SET
    epoch = CASE WHEN leader.node = excluded.node THEN leader.epoch ELSE leader.epoch + 1 END,
    node = excluded.node,
    expires_at = excluded.expires_at
WHERE leader.node = excluded.node OR leader.expires_at <= :now
RETURNING epoch;

-- name: lock_deliveries
SELECT * FROM deliveries WHERE message_id = :message_id ORDER BY id;
