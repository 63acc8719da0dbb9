-- 0011: the citizens' side. Cases — objections to the list (名单异议) and
-- complaints or suggestions (投诉建议) — filed from the codes a terminal
-- shows, on the hub's public pages or through a provincial platform, and
-- handled in the console.
--
-- `number` is what the citizen is given and types back with the last four
-- digits of their phone to see the case. `reference` is the counter
-- record the code carried (its id, hex); `site` is that record's site
-- (filled when the record arrives, if the case came first) or the site a
-- complaint named. A complaint is routed to `unit`, that site's unit; an
-- objection to the credit office (`unit` NULL). The phone, the ID number a citizen may
-- give and the citizen's words are sealed under the identity key, bound
-- to the case number; `sub` is the pseudonym of the ID number given.
-- `due_at`: the end of the last working day to answer by (UTC+8).
-- Retention empties the sealed phone, ID number and words of a case
-- answered long enough ago (`erased_at`); its number, kind, state, record
-- link and answer stay.
CREATE TABLE cases (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('objection', 'complaint')),
    channel         TEXT NOT NULL,
    reference       TEXT,
    site            TEXT,
    unit            TEXT,
    phone_sealed    BLOB NOT NULL,
    id_sealed       BLOB,
    id_kind         TEXT,
    sub             TEXT,
    text_sealed     BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'new'
                    CHECK (state IN ('new', 'in_review', 'answered', 'closed')),
    created_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    handler         TEXT,
    answer          TEXT,
    outcome         TEXT CHECK (outcome IN ('upheld', 'not_upheld', 'noted')),
    answered_at     INTEGER,
    closed_at       INTEGER,
    submission      INTEGER,
    status_failures INTEGER NOT NULL DEFAULT 0,
    status_locked_until INTEGER,
    erased_at       INTEGER
);
CREATE INDEX cases_by_state ON cases (state, due_at);
CREATE INDEX cases_by_unit ON cases (unit, state, due_at);
CREATE INDEX cases_by_reference ON cases (reference);

-- Every step of a case, as the citizen and the handlers took it (the
-- audit log has them too, with who looked).
CREATE TABLE case_steps (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    step    TEXT NOT NULL,
    note    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_steps_by_case ON case_steps (case_id, at);

-- A code's reference names a record by its id alone.
CREATE INDEX records_by_ref ON records (id);

-- The provincial platforms (粤省事, 粤商通) that ask whether their users
-- are listed and file cases for them: each with its own Ed25519 key (its
-- id is the key's id, as a terminal's is), the kinds of subject it may
-- ask about (`person`, `enterprise`, space-separated) and its rate. Its
-- nonces go to `nonces` beside the terminals'.
CREATE TABLE platforms (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    public_key          TEXT NOT NULL,
    kinds               TEXT NOT NULL,
    requests_per_minute INTEGER NOT NULL CHECK (requests_per_minute > 0),
    added_at            INTEGER NOT NULL,
    revoked_at          INTEGER,
    last_seen_at        INTEGER
);
