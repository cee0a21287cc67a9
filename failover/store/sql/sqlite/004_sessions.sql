-- Web sessions, kept server-side: the cookie carries a random secret, the store only its
-- SHA-256. The expiry is the server's, set at login and never extended by the client.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    hash         TEXT    NOT NULL UNIQUE,
    token_id     INTEGER NOT NULL REFERENCES tokens (id),
    created_at   REAL    NOT NULL,
    expires_at   REAL    NOT NULL,
    last_seen_at REAL,
    client       TEXT
);
CREATE INDEX sessions_token ON sessions (token_id);
