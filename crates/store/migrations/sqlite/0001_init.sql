-- drover schema, SQLite flavour. Times are epoch milliseconds (INTEGER), booleans 0/1.
-- Keep in step with ../postgres/0001_init.sql: the same tables, columns and indexes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX api_tokens_expires ON api_tokens (expires_ms);

CREATE TABLE credentials (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    username   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    sudo       TEXT    NOT NULL,
    secret     BLOB    NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE assets (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL UNIQUE,
    address              TEXT    NOT NULL,
    ssh_port             INTEGER NOT NULL,
    macs                 TEXT    NOT NULL, -- JSON array of strings
    host_key             TEXT,
    host_key_fingerprint TEXT,
    hostname             TEXT,
    os                   TEXT,
    arch                 TEXT,
    last_seen_ms         INTEGER,
    created_ms           INTEGER NOT NULL
);

CREATE TABLE credential_mappings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id INTEGER NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    asset_id      INTEGER REFERENCES assets (id) ON DELETE CASCADE, -- NULL: global
    priority      INTEGER NOT NULL
);
-- One mapping per (credential, asset); COALESCE makes two global ones collide too.
CREATE UNIQUE INDEX credential_mappings_unique ON credential_mappings (credential_id, COALESCE(asset_id, 0));
CREATE INDEX credential_mappings_asset ON credential_mappings (asset_id);

CREATE TABLE packages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    definition TEXT    NOT NULL, -- JSON of drover_domain::package::PackageDef
    created_ms INTEGER NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE package_files (
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    path       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (package_id, position)
);
CREATE INDEX package_files_sha256 ON package_files (sha256);

-- Deployments and targets keep the package and asset names: the log outlives both.
CREATE TABLE deployments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id      INTEGER NOT NULL,
    package_name    TEXT    NOT NULL,
    package_version TEXT    NOT NULL,
    executor        TEXT    NOT NULL,
    run_mode        TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    finished_ms     INTEGER
);
CREATE INDEX deployments_package ON deployments (package_id);
CREATE INDEX deployments_finished ON deployments (finished_ms);

CREATE TABLE targets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id     INTEGER NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    asset_id          INTEGER NOT NULL,
    asset_name        TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    run_mode          TEXT    NOT NULL,
    credential        TEXT,
    last_step         TEXT,
    return_code       INTEGER,
    message           TEXT    NOT NULL,
    error_code        TEXT,
    deployer_version  TEXT,
    server            TEXT,
    work_dir          TEXT,
    pid               INTEGER,
    report_token_hash TEXT UNIQUE,
    share_token_hash  TEXT UNIQUE,
    tokens_revoked    INTEGER NOT NULL DEFAULT 0,
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    finished_ms       INTEGER
);
CREATE INDEX targets_deployment ON targets (deployment_id);
CREATE INDEX targets_asset ON targets (asset_id);
CREATE INDEX targets_state ON targets (state);

CREATE TABLE target_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    target_id INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    at_ms     INTEGER NOT NULL,
    state     TEXT    NOT NULL,
    message   TEXT    NOT NULL
);
CREATE INDEX target_events_target ON target_events (target_id, at_ms, id);

CREATE TABLE step_records (
    target_id   INTEGER NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    step_index  INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    exit_code   INTEGER,
    success     INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    output_tail TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (target_id, seq)
);
