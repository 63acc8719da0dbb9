-- 0005: limits and replay hold across terminals. A record says how its
-- verdict was reached ('online': the registry answered at the scan;
-- 'offline': from the terminal's own data; NULL in records made before
-- terminals said) and whether the clerk checked a printed card's holder.
-- The online check looks up a subject's uses of a measure, and a code's
-- redemptions, across all terminals.
ALTER TABLE records ADD COLUMN basis TEXT CHECK (basis IN ('online', 'offline'));
ALTER TABLE records ADD COLUMN holder_checked INTEGER CHECK (holder_checked IN (0, 1));
CREATE INDEX records_by_subject ON records (sub, measure, at) WHERE kind = 'redemption';
CREATE INDEX records_by_cti ON records (cti) WHERE kind = 'redemption';
-- A site's online check deadline, and whether its clerks check the holder
-- of a printed card.
ALTER TABLE sites ADD COLUMN online_deadline_ms INTEGER NOT NULL DEFAULT 300
    CHECK (online_deadline_ms BETWEEN 0 AND 2000);
ALTER TABLE sites ADD COLUMN check_holder INTEGER NOT NULL DEFAULT 1 CHECK (check_holder IN (0, 1));
