-- 0001: the terminal's first schema.
--
-- Privacy (design.md, "Privacy"): nothing here ever holds an ID number or a
-- person's full name. Subjects appear only as 26-character pseudonyms,
-- persons' names only masked by the registry (张*明), plus category codes
-- and dates. Dates are ISO `YYYY-MM-DD` text (UTC+8 calendar days);
-- instants are Unix seconds.
--
-- Append-only: once released, this file is never edited; changes go in a
-- new numbered file.

-- Identity (terminal id, site, pinned registry key, hub URL) and operator
-- settings, as key → value.
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- The data version held, as proven by its set hash; one row once data has
-- been applied, none before (and none after a remote wipe).
CREATE TABLE data_state (
    id            INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version       INTEGER NOT NULL CHECK (version >= 0),
    published_at  INTEGER NOT NULL,
    set_hash      BLOB    NOT NULL CHECK (length(set_hash) = 32),
    listings      INTEGER NOT NULL CHECK (listings >= 0),
    exclusions    INTEGER NOT NULL CHECK (exclusions >= 0),
    config_sha256 BLOB    NOT NULL CHECK (length(config_sha256) = 32),
    -- The hub's signed time (metadata issued_at) of the latest metadata
    -- that named this version, and this terminal's clock when it arrived.
    hub_issued_at INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    applied_at    INTEGER NOT NULL
) STRICT;

-- Trusted issuer keys (credential.md, "Trusted issuer keys").
CREATE TABLE trust_keys (
    kid        BLOB    NOT NULL PRIMARY KEY CHECK (length(kid) = 8),
    iss        TEXT    NOT NULL,
    public_key BLOB    NOT NULL CHECK (length(public_key) = 32),
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    revoked    INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT, WITHOUT ROWID;

-- Revoked printed cards, by cti (CARD_REVOKED).
CREATE TABLE revoked_cards (
    cti BLOB NOT NULL PRIMARY KEY CHECK (length(cti) BETWEEN 8 AND 16)
) STRICT, WITHOUT ROWID;

-- The measures catalogue as published (TOML text, validated on apply).
CREATE TABLE catalogue (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    toml TEXT    NOT NULL
) STRICT;

-- Sites (implementing units' counters) from the config artefact.
CREATE TABLE sites (
    id                TEXT    NOT NULL PRIMARY KEY,
    name              TEXT    NOT NULL,
    unit              TEXT    NOT NULL,
    -- JSON array of measure ids, in the order the site lists them.
    measures          TEXT    NOT NULL,
    max_offline_age_s INTEGER NOT NULL CHECK (max_offline_age_s > 0)
) STRICT, WITHOUT ROWID;

-- Eligibility listings, keyed as in the eligibility artefact. Expired and
-- withdrawn listings stay so LISTING_NOT_VALID can be told from NOT_LISTED.
-- Sorted by pseudonym first: a verdict reads one subject's rows with one
-- range scan.
CREATE TABLE listings (
    sub          TEXT    NOT NULL CHECK (length(sub) = 26),
    category     TEXT    NOT NULL CHECK (length(category) = 3),
    valid_from   TEXT    NOT NULL CHECK (length(valid_from) = 10),
    valid_until  TEXT    NOT NULL CHECK (length(valid_until) = 10),
    withdrawn    INTEGER NOT NULL CHECK (withdrawn IN (0, 1)),
    kind         TEXT    NOT NULL CHECK (kind IN ('person', 'enterprise')),
    display_name TEXT    NOT NULL,
    PRIMARY KEY (sub, category, valid_from)
) STRICT, WITHOUT ROWID;

-- Exclusions for serious dishonesty, on days excluded_from <= d < excluded_until.
CREATE TABLE exclusions (
    sub            TEXT NOT NULL CHECK (length(sub) = 26),
    excluded_from  TEXT NOT NULL CHECK (length(excluded_from) = 10),
    excluded_until TEXT NOT NULL CHECK (length(excluded_until) = 10),
    PRIMARY KEY (sub, excluded_from)
) STRICT, WITHOUT ROWID;

-- The journal: every record exactly as signed (bytes, signature, chain
-- hash), never re-encoded. The other columns are extracted from the bytes
-- for queries only. seq is the rowid, so records are stored in chain order.
CREATE TABLE journal (
    seq         INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 1),
    id          BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    kind        TEXT    NOT NULL CHECK (kind IN ('redemption', 'refusal', 'void')),
    at          INTEGER NOT NULL,
    operator    TEXT    NOT NULL,
    -- redemption and refusal
    measure     TEXT,
    sub         TEXT,
    -- refusal: the reason code; void: the reason given
    reason      TEXT,
    -- redemption: amounts in fen
    original    INTEGER,
    discount    INTEGER,
    payable     INTEGER,
    -- void: the redemption voided
    target      BLOB CHECK (target IS NULL OR length(target) = 16),
    bytes       BLOB    NOT NULL,
    sig         BLOB    NOT NULL CHECK (length(sig) = 64),
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    -- NULL until the hub confirms it holds the record
    uploaded_at INTEGER,
    -- redemption only: set by a later void record (the row stays)
    voided      INTEGER NOT NULL DEFAULT 0 CHECK (voided IN (0, 1))
) STRICT;

-- The upload queue: only records not yet confirmed, in seq order.
CREATE INDEX journal_unsent ON journal (seq) WHERE uploaded_at IS NULL;

-- Confirmed redemptions for use limits (measures.md, "limit"). Kept 400
-- days, longer than the journal's retention, because limits run up to a
-- calendar year.
CREATE TABLE uses (
    sub       TEXT    NOT NULL,
    measure   TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    record_id BLOB    NOT NULL UNIQUE CHECK (length(record_id) = 16),
    voided    INTEGER NOT NULL DEFAULT 0 CHECK (voided IN (0, 1)),
    PRIMARY KEY (sub, measure, at, record_id)
) STRICT, WITHOUT ROWID;

-- cti of confirmed redemptions of dynamic codes (REPLAYED), kept until the
-- code can no longer pass the EXPIRED check.
CREATE TABLE seen_cti (
    cti        BLOB    NOT NULL PRIMARY KEY CHECK (length(cti) BETWEEN 8 AND 16),
    keep_until INTEGER NOT NULL,
    record_id  BLOB    NOT NULL CHECK (length(record_id) = 16),
    voided     INTEGER NOT NULL DEFAULT 0 CHECK (voided IN (0, 1))
) STRICT, WITHOUT ROWID;
