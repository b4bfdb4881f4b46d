-- Accounts: an admin may disable a user (0/1); a disabled user cannot log in and has no tokens.
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
