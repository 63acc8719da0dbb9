-- 0014: less written for every record ingested.
--
-- records_by_subject (sub, measure, at) over redemptions repeated
-- records_of_subject (sub, at): a subject has a handful of records, so
-- the lookups by subject and measure read them all through
-- records_of_subject and check the measure. One random-keyed index
-- fewer to write per record.
DROP INDEX records_by_subject;

-- The waiting usage keys become a plain log without a key: an upload
-- appends its keys instead of looking each up in a B-tree first, and a
-- refresh takes rows by rowid and drops the repeats itself.
CREATE TABLE usage_pending_log (
    sub     TEXT NOT NULL,
    measure TEXT NOT NULL
);
INSERT INTO usage_pending_log (sub, measure) SELECT sub, measure FROM usage_pending;
DROP TABLE usage_pending;
ALTER TABLE usage_pending_log RENAME TO usage_pending;

-- Likewise the dynamic codes (cti) whose published redemption a stored
-- redemption or void may have changed: a refresh recomputes those and
-- removes the codes whose time ran out, found by the index below,
-- instead of reading every recent redemption and every published code.
CREATE TABLE redeemed_pending (
    cti TEXT NOT NULL
);
CREATE INDEX redeemed_live ON redeemed (until) WHERE removed = 0;
-- Records stored before this migration were never logged: the next
-- refresh recomputes everything once.
DELETE FROM usage_state;
