-- 0006_rollout: rolling deployments. A deployment keeps the rollout it started with, so changing
-- the app's settings never changes a deployment in progress. A node's row is released when its
-- turn comes (all at once: at the start); until then the node keeps what it ran, and its health
-- deadline counts from its release.

ALTER TABLE deployments ADD COLUMN max_parallel int NOT NULL DEFAULT 0; -- 0: all at once
ALTER TABLE deployments ADD COLUMN max_failures int NOT NULL DEFAULT 0;
ALTER TABLE deployment_nodes ADD COLUMN released_at timestamptz;

UPDATE deployment_nodes dn SET released_at = d.started_at FROM deployments d
	WHERE d.id = dn.deployment_id;
