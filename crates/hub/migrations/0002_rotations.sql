-- Registry key rotations, oldest first: each row's envelope is signed by
-- the key before it and carries the new key, so terminals pinned to an
-- earlier key follow the chain (TUF-style root rotation).
CREATE TABLE registry_rotations (
    seq INTEGER PRIMARY KEY,
    new_key TEXT NOT NULL,
    envelope TEXT NOT NULL,
    rotated_at INTEGER NOT NULL
) STRICT;
