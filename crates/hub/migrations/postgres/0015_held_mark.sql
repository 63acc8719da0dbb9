-- 0015, as SQLite's: how far each terminal's journal is held without a
-- gap, kept by every upload that moves it, so a receipt counts only the
-- records stored after this mark instead of the whole journal.
CREATE TABLE records_held (
    terminal TEXT COLLATE "C" PRIMARY KEY,
    through  BIGINT NOT NULL CHECK (through > 0)
);
