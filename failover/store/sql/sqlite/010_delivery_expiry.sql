-- Every scheduler pass asks when the soonest pending message expires. Answered from messages,
-- it walked every message that ever had an expiry, delivered or not (13 ms a pass with 20,000
-- delivered ones, and a pass follows every finished send). A copy of the expiry on each
-- delivery, kept by triggers in the same transaction, makes it one search of a partial index.
ALTER TABLE deliveries ADD COLUMN expires_at REAL;
UPDATE deliveries
SET expires_at = (SELECT m.expires_at FROM messages m WHERE m.id = deliveries.message_id)
WHERE state = 'pending';
CREATE INDEX deliveries_pending_expiry ON deliveries (expires_at)
    WHERE state = 'pending' AND expires_at IS NOT NULL;

CREATE TRIGGER deliveries_copy_expiry AFTER INSERT ON deliveries
WHEN new.expires_at IS NULL AND EXISTS (
    SELECT 1 FROM messages WHERE id = new.message_id AND expires_at IS NOT NULL)
BEGIN
    UPDATE deliveries SET expires_at = (SELECT expires_at FROM messages WHERE id = new.message_id)
    WHERE id = new.id;
END;

CREATE TRIGGER messages_expiry_to_deliveries AFTER UPDATE OF expires_at ON messages
WHEN old.expires_at IS NOT new.expires_at
BEGIN
    UPDATE deliveries SET expires_at = new.expires_at WHERE message_id = new.id;
END;
