-- 0007_rolled_back_by: a deployment that was rolled back automatically names the deployment
-- that rolled it back, so clients can follow it without reading the reason.
ALTER TABLE deployments ADD COLUMN rolled_back_by text NOT NULL DEFAULT '';
