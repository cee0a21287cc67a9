-- The PostgreSQL store's own subscriber queries, overriding sql/common/: only what differs.

-- name: hook_retry_claim
-- Row locks, so two daemons that both think they lead never take the same copy.
UPDATE hook_retries SET claimed_by = %(owner)s, claim_until = %(lease_until)s
WHERE id IN (
    SELECT id FROM hook_retries
    WHERE due_at <= %(now)s AND (claim_until IS NULL OR claim_until <= %(now)s)
    ORDER BY due_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
  AND (claim_until IS NULL OR claim_until <= %(now)s)
RETURNING id;
