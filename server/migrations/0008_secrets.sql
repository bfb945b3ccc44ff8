-- 0008_secrets: the encrypted secret store. Each put makes a new immutable secret version whose
-- value is sealed with its own random data key (AES-256-GCM); the data key is wrapped by the
-- master key named by key_id. Nothing here is readable without the master key file.
-- A removed secret keeps its row (deleted_at) so version numbers never repeat, and loses every
-- ciphertext.

CREATE TABLE secrets (
	name text PRIMARY KEY,
	current_version int NOT NULL DEFAULT 0,
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz
);

CREATE TABLE secret_versions (
	name text NOT NULL REFERENCES secrets (name),
	version int NOT NULL CHECK (version > 0),
	key_id text NOT NULL,        -- the master key that wraps data_key (see secret_box.h)
	wrapped_key bytea NOT NULL,  -- nonce || AES-256-GCM(master key, data key) || tag
	ciphertext bytea NOT NULL,   -- nonce || AES-256-GCM(data key, value) || tag
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (name, version)
);
