-- Named queries for the PostgreSQL store (same names and parameters as SQLite's), loaded by name (failover/store/queries.py).

-- name: insert_message
INSERT INTO messages (text, title, link, images, content_warning, language, overrides, route,
                      created_by, created_at, scheduled_at, expires_at, thread_id,
                      idempotency_key, request_hash, traceparent)
VALUES (%(text)s, %(title)s, %(link)s, %(images)s, %(content_warning)s, %(language)s, %(overrides)s, %(route)s,
        %(created_by)s, %(created_at)s, %(scheduled_at)s, %(expires_at)s, %(thread_id)s,
        %(idempotency_key)s, %(request_hash)s, %(traceparent)s)
RETURNING *;

-- name: set_own_thread
UPDATE messages SET thread_id = id WHERE id = %(id)s RETURNING *;

-- name: message_by_id
SELECT * FROM messages WHERE id = %(id)s;

-- name: message_by_idempotency_key
SELECT * FROM messages WHERE idempotency_key = %(key)s;

-- name: list_messages
SELECT * FROM messages
WHERE (%(before)s::bigint IS NULL OR id < %(before)s)
  AND (%(route)s::text IS NULL OR route = %(route)s)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: insert_delivery
INSERT INTO deliveries (message_id, channel, tier, state, due_at, last_error, updated_at)
VALUES (%(message_id)s, %(channel)s, %(tier)s, %(state)s, %(due_at)s, %(last_error)s, %(now)s)
ON CONFLICT (message_id, channel) DO NOTHING
RETURNING *;

-- name: deliveries_of_message
SELECT * FROM deliveries WHERE message_id = %(message_id)s ORDER BY tier, id;

-- name: delivery_by_id
SELECT * FROM deliveries WHERE id = %(id)s;

-- name: cancel_message
UPDATE messages SET cancelled_at = %(now)s WHERE id = %(id)s AND cancelled_at IS NULL;

-- name: cancel_pending_deliveries
UPDATE deliveries SET state = 'cancelled', updated_at = %(now)s
WHERE message_id = %(message_id)s AND state IN ('pending', 'skipped')  -- skipped: no backfill
RETURNING *;

-- name: due_channels
SELECT channel, count(*) AS n FROM deliveries
WHERE (state = 'pending' AND due_at <= %(now)s)
   OR (state = 'sending' AND claim_expires_at <= %(now)s)
GROUP BY channel;

-- name: claim_due
UPDATE deliveries
SET state = 'sending',
    uncertain = CASE WHEN state = 'sending' THEN 1 ELSE uncertain END,
    claimed_by = %(owner)s,
    claim_expires_at = %(lease_until)s,
    claim_epoch = claim_epoch + 1,
    updated_at = %(now)s
WHERE id IN (
    SELECT id FROM deliveries
    WHERE channel = %(channel)s
      AND ((state = 'pending' AND due_at <= %(now)s)
        OR (state = 'sending' AND claim_expires_at <= %(now)s))
    ORDER BY due_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING *;

-- name: next_due_at
SELECT min(t) AS t FROM (
    SELECT min(due_at) AS t FROM deliveries WHERE state = 'pending'
    UNION ALL
    SELECT min(claim_expires_at) FROM deliveries
    WHERE state = 'sending' AND claimed_by IS DISTINCT FROM %(owner)s
    UNION ALL
    SELECT min(m.expires_at) FROM messages m JOIN deliveries d ON d.message_id = m.id
    WHERE d.state = 'pending' AND m.expires_at IS NOT NULL) AS due;

-- name: expire_due
UPDATE deliveries SET state = 'expired', updated_at = %(now)s,
    last_error = 'expired before it could be sent'
WHERE state = 'pending'
  AND message_id IN (SELECT id FROM messages WHERE expires_at IS NOT NULL AND expires_at <= %(now)s)
RETURNING *;

-- name: finish_delivery
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
WHERE id = %(id)s AND state = 'sending' AND claimed_by = %(owner)s AND (%(epoch)s::bigint IS NULL OR claim_epoch = %(epoch)s)
RETURNING *;

-- name: save_progress
UPDATE deliveries SET progress = %(progress)s, receipt = %(receipt)s, updated_at = %(now)s
WHERE id = %(id)s AND state = 'sending' AND claimed_by = %(owner)s AND (%(epoch)s::bigint IS NULL OR claim_epoch = %(epoch)s);

-- name: renew_claims
-- Extend the claims a daemon still holds (each named "id:epoch"); what it no longer holds
-- (taken over after its lease lapsed, or finished) is left alone and missing from the answer.
UPDATE deliveries SET claim_expires_at = %(lease_until)s
WHERE id IN (SELECT jsonb_array_elements_text(%(ids)s::jsonb)::bigint)
  AND state = 'sending' AND claimed_by = %(owner)s
  AND id::text || ':' || claim_epoch::text IN (SELECT jsonb_array_elements_text(%(claims)s::jsonb))
RETURNING id, claim_epoch;

-- name: release_claims
UPDATE deliveries
SET state = 'pending', uncertain = 1, claimed_by = NULL, claim_expires_at = NULL, updated_at = %(now)s
WHERE state = 'sending' AND (%(owner)s::text IS NULL OR claimed_by = %(owner)s)
RETURNING *;

-- name: insert_attempt
INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, error, status,
                      claimed_by, claim_epoch)
VALUES (%(delivery_id)s, %(number)s, %(started_at)s, %(finished_at)s, %(outcome)s, %(error)s, %(status)s,
        %(owner)s, %(epoch)s);

-- name: attempts_of_delivery
SELECT * FROM attempts WHERE delivery_id = %(delivery_id)s ORDER BY number;

-- name: thread_deliveries
SELECT d.* FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE m.thread_id = %(thread_id)s AND d.channel = %(channel)s AND d.state = 'delivered'
  AND d.message_id <> %(exclude)s
ORDER BY d.message_id;

-- name: insert_event
INSERT INTO events (at, kind, actor, channel, message_id, delivery_id, detail)
VALUES (%(at)s, %(kind)s, %(actor)s, %(channel)s, %(message_id)s, %(delivery_id)s, %(detail)s);

-- name: list_events
SELECT * FROM events
WHERE (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(message_id)s::bigint IS NULL OR message_id = %(message_id)s)
  AND (%(since)s::double precision IS NULL OR at >= %(since)s)
  AND (%(until)s::double precision IS NULL OR at < %(until)s)
  AND (%(after)s::bigint IS NULL OR id > %(after)s)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: channel_states
SELECT * FROM channel_states;

-- Each writer of a channel's row sets only its own columns (an operator's force, a health
-- transition, the late-send cursor), so that no writer can undo another's change.

-- name: set_channel_health
INSERT INTO channel_states (channel, health, since, reason)
VALUES (%(channel)s, %(health)s, %(since)s, %(reason)s)
ON CONFLICT (channel) DO UPDATE SET
    health = excluded.health, since = excluded.since, reason = excluded.reason
RETURNING *;

-- name: set_channel_forced
INSERT INTO channel_states (channel, forced, forced_by, since, reason)
VALUES (%(channel)s, %(forced)s, %(forced_by)s, %(since)s, coalesce(%(reason)s, ''))
ON CONFLICT (channel) DO UPDATE SET
    forced = excluded.forced, forced_by = excluded.forced_by, since = excluded.since,
    reason = coalesce(%(reason)s, channel_states.reason)
RETURNING *;

-- name: advance_late_cursor
INSERT INTO channel_states (channel, late_cursor) VALUES (%(channel)s, %(now)s + %(spacing)s)
ON CONFLICT (channel) DO UPDATE SET
    late_cursor = GREATEST(channel_states.late_cursor, %(now)s) + %(spacing)s
RETURNING late_cursor;

-- name: queue_stats
SELECT
    count(*) FILTER (WHERE state = 'pending') AS pending,
    count(*) FILTER (WHERE state = 'pending' AND due_at <= %(now)s) AS due,
    count(*) FILTER (WHERE state = 'sending') AS sending,
    min(CASE WHEN state = 'pending' AND due_at <= %(now)s THEN due_at END) AS oldest_due
FROM deliveries WHERE state IN ('pending', 'sending');

-- name: insert_token
INSERT INTO tokens (name, role, hash, created_at, created_by)
VALUES (%(name)s, %(role)s, %(hash)s, %(created_at)s, %(created_by)s)
RETURNING *;

-- name: list_tokens
SELECT * FROM tokens ORDER BY id;

-- name: token_by_hash
SELECT * FROM tokens WHERE hash = %(hash)s;

-- name: revoke_token
UPDATE tokens SET revoked_at = %(now)s WHERE id = %(id)s AND revoked_at IS NULL;

-- name: touch_token
UPDATE tokens SET last_used_at = %(now)s WHERE id = %(id)s;

-- name: pending_on_channel
SELECT * FROM deliveries WHERE channel = %(channel)s AND state = 'pending' ORDER BY due_at, id;

-- name: skip_pending
UPDATE deliveries SET state = 'skipped', last_error = %(reason)s, updated_at = %(now)s
WHERE id = %(id)s AND state = 'pending'
RETURNING *;

-- name: skipped_since
SELECT d.* FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE d.channel = %(channel)s AND d.state = 'skipped' AND d.updated_at >= %(since)s
  AND d.last_error LIKE 'down%%'
  AND m.cancelled_at IS NULL
  AND (m.expires_at IS NULL OR m.expires_at > %(now)s)
  AND m.created_at >= %(min_created)s
ORDER BY m.id;

-- name: revive_skipped
UPDATE deliveries SET state = 'pending', due_at = %(due_at)s, last_error = %(note)s, updated_at = %(now)s
WHERE id = %(id)s AND state = 'skipped'
RETURNING *;

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

-- name: forget_node
DELETE FROM nodes WHERE node = %(node)s;

-- name: try_lead
INSERT INTO leader (id, node, epoch, expires_at)
VALUES (1, %(node)s, 1, extract(epoch FROM clock_timestamp()) + %(ttl)s)
ON CONFLICT (id) DO UPDATE SET
    epoch = CASE WHEN leader.node = excluded.node THEN leader.epoch ELSE leader.epoch + 1 END,
    node = excluded.node,
    expires_at = excluded.expires_at
WHERE leader.node = excluded.node OR leader.expires_at <= extract(epoch FROM clock_timestamp())
RETURNING epoch;

-- name: resign
UPDATE leader SET expires_at = 0 WHERE id = 1 AND node = %(node)s;

-- name: lock_deliveries
SELECT * FROM deliveries WHERE message_id = %(message_id)s ORDER BY id FOR UPDATE;

-- name: update_message
UPDATE messages
SET text = %(text)s, title = %(title)s, link = %(link)s, content_warning = %(content_warning)s,
    language = %(language)s, overrides = %(overrides)s, scheduled_at = %(scheduled_at)s,
    expires_at = %(expires_at)s
WHERE id = %(id)s
RETURNING *;

-- name: reschedule_deliveries
UPDATE deliveries SET due_at = %(due_at)s, updated_at = %(now)s
WHERE message_id = %(message_id)s AND state = 'pending';

-- name: insert_session
INSERT INTO sessions (hash, token_id, created_at, expires_at, client)
VALUES (%(hash)s, %(token_id)s, %(now)s, %(expires_at)s, %(client)s)
RETURNING id;

-- name: session_by_hash
SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, s.last_seen_at
     , s.client, t.*
FROM sessions s JOIN tokens t ON t.id = s.token_id
WHERE s.hash = %(hash)s AND s.expires_at > %(now)s AND t.revoked_at IS NULL;

-- name: touch_session
UPDATE sessions SET last_seen_at = %(now)s WHERE id = %(id)s;

-- name: list_sessions
SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, s.last_seen_at
     , s.client, t.*
FROM sessions s JOIN tokens t ON t.id = s.token_id
WHERE s.expires_at > %(now)s AND t.revoked_at IS NULL
ORDER BY s.id;

-- name: delete_session
DELETE FROM sessions WHERE id = %(id)s;

-- name: delete_token_sessions
DELETE FROM sessions WHERE token_id = %(token_id)s;

-- name: delete_expired_sessions
DELETE FROM sessions WHERE expires_at <= %(now)s;

-- name: write_check
-- Touches nothing, but only a store that can write runs it (read-only or standby refuses).
UPDATE nodes SET seen_at = seen_at WHERE 1 = 0;
