-- 0004: what the terminal keeps so that nothing unsigned moves it.
--
-- The journal gains the staff kind: roster changes and failed sign-ins are
-- signed records too, so the registry can check who voided and who
-- confirmed, and sees PIN guessing.
CREATE TABLE journal_new (
    seq         INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 1),
    id          BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    kind        TEXT    NOT NULL CHECK (kind IN ('redemption', 'refusal', 'void', 'staff')),
    at          INTEGER NOT NULL,
    operator    TEXT    NOT NULL,
    -- redemption and refusal
    measure     TEXT,
    sub         TEXT,
    -- refusal: the reason code; void: the reason given; staff: the event
    reason      TEXT,
    -- redemption: amounts in fen
    original    INTEGER,
    discount    INTEGER,
    payable     INTEGER,
    -- void: the redemption voided
    target      BLOB CHECK (target IS NULL OR length(target) = 16),
    bytes       BLOB    NOT NULL,
    sig         BLOB    NOT NULL CHECK (length(sig) = 64),
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    -- NULL until a statement signed by the registry says it holds the record
    uploaded_at INTEGER,
    -- redemption only: set by a later void record (the row stays)
    voided      INTEGER NOT NULL DEFAULT 0 CHECK (voided IN (0, 1))
) STRICT;
INSERT INTO journal_new SELECT seq, id, kind, at, operator, measure, sub, reason, original,
    discount, payable, target, bytes, sig, hash, uploaded_at, voided FROM journal;
DROP TABLE journal;
ALTER TABLE journal_new RENAME TO journal;
CREATE INDEX journal_unsent ON journal (seq) WHERE uploaded_at IS NULL;
CREATE INDEX journal_operator_at ON journal (operator, at);

-- The registry's latest signed statement of what it holds of this
-- terminal's records (an upload receipt, or the standing in metadata).
-- Records are marked uploaded only up to it, and purged only up to it.
CREATE TABLE hub_holding (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL CHECK (through >= 0),
    hash    BLOB CHECK (hash IS NULL OR length(hash) = 32),
    -- the hub's signed time of the statement
    as_of   INTEGER NOT NULL
) STRICT;
INSERT INTO hub_holding (id, through, hash, as_of)
    SELECT 1, coalesce(max(seq), 0), NULL, 0 FROM journal WHERE uploaded_at IS NOT NULL;

-- The latest time this terminal trusts (the high-water mark of the hub's
-- signed times and its own records). No record lowers it: a clock set
-- back stays CLOCK_SUSPECT until it is right again.
CREATE TABLE trusted_time (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    floor INTEGER NOT NULL
) STRICT;
INSERT INTO trusted_time (id, floor)
    SELECT 1, max(coalesce((SELECT max(at) FROM journal), 0),
                  coalesce((SELECT hub_issued_at FROM data_state WHERE id = 1), 0));

-- Sites carry the void window and whether nobody need sign in, as the
-- registry set them.
ALTER TABLE sites ADD COLUMN void_window_s INTEGER NOT NULL DEFAULT 1800
    CHECK (void_window_s BETWEEN 0 AND 86400);
ALTER TABLE sites ADD COLUMN unattended INTEGER NOT NULL DEFAULT 0
    CHECK (unattended IN (0, 1));

-- Operators: whether the roster change was journaled (operators added
-- before this version are journaled when the terminal next opens).
ALTER TABLE operators ADD COLUMN journaled INTEGER NOT NULL DEFAULT 0
    CHECK (journaled IN (0, 1));

-- Failed sign-ins per id as typed, known or not (an unknown id is answered
-- and locked out exactly like a wrong PIN, so ids cannot be probed): wrong
-- PINs in a row, lockouts in a row (each lasts longer), and the lockout
-- time still to serve, counted down on the monotonic clock while the
-- terminal runs (setting the wall clock forward does not end it).
-- Supersedes operators.failed and operators.locked_until.
CREATE TABLE sign_in_failures (
    id          TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 32),
    failed      INTEGER NOT NULL CHECK (failed >= 0),
    lockouts    INTEGER NOT NULL CHECK (lockouts >= 0),
    lock_left_s INTEGER NOT NULL CHECK (lock_left_s >= 0),
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
