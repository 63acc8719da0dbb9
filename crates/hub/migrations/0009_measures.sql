-- 0009: the measures catalogue managed from the console.
--
-- Every catalogue published is kept as a revision, with the data version
-- that carried it to the terminals and how it came (a file from the
-- command line, a measure changed by the credit office, a unit's request
-- approved).
CREATE TABLE catalogue_revisions (
    revision     INTEGER PRIMARY KEY AUTOINCREMENT,
    toml         TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    data_version INTEGER NOT NULL,
    measures     INTEGER NOT NULL,
    how          TEXT NOT NULL
);

-- The catalogue in force before revisions were kept is the first one
-- (its measures counted by their `[[measure]]` headers).
INSERT INTO catalogue_revisions (toml, published_at, data_version, measures, how)
SELECT toml, published_at,
       COALESCE((SELECT MAX(version) FROM versions), 0),
       (length(toml) - length(replace(toml, '[[measure]]', ''))) / length('[[measure]]'),
       'catalogue in force when revisions began to be kept'
FROM catalogue;

-- A unit asks to offer a measure (a new one or a change to its own: the
-- measure as proposed, in catalogue TOML) or to cancel one from a day
-- (`withdraw_on`); the credit office approves or rejects it. An approved
-- request names the data version that published it.
CREATE TABLE measure_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL CHECK (kind IN ('offer', 'cancel')),
    measure      TEXT NOT NULL,
    unit         TEXT NOT NULL,
    toml         TEXT,
    withdraw_on  TEXT,
    reason       TEXT NOT NULL,
    by_user      TEXT NOT NULL,
    at           INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by   TEXT,
    decided_at   INTEGER,
    note         TEXT,
    data_version INTEGER,
    CHECK ((kind = 'offer') = (toml IS NOT NULL)),
    CHECK ((kind = 'cancel') = (withdraw_on IS NOT NULL)),
    CHECK ((state = 'pending') = (decided_at IS NULL))
);
CREATE INDEX measure_requests_by_state ON measure_requests (state, id);
CREATE INDEX measure_requests_by_unit ON measure_requests (unit, id);
