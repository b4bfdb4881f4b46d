-- The unfinished targets of each deployment (a target's finished_ms is set exactly when
-- it reaches a final state): whether a deployment is done is read after every target's
-- end, and must not walk its finished targets (100,000 targets made that quadratic).
-- Keep in step with the other backend's 0021_target_indexes.sql.
CREATE INDEX targets_unfinished_deployment ON targets (deployment_id) WHERE finished_ms IS NULL;

-- The targets that ended with their outcome unknown, by asset: read before every
-- deployment to an asset (a scan of every target's error code before each of 100,000
-- targets was quadratic) and by the reconciler every minute.
CREATE INDEX targets_outcome_unknown ON targets (asset_id, finished_ms)
    WHERE error_code = 'target.unreachable_outcome_unknown';
