-- 0006: the registry's published usage: confirmed, not voided uses of
-- limited measures in their current periods, at every counter, one row
-- per redemption record (pseudonymous). An offline terminal counts these
-- with its own records, each record once.
CREATE TABLE published_uses (
    sub          TEXT    NOT NULL,
    measure      TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    record_id    BLOB    NOT NULL CHECK (length(record_id) = 16),
    PRIMARY KEY (sub, measure, period_start, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX published_uses_by_record ON published_uses (record_id);

-- Dynamic codes the registry saw redeemed at any counter, while they
-- could still pass the EXPIRED check: REPLAYED from synced data.
CREATE TABLE published_cti (
    cti   BLOB    NOT NULL PRIMARY KEY CHECK (length(cti) BETWEEN 8 AND 16),
    until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
