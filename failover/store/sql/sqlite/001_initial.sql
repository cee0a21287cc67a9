-- failover schema, version 1 (SQLite). Times are UTC epoch seconds (REAL).

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    text            TEXT    NOT NULL,
    title           TEXT,
    link            TEXT,
    images          TEXT    NOT NULL DEFAULT '[]',
    content_warning TEXT,
    language        TEXT,
    overrides       TEXT    NOT NULL DEFAULT '{}',
    route           TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    created_at      REAL    NOT NULL,
    scheduled_at    REAL,
    expires_at      REAL,
    thread_id       INTEGER REFERENCES messages (id),
    idempotency_key TEXT    UNIQUE,
    request_hash    TEXT,
    cancelled_at    REAL
);
CREATE INDEX messages_expires ON messages (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX messages_thread ON messages (thread_id) WHERE thread_id IS NOT NULL;

-- One message on one channel. UNIQUE (message_id, channel): a message never reaches a
-- channel twice, whatever rerouting happens.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    message_id       INTEGER NOT NULL REFERENCES messages (id),
    channel          TEXT    NOT NULL,
    tier             INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    due_at           REAL    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_attempt_at REAL,
    last_attempt_at  REAL,
    last_error       TEXT,
    remote_id        TEXT,
    url              TEXT,
    receipt          TEXT    NOT NULL DEFAULT '{}',
    progress         TEXT    NOT NULL DEFAULT '{}',
    uncertain        INTEGER NOT NULL DEFAULT 0,
    claimed_by       TEXT,
    claim_expires_at REAL,
    updated_at       REAL    NOT NULL,
    UNIQUE (message_id, channel)
);
CREATE INDEX deliveries_active ON deliveries (channel, state, due_at)
    WHERE state IN ('pending', 'sending');
CREATE INDEX deliveries_message ON deliveries (message_id);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    number      INTEGER NOT NULL,
    started_at  REAL    NOT NULL,
    finished_at REAL    NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT,
    status      INTEGER
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          REAL    NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT,
    channel     TEXT,
    message_id  INTEGER,
    delivery_id INTEGER,
    detail      TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_channel ON events (channel, at);

CREATE TABLE channel_states (
    channel     TEXT PRIMARY KEY,
    health      TEXT NOT NULL DEFAULT 'unknown',
    forced      TEXT NOT NULL DEFAULT 'auto',
    since       REAL,
    reason      TEXT NOT NULL DEFAULT '',
    forced_by   TEXT,
    late_cursor REAL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   REAL NOT NULL,
    created_by   TEXT,
    revoked_at   REAL,
    last_used_at REAL
);
