-- Inventory scans: scan targets, the facts a scan learns per asset, interfaces, installed
-- software and its history. Keep in step with ../sqlite/0010_inventory.sql.

ALTER TABLE assets ADD COLUMN fqdn TEXT;
ALTER TABLE assets ADD COLUMN domain TEXT;
ALTER TABLE assets ADD COLUMN os_version TEXT;
ALTER TABLE assets ADD COLUMN kernel TEXT;
ALTER TABLE assets ADD COLUMN cpu_model TEXT;
ALTER TABLE assets ADD COLUMN cpu_count BIGINT;
ALTER TABLE assets ADD COLUMN memory_bytes BIGINT;
ALTER TABLE assets ADD COLUMN disks TEXT NOT NULL DEFAULT '[]'; -- JSON array of {mount, size_bytes, free_bytes}
ALTER TABLE assets ADD COLUMN last_boot_ms BIGINT;
ALTER TABLE assets ADD COLUMN logged_on_users TEXT NOT NULL DEFAULT '[]'; -- JSON array of user names
ALTER TABLE assets ADD COLUMN machine_id TEXT;
ALTER TABLE assets ADD COLUMN first_seen_ms BIGINT;
ALTER TABLE assets ADD COLUMN last_scan_ok_ms BIGINT;
ALTER TABLE assets ADD COLUMN last_scan_error TEXT;
ALTER TABLE assets ADD COLUMN last_scan_error_ms BIGINT;
CREATE INDEX assets_machine_id ON assets (machine_id);
CREATE INDEX assets_domain ON assets (domain, id);

-- What a scan covers and when it runs; schedule is the JSON of ScanSchedule.
CREATE TABLE scan_targets (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    target       TEXT    NOT NULL,
    ssh_port     BIGINT NOT NULL,
    schedule     TEXT    NOT NULL,
    enabled      BIGINT NOT NULL,
    next_scan_ms BIGINT,
    last_scan_ms BIGINT,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX scan_targets_due ON scan_targets (enabled, next_scan_ms);

-- Interfaces as the last scan saw them; addresses: space-separated with prefix lengths.
CREATE TABLE asset_interfaces (
    asset_id  BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name      TEXT    NOT NULL,
    mac       TEXT,
    addresses TEXT    NOT NULL,
    PRIMARY KEY (asset_id, name)
);
CREATE INDEX asset_interfaces_mac ON asset_interfaces (mac);

-- Installed software as the last scan saw it.
CREATE TABLE asset_software (
    asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    version  TEXT    NOT NULL,
    PRIMARY KEY (asset_id, name)
);
CREATE INDEX asset_software_name ON asset_software (name, asset_id);

-- Software changes between scans. kind: installed | removed | version_changed.
CREATE TABLE software_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id    BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    old_version TEXT,
    new_version TEXT,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX software_history_asset ON software_history (asset_id, at_ms);
