-- The web console: browser sessions, the audit log (login throttling lives in the
-- engine's memory, see crates/engine/src/throttle.rs), and indexes for sorting the
-- asset list. Keep in step with ../postgres/0004_console.sql.

-- A console session: the cookie holds a random token, only its hash is stored.
CREATE TABLE console_sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms INTEGER  NOT NULL,
    expires_ms INTEGER  NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_ms);

-- Who did what: shown to admins, newest first.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms  INTEGER  NOT NULL,
    actor  TEXT    NOT NULL, -- drover_domain::executor::Executor as text
    action TEXT    NOT NULL,
    detail TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms, id);

-- Sorting the asset list by a column, a page at a time.
CREATE INDEX assets_address ON assets (address, id);
CREATE INDEX assets_hostname ON assets (hostname, id);
CREATE INDEX assets_os ON assets (os, id);
CREATE INDEX assets_arch ON assets (arch, id);
CREATE INDEX assets_last_seen ON assets (last_seen_ms, id);
