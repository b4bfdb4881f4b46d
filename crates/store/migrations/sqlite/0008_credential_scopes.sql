-- Credential scopes and host keys that belong to the address, not the asset row.
-- Keep in step with ../postgres/0008_credential_scopes.sql.

-- A mapping's scope: 'asset' (asset_id), 'ip_range' or 'domain' (scope_value, as the admin
-- gave it), or 'global'. Global mappings made before were made explicitly with --global.
ALTER TABLE credential_mappings ADD COLUMN scope TEXT NOT NULL DEFAULT 'asset';
ALTER TABLE credential_mappings ADD COLUMN scope_value TEXT;
UPDATE credential_mappings SET scope = 'global' WHERE asset_id IS NULL;
DROP INDEX credential_mappings_unique;
CREATE UNIQUE INDEX credential_mappings_scope_unique
    ON credential_mappings (credential_id, scope, COALESCE(asset_id, 0), COALESCE(scope_value, ''));

-- The credential that last logged in to an asset: tried first next time.
ALTER TABLE assets ADD COLUMN last_credential_id INTEGER REFERENCES credentials (id) ON DELETE SET NULL;

-- Pinned SSH host keys of an address and port, one per key type; they outlive the assets
-- that point there. source: admin | known_hosts | first_use (see PinSource).
CREATE TABLE host_keys (
    address     TEXT    NOT NULL,
    port        INTEGER NOT NULL,
    key_type    TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    pinned_by   TEXT,
    pinned_ms   INTEGER NOT NULL,
    PRIMARY KEY (address, port, key_type)
);

-- Keys pinned on the asset rows so far were pinned on first use.
INSERT INTO host_keys (address, port, key_type, key, fingerprint, source, pinned_by, pinned_ms)
SELECT address, ssh_port, MIN(substr(host_key, 1, instr(host_key, ' ') - 1)), MIN(host_key), MIN(host_key_fingerprint), 'first_use', NULL, MIN(created_ms)
FROM assets WHERE host_key IS NOT NULL GROUP BY address, ssh_port;

-- SSH certificate authorities trusted for host certificates of some hosts.
CREATE TABLE host_authorities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    fingerprint TEXT    NOT NULL,
    hosts       TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL
);
