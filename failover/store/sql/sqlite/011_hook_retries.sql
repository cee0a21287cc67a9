-- Webhook subscribers' missed copies, sent again on a schedule (failover/subscribers/
-- hook_retries.py). A copy's body is kept once however many hooks missed it; each hook's
-- retry is a row that goes when the copy is taken, given up, or its subscriber erased.
CREATE TABLE hook_copies (
    key        TEXT PRIMARY KEY,              -- the Idempotency-Key the copy was sent with
    message_id INTEGER NOT NULL,
    body       TEXT    NOT NULL,              -- the JSON exactly as first sent
    created_at REAL    NOT NULL
);

CREATE TABLE hook_retries (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    copy_key      TEXT    NOT NULL REFERENCES hook_copies (key),
    channel       TEXT    NOT NULL,           -- the webhook channel that sends it
    attempts      INTEGER NOT NULL,           -- POSTs so far, the first one included
    due_at        REAL    NOT NULL,
    claimed_by    TEXT,                       -- the daemon sending it now, until claim_until
    claim_until   REAL,
    last_error    TEXT,
    created_at    REAL    NOT NULL,
    UNIQUE (subscriber_id, copy_key)
);
CREATE INDEX hook_retries_due ON hook_retries (due_at);
CREATE INDEX hook_retries_copy ON hook_retries (copy_key);
