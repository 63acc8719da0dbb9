-- 0017, as SQLite's: records_by_cti covers a dynamic code's redemptions
-- only (form 0), the ones looked up by their cti. Both it and
-- records_by_ref become hash indexes: they serve equality lookups only,
-- and a record's id and code are random, so every record ingested wrote
-- a B-tree entry (a 33-byte key, found by comparing text) into a random
-- leaf of an index that grows with the table; a hash index writes a
-- 4-byte hash code into a bucket. Into a table like records holding 4M
-- to 6M rows, one session wrote a row and its indexes in 38 µs instead
-- of 58 µs (BENCHMARKS.md, Load). A registry upgraded with records in
-- it builds both indexes once, while the migration holds its lock.
DROP INDEX records_by_cti;
CREATE INDEX records_by_cti ON records USING hash (cti) WHERE kind = 'redemption' AND form = 0;
DROP INDEX records_by_ref;
CREATE INDEX records_by_ref ON records USING hash (id);
