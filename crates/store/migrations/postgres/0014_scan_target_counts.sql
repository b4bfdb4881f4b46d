-- What the last finished scan of a target found: addresses probed, hosts that answered,
-- hosts whose scan failed (NULL until a scan of it finishes).
ALTER TABLE scan_targets ADD COLUMN last_probed BIGINT;
ALTER TABLE scan_targets ADD COLUMN last_answered BIGINT;
ALTER TABLE scan_targets ADD COLUMN last_failed BIGINT;
