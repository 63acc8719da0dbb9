-- 0008: identities sealed at rest. Listings and exclusions are keyed by
-- the subject's pseudonym (`sub`, derived from the ID number with
-- K_pseudo) instead of the ID number; the ID number and the full name are
-- kept only as AEAD ciphertexts under the identity key (`id_sealed`,
-- `name_sealed`; see src/identity.rs), NULL once retention erased them.
--
-- SQL cannot encrypt: this step moves the old tables aside as
-- `listings_plain` and `exclusions_plain` and creates the new ones empty.
-- When the hub next opens with its keys it seals every old row into the
-- new tables and drops the old ones in one transaction, then rewrites the
-- file (VACUUM) and empties the write-ahead log, so that no plaintext
-- stays in either.
DROP INDEX listings_by_change;
ALTER TABLE listings RENAME TO listings_plain;
DROP INDEX exclusions_by_change;
ALTER TABLE exclusions RENAME TO exclusions_plain;

-- `withdrawn_on`: the day (UTC+8) a listing was withdrawn, from which its
-- identity's retention runs. `erased_at`: when retention erased the
-- identity (unix seconds).
CREATE TABLE listings (
    kind          TEXT NOT NULL CHECK (kind IN ('person', 'enterprise')),
    sub           TEXT NOT NULL,
    category      TEXT NOT NULL,
    recognised_on TEXT NOT NULL,
    id_sealed     BLOB,
    name_sealed   BLOB,
    honour        TEXT NOT NULL,
    source        TEXT NOT NULL,
    valid_until   TEXT NOT NULL,
    extension_ref TEXT,
    withdrawn     INTEGER NOT NULL DEFAULT 0 CHECK (withdrawn IN (0, 1)),
    withdrawn_on  TEXT,
    display_name  TEXT NOT NULL,
    changed_in    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    erased_at     INTEGER,
    CHECK ((withdrawn = 1) = (withdrawn_on IS NOT NULL)),
    CHECK ((id_sealed IS NULL) = (name_sealed IS NULL)),
    CHECK ((id_sealed IS NULL) = (erased_at IS NOT NULL)),
    PRIMARY KEY (kind, sub, category, recognised_on)
);
CREATE INDEX listings_by_change ON listings (changed_in);

CREATE TABLE exclusions (
    kind         TEXT NOT NULL CHECK (kind IN ('person', 'enterprise')),
    sub          TEXT NOT NULL,
    recorded_on  TEXT NOT NULL,
    id_sealed    BLOB,
    reason       TEXT NOT NULL,
    until        TEXT NOT NULL,
    withdrawn_on TEXT,
    repair_ref   TEXT,
    changed_in   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    erased_at    INTEGER,
    CHECK ((id_sealed IS NULL) = (erased_at IS NOT NULL)),
    PRIMARY KEY (kind, sub, recorded_on)
);
CREATE INDEX exclusions_by_change ON exclusions (changed_in);

-- Which identity key sealed this database (a value sealed with it, so a
-- wrong key is refused before anything is read or written), and whether
-- the file still has to be rewritten to drop plaintext left by the
-- sealing of old rows.
CREATE TABLE identity_seal (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    key_check     BLOB NOT NULL,
    sealed_at     INTEGER NOT NULL,
    scrub_pending INTEGER NOT NULL DEFAULT 0 CHECK (scrub_pending IN (0, 1))
);

-- Records deleted by retention, per terminal: every seq up to `through`
-- was deleted, except the staff records its roster still comes from. The
-- newest record of a terminal is never deleted, so uploads continue its
-- chain; `count` says how many records went.
CREATE TABLE records_retired (
    terminal TEXT PRIMARY KEY REFERENCES terminals(id),
    through  INTEGER NOT NULL CHECK (through > 0),
    count    INTEGER NOT NULL CHECK (count >= 0),
    at       INTEGER NOT NULL
);
