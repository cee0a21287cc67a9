-- Named queries of the ActivityPub actor (failover/store/fediverse.py). Same names and
-- parameters in both dialects.

-- name: ap_actor_get
SELECT * FROM ap_actor WHERE id = 1;

-- name: ap_actor_insert
INSERT INTO ap_actor (id, username, domain, base_url, private_key, created_at)
VALUES (1, %(username)s, %(domain)s, %(base_url)s, %(private_key)s, %(now)s)
ON CONFLICT (id) DO NOTHING;

-- name: ap_actor_move
UPDATE ap_actor SET username = %(username)s, domain = %(domain)s, base_url = %(base_url)s, moved_at = %(now)s
WHERE id = 1;

-- name: ap_follower_upsert
INSERT INTO ap_followers (actor, inbox, shared_inbox, follow_id, state, handle, created_at, updated_at)
VALUES (%(actor)s, %(inbox)s, %(shared_inbox)s, %(follow_id)s, %(state)s, %(handle)s, %(now)s, %(now)s)
ON CONFLICT (actor) DO UPDATE SET
    inbox = excluded.inbox,
    shared_inbox = excluded.shared_inbox,
    follow_id = excluded.follow_id,
    handle = excluded.handle,
    state = CASE WHEN ap_followers.state = 'accepted' THEN 'accepted' ELSE excluded.state END,
    updated_at = excluded.updated_at
RETURNING *;

-- name: ap_follower_get
SELECT * FROM ap_followers WHERE actor = %(actor)s;

-- name: ap_follower_delete
DELETE FROM ap_followers WHERE actor = %(actor)s;

-- name: ap_follower_accept
UPDATE ap_followers SET state = 'accepted', updated_at = %(now)s
WHERE actor = %(actor)s AND state = 'pending'
RETURNING *;

-- name: ap_followers_list
SELECT * FROM ap_followers
WHERE state = %(state)s
ORDER BY created_at, actor
LIMIT %(limit)s OFFSET %(offset)s;

-- name: ap_follower_counts
SELECT state, count(*) AS n FROM ap_followers GROUP BY state;

-- name: ap_inboxes
SELECT DISTINCT coalesce(shared_inbox, inbox) AS inbox FROM ap_followers
WHERE state = 'accepted'
ORDER BY inbox;

-- name: ap_object_put
INSERT INTO ap_objects (id, message_id, note, activity, published_at, updated_at, deleted_at)
VALUES (%(id)s, %(message_id)s, %(note)s, %(activity)s, %(now)s, %(now)s, %(deleted_at)s)
ON CONFLICT (id) DO UPDATE SET
    note = excluded.note,
    updated_at = excluded.updated_at,
    deleted_at = excluded.deleted_at;

-- name: ap_object_get
SELECT * FROM ap_objects WHERE id = %(id)s;

-- name: ap_outbox_page
SELECT * FROM ap_objects
WHERE deleted_at IS NULL
ORDER BY published_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: ap_outbox_count
SELECT count(*) AS n FROM ap_objects WHERE deleted_at IS NULL;

-- name: ap_activity_insert
INSERT INTO ap_activities (id, object_id, body, created_at)
VALUES (%(id)s, %(object_id)s, %(body)s, %(now)s)
ON CONFLICT (id) DO NOTHING;

-- name: ap_delivery_insert
INSERT INTO ap_deliveries (activity_id, message_id, inbox, host, state, attempts, due_at,
                           last_error, created_at, updated_at)
VALUES (%(activity_id)s, %(message_id)s, %(inbox)s, %(host)s, %(state)s, 0, %(now)s, %(error)s, %(now)s, %(now)s)
ON CONFLICT (activity_id, inbox) DO NOTHING;

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

-- name: ap_delivery_claimed
SELECT d.*, a.body FROM ap_deliveries d JOIN ap_activities a ON a.id = d.activity_id
WHERE d.claimed_by = %(owner)s AND d.claim_until = %(lease_until)s AND d.state = 'pending'
ORDER BY d.id;

-- name: ap_delivery_finish
UPDATE ap_deliveries
SET state = %(state)s, attempts = attempts + 1, due_at = %(due_at)s, last_status = %(status)s,
    last_error = %(error)s, claimed_by = NULL, claim_until = NULL, updated_at = %(now)s
WHERE id = %(id)s AND claimed_by = %(owner)s;

-- name: ap_delivery_next_due
-- When a row next becomes claimable: its due time (or its host's breaker reopening), or
-- the expiry of a live claim.
SELECT min(t) AS t FROM (
    SELECT CASE WHEN h.open_until > d.due_at THEN h.open_until ELSE d.due_at END AS t
    FROM ap_deliveries d LEFT JOIN ap_hosts h ON h.host = d.host
    WHERE d.state = 'pending' AND (d.claim_until IS NULL OR d.claim_until <= %(now)s)
    UNION ALL
    SELECT min(claim_until) AS t FROM ap_deliveries
    WHERE state = 'pending' AND claim_until > %(now)s) AS due;

-- name: ap_deliveries_of_message
SELECT * FROM ap_deliveries WHERE message_id = %(message_id)s ORDER BY id;

-- name: ap_delivery_counts
SELECT state, count(*) AS n FROM ap_deliveries
WHERE message_id = %(message_id)s OR %(message_id)s::bigint IS NULL
GROUP BY state;

-- name: ap_failing_inboxes
SELECT count(DISTINCT inbox) AS n FROM ap_deliveries
WHERE (state = 'failed' AND updated_at > %(since)s) OR (state = 'pending' AND attempts > 0);

-- name: ap_host_get
SELECT * FROM ap_hosts WHERE host = %(host)s;

-- name: ap_host_put
INSERT INTO ap_hosts (host, failures, failure_days, open_until, unavailable, updated_at)
VALUES (%(host)s, %(failures)s, %(failure_days)s, %(open_until)s, %(unavailable)s, %(now)s)
ON CONFLICT (host) DO UPDATE SET
    failures = excluded.failures,
    failure_days = excluded.failure_days,
    open_until = excluded.open_until,
    unavailable = excluded.unavailable,
    updated_at = excluded.updated_at;

-- name: ap_host_clear
DELETE FROM ap_hosts WHERE host = %(host)s;

-- name: ap_hosts_unavailable
SELECT host FROM ap_hosts WHERE unavailable = 1 ORDER BY host;

-- name: ap_seen_insert
INSERT INTO ap_seen (id, seen_at) VALUES (%(id)s, %(now)s) ON CONFLICT (id) DO NOTHING;

-- name: ap_seen_prune
DELETE FROM ap_seen WHERE seen_at < %(before)s;

-- name: ap_media_put
INSERT INTO ap_media (name, content_type, data, created_at)
VALUES (%(name)s, %(content_type)s, %(data)s, %(now)s)
ON CONFLICT (name) DO NOTHING;

-- name: ap_media_get
SELECT content_type, data FROM ap_media WHERE name = %(name)s;

-- name: ap_pending_of_activity
SELECT count(*) AS n FROM ap_deliveries WHERE activity_id = %(activity_id)s AND state = 'pending';

-- name: ap_seen_get
SELECT 1 AS seen FROM ap_seen WHERE id = %(id)s;
