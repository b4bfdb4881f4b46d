-- Where each node's deployers reach it (its --public-url, if it has one) and its TLS
-- certificate's SHA-256: a job names the other nodes, so that its deployer reports to
-- one of them when its own node is gone. Keep in step with the other backend's
-- 0023_node_addresses.sql.
ALTER TABLE nodes ADD COLUMN url TEXT;
ALTER TABLE nodes ADD COLUMN cert_sha256 TEXT;
