-- 0015: how far each terminal's journal is held without a gap, kept by
-- every upload that moves it. A receipt used to count all of the
-- terminal's records to find it, a cost that grew with the journal; now
-- it counts only those stored after this mark. A gap below the mark (a
-- damaged database) shows in the integrity report, and retention, which
-- counts every journal in full each day, moves the mark back to it. A
-- terminal without a row is counted in full once.
CREATE TABLE records_held (
    terminal TEXT PRIMARY KEY,
    through  INTEGER NOT NULL CHECK (through > 0)
);
