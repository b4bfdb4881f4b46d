-- The IP ranges each server node serves (drover serve --serve-ranges), written at each
-- renewal of its lease: comma-separated CIDRs or first-last ranges, empty for every
-- address. A deployment whose assets no live node serves is refused by comparing them.
-- Keep in step with the other backend's 0020_node_serve_ranges.sql.
ALTER TABLE nodes ADD COLUMN serve_ranges TEXT NOT NULL DEFAULT '';
