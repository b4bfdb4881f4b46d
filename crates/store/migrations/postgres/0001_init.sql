-- drover schema, PostgreSQL flavour. Times are epoch milliseconds (BIGINT), booleans BIGINT 0/1
-- (sqlx's Any driver decodes neither TIMESTAMPTZ nor a BOOLEAN read back from SQLite).
-- Keep in step with ../sqlite/0001_init.sql: the same tables, columns and indexes.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    created_ms    BIGINT  NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms BIGINT  NOT NULL,
    expires_ms BIGINT  NOT NULL
);
CREATE INDEX api_tokens_expires ON api_tokens (expires_ms);

CREATE TABLE credentials (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    username   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    sudo       TEXT    NOT NULL,
    secret     BYTEA   NOT NULL,
    created_ms BIGINT  NOT NULL
);

CREATE TABLE assets (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    address              TEXT    NOT NULL,
    ssh_port             BIGINT  NOT NULL,
    macs                 TEXT    NOT NULL, -- JSON array of strings
    host_key             TEXT,
    host_key_fingerprint TEXT,
    hostname             TEXT,
    os                   TEXT,
    arch                 TEXT,
    last_seen_ms         BIGINT,
    created_ms           BIGINT  NOT NULL
);

CREATE TABLE credential_mappings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credential_id BIGINT  NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    asset_id      BIGINT  REFERENCES assets (id) ON DELETE CASCADE, -- NULL: global
    priority      BIGINT  NOT NULL
);
-- One mapping per (credential, asset); COALESCE makes two global ones collide too.
CREATE UNIQUE INDEX credential_mappings_unique ON credential_mappings (credential_id, COALESCE(asset_id, 0));
CREATE INDEX credential_mappings_asset ON credential_mappings (asset_id);

CREATE TABLE packages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    definition TEXT    NOT NULL, -- JSON of drover_domain::package::PackageDef
    created_ms BIGINT  NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE package_files (
    package_id BIGINT  NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    position   BIGINT  NOT NULL,
    path       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       BIGINT  NOT NULL,
    PRIMARY KEY (package_id, position)
);
CREATE INDEX package_files_sha256 ON package_files (sha256);

-- Deployments and targets keep the package and asset names: the log outlives both.
CREATE TABLE deployments (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    package_id      BIGINT  NOT NULL,
    package_name    TEXT    NOT NULL,
    package_version TEXT    NOT NULL,
    executor        TEXT    NOT NULL,
    run_mode        TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    finished_ms     BIGINT
);
CREATE INDEX deployments_package ON deployments (package_id);
CREATE INDEX deployments_finished ON deployments (finished_ms);

CREATE TABLE targets (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment_id     BIGINT  NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    asset_id          BIGINT  NOT NULL,
    asset_name        TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    run_mode          TEXT    NOT NULL,
    credential        TEXT,
    last_step         TEXT,
    return_code       BIGINT,
    message           TEXT    NOT NULL,
    error_code        TEXT,
    deployer_version  TEXT,
    server            TEXT,
    work_dir          TEXT,
    pid               BIGINT,
    report_token_hash TEXT UNIQUE,
    share_token_hash  TEXT UNIQUE,
    tokens_revoked    BIGINT  NOT NULL DEFAULT 0,
    created_ms        BIGINT  NOT NULL,
    updated_ms        BIGINT  NOT NULL,
    finished_ms       BIGINT
);
CREATE INDEX targets_deployment ON targets (deployment_id);
CREATE INDEX targets_asset ON targets (asset_id);
CREATE INDEX targets_state ON targets (state);

CREATE TABLE target_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id BIGINT  NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    at_ms     BIGINT  NOT NULL,
    state     TEXT    NOT NULL,
    message   TEXT    NOT NULL
);
CREATE INDEX target_events_target ON target_events (target_id, at_ms, id);

CREATE TABLE step_records (
    target_id   BIGINT  NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    seq         BIGINT  NOT NULL,
    step_index  BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    exit_code   BIGINT,
    success     BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    output_tail TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    at_ms       BIGINT  NOT NULL,
    PRIMARY KEY (target_id, seq)
);
