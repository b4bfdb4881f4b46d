-- Reboot steps that resume. Keep in step with the other backend's 0012_reboot.sql.
-- What identifies the machine's current boot (boot id and its SSH server's start), read
-- when the task was created: a reboot step's restart is seen by it changing.
ALTER TABLE targets ADD COLUMN boot_marker TEXT;
-- The sequence number of the last reboot report taken: the record holds it after the
-- resumed task starts, and it must not put the target back to rebooting.
ALTER TABLE targets ADD COLUMN reboot_seq INTEGER;
