-- 0013, as SQLite's: records_by_id (terminal, id) repeated records_by_ref
-- (id), one index fewer to write for every record ingested.
DROP INDEX records_by_id;
-- A record's terminal is the authenticated terminal that uploaded it,
-- and terminals are never deleted (revoked ones are kept), so the
-- foreign key checked nothing a hub could break; it cost a lookup and a
-- row lock on the terminal for every record stored.
ALTER TABLE records DROP CONSTRAINT records_terminal_fkey;

-- As SQLite's: the keys whose published usage may have changed, and what
-- the last refresh was made against.
CREATE TABLE usage_pending (
    sub     TEXT COLLATE "C" NOT NULL,
    measure TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (sub, measure)
);
CREATE TABLE usage_state (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    stamp TEXT COLLATE "C" NOT NULL
);
CREATE INDEX usage_removed ON usage (changed_at) WHERE removed = 1;
