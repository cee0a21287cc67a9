-- The PostgreSQL store's own queries, overriding sql/common/: only what truly differs
-- (row locks, jsonb, the database's own clock for leases shared by several daemons).

-- name: ap_delivery_claim
-- Due rows, at most per_host in flight per host (rows already claimed count first), never
-- for a host whose circuit breaker is open.
UPDATE ap_deliveries
SET claimed_by = %(owner)s, claim_until = %(lease_until)s
WHERE id IN (
    SELECT id FROM ap_deliveries WHERE id IN (
        SELECT id FROM (
            SELECT d.id, d.due_at, d.claim_until,
                   row_number() OVER (
                       PARTITION BY d.host
                       ORDER BY CASE WHEN d.claim_until > %(now)s THEN 0 ELSE 1 END, d.due_at, d.id
                   ) AS rn
            FROM ap_deliveries d
            WHERE d.state = 'pending' AND d.due_at <= %(now)s
              AND NOT EXISTS (SELECT 1 FROM ap_hosts h WHERE h.host = d.host AND h.open_until > %(now)s)
        ) ranked
        WHERE rn <= %(per_host)s AND (claim_until IS NULL OR claim_until <= %(now)s)
        ORDER BY due_at, id
        LIMIT %(limit)s)
    FOR UPDATE SKIP LOCKED)
RETURNING id;
