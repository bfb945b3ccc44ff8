-- 0005_health_gate: what the health gate needs per node of a deployment: since when the node has
-- been healthy without a break, and its containers' restart count when that began (a restart in
-- the window fails the node).
ALTER TABLE deployment_nodes ADD COLUMN healthy_since timestamptz;
ALTER TABLE deployment_nodes ADD COLUMN restart_baseline bigint NOT NULL DEFAULT 0;
