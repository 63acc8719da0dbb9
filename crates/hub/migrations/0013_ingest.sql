-- 0013: records_by_id (terminal, id) repeated records_by_ref (id): a
-- record's id is random, so the lookups by terminal and id find their
-- row through records_by_ref and check the terminal. One index fewer
-- to write for every record ingested.
DROP INDEX records_by_id;

-- The keys (subject, measure) whose published usage a redemption or a
-- void stored since the last refresh may have changed. A refresh
-- recomputes those keys only, instead of every subject's period.
CREATE TABLE usage_pending (
    sub     TEXT NOT NULL,
    measure TEXT NOT NULL,
    PRIMARY KEY (sub, measure)
);
-- What the last refresh was made against: the catalogue and each limited
-- measure's current period. A refresh that finds them changed (or this
-- row missing: retention deleted records since) recomputes everything.
CREATE TABLE usage_state (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    stamp TEXT NOT NULL
);
-- Old removals are found by when they were made, without reading every row.
CREATE INDEX usage_removed ON usage (changed_at) WHERE removed = 1;
