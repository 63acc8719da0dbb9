-- 0003: what the registry needs to check what terminals send and to prove
-- what it holds.
--
-- Enrollment codes keep the key that checks a terminal's proof of holding
-- the code (the code itself never crosses the wire). Codes made before
-- this migration have none and are refused with a request for a new one.
ALTER TABLE enrollment_codes ADD COLUMN mac_key TEXT;

-- Sites carry the void window and whether redemptions may be confirmed
-- with nobody signed in; both reach terminals as signed data.
ALTER TABLE sites ADD COLUMN void_window_s INTEGER NOT NULL DEFAULT 1800
    CHECK (void_window_s BETWEEN 0 AND 86400);
ALTER TABLE sites ADD COLUMN unattended INTEGER NOT NULL DEFAULT 0
    CHECK (unattended IN (0, 1));

-- Records gain the staff kind (roster changes, failed sign-ins), the
-- operator a staff record or void names, and a flag: a record that is
-- signed and chained but implausible (a measure its site does not apply,
-- a discount above the amount, a void out of its window, …) is kept as
-- evidence, marked with why, and left out of usage and over-use counts.
CREATE TABLE records_new (
    terminal     TEXT NOT NULL REFERENCES terminals(id),
    seq          INTEGER NOT NULL,
    id           TEXT NOT NULL,
    hash         TEXT NOT NULL,
    prev         TEXT NOT NULL,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('redemption', 'refusal', 'void', 'staff')),
    measure      TEXT,
    sub          TEXT,
    cti          TEXT,
    form         INTEGER,
    categories   TEXT,
    original     INTEGER,
    discount     INTEGER,
    payable      INTEGER,
    companions   INTEGER,
    reason       TEXT,
    target       TEXT,
    staff        TEXT,
    role         TEXT,
    site         TEXT NOT NULL,
    unit         TEXT NOT NULL,
    data_version INTEGER NOT NULL,
    operator     TEXT NOT NULL,
    voided_by    TEXT,
    flag         TEXT,
    bytes        BLOB NOT NULL,
    sig          BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (terminal, seq)
);
INSERT INTO records_new (terminal, seq, id, hash, prev, at, kind, measure, sub, cti, form,
        categories, original, discount, payable, companions, reason, target, staff, site,
        unit, data_version, operator, voided_by, bytes, sig, received_at)
    SELECT terminal, seq, id, hash, prev, at, kind, measure, sub, cti, form, categories,
        original, discount, payable, companions, reason, target,
        CASE WHEN kind = 'void' THEN operator END, site, unit, data_version, operator,
        voided_by, bytes, sig, received_at
    FROM records;
DROP TABLE records;
ALTER TABLE records_new RENAME TO records;
CREATE INDEX records_by_id ON records (terminal, id);
CREATE INDEX records_by_measure ON records (kind, measure, at);
CREATE INDEX records_flagged ON records (flag) WHERE flag IS NOT NULL;
-- Each upload reads the terminal's roster from its staff records.
CREATE INDEX records_staff ON records (terminal, seq) WHERE kind = 'staff';

-- Refused uploads, counted per terminal and reason (one row each, however
-- many times a terminal retries) rather than one row per refusal.
CREATE TABLE upload_rejection_counts (
    terminal    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    count       INTEGER NOT NULL,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    last_detail TEXT NOT NULL,
    PRIMARY KEY (terminal, reason)
);
INSERT INTO upload_rejection_counts (terminal, reason, count, first_at, last_at, last_detail)
    SELECT terminal, reason, count(*), min(at), max(at),
        (SELECT detail FROM upload_rejections u2
         WHERE u2.terminal = u.terminal AND u2.reason = u.reason ORDER BY at DESC LIMIT 1)
    FROM upload_rejections u GROUP BY terminal, reason;
DROP TABLE upload_rejections;
