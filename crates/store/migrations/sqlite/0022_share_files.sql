-- Package share files in the database, so that every node of one database can serve
-- every package's files: written where several nodes may run (PostgreSQL); a single
-- SQLite node keeps its files on its own disk only. A file is whole once its share_files
-- row exists (written after its last chunk). Keep in step with the other backend's
-- 0022_share_files.sql.
CREATE TABLE share_files (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    chunks INTEGER NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE share_chunks (
    sha256 TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);
