-- Server nodes sharing this database (issue 14). Each node renews its lease every few
-- seconds; a node whose lease ended has its unfinished targets taken over by the others.
-- Keep in step with the other backend's 0017_nodes.sql.
CREATE TABLE nodes (
    name           TEXT PRIMARY KEY,
    heartbeat_ms   BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL
);

-- A cancel asked for on one node of a running target another node drives: the driving
-- node takes it from here (its message) and ends the task.
ALTER TABLE targets ADD COLUMN cancel_requested TEXT;

-- The unfinished targets, by the node that drives them: what each node's dispatcher,
-- takeover and cancel polls read every second.
CREATE INDEX targets_unfinished_server ON targets (server, id) WHERE finished_ms IS NULL;
