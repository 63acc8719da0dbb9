-- 0014, as SQLite's: records_by_subject (sub, measure, at) repeated
-- records_of_subject (sub, at); one random-keyed index fewer to write
-- per record ingested.
DROP INDEX records_by_subject;

-- The waiting usage keys become a plain log without a key: an upload
-- copies its keys in instead of looking each up in a B-tree first, and a
-- refresh takes rows by ctid and drops the repeats itself.
ALTER TABLE usage_pending DROP CONSTRAINT usage_pending_pkey;

-- Likewise the dynamic codes (cti) whose published redemption a stored
-- redemption or void may have changed: a refresh recomputes those and
-- removes the codes whose time ran out, found by the index below,
-- instead of reading every recent redemption and every published code.
CREATE TABLE redeemed_pending (
    cti TEXT COLLATE "C" NOT NULL
);
CREATE INDEX redeemed_live ON redeemed (until) WHERE removed = 0;
-- Records stored before this migration were never logged: the next
-- refresh recomputes everything once.
DELETE FROM usage_state;
