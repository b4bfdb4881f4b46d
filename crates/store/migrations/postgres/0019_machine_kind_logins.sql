-- What kind of machine an asset is, whether it waits for a reboot, and who is logged on
-- (issue 8), as the last successful scan told. Keep in step with
-- ../sqlite/0019_machine_kind_logins.sql: the same columns, and views with the same columns
-- (documented in drover_domain::report::VIEWS).

-- server / desktop / vm / container (drover_domain::machine::MachineType); NULL: never scanned
ALTER TABLE assets ADD COLUMN machine_type TEXT;
-- 1: a reboot is pending, 0: not; NULL: the last scan could not tell
ALTER TABLE assets ADD COLUMN pending_reboot BIGINT;

-- One row per logged-on user of an asset; since_ms is when the user's earliest session
-- began when the host told (`who`), else the time of the scan that first saw them.
CREATE TABLE asset_logins (
    asset_id  BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    user_name TEXT   NOT NULL,
    since_ms  BIGINT NOT NULL,
    PRIMARY KEY (asset_id, user_name)
);

-- the users scans recorded before, from the time of their last scan
INSERT INTO asset_logins (asset_id, user_name, since_ms)
SELECT DISTINCT a.id, j.value, a.last_scan_ok_ms
FROM assets a, json_array_elements_text(CAST(a.logged_on_users AS json)) AS j(value)
WHERE a.last_scan_ok_ms IS NOT NULL;

DROP VIEW report_assets;
CREATE VIEW report_assets AS
SELECT id AS AssetID, name, address, ssh_port, hostname,
       COALESCE(domain, LOWER(CASE
           WHEN strpos(hostname, '.') > 0 THEN substr(hostname, strpos(hostname, '.') + 1)
           WHEN address ~ '[a-zA-Z]' AND strpos(address, '.') > 0 AND strpos(address, ':') = 0
               THEN substr(address, strpos(address, '.') + 1)
       END)) AS domain,
       os, arch,
       machine_type AS type,
       pending_reboot,
       last_seen_ms, created_ms
FROM assets;

DROP VIEW report_logged_on;
CREATE VIEW report_logged_on AS
SELECT asset_id AS AssetID, user_name, since_ms FROM asset_logins;
