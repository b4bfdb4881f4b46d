-- Inventory speed at 100,000 assets × 300 software rows (issue 8). Keep in step with
-- ../sqlite/0015_inventory_speed.sql.

-- Software names compare byte by byte, as on SQLite: the asset list's `software=` prefix
-- search is a range over LOWER(name) (`>= prefix AND < next prefix`), which holds exactly
-- the names with that prefix only in byte order, whatever the database's collation.
-- (report_software reads the column: dropped and made again, the same view.)
DROP VIEW report_software;
ALTER TABLE asset_software ALTER COLUMN name TYPE TEXT COLLATE "C";
CREATE VIEW report_software AS
SELECT asset_id AS AssetID, name, version, CAST(NULL AS TEXT) AS arch FROM asset_software;

-- Software by lower-case name: the `software=` prefix search and group rules' `software`
-- tests (LOWER(name) = …, then asset_id and version) seek it instead of reading every
-- software row of every asset.
CREATE INDEX asset_software_lower_name ON asset_software (LOWER(name), asset_id, version);

-- The asset list sorts empty values last in both directions: a descending page walks
-- these (the ascending indexes of 0004/0010 serve only ascending NULLS LAST pages).
CREATE INDEX assets_address_desc ON assets (address DESC NULLS LAST, id DESC);
CREATE INDEX assets_hostname_desc ON assets (hostname DESC NULLS LAST, id DESC);
CREATE INDEX assets_os_desc ON assets (os DESC NULLS LAST, id DESC);
CREATE INDEX assets_arch_desc ON assets (arch DESC NULLS LAST, id DESC);
CREATE INDEX assets_domain_desc ON assets (domain DESC NULLS LAST, id DESC);
CREATE INDEX assets_last_seen_desc ON assets (last_seen_ms DESC NULLS LAST, id DESC);
