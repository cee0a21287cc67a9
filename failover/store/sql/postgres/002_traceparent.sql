-- The W3C traceparent of a message's acceptance, so attempts made later (or after a restart)
-- join the same trace when tracing is on. NULL when tracing is off.
ALTER TABLE messages ADD COLUMN traceparent TEXT;
