-- The SQLite store's own queries, overriding sql/common/: only what truly differs.

-- name: ap_delivery_claim
-- Due rows, at most per_host in flight per host (rows already claimed count first), never
-- for a host whose circuit breaker is open.
UPDATE ap_deliveries
SET claimed_by = :owner, claim_until = :lease_until
WHERE id IN (
    SELECT id FROM ap_deliveries WHERE id IN (
        SELECT id FROM (
            SELECT d.id, d.due_at, d.claim_until,
                   row_number() OVER (
                       PARTITION BY d.host
                       ORDER BY CASE WHEN d.claim_until > :now THEN 0 ELSE 1 END, d.due_at, d.id
                   ) AS rn
            FROM ap_deliveries d
            WHERE d.state = 'pending' AND d.due_at <= :now
              AND NOT EXISTS (SELECT 1 FROM ap_hosts h WHERE h.host = d.host AND h.open_until > :now)
        ) ranked
        WHERE rn <= :per_host AND (claim_until IS NULL OR claim_until <= :now)
        ORDER BY due_at, id
        LIMIT :limit))
RETURNING id;
