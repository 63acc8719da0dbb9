-- 0006: published usage. For each limited measure, the confirmed, not
-- voided redemptions of each subject (pseudonym) in the measure's current
-- period, as record ids, so terminals that cannot reach the hub at a scan
-- still count the uses made at other counters. A period that ended stays
-- as a removal (`removed` = 1) so that deltas carry it.
CREATE TABLE usage (
    sub          TEXT    NOT NULL,
    measure      TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    uses         BLOB    NOT NULL CHECK (length(uses) % 16 = 0),
    removed      INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    changed_in   INTEGER NOT NULL,
    changed_at   INTEGER NOT NULL,
    PRIMARY KEY (sub, measure, period_start)
);
CREATE INDEX usage_by_change ON usage (changed_in);
-- Removals are kept for a while, then dropped; a terminal holding a
-- version older than the newest dropped removal gets a snapshot.
CREATE TABLE usage_floor (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);

-- Dynamic codes redeemed recently anywhere (REPLAYED in synced data),
-- kept while they could still pass the EXPIRED check.
CREATE TABLE redeemed (
    cti        TEXT    PRIMARY KEY,
    until      INTEGER NOT NULL,
    removed    INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
    changed_in INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX redeemed_by_change ON redeemed (changed_in);
CREATE INDEX records_recent_dynamic ON records (at) WHERE kind = 'redemption' AND form = 0;
