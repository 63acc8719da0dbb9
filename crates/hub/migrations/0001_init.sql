-- 0001: the registry's first schema.
--
-- Migrations are append-only: never edit a file once released; add the
-- next number instead. The runner sets `PRAGMA user_version` to the number
-- of files applied.

-- Published bytes, addressed by the hex SHA-256 of their content.
CREATE TABLE artefacts (
    sha256     TEXT PRIMARY KEY,
    bytes      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Every published version: what the metadata of that version says.
CREATE TABLE versions (
    version       INTEGER PRIMARY KEY,
    published_at  INTEGER NOT NULL,
    set_hash      TEXT NOT NULL,
    listings      INTEGER NOT NULL,
    exclusions    INTEGER NOT NULL,
    config_sha256 TEXT NOT NULL REFERENCES artefacts(sha256),
    config_length INTEGER NOT NULL,
    note          TEXT NOT NULL
);

-- Eligibility artefacts built for terminals (snapshot: from_version = 0).
CREATE TABLE eligibility_artefacts (
    from_version INTEGER NOT NULL,
    to_version   INTEGER NOT NULL REFERENCES versions(version),
    sha256       TEXT NOT NULL REFERENCES artefacts(sha256),
    length       INTEGER NOT NULL,
    raw_length   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (from_version, to_version)
);

-- Listings: the full identity (never published) and the published
-- projection (pseudonym, masked name), with the version that last changed
-- the projection.
CREATE TABLE listings (
    kind          TEXT NOT NULL CHECK (kind IN ('person', 'enterprise')),
    id_number     TEXT NOT NULL,
    category      TEXT NOT NULL,
    recognised_on TEXT NOT NULL,
    name          TEXT NOT NULL,
    honour        TEXT NOT NULL,
    source        TEXT NOT NULL,
    valid_until   TEXT NOT NULL,
    extension_ref TEXT,
    withdrawn     INTEGER NOT NULL DEFAULT 0 CHECK (withdrawn IN (0, 1)),
    sub           TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    changed_in    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, id_number, category, recognised_on)
);
CREATE INDEX listings_by_change ON listings (changed_in);

-- Serious-dishonesty records; `until` is the first day no longer excluded.
CREATE TABLE exclusions (
    kind        TEXT NOT NULL CHECK (kind IN ('person', 'enterprise')),
    id_number   TEXT NOT NULL,
    recorded_on TEXT NOT NULL,
    reason      TEXT NOT NULL,
    sub         TEXT NOT NULL,
    until       TEXT NOT NULL,
    changed_in  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, id_number, recorded_on)
);
CREATE INDEX exclusions_by_change ON exclusions (changed_in);

CREATE TABLE issuer_keys (
    kid        TEXT PRIMARY KEY,
    iss        TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    added_at   INTEGER NOT NULL
);

CREATE TABLE revoked_cards (
    cti        TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
);

-- The measures catalogue in force (one row), as its TOML text.
CREATE TABLE catalogue (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    toml         TEXT NOT NULL,
    published_at INTEGER NOT NULL
);

CREATE TABLE sites (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    unit              TEXT NOT NULL,
    measures          TEXT NOT NULL, -- JSON array of measure ids
    max_offline_age_s INTEGER NOT NULL CHECK (max_offline_age_s > 0),
    updated_at        INTEGER NOT NULL
);

-- One-time enrollment codes, kept only as a hash.
CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    site       TEXT NOT NULL REFERENCES sites(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    TEXT
);

CREATE TABLE terminals (
    id           TEXT PRIMARY KEY,
    public_key   TEXT NOT NULL UNIQUE,
    site         TEXT NOT NULL REFERENCES sites(id),
    label        TEXT NOT NULL,
    enrolled_at  INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_seen_at INTEGER
);

-- Request nonces seen recently, per terminal (replay protection).
CREATE TABLE nonces (
    terminal TEXT NOT NULL,
    nonce    TEXT NOT NULL,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (terminal, nonce)
);
CREATE INDEX nonces_by_age ON nonces (seen_at);

-- Journal records exactly as signed by the terminals, with columns
-- extracted for reports.
CREATE TABLE records (
    terminal     TEXT NOT NULL REFERENCES terminals(id),
    seq          INTEGER NOT NULL,
    id           TEXT NOT NULL,
    hash         TEXT NOT NULL,
    prev         TEXT NOT NULL,
    at           INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('redemption', 'refusal', 'void')),
    measure      TEXT,
    sub          TEXT,
    cti          TEXT,
    form         INTEGER,
    categories   TEXT,
    original     INTEGER,
    discount     INTEGER,
    payable      INTEGER,
    companions   INTEGER,
    reason       TEXT,
    target       TEXT,
    site         TEXT NOT NULL,
    unit         TEXT NOT NULL,
    data_version INTEGER NOT NULL,
    operator     TEXT NOT NULL,
    voided_by    TEXT,
    bytes        BLOB NOT NULL,
    sig          BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (terminal, seq)
);
CREATE INDEX records_by_id ON records (terminal, id);
CREATE INDEX records_by_measure ON records (kind, measure, at);

-- Uploads refused for integrity reasons, for the integrity report.
CREATE TABLE upload_rejections (
    terminal TEXT NOT NULL,
    at       INTEGER NOT NULL,
    reason   TEXT NOT NULL CHECK (reason IN ('bad_signature', 'broken_chain', 'conflict', 'malformed')),
    detail   TEXT NOT NULL
);
CREATE INDEX upload_rejections_by_terminal ON upload_rejections (terminal);
