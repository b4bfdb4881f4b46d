-- Asset-list search speed at 100,000 assets × 300 software rows (issue 8). Keep in step
-- with ../postgres/0018_software_name_index_only.sql.

-- Nothing to change on SQLite: PostgreSQL's 0018 includes `name` in the LOWER(name)
-- index so that a software name range is read without the table. SQLite has no INCLUDE,
-- and its asset list meets the aim without it (see the README's bench-inventory figures).
SELECT 1;
