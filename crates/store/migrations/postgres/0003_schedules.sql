-- Schedules, deployment configurations, and the runs they fired.
-- Keep in step with ../sqlite/0003_schedules.sql. Times epoch ms (BIGINT), booleans BIGINT 0/1.

CREATE TABLE schedules (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    definition TEXT    NOT NULL, -- JSON of drover_domain::schedule::Schedule
    created_ms BIGINT  NOT NULL,
    updated_ms BIGINT  NOT NULL
);

CREATE TABLE deploy_configs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    schedule_id     BIGINT  REFERENCES schedules (id), -- NULL: no timed runs
    package_name    TEXT    NOT NULL,
    package_version TEXT,                              -- NULL: the newest when it fires
    targets         TEXT    NOT NULL, -- JSON of drover_domain::deploy_config::TargetSelection
    options         TEXT    NOT NULL, -- JSON of drover_domain::deploy_config::ConfigOptions
    trigger_on_scan BIGINT  NOT NULL,
    enabled         BIGINT  NOT NULL,
    last_fire_ms    BIGINT,
    next_fire_ms    BIGINT,
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL
);
CREATE INDEX deploy_configs_schedule ON deploy_configs (schedule_id);
CREATE INDEX deploy_configs_due ON deploy_configs (enabled, next_fire_ms);

-- One row per (configuration, scheduled time): the key that makes a run happen once
-- however many server nodes see it due.
CREATE TABLE config_runs (
    config_id     BIGINT  NOT NULL REFERENCES deploy_configs (id) ON DELETE CASCADE,
    fire_ms       BIGINT  NOT NULL,
    deployment_id BIGINT, -- no foreign key: log retention deletes old deployments
    created_ms    BIGINT  NOT NULL,
    UNIQUE (config_id, fire_ms)
);
