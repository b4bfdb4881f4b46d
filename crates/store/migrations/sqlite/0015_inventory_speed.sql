-- Inventory speed at 100,000 assets × 300 software rows (issue 8). Keep in step with
-- ../postgres/0015_inventory_speed.sql.

-- Software by lower-case name: the asset list's `software=` prefix search (a range over
-- LOWER(name)) and group rules' `software` tests (LOWER(name) = …, then asset_id and
-- version) seek it instead of reading every software row of every asset.
CREATE INDEX asset_software_lower_name ON asset_software (LOWER(name), asset_id, version);
