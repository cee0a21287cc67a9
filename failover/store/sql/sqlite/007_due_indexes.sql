-- The scheduler asks "what is due, and when is the next thing due" on every wake-up; with a
-- large queue of future posts those questions must be answered from an index, not a scan.
CREATE INDEX deliveries_pending_due ON deliveries (due_at) WHERE state = 'pending';
CREATE INDEX deliveries_sending_expiry ON deliveries (channel, claim_expires_at)
    WHERE state = 'sending';
