-- 0003_apps: apps, their immutable versions, and request ids that make retried calls idempotent.
-- An app is soft-deleted (deleted_at) so its history is never rewritten; its name stays taken.

CREATE TABLE apps (
	name text PRIMARY KEY,
	-- {"nodes": ["web-1", ...], "selector": "role=web"}
	targets jsonb NOT NULL DEFAULT '{"nodes": [], "selector": ""}',
	current_version bigint NOT NULL DEFAULT 0,
	last_known_good_version bigint NOT NULL DEFAULT 0,
	min_healthy_time_ms bigint NOT NULL DEFAULT 10000,
	healthy_deadline_ms bigint NOT NULL DEFAULT 300000,
	auto_rollback_disabled boolean NOT NULL DEFAULT false,
	strategy int NOT NULL DEFAULT 1,
	max_parallel int NOT NULL DEFAULT 1,
	max_failures int NOT NULL DEFAULT 0,
	strict_lint boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz
);

CREATE TABLE app_versions (
	app text NOT NULL REFERENCES apps (name),
	version bigint NOT NULL CHECK (version > 0),
	compose_yaml text NOT NULL,
	environment jsonb NOT NULL DEFAULT '{}',
	secrets jsonb NOT NULL DEFAULT '[]',
	routes jsonb NOT NULL DEFAULT '[]',
	content_hash text NOT NULL,
	author text NOT NULL,
	message text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	rollback_of bigint NOT NULL DEFAULT 0,
	kind int NOT NULL,
	PRIMARY KEY (app, version)
);

-- Versions are immutable: the database refuses to change or remove one.
CREATE FUNCTION app_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'app versions are immutable';
END
$$;
CREATE TRIGGER app_versions_immutable BEFORE UPDATE OR DELETE ON app_versions
	FOR EACH ROW EXECUTE FUNCTION app_versions_immutable();

CREATE TABLE request_ids (
	app text NOT NULL,
	request_id text NOT NULL,
	version bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (app, request_id)
);
