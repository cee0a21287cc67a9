-- Named queries of the status page's subscribers (failover/store/subscribers.py), written
-- once for both databases.

-- name: sub_subscribe_email
INSERT INTO subscribers (kind, address, components, state, unsubscribe_key, created_at, updated_at)
VALUES ('email', :address, :components, 'pending', :unsubscribe_key, :now, :now)
ON CONFLICT (kind, address) DO UPDATE SET
    components = CASE WHEN subscribers.state IN ('pending', 'unsubscribed')
                      THEN excluded.components ELSE subscribers.components END,
    state = CASE WHEN subscribers.state = 'unsubscribed' THEN 'pending' ELSE subscribers.state END,
    updated_at = excluded.updated_at
RETURNING *;

-- name: sub_set_token
UPDATE subscribers SET token_hash = :token_hash, token_expires_at = :expires_at, updated_at = :now
WHERE id = :id AND state IN ('pending', 'confirmed');

-- name: sub_insert
INSERT INTO subscribers (kind, address, contact_email, secret, components, state, token_hash,
                         token_expires_at, unsubscribe_key, created_at, confirmed_at, updated_at)
VALUES (:kind, :address, :contact_email, :secret, :components, :state, :token_hash,
        :expires_at, :unsubscribe_key, :created_at, :confirmed_at, :now)
ON CONFLICT (kind, address) DO NOTHING
RETURNING *;

-- name: sub_get
SELECT * FROM subscribers WHERE id = :id;

-- name: sub_by_unsubscribe_key
SELECT * FROM subscribers WHERE unsubscribe_key = :key;

-- name: sub_confirm
UPDATE subscribers
SET state = 'confirmed', confirmed_at = COALESCE(confirmed_at, :now), token_hash = NULL,
    token_expires_at = NULL, updated_at = :now
WHERE id = :id AND token_hash = :token_hash AND token_expires_at > :now
  AND state IN ('pending', 'confirmed')
RETURNING *;

-- name: sub_unsubscribe
UPDATE subscribers
SET state = 'unsubscribed', token_hash = NULL, token_expires_at = NULL, updated_at = :now
WHERE unsubscribe_key = :key AND state <> 'unsubscribed'
RETURNING *;

-- name: sub_suppress
UPDATE subscribers
SET state = 'suppressed', last_error = :error, token_hash = NULL, token_expires_at = NULL,
    updated_at = :now
WHERE kind = 'email' AND address = :address AND state <> 'suppressed';

-- name: sub_list
SELECT * FROM subscribers
WHERE (CAST(:kind AS TEXT) IS NULL OR kind = :kind)
  AND (CAST(:state AS TEXT) IS NULL OR state = :state)
ORDER BY id
LIMIT :limit OFFSET :offset;

-- name: sub_counts
SELECT kind, state, COUNT(*) AS n FROM subscribers GROUP BY kind, state ORDER BY kind, state;

-- name: sub_delete
DELETE FROM subscribers WHERE id = :id;

-- name: sub_confirmed
SELECT * FROM subscribers WHERE kind = :kind AND state = 'confirmed' ORDER BY id;

-- name: sub_message_components
SELECT ic.component_id FROM incident_updates u
JOIN incident_components ic ON ic.incident_id = u.incident_id
WHERE u.message_id = :message_id
UNION
SELECT ic.component_id FROM incidents i
JOIN incident_components ic ON ic.incident_id = i.id
WHERE i.thread_message_id = :message_id;

-- name: sub_message_is_incident
SELECT 1 AS found FROM incident_updates WHERE message_id = :message_id
UNION
SELECT 1 AS found FROM incidents WHERE thread_message_id = :message_id;

-- name: sub_hook_success
UPDATE subscribers SET failures = 0, last_error = NULL, updated_at = :now
WHERE id = :id AND kind = 'webhook'
RETURNING *;

-- name: sub_hook_failure
UPDATE subscribers SET failures = failures + 1, last_error = :error, updated_at = :now
WHERE id = :id AND kind = 'webhook'
RETURNING *;

-- name: sub_attempts_count
SELECT COUNT(*) AS n, MIN(at) AS oldest FROM subscribe_attempts WHERE key = :key AND at >= :since;

-- name: sub_attempt_insert
INSERT INTO subscribe_attempts (key, at) VALUES (:key, :now);

-- name: sub_attempts_prune
DELETE FROM subscribe_attempts WHERE at < :before;

-- Webhook subscribers' missed copies (failover/subscribers/hook_retries.py) ----------------

-- name: hook_copy_put
INSERT INTO hook_copies (key, message_id, body, created_at)
VALUES (:key, :message_id, :body, :now)
ON CONFLICT (key) DO NOTHING;

-- name: hook_retry_add
-- Only for a hook still confirmed; a copy already waiting for this hook keeps its schedule.
INSERT INTO hook_retries (subscriber_id, copy_key, channel, attempts, due_at, last_error,
                          created_at)
SELECT id, :key, :channel, 1, :due_at, :error, :now FROM subscribers
WHERE id = :subscriber_id AND kind = 'webhook' AND state = 'confirmed'
ON CONFLICT (subscriber_id, copy_key) DO NOTHING;

-- name: hook_retry_taken
-- The hook took this copy after all (a delivery sent again): nothing is left to retry.
DELETE FROM hook_retries WHERE subscriber_id = :id AND copy_key = :key;

-- name: hook_retry_sooner
-- The hook works again: the copies it still misses are due now, not at their next step.
UPDATE hook_retries SET due_at = :now WHERE subscriber_id = :id AND due_at > :now;

-- name: hook_retry_drop_unsubscribed
-- Due copies of hooks no longer confirmed (unsubscribed meanwhile) are not sent.
DELETE FROM hook_retries
WHERE due_at <= :now AND subscriber_id NOT IN (
    SELECT id FROM subscribers WHERE kind = 'webhook' AND state = 'confirmed');

-- name: hook_retry_claim
UPDATE hook_retries SET claimed_by = :owner, claim_until = :lease_until
WHERE id IN (
    SELECT id FROM hook_retries
    WHERE due_at <= :now AND (claim_until IS NULL OR claim_until <= :now)
    ORDER BY due_at, id
    LIMIT :limit)
  AND (claim_until IS NULL OR claim_until <= :now)
RETURNING id;

-- name: hook_retry_claimed
SELECT r.id, r.subscriber_id, r.channel, r.attempts, r.copy_key, r.claim_until, c.message_id,
       c.body, s.address, s.secret
FROM hook_retries r
JOIN hook_copies c ON c.key = r.copy_key
JOIN subscribers s ON s.id = r.subscriber_id
WHERE r.claimed_by = :owner AND r.claim_until = :lease_until
ORDER BY r.due_at, r.id;

-- name: hook_retry_again
UPDATE hook_retries
SET attempts = :attempts, due_at = :due_at, last_error = :error, claimed_by = NULL,
    claim_until = NULL
WHERE id = :id AND claimed_by = :owner AND claim_until = :lease_until;

-- name: hook_retry_done
DELETE FROM hook_retries WHERE id = :id AND claimed_by = :owner AND claim_until = :lease_until;

-- name: hook_gave_up_event
INSERT INTO events (at, kind, channel, message_id, detail)
VALUES (:now, 'subscriber.hook_gave_up', :channel, :message_id, :detail);

-- name: hook_copies_prune
-- Copies no hook waits for any more (taken, given up, or their subscribers erased).
DELETE FROM hook_copies
WHERE NOT EXISTS (SELECT 1 FROM hook_retries r WHERE r.copy_key = hook_copies.key);

-- name: hook_retry_next_due
SELECT MIN(due_at) AS t FROM hook_retries WHERE claim_until IS NULL OR claim_until <= :now;

-- name: hook_retry_counts
SELECT subscriber_id, COUNT(*) AS n FROM hook_retries GROUP BY subscriber_id;
