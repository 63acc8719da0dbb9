-- 0010: what a terminal said of itself at its last contact, for the
-- console's fleet table. `clock_offset_s`: its clock minus the hub's, from
-- the time it signed into the request; `data_version`: the version it
-- held; `journal_head`: the last sequence number in its journal;
-- `app_version`: its program's version. The last three come in the signed
-- metadata request; a terminal of an earlier release sends none of them.
ALTER TABLE terminals ADD COLUMN clock_offset_s INTEGER;
ALTER TABLE terminals ADD COLUMN data_version INTEGER;
ALTER TABLE terminals ADD COLUMN journal_head INTEGER;
ALTER TABLE terminals ADD COLUMN app_version TEXT;
