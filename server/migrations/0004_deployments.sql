-- 0004_deployments: deployments (one per deploy, rollback or removal) with their per-node state,
-- what each node reports it runs, and the desired-state generation of each node.

-- Grows whenever the node's desired set changes; the agent ignores anything older than it has.
ALTER TABLE nodes ADD COLUMN desired_generation bigint NOT NULL DEFAULT 0;

CREATE TABLE deployments (
	id text PRIMARY KEY,
	app text NOT NULL REFERENCES apps (name),
	version bigint NOT NULL,  -- the version the nodes move to; for a removal, the last one
	kind int NOT NULL,        -- overseer.v1.DeploymentKind
	state int NOT NULL,       -- overseer.v1.DeploymentState
	actor text NOT NULL,
	reason text NOT NULL DEFAULT '',
	purge_volumes boolean NOT NULL DEFAULT false,
	started_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz
);
CREATE INDEX deployments_app ON deployments (app, started_at DESC);
-- Deployments still moving, for the agents' reports and superseding.
CREATE INDEX deployments_in_progress ON deployments (app) WHERE state = 1;

CREATE TABLE deployment_nodes (
	deployment_id text NOT NULL REFERENCES deployments (id),
	node_id text NOT NULL REFERENCES nodes (id),
	state int NOT NULL DEFAULT 1,  -- overseer.v1.NodeDeploymentState
	message text NOT NULL DEFAULT '',
	containers bytea NOT NULL DEFAULT '',  -- packed overseer.v1.NodeDeployment (containers only)
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (deployment_id, node_id)
);

ALTER TABLE apps ADD COLUMN active_deployment_id text REFERENCES deployments (id);

-- What each node last reported for each app it runs (observed state).
CREATE TABLE node_apps (
	node_id text NOT NULL REFERENCES nodes (id),
	app text NOT NULL,
	version bigint NOT NULL,
	content_hash text NOT NULL DEFAULT '',
	phase int NOT NULL,
	message text NOT NULL DEFAULT '',
	containers bytea NOT NULL DEFAULT '',
	deployment_id text NOT NULL DEFAULT '',
	generation bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (node_id, app)
);

