-- Named queries of the ActivityPub actor (failover/store/fediverse.py), written once for both
-- stores like sql/common/queries.sql.

-- name: ap_actor_get
SELECT * FROM ap_actor WHERE id = 1;

-- name: ap_actor_insert
INSERT INTO ap_actor (id, username, domain, base_url, private_key, created_at)
VALUES (1, :username, :domain, :base_url, :private_key, :now)
ON CONFLICT (id) DO NOTHING;

-- name: ap_actor_move
UPDATE ap_actor SET username = :username, domain = :domain, base_url = :base_url, moved_at = :now
WHERE id = 1;

-- name: ap_follower_upsert
INSERT INTO ap_followers (actor, inbox, shared_inbox, follow_id, state, handle, created_at, updated_at)
VALUES (:actor, :inbox, :shared_inbox, :follow_id, :state, :handle, :now, :now)
ON CONFLICT (actor) DO UPDATE SET
    inbox = excluded.inbox,
    shared_inbox = excluded.shared_inbox,
    follow_id = excluded.follow_id,
    handle = excluded.handle,
    state = CASE WHEN ap_followers.state = 'accepted' THEN 'accepted' ELSE excluded.state END,
    updated_at = excluded.updated_at
RETURNING *;

-- name: ap_follower_get
SELECT * FROM ap_followers WHERE actor = :actor;

-- name: ap_follower_delete
DELETE FROM ap_followers WHERE actor = :actor;

-- name: ap_follower_accept
UPDATE ap_followers SET state = 'accepted', updated_at = :now
WHERE actor = :actor AND state = 'pending'
RETURNING *;

-- name: ap_followers_list
SELECT * FROM ap_followers
WHERE state = :state
ORDER BY created_at, actor
LIMIT :limit OFFSET :offset;

-- name: ap_follower_counts
SELECT state, count(*) AS n FROM ap_followers GROUP BY state;

-- name: ap_inboxes
SELECT DISTINCT coalesce(shared_inbox, inbox) AS inbox FROM ap_followers
WHERE state = 'accepted'
ORDER BY inbox;

-- name: ap_object_put
INSERT INTO ap_objects (id, message_id, note, activity, published_at, updated_at, deleted_at)
VALUES (:id, :message_id, :note, :activity, :now, :now, :deleted_at)
ON CONFLICT (id) DO UPDATE SET
    note = excluded.note,
    updated_at = excluded.updated_at,
    deleted_at = excluded.deleted_at;

-- name: ap_object_get
SELECT * FROM ap_objects WHERE id = :id;

-- name: ap_outbox_page
SELECT * FROM ap_objects
WHERE deleted_at IS NULL
ORDER BY published_at DESC, id DESC
LIMIT :limit OFFSET :offset;

-- name: ap_outbox_count
SELECT count(*) AS n FROM ap_objects WHERE deleted_at IS NULL;

-- name: ap_activity_insert
INSERT INTO ap_activities (id, object_id, body, created_at)
VALUES (:id, :object_id, :body, :now)
ON CONFLICT (id) DO NOTHING;

-- name: ap_delivery_insert
INSERT INTO ap_deliveries (activity_id, message_id, inbox, host, state, attempts, due_at,
                           last_error, created_at, updated_at)
VALUES (:activity_id, :message_id, :inbox, :host, :state, 0, :now, :error, :now, :now)
ON CONFLICT (activity_id, inbox) DO NOTHING;

-- name: ap_delivery_claimed
SELECT d.*, a.body FROM ap_deliveries d JOIN ap_activities a ON a.id = d.activity_id
WHERE d.claimed_by = :owner AND d.claim_until = :lease_until AND d.state = 'pending'
ORDER BY d.id;

-- name: ap_delivery_finish
UPDATE ap_deliveries
SET state = :state, attempts = attempts + 1, due_at = :due_at, last_status = :status,
    last_error = :error, claimed_by = NULL, claim_until = NULL, updated_at = :now
WHERE id = :id AND claimed_by = :owner;

-- name: ap_delivery_next_due
-- When a row next becomes claimable: its due time (or its host's breaker reopening), or
-- the expiry of a live claim.
SELECT min(t) AS t FROM (
    SELECT CASE WHEN h.open_until > d.due_at THEN h.open_until ELSE d.due_at END AS t
    FROM ap_deliveries d LEFT JOIN ap_hosts h ON h.host = d.host
    WHERE d.state = 'pending' AND (d.claim_until IS NULL OR d.claim_until <= :now)
    UNION ALL
    SELECT min(claim_until) AS t FROM ap_deliveries
    WHERE state = 'pending' AND claim_until > :now) AS due;

-- name: ap_deliveries_of_message
SELECT * FROM ap_deliveries WHERE message_id = :message_id ORDER BY id;

-- name: ap_delivery_counts
SELECT state, count(*) AS n FROM ap_deliveries
WHERE message_id = :message_id OR CAST(:message_id AS BIGINT) IS NULL
GROUP BY state;

-- name: ap_failing_inboxes
SELECT count(DISTINCT inbox) AS n FROM ap_deliveries
WHERE (state = 'failed' AND updated_at > :since) OR (state = 'pending' AND attempts > 0);

-- name: ap_host_get
SELECT * FROM ap_hosts WHERE host = :host;

-- name: ap_host_put
INSERT INTO ap_hosts (host, failures, failure_days, open_until, unavailable, updated_at)
VALUES (:host, :failures, :failure_days, :open_until, :unavailable, :now)
ON CONFLICT (host) DO UPDATE SET
    failures = excluded.failures,
    failure_days = excluded.failure_days,
    open_until = excluded.open_until,
    unavailable = excluded.unavailable,
    updated_at = excluded.updated_at;

-- name: ap_host_clear
DELETE FROM ap_hosts WHERE host = :host;

-- name: ap_hosts_unavailable
SELECT host FROM ap_hosts WHERE unavailable = 1 ORDER BY host;

-- name: ap_seen_insert
INSERT INTO ap_seen (id, seen_at) VALUES (:id, :now) ON CONFLICT (id) DO NOTHING;

-- name: ap_seen_prune
DELETE FROM ap_seen WHERE seen_at < :before;

-- name: ap_media_put
INSERT INTO ap_media (name, content_type, data, created_at)
VALUES (:name, :content_type, :data, :now)
ON CONFLICT (name) DO NOTHING;

-- name: ap_media_get
SELECT content_type, data FROM ap_media WHERE name = :name;

-- name: ap_pending_of_activity
SELECT count(*) AS n FROM ap_deliveries WHERE activity_id = :activity_id AND state = 'pending';

-- name: ap_seen_get
SELECT 1 AS seen FROM ap_seen WHERE id = :id;
