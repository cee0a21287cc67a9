-- Named queries of incidents, maintenance and components (failover/store/status.py). Same
-- names and parameters in both dialects; the texts differ only in parameter style.

-- name: status_components
SELECT * FROM components ORDER BY position, name, id;

-- name: status_component_get
SELECT * FROM components WHERE id = :id;

-- name: status_component_insert
INSERT INTO components (id, name, description, group_name, position, status, probe, created_at, updated_at)
VALUES (:id, :name, :description, :group_name, :position, 'operational', :probe, :now, :now)
ON CONFLICT (id) DO NOTHING;

-- name: status_component_describe
UPDATE components
SET name = :name, description = :description, group_name = :group_name, position = :position,
    probe = :probe, updated_at = :now
WHERE id = :id;

-- name: status_component_set
UPDATE components SET status = :status, updated_at = :now
WHERE id = :id AND status <> :status;

-- name: status_history_insert
INSERT INTO component_history (component_id, status, source, at)
VALUES (:id, :status, :source, :now);

-- name: status_component_history
SELECT h.component_id, h.status, h.source, h.at FROM component_history h
WHERE h.at >= :since
   OR h.id = (
       SELECT p.id FROM component_history p
       WHERE p.component_id = h.component_id AND p.at < :since
       ORDER BY p.at DESC, p.id DESC
       LIMIT 1
   )
ORDER BY h.component_id, h.at, h.id;

-- name: status_incidents
SELECT * FROM incidents
WHERE (CAST(:kind AS TEXT) IS NULL OR kind = :kind)
  AND (CAST(:active AS INTEGER) IS NULL
       OR (CASE WHEN state IN ('resolved', 'completed') THEN 0 ELSE 1 END) = :active)
  AND (CAST(:before_id AS BIGINT) IS NULL OR id < :before_id)
  AND (CAST(:drafts AS INTEGER) = 1 OR draft = 0)
ORDER BY id DESC
LIMIT :limit;

-- name: status_incidents_components
SELECT * FROM incident_components
WHERE incident_id IN (
    SELECT id FROM incidents
    WHERE (CAST(:kind AS TEXT) IS NULL OR kind = :kind)
      AND (CAST(:active AS INTEGER) IS NULL
           OR (CASE WHEN state IN ('resolved', 'completed') THEN 0 ELSE 1 END) = :active)
      AND (CAST(:before_id AS BIGINT) IS NULL OR id < :before_id)
      AND (CAST(:drafts AS INTEGER) = 1 OR draft = 0)
    ORDER BY id DESC
    LIMIT :limit
)
ORDER BY incident_id, component_id;

-- name: status_incidents_updates
SELECT * FROM incident_updates
WHERE incident_id IN (
    SELECT id FROM incidents
    WHERE (CAST(:kind AS TEXT) IS NULL OR kind = :kind)
      AND (CAST(:active AS INTEGER) IS NULL
           OR (CASE WHEN state IN ('resolved', 'completed') THEN 0 ELSE 1 END) = :active)
      AND (CAST(:before_id AS BIGINT) IS NULL OR id < :before_id)
      AND (CAST(:drafts AS INTEGER) = 1 OR draft = 0)
    ORDER BY id DESC
    LIMIT :limit
)
ORDER BY incident_id, created_at DESC, id DESC;

-- name: status_incident_get
SELECT * FROM incidents WHERE id = :id;

-- name: status_incident_components
SELECT * FROM incident_components WHERE incident_id = :id ORDER BY component_id;

-- name: status_incident_updates
SELECT * FROM incident_updates WHERE incident_id = :id ORDER BY created_at DESC, id DESC;

-- name: status_incident_insert
INSERT INTO incidents (kind, title, impact, state, route, draft, scheduled_for, scheduled_until,
                       remind_before, auto_start, auto_complete, created_by, created_at, updated_at)
VALUES (:kind, :title, :impact, :state, :route, :draft, :scheduled_for, :scheduled_until,
        :remind_before, :auto_start, :auto_complete, :created_by, :now, :now)
RETURNING id;

-- name: status_incident_component_insert
INSERT INTO incident_components (incident_id, component_id, status)
VALUES (:incident_id, :component_id, :status);

-- name: status_incident_components_clear
DELETE FROM incident_components WHERE incident_id = :incident_id;

-- name: status_update_insert
INSERT INTO incident_updates (incident_id, state, body, message_id, created_by, created_at)
VALUES (:incident_id, :state, :body, :message_id, :created_by, :now)
RETURNING *;

-- name: status_incident_state
UPDATE incidents
SET state = :state,
    updated_at = :now,
    thread_message_id = coalesce(thread_message_id, CAST(:message_id AS BIGINT)),
    started_at = CASE WHEN started_at IS NULL AND CAST(:state AS TEXT) <> 'scheduled'
                      THEN :now ELSE started_at END,
    resolved_at = CASE WHEN CAST(:state AS TEXT) IN ('resolved', 'completed')
                       THEN :now ELSE NULL END
WHERE id = :incident_id;

-- name: status_incident_publish
UPDATE incidents SET draft = 0, updated_at = :now WHERE id = :id AND draft = 1;

-- name: status_update_message
UPDATE incident_updates SET message_id = :message_id WHERE id = :update_id;

-- name: status_incident_thread
UPDATE incidents SET thread_message_id = coalesce(thread_message_id, CAST(:message_id AS BIGINT))
WHERE id = :incident_id;

-- name: status_incident_reminded
UPDATE incidents SET reminded_at = :now WHERE id = :id AND reminded_at IS NULL;
