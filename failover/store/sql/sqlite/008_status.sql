-- Incidents, scheduled maintenance, the company's components and the status page's
-- subscribers (issue 16). Times are UTC epoch seconds; JSON is text.

-- The company's own services, shown on the public status page.
CREATE TABLE components (
    id          TEXT PRIMARY KEY,             -- slug from config or the API, e.g. "api"
    name        TEXT    NOT NULL,
    description TEXT,
    group_name  TEXT,
    position    INTEGER NOT NULL DEFAULT 0,
    status      TEXT    NOT NULL DEFAULT 'operational',
    -- operational | degraded_performance | partial_outage | major_outage | under_maintenance
    probe       TEXT,                         -- URL watched by the daemon's http probe, or NULL
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL
);

-- Every status a component took and when: the 90-day uptime bars.
CREATE TABLE component_history (
    id           INTEGER PRIMARY KEY,
    component_id TEXT    NOT NULL REFERENCES components (id),
    status       TEXT    NOT NULL,
    source       TEXT    NOT NULL,            -- incident:<id> | maintenance:<id> | operator:<name> | probe
    at           REAL    NOT NULL
);
CREATE INDEX component_history_at ON component_history (component_id, at);

-- An incident (kind 'incident') or a scheduled maintenance (kind 'maintenance').
CREATE TABLE incidents (
    id                INTEGER PRIMARY KEY,
    kind              TEXT    NOT NULL,       -- incident | maintenance
    title             TEXT    NOT NULL,
    impact            TEXT    NOT NULL,       -- none | minor | major | critical | maintenance
    state             TEXT    NOT NULL,
    -- incident: investigating | identified | monitoring | resolved
    -- maintenance: scheduled | in_progress | verifying | completed
    route             TEXT    NOT NULL,       -- every update is a message on this route
    draft             INTEGER NOT NULL DEFAULT 0,  -- opened by a probe, awaiting a human
    thread_message_id INTEGER REFERENCES messages (id),  -- first post; updates reply to it
    scheduled_for     REAL,                   -- maintenance: planned start
    scheduled_until   REAL,                   -- maintenance: planned end
    remind_before     REAL,                   -- maintenance: seconds before start, or NULL
    reminded_at       REAL,
    auto_start        INTEGER NOT NULL DEFAULT 0,
    auto_complete     INTEGER NOT NULL DEFAULT 0,
    created_by        TEXT    NOT NULL,
    created_at        REAL    NOT NULL,
    updated_at        REAL    NOT NULL,
    started_at        REAL,
    resolved_at       REAL                    -- resolved or completed
);
CREATE INDEX incidents_state ON incidents (kind, state, updated_at);

-- The components an incident affects, and the status it gives each.
CREATE TABLE incident_components (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    component_id TEXT    NOT NULL REFERENCES components (id),
    status       TEXT    NOT NULL,
    PRIMARY KEY (incident_id, component_id)
);

-- The timeline of an incident: each update is also a message on the incident's route.
CREATE TABLE incident_updates (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    state       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    message_id  INTEGER REFERENCES messages (id),
    created_by  TEXT    NOT NULL,
    created_at  REAL    NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, created_at);

-- People and systems told about incidents: email (double opt-in) or signed webhook.
CREATE TABLE subscribers (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL,        -- email | webhook
    address          TEXT    NOT NULL,        -- lower-cased email address, or the hook's URL
    contact_email    TEXT,                    -- webhook: told when the hook keeps failing
    secret           TEXT,                    -- webhook: signing secret
    components       TEXT    NOT NULL DEFAULT '[]',  -- JSON list of component ids; [] = all
    state            TEXT    NOT NULL,        -- pending | confirmed | suppressed | unsubscribed
    token_hash       TEXT,                    -- confirmation token, cleared when used
    token_expires_at REAL,
    unsubscribe_key  TEXT    NOT NULL,        -- random; the one-click link carries it
    failures         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       REAL    NOT NULL,
    confirmed_at     REAL,
    updated_at       REAL    NOT NULL,
    UNIQUE (kind, address)
);
CREATE UNIQUE INDEX subscribers_unsubscribe ON subscribers (unsubscribe_key);

-- Subscribe-form requests, for the per-address and per-source rate limits.
CREATE TABLE subscribe_attempts (
    key TEXT NOT NULL,                        -- "addr:<sha256>" | "src:<ip>"
    at  REAL NOT NULL
);
CREATE INDEX subscribe_attempts_key ON subscribe_attempts (key, at);
