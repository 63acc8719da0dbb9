-- 0016, as SQLite's: the registry's current signing key kept with its
-- rotation, sealed with the identity key, for the other hub processes.
ALTER TABLE registry_rotations ADD COLUMN key_sealed BYTEA;
