-- 0016: the registry's current signing key kept with its rotation,
-- sealed with the identity key (bound to the key's public half), so hub
-- processes with data directories of their own take up a key another
-- process rotated to. Only the newest rotation holds one.
ALTER TABLE registry_rotations ADD COLUMN key_sealed BLOB;
