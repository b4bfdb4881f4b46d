-- Asset-list search speed at 100,000 assets × 300 software rows (issue 8). Keep in step
-- with ../sqlite/0016_asset_search_speed.sql.

-- An asset's software by lower-case name: when a `software=` prefix matches many assets,
-- the asset list tests each asset it walks (in the sort's order) with one seek here and
-- stops after a page, instead of first listing every matching asset from
-- asset_software_lower_name (0015).
CREATE INDEX asset_software_asset_lower_name ON asset_software (asset_id, LOWER(name));
