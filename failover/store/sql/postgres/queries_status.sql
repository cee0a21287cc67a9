-- Named queries of incidents, maintenance and components (failover/store/status.py). Same
-- names and parameters in both dialects; the texts differ only in parameter style.

-- name: status_components
SELECT * FROM components ORDER BY position, name, id;

-- name: status_component_get
SELECT * FROM components WHERE id = %(id)s;

-- name: status_component_insert
INSERT INTO components (id, name, description, group_name, position, status, probe, created_at, updated_at)
VALUES (%(id)s, %(name)s, %(description)s, %(group_name)s, %(position)s, 'operational', %(probe)s, %(now)s, %(now)s)
ON CONFLICT (id) DO NOTHING;

-- name: status_component_describe
UPDATE components
SET name = %(name)s, description = %(description)s, group_name = %(group_name)s, position = %(position)s,
    probe = %(probe)s, updated_at = %(now)s
WHERE id = %(id)s;

-- name: status_component_set
UPDATE components SET status = %(status)s, updated_at = %(now)s
WHERE id = %(id)s AND status <> %(status)s;

-- name: status_history_insert
INSERT INTO component_history (component_id, status, source, at)
VALUES (%(id)s, %(status)s, %(source)s, %(now)s);

-- name: status_component_history
SELECT h.component_id, h.status, h.source, h.at FROM component_history h
WHERE h.at >= %(since)s
   OR h.id = (
       SELECT p.id FROM component_history p
       WHERE p.component_id = h.component_id AND p.at < %(since)s
       ORDER BY p.at DESC, p.id DESC
       LIMIT 1
   )
ORDER BY h.component_id, h.at, h.id;

-- name: status_incidents
SELECT * FROM incidents
WHERE (CAST(%(kind)s AS TEXT) IS NULL OR kind = %(kind)s)
  AND (CAST(%(active)s AS INTEGER) IS NULL
       OR (CASE WHEN state IN ('resolved', 'completed') THEN 0 ELSE 1 END) = %(active)s)
  AND (CAST(%(before_id)s AS BIGINT) IS NULL OR id < %(before_id)s)
  AND (CAST(%(drafts)s AS INTEGER) = 1 OR draft = 0)
ORDER BY id DESC
LIMIT %(limit)s;

-- name: status_incidents_components
SELECT * FROM incident_components
WHERE incident_id IN (
    SELECT id FROM incidents
    WHERE (CAST(%(kind)s AS TEXT) IS NULL OR kind = %(kind)s)
      AND (CAST(%(active)s AS INTEGER) IS NULL
           OR (CASE WHEN state IN ('resolved', 'completed') THEN 0 ELSE 1 END) = %(active)s)
      AND (CAST(%(before_id)s AS BIGINT) IS NULL OR id < %(before_id)s)
      AND (CAST(%(drafts)s AS INTEGER) = 1 OR draft = 0)
    ORDER BY id DESC
    LIMIT %(limit)s
)
ORDER BY incident_id, component_id;

-- name: status_incidents_updates
SELECT * FROM incident_updates
WHERE incident_id IN (
    SELECT id FROM incidents
    WHERE (CAST(%(kind)s AS TEXT) IS NULL OR kind = %(kind)s)
      AND (CAST(%(active)s AS INTEGER) IS NULL
           OR (CASE WHEN state IN ('resolved', 'completed') THEN 0 ELSE 1 END) = %(active)s)
      AND (CAST(%(before_id)s AS BIGINT) IS NULL OR id < %(before_id)s)
      AND (CAST(%(drafts)s AS INTEGER) = 1 OR draft = 0)
    ORDER BY id DESC
    LIMIT %(limit)s
)
ORDER BY incident_id, created_at DESC, id DESC;

-- name: status_incident_get
SELECT * FROM incidents WHERE id = %(id)s;

-- name: status_incident_components
SELECT * FROM incident_components WHERE incident_id = %(id)s ORDER BY component_id;

-- name: status_incident_updates
SELECT * FROM incident_updates WHERE incident_id = %(id)s ORDER BY created_at DESC, id DESC;

-- name: status_incident_insert
INSERT INTO incidents (kind, title, impact, state, route, draft, scheduled_for, scheduled_until,
                       remind_before, auto_start, auto_complete, created_by, created_at, updated_at)
VALUES (%(kind)s, %(title)s, %(impact)s, %(state)s, %(route)s, %(draft)s, %(scheduled_for)s, %(scheduled_until)s,
        %(remind_before)s, %(auto_start)s, %(auto_complete)s, %(created_by)s, %(now)s, %(now)s)
RETURNING id;

-- name: status_incident_component_insert
INSERT INTO incident_components (incident_id, component_id, status)
VALUES (%(incident_id)s, %(component_id)s, %(status)s);

-- name: status_incident_components_clear
DELETE FROM incident_components WHERE incident_id = %(incident_id)s;

-- name: status_update_insert
INSERT INTO incident_updates (incident_id, state, body, message_id, created_by, created_at)
VALUES (%(incident_id)s, %(state)s, %(body)s, %(message_id)s, %(created_by)s, %(now)s)
RETURNING *;

-- name: status_incident_state
UPDATE incidents
SET state = %(state)s,
    updated_at = %(now)s,
    thread_message_id = coalesce(thread_message_id, CAST(%(message_id)s AS BIGINT)),
    started_at = CASE WHEN started_at IS NULL AND CAST(%(state)s AS TEXT) <> 'scheduled'
                      THEN %(now)s ELSE started_at END,
    resolved_at = CASE WHEN CAST(%(state)s AS TEXT) IN ('resolved', 'completed')
                       THEN %(now)s ELSE NULL END
WHERE id = %(incident_id)s;

-- name: status_incident_publish
UPDATE incidents SET draft = 0, updated_at = %(now)s WHERE id = %(id)s AND draft = 1;

-- name: status_update_message
UPDATE incident_updates SET message_id = %(message_id)s WHERE id = %(update_id)s;

-- name: status_incident_thread
UPDATE incidents SET thread_message_id = coalesce(thread_message_id, CAST(%(message_id)s AS BIGINT))
WHERE id = %(incident_id)s;

-- name: status_incident_reminded
UPDATE incidents SET reminded_at = %(now)s WHERE id = %(id)s AND reminded_at IS NULL;
