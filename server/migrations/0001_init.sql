-- 0001_init: nodes and their certificates, join and API tokens, the audit log, server metadata.
-- Applied by db_migrate in one transaction (no BEGIN/COMMIT here). Times are timestamptz,
-- identifiers are text.

CREATE TABLE nodes (
	id text PRIMARY KEY,
	name text NOT NULL UNIQUE,
	labels jsonb NOT NULL DEFAULT '{}',
	state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
	cert_serial text NOT NULL,
	cert_expires_at timestamptz NOT NULL,
	hostname text NOT NULL DEFAULT '',
	addresses text[] NOT NULL DEFAULT '{}',
	agent_version text NOT NULL DEFAULT '',
	docker_version text NOT NULL DEFAULT '',
	compose_version text NOT NULL DEFAULT '',
	os_arch text NOT NULL DEFAULT '',
	-- the server instance id holding the node's stream, NULL while disconnected
	connected_server text NULL,
	connected_at timestamptz,
	last_seen_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	revoked_at timestamptz
);

CREATE TABLE revoked_serials (
	serial text PRIMARY KEY,
	node_id text NOT NULL,
	revoked_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE join_tokens (
	id text PRIMARY KEY,
	secret_hash bytea NOT NULL,
	node_name text NOT NULL,
	labels jsonb NOT NULL DEFAULT '{}',
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	node_id text,
	failed_attempts int NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
	id text PRIMARY KEY,
	name text NOT NULL UNIQUE,
	secret_hash bytea NOT NULL,
	role text NOT NULL CHECK (role IN ('admin', 'deployer', 'viewer')),
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz,
	revoked_at timestamptz,
	last_used_at timestamptz
);

CREATE TABLE audit_events (
	seq bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	actor text NOT NULL,
	action text NOT NULL,
	target text NOT NULL DEFAULT '',
	request_id text NOT NULL DEFAULT '',
	source text NOT NULL DEFAULT '',
	outcome text NOT NULL,
	summary jsonb NOT NULL DEFAULT '{}',
	prev_hash bytea,
	hash bytea
);

CREATE TABLE server_meta (
	key text PRIMARY KEY,
	value text NOT NULL
);
