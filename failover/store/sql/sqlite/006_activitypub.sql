-- The daemon's own fediverse actor (channel type activitypub): its key and handle, its
-- followers, what it published, and the per-inbox deliveries with their retries.
CREATE TABLE ap_actor (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    username    TEXT NOT NULL,
    domain      TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  REAL NOT NULL,
    moved_at    REAL
);
CREATE TABLE ap_followers (
    actor        TEXT PRIMARY KEY,
    inbox        TEXT NOT NULL,
    shared_inbox TEXT,
    follow_id    TEXT NOT NULL,
    state        TEXT NOT NULL,  -- pending (awaiting approval) | accepted
    handle       TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE TABLE ap_objects (
    id           TEXT PRIMARY KEY,   -- the Note's id
    message_id   INTEGER,
    note         TEXT NOT NULL,      -- JSON
    activity     TEXT NOT NULL,      -- JSON: the Create that published it
    published_at REAL NOT NULL,
    updated_at   REAL NOT NULL,
    deleted_at   REAL
);
CREATE INDEX ap_objects_message ON ap_objects (message_id);
CREATE TABLE ap_activities (
    id         TEXT PRIMARY KEY,
    object_id  TEXT,
    body       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE ap_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id TEXT NOT NULL REFERENCES ap_activities (id),
    message_id  INTEGER,
    inbox       TEXT NOT NULL,
    host        TEXT NOT NULL,
    state       TEXT NOT NULL,  -- pending | delivered | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      REAL NOT NULL,
    claimed_by  TEXT,
    claim_until REAL,
    last_status INTEGER,
    last_error  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX ap_deliveries_due ON ap_deliveries (state, due_at);
CREATE INDEX ap_deliveries_message ON ap_deliveries (message_id);
CREATE TABLE ap_hosts (
    host         TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,  -- consecutive, for the circuit breaker
    failure_days TEXT NOT NULL DEFAULT '[]',  -- JSON: distinct UTC days with failures
    open_until   REAL,
    unavailable  INTEGER NOT NULL DEFAULT 0,
    updated_at   REAL NOT NULL
);
CREATE TABLE ap_seen (
    id      TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
-- Images of published Notes, served at /ap/media/<name> by every daemon of a cluster.
CREATE TABLE ap_media (
    name         TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   REAL NOT NULL
);
