-- The unfinished targets of each deployment (a target's finished_ms is set exactly when
-- it reaches a final state): whether a deployment is done is read after every target's
-- end, and must not walk its finished targets (100,000 targets made that quadratic).
-- Keep in step with the other backend's 0021_unfinished_targets.sql.
CREATE INDEX targets_unfinished_deployment ON targets (deployment_id) WHERE finished_ms IS NULL;
