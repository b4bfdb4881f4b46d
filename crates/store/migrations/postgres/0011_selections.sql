-- Selections: groups (static members or a dynamic rule), saved reports and the views they
-- read, the selection a deployment was made from. Keep in step with ../sqlite/0011_selections.sql:
-- the same tables, and views with the same columns (documented in drover_domain::report::VIEWS).

-- JSON of drover_domain::selection::Selection; NULL for deployments made before.
ALTER TABLE deployments ADD COLUMN selection TEXT;

CREATE TABLE asset_groups (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    rule        TEXT, -- JSON of drover_domain::group::Rule; NULL: a static group
    created_ms  BIGINT  NOT NULL
);

CREATE TABLE asset_group_members (
    group_id BIGINT NOT NULL REFERENCES asset_groups (id) ON DELETE CASCADE,
    asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, asset_id)
);
CREATE INDEX asset_group_members_asset ON asset_group_members (asset_id);

CREATE TABLE reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL,
    sql_text    TEXT    NOT NULL,
    params      TEXT    NOT NULL, -- JSON array of parameter names, bound as $1, $2, ...
    created_ms  BIGINT  NOT NULL
);

-- Installed software per asset is `asset_software` (0010, filled by scans).

-- The report views. Unquoted column names: SQLite keeps their case, PostgreSQL folds them
-- to lower case; SQL written against them (AssetID, DeploymentID, ...) runs on both.
CREATE VIEW report_assets AS
SELECT id AS AssetID, name, address, ssh_port, hostname,
       COALESCE(domain, LOWER(CASE
           WHEN strpos(hostname, '.') > 0 THEN substr(hostname, strpos(hostname, '.') + 1)
           WHEN address ~ '[a-zA-Z]' AND strpos(address, '.') > 0 AND strpos(address, ':') = 0
               THEN substr(address, strpos(address, '.') + 1)
       END)) AS domain,
       os, arch,
       CAST(NULL AS TEXT) AS type,          -- server/desktop/vm/container once scans tell
       CAST(NULL AS BIGINT) AS pending_reboot, -- 1 once scans tell
       last_seen_ms, created_ms
FROM assets;

CREATE VIEW report_interfaces AS
SELECT a.id AS AssetID, CAST(NULL AS TEXT) AS interface, CAST(j.value AS TEXT) AS mac, a.address AS ip
FROM assets a, json_array_elements_text(CAST(a.macs AS json)) AS j(value);

CREATE VIEW report_software AS
SELECT asset_id AS AssetID, name, version, CAST(NULL AS TEXT) AS arch FROM asset_software;

CREATE VIEW report_logged_on AS
SELECT CAST(NULL AS BIGINT) AS AssetID, CAST(NULL AS TEXT) AS user_name, CAST(NULL AS BIGINT) AS since_ms
WHERE 1 = 0;

CREATE VIEW report_deployments AS
SELECT id AS DeploymentID, package_name, package_version, executor, selection, created_ms, finished_ms
FROM deployments;

CREATE VIEW report_targets AS
SELECT t.id AS TargetID, t.deployment_id AS DeploymentID, t.asset_id AS AssetID, t.asset_name,
       d.package_name, d.package_version, t.state, t.error_code, t.message, t.return_code,
       t.created_ms, t.finished_ms
FROM targets t JOIN deployments d ON d.id = t.deployment_id;

CREATE VIEW report_steps AS
SELECT s.target_id AS TargetID, t.deployment_id AS DeploymentID, t.asset_id AS AssetID, s.step_index,
       s.name, s.exit_code, s.success, s.duration_ms, s.at_ms
FROM step_records s JOIN targets t ON t.id = s.target_id;
