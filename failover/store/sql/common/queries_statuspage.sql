-- The public status page's own reads (issue 16); the incidents' tables are read through
-- queries_status.sql.

-- name: posts_delivered_on
-- Announcements on the public page: messages delivered to a feed channel, newest first,
-- without the ones retracted there and without incident updates (the page shows those in
-- their incident's timeline).
SELECT m.*, d.last_attempt_at AS delivered_at
FROM messages m
JOIN deliveries d ON d.message_id = m.id AND d.channel = :channel
WHERE d.state = 'delivered'
  AND NOT EXISTS (SELECT 1 FROM events e
                  WHERE e.message_id = m.id AND e.channel = :channel
                    AND e.kind = 'delivery.retracted')
  AND NOT EXISTS (SELECT 1 FROM incident_updates u WHERE u.message_id = m.id)
ORDER BY m.id DESC
LIMIT :limit;
