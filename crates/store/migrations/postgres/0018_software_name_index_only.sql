-- Asset-list search speed on PostgreSQL at 100,000 assets × 300 software rows (issue 8).
-- Keep in step with ../sqlite/0018_software_name_index_only.sql.

-- asset_software_lower_name (0015) again, with `name` included: PostgreSQL reads an
-- expression index without the table only when the expression's column is in the index,
-- so a `software=` prefix range (`LOWER(name) >= … AND LOWER(name) < …`) fetched every
-- matching row from the table. With `name` included it is an index-only scan: counting
-- the assets of `software=pkg-123` (65,560 rows in 12,517 table pages) went from about
-- 500 ms to 40-90 ms, and the list a search with other filters hashes likewise. Rebuilding
-- it takes about a minute at 30 M software rows.
DROP INDEX asset_software_lower_name;
CREATE INDEX asset_software_lower_name ON asset_software (LOWER(name), asset_id, version) INCLUDE (name);
