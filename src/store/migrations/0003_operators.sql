-- 0003: the counter's operators (clerks and supervisors) who sign in at
-- the kiosk with a PIN.
--
-- PINs are never stored: only a salted PBKDF2-HMAC-SHA256 hash with its
-- iteration count, so the count can be raised later without invalidating
-- older rows. Repeated wrong PINs lock the operator for a while.
CREATE TABLE operators (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('clerk', 'supervisor')),
    pin_salt     BLOB    NOT NULL CHECK (length(pin_salt) = 16),
    pin_hash     BLOB    NOT NULL CHECK (length(pin_hash) = 32),
    iterations   INTEGER NOT NULL CHECK (iterations > 0),
    -- Wrong PINs since the last good one, and until when sign-in is refused.
    failed       INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    locked_until INTEGER,
    created_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
