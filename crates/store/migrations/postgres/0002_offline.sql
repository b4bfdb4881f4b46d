-- Wake-on-LAN, the retry queue and settings that outlive a restart.
-- Keep in step with ../sqlite/0002_offline.sql.

-- JSON of drover_domain::deployment::DeployOptions
ALTER TABLE deployments ADD COLUMN options TEXT NOT NULL DEFAULT '{}';

ALTER TABLE targets ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE targets ADD COLUMN next_attempt_ms BIGINT;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
