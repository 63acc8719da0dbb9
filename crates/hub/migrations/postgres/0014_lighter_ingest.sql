-- 0014, as SQLite's: records_by_subject (sub, measure, at) repeated
-- records_of_subject (sub, at); one random-keyed index fewer to write
-- per record ingested.
DROP INDEX records_by_subject;

-- The waiting usage keys become a plain log without a key: an upload
-- copies its keys in instead of looking each up in a B-tree first, and a
-- refresh takes rows by ctid and drops the repeats itself.
ALTER TABLE usage_pending DROP CONSTRAINT usage_pending_pkey;
