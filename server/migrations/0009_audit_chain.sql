-- 0009_audit_chain: the audit log as a hash chain. The summary is kept as the exact text that was
-- hashed (jsonb would re-serialise it and break the hash), events are found by actor and target,
-- and the table refuses updates and deletes: history is append-only.
ALTER TABLE audit_events ALTER COLUMN summary DROP DEFAULT;
ALTER TABLE audit_events ALTER COLUMN summary TYPE text USING summary::text;
ALTER TABLE audit_events ALTER COLUMN summary SET DEFAULT '{}';
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
