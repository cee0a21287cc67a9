-- Named queries written once for both stores, with :name parameters (PostgreSQL's loader
-- turns them into %(name)s). A query that truly differs lives in sql/<dialect>/ instead.

-- name: message_by_id
SELECT * FROM messages WHERE id = :id;

-- name: message_by_idempotency_key
SELECT * FROM messages WHERE idempotency_key = :key;

-- name: list_messages
SELECT * FROM messages
WHERE (CAST(:before AS BIGINT) IS NULL OR id < :before)
  AND (CAST(:route AS TEXT) IS NULL OR route = :route)
ORDER BY id DESC
LIMIT :limit;

-- name: deliveries_of_message
SELECT * FROM deliveries WHERE message_id = :message_id ORDER BY tier, id;

-- name: delivery_by_id
SELECT * FROM deliveries WHERE id = :id;

-- name: cancel_message
UPDATE messages SET cancelled_at = :now WHERE id = :id AND cancelled_at IS NULL;

-- name: cancel_pending_deliveries
UPDATE deliveries SET state = 'cancelled', updated_at = :now
WHERE message_id = :message_id AND state IN ('pending', 'skipped')  -- skipped: no backfill
RETURNING *;

-- name: expire_due
UPDATE deliveries SET state = 'expired', updated_at = :now,
    last_error = 'expired before it could be sent'
WHERE state = 'pending' AND expires_at IS NOT NULL AND expires_at <= :now
RETURNING *;

-- name: save_progress
UPDATE deliveries SET progress = :progress, receipt = :receipt, updated_at = :now
WHERE id = :id AND state = 'sending' AND claimed_by = :owner AND (CAST(:epoch AS BIGINT) IS NULL OR claim_epoch = :epoch);

-- name: release_claims
UPDATE deliveries
SET state = 'pending', uncertain = 1, claimed_by = NULL, claim_expires_at = NULL, updated_at = :now
WHERE state = 'sending' AND (CAST(:owner AS TEXT) IS NULL OR claimed_by = :owner)
RETURNING *;

-- name: insert_attempt
INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, error, status,
                      claimed_by, claim_epoch)
VALUES (:delivery_id, :number, :started_at, :finished_at, :outcome, :error, :status,
        :owner, :epoch);

-- name: attempts_of_delivery
SELECT * FROM attempts WHERE delivery_id = :delivery_id ORDER BY number;

-- name: thread_deliveries
SELECT d.* FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE m.thread_id = :thread_id AND d.channel = :channel AND d.state = 'delivered'
  AND d.message_id <> :exclude
ORDER BY d.message_id;

-- name: list_events
SELECT * FROM events
WHERE (CAST(:channel AS TEXT) IS NULL OR channel = :channel)
  AND (CAST(:message_id AS BIGINT) IS NULL OR message_id = :message_id)
  AND (CAST(:since AS DOUBLE PRECISION) IS NULL OR at >= :since)
  AND (CAST(:until AS DOUBLE PRECISION) IS NULL OR at < :until)
  AND (CAST(:after AS BIGINT) IS NULL OR id > :after)
ORDER BY id DESC
LIMIT :limit;

-- name: channel_states
SELECT * FROM channel_states;

-- Each writer of a channel's row sets only its own columns (an operator's force, a health
-- transition, the late-send cursor), so that no writer can undo another's change.

-- name: set_channel_health
INSERT INTO channel_states (channel, health, since, reason)
VALUES (:channel, :health, :since, :reason)
ON CONFLICT (channel) DO UPDATE SET
    health = excluded.health, since = excluded.since, reason = excluded.reason
RETURNING *;

-- name: set_channel_forced
INSERT INTO channel_states (channel, forced, forced_by, since, reason)
VALUES (:channel, :forced, :forced_by, :since, coalesce(:reason, ''))
ON CONFLICT (channel) DO UPDATE SET
    forced = excluded.forced, forced_by = excluded.forced_by, since = excluded.since,
    reason = coalesce(:reason, channel_states.reason)
RETURNING *;

-- name: insert_token
INSERT INTO tokens (name, role, hash, created_at, created_by)
VALUES (:name, :role, :hash, :created_at, :created_by)
RETURNING *;

-- name: list_tokens
SELECT * FROM tokens ORDER BY id;

-- name: token_by_hash
SELECT * FROM tokens WHERE hash = :hash;

-- name: revoke_token
UPDATE tokens SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL;

-- name: touch_token
UPDATE tokens SET last_used_at = :now WHERE id = :id;

-- name: pending_on_channel
SELECT * FROM deliveries WHERE channel = :channel AND state = 'pending' ORDER BY due_at, id;

-- name: skip_pending
UPDATE deliveries SET state = 'skipped', last_error = :reason, updated_at = :now
WHERE id = :id AND state = 'pending'
RETURNING *;

-- name: skipped_since
SELECT d.* FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE d.channel = :channel AND d.state = 'skipped' AND d.updated_at >= :since
  AND d.last_error LIKE 'down%'
  AND m.cancelled_at IS NULL
  AND (m.expires_at IS NULL OR m.expires_at > :now)
  AND m.created_at >= :min_created
ORDER BY m.id;

-- name: revive_skipped
UPDATE deliveries SET state = 'pending', due_at = :due_at, last_error = :note, updated_at = :now
WHERE id = :id AND state = 'skipped'
RETURNING *;

-- name: forget_node
DELETE FROM nodes WHERE node = :node;

-- name: resign
UPDATE leader SET expires_at = 0 WHERE id = 1 AND node = :node;

-- name: update_message
UPDATE messages
SET text = :text, title = :title, link = :link, content_warning = :content_warning,
    language = :language, overrides = :overrides, scheduled_at = :scheduled_at,
    expires_at = :expires_at
WHERE id = :id
RETURNING *;

-- name: reschedule_deliveries
UPDATE deliveries SET due_at = :due_at, updated_at = :now
WHERE message_id = :message_id AND state = 'pending';

-- name: insert_session
INSERT INTO sessions (hash, token_id, created_at, expires_at, client)
VALUES (:hash, :token_id, :now, :expires_at, :client)
RETURNING id;

-- name: session_by_hash
SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, s.last_seen_at
     , s.client, t.*
FROM sessions s JOIN tokens t ON t.id = s.token_id
WHERE s.hash = :hash AND s.expires_at > :now AND t.revoked_at IS NULL;

-- name: touch_session
UPDATE sessions SET last_seen_at = :now WHERE id = :id;

-- name: list_sessions
SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, s.last_seen_at
     , s.client, t.*
FROM sessions s JOIN tokens t ON t.id = s.token_id
WHERE s.expires_at > :now AND t.revoked_at IS NULL
ORDER BY s.id;

-- name: delete_session
DELETE FROM sessions WHERE id = :id;

-- name: delete_token_sessions
DELETE FROM sessions WHERE token_id = :token_id;

-- name: delete_expired_sessions
DELETE FROM sessions WHERE expires_at <= :now;

-- name: write_check
-- Touches nothing, but only a store that can write runs it (read-only or standby refuses).
UPDATE nodes SET seen_at = seen_at WHERE 1 = 0;
