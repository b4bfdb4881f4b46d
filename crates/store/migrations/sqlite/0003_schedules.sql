-- Schedules, deployment configurations, and the runs they fired.
-- Keep in step with ../postgres/0003_schedules.sql. Times epoch ms, booleans 0/1.

CREATE TABLE schedules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    definition TEXT    NOT NULL, -- JSON of drover_domain::schedule::Schedule
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE deploy_configs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    schedule_id     INTEGER REFERENCES schedules (id), -- NULL: no timed runs
    package_name    TEXT    NOT NULL,
    package_version TEXT,                              -- NULL: the newest when it fires
    targets         TEXT    NOT NULL, -- JSON of drover_domain::deploy_config::TargetSelection
    options         TEXT    NOT NULL, -- JSON of drover_domain::deploy_config::ConfigOptions
    trigger_on_scan INTEGER NOT NULL,
    enabled         INTEGER NOT NULL,
    last_fire_ms    INTEGER,
    next_fire_ms    INTEGER,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX deploy_configs_schedule ON deploy_configs (schedule_id);
CREATE INDEX deploy_configs_due ON deploy_configs (enabled, next_fire_ms);

-- One row per (configuration, scheduled time): the key that makes a run happen once
-- however many server nodes see it due.
CREATE TABLE config_runs (
    config_id     INTEGER NOT NULL REFERENCES deploy_configs (id) ON DELETE CASCADE,
    fire_ms       INTEGER NOT NULL,
    deployment_id INTEGER, -- no foreign key: log retention deletes old deployments
    created_ms    INTEGER NOT NULL,
    UNIQUE (config_id, fire_ms)
);
