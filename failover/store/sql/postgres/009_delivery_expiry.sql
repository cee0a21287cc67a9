-- Every scheduler pass asks when the soonest pending message expires. Answered from a join of
-- messages and deliveries, it grew with every message that ever had an expiry; a copy of the
-- expiry on each delivery, kept by triggers in the same transaction, makes it one search of a
-- partial index. (Numbered 009 here: SQLite's 009 is its queue counter, which PostgreSQL
-- does not have.)
ALTER TABLE deliveries ADD COLUMN expires_at DOUBLE PRECISION;
UPDATE deliveries d SET expires_at = m.expires_at
FROM messages m
WHERE m.id = d.message_id AND d.state = 'pending' AND m.expires_at IS NOT NULL;
CREATE INDEX deliveries_pending_expiry ON deliveries (expires_at)
    WHERE state = 'pending' AND expires_at IS NOT NULL;

CREATE FUNCTION deliveries_copy_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.expires_at IS NULL THEN
        NEW.expires_at := (SELECT expires_at FROM messages WHERE id = NEW.message_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER deliveries_copy_expiry BEFORE INSERT ON deliveries
FOR EACH ROW EXECUTE FUNCTION deliveries_copy_expiry();

CREATE FUNCTION messages_expiry_to_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET expires_at = NEW.expires_at WHERE message_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_expiry_to_deliveries AFTER UPDATE OF expires_at ON messages
FOR EACH ROW WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at)
EXECUTE FUNCTION messages_expiry_to_deliveries();
