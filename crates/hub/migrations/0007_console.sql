-- 0007: the web console's people, their sessions, the audit log and the
-- departments' submissions.

-- Who may sign in to the console. `scope` is the department a submitter
-- submits for (a listing's `source`) or the unit an operator runs (a
-- site's `unit`); the other roles have none. Passwords are argon2id PHC
-- strings; `failed` counts sign-in failures since the last success and
-- `locked_until` holds the account shut after too many.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'submitter', 'operator', 'auditor')),
    scope         TEXT,
    password_hash TEXT NOT NULL,
    failed        INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    CHECK ((role IN ('submitter', 'operator')) = (scope IS NOT NULL))
);

-- Signed-in sessions, kept as the SHA-256 of the cookie's token, each
-- with the token its forms must carry (CSRF).
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user);

-- Who did what, append only: each entry's hash covers the previous one's,
-- so an entry changed or taken out behind the hub's back shows.
CREATE TABLE audit_log (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    hash   TEXT NOT NULL
);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Every file a department submitted through the console, and what became
-- of it. The file itself is not kept (it holds identities).
CREATE TABLE submissions (
    id          INTEGER PRIMARY KEY,
    what        TEXT NOT NULL CHECK (what IN ('listings', 'exclusions')),
    source      TEXT NOT NULL,
    by_user     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    file_sha256 TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('rejected', 'imported', 'unchanged')),
    errors      INTEGER NOT NULL,
    version     INTEGER,
    summary     TEXT NOT NULL
);
CREATE INDEX submissions_by_source ON submissions (source, id);

-- The console's look-up of one subject reads its records at the counters,
-- refusals as well as redemptions, newest first.
CREATE INDEX records_of_subject ON records (sub, at) WHERE sub IS NOT NULL;
