-- Package shares per location: targets in an IP range fetch package files from a nearer
-- share. Keep in step with ../postgres/0013_share_locations.sql.
CREATE TABLE share_locations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ip_range   TEXT    NOT NULL UNIQUE, -- as drover_domain::scope::IpRange prints it
    url        TEXT    NOT NULL,        -- base URL, files at URL/files/<sha256>
    cert_sha256 TEXT,                   -- the share's pinned TLS certificate (hex), if any
    created_ms INTEGER NOT NULL
);
