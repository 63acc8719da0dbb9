//! Opening a database's identity seal when the hub opens: the identity
//! key is found (or made, for a registry that has never sealed anything),
//! checked against the key check value the database holds, and the rows
//! a release before migration 0008 kept in clear are sealed.
//!
//! Sealing the old rows is one write transaction: the key check, every
//! row sealed into the new tables and the old tables dropped, or nothing.
//! Processes opening the hub at once queue on the write lock and the later
//! ones find nothing left to seal; a process killed halfway leaves the old
//! tables whole for the next open. Afterwards the file is rewritten
//! (`VACUUM`) and the write-ahead log emptied (`wal_checkpoint(TRUNCATE)`)
//! so that no plaintext stays in free pages or in the log; a flag in the
//! database says this is still due, so an interrupted or busy scrub is
//! done again at the next open or retention run.

use std::path::Path;

use crate::db::{OptionalExtension as _, Tx, params};
use xinyi_core::ids::Kind;
use xinyi_core::{PseudonymKey, UnixTime};

use crate::db::Db;
use crate::error::HubError;
use crate::identity::{self, Field, IdentityKey, KeyFile, Place};

/// The key check value the database holds, if it was ever sealed.
fn key_check(tx: &Tx<'_>) -> Result<Option<Vec<u8>>, HubError> {
    Ok(tx
        .query_row(
            "SELECT key_check FROM identity_seal WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

fn table_exists(tx: &Tx<'_>, name: &str) -> Result<bool, HubError> {
    let sql = match tx.dialect() {
        crate::db::Dialect::Sqlite => {
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1"
        }
        crate::db::Dialect::Postgres => {
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?1"
        }
    };
    let n: i64 = tx.query_row(sql, [name], |r| r.get(0))?;
    Ok(n > 0)
}

fn kind(s: &str) -> Result<Kind, HubError> {
    s.parse()
        .map_err(|_| HubError::corrupt(format!("a subject of kind {s:?}")))
}

/// Seals `text` for `place`, as a database error naming the place.
pub(crate) fn seal(key: &IdentityKey, text: &str, place: &Place<'_>) -> Result<Vec<u8>, HubError> {
    key.seal(text, place).map_err(|e| {
        HubError::Internal(format!(
            "sealing the {} of {} {}: {e}",
            place.field, place.kind, place.sub
        ))
    })
}

/// Opens a sealed value read from the database; an error names the row.
pub(crate) fn open(
    key: &IdentityKey,
    sealed: &[u8],
    place: &Place<'_>,
    row: impl FnOnce() -> String,
) -> Result<String, HubError> {
    key.open(sealed, place)
        .map_err(|e| HubError::corrupt(format!("{}: the sealed {}: {e}", row(), place.field)))
}

/// Finds and checks the identity key for the database, seals what an
/// older release left in clear, and scrubs the file if that is due.
pub(crate) fn open_seal(
    db: &Db,
    path: &Path,
    k_pseudo: &PseudonymKey,
    now: UnixTime,
) -> Result<IdentityKey, HubError> {
    let (check, plain) = db.read(|tx| {
        Ok((
            key_check(tx)?,
            table_exists(tx, "listings_plain")? || table_exists(tx, "exclusions_plain")?,
        ))
    })?;
    let bytes = match identity::read_key(path)? {
        KeyFile::Found(k) => k,
        KeyFile::Missing if check.is_some() => {
            return Err(HubError::KeyFile {
                path: path.to_owned(),
                why: "missing. This registry's ID numbers and names are sealed with it and \
                      cannot be read without it: put the key back at that path (a backup of the \
                      data directory holds it when it was kept there), or set identity_key in \
                      hub.toml to where it is kept"
                    .into(),
            });
        }
        // A registry that never sealed anything (made by a release
        // before identities were sealed) gets its key now.
        KeyFile::Missing => identity::create_key(path)?,
    };
    let key = IdentityKey::from_bytes(&bytes)?;
    let wrong = || HubError::WrongIdentityKey {
        path: path.to_owned(),
    };
    match &check {
        Some(c) if !key.matches(c) => return Err(wrong()),
        // Checked, and nothing left to seal: no write needed.
        Some(_) if !plain => {
            scrub_if_due(db);
            return Ok(key);
        }
        _ => {}
    }
    // Again under the write lock: another process may have sealed
    // meanwhile.
    let moved = db.write(|tx| {
        match key_check(tx)? {
            Some(check) if key.matches(&check) => {}
            Some(_) => return Err(wrong()),
            None => {
                let check = key.key_check().map_err(|e| {
                    HubError::Internal(format!("sealing the identity key check: {e}"))
                })?;
                tx.execute(
                    "INSERT INTO identity_seal (id, key_check, sealed_at) VALUES (1, ?1, ?2)",
                    params![check, now.0],
                )?;
            }
        }
        seal_plain_rows(tx, &key, k_pseudo)
    })?;
    if moved > 0 {
        tracing::info!(
            database = %db.describe(),
            rows = moved,
            "sealed the ID numbers and names kept in clear by an older release"
        );
    }
    scrub_if_due(db);
    Ok(key)
}

/// Moves the rows of `listings_plain` and `exclusions_plain` (left by
/// migration 0008) into the sealed tables and drops them; returns how
/// many rows moved. With nothing left to move it does nothing.
fn seal_plain_rows(
    tx: &Tx<'_>,
    key: &IdentityKey,
    k_pseudo: &PseudonymKey,
) -> Result<u64, HubError> {
    let mut moved = 0u64;
    let check_sub = |kind_text: &str, id_number: &str, held: &str| -> Result<(), HubError> {
        let derived = k_pseudo.pseudonym(kind(kind_text)?, id_number);
        if derived.as_str() == held {
            Ok(())
        } else {
            Err(HubError::corrupt(format!(
                "the {kind_text} with pseudonym {held}: pseudonym.key derives another \
                 pseudonym from its ID number; is pseudonym.key this registry's own?"
            )))
        }
    };
    if table_exists(tx, "listings_plain")? {
        let mut read = tx.prepare(
            "SELECT kind, id_number, category, recognised_on, name, honour, source,
                    valid_until, extension_ref, withdrawn, sub, display_name, changed_in,
                    updated_at
             FROM listings_plain",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO listings (kind, sub, category, recognised_on, id_sealed, name_sealed,
                honour, source, valid_until, extension_ref, withdrawn, withdrawn_on,
                display_name, changed_in, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            let id_number: String = r.get(1)?;
            let name: String = r.get(4)?;
            let withdrawn: bool = r.get(9)?;
            let sub: String = r.get(10)?;
            let updated_at: i64 = r.get(13)?;
            check_sub(&kind, &id_number, &sub)?;
            let id_sealed = seal(key, &id_number, &Place::new(Field::ListingId, &kind, &sub))?;
            let name_sealed = seal(key, &name, &Place::new(Field::ListingName, &kind, &sub))?;
            // The day it was withdrawn was not kept: its last change is it.
            let withdrawn_on = withdrawn.then(|| UnixTime(updated_at).date_utc8().to_string());
            write.execute(params![
                kind,
                sub,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                id_sealed,
                name_sealed,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
                withdrawn,
                withdrawn_on,
                r.get::<_, String>(11)?,
                r.get::<_, i64>(12)?,
                updated_at,
            ])?;
            moved += 1;
        }
        drop(rows);
        drop(read);
        tx.execute_batch("DROP TABLE listings_plain")?;
    }
    if table_exists(tx, "exclusions_plain")? {
        let mut read = tx.prepare(
            "SELECT kind, id_number, recorded_on, reason, sub, until, changed_in, updated_at,
                    withdrawn_on, repair_ref
             FROM exclusions_plain",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO exclusions (kind, sub, recorded_on, id_sealed, reason, until,
                withdrawn_on, repair_ref, changed_in, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            let id_number: String = r.get(1)?;
            let sub: String = r.get(4)?;
            check_sub(&kind, &id_number, &sub)?;
            let id_sealed = seal(
                key,
                &id_number,
                &Place::new(Field::ExclusionId, &kind, &sub),
            )?;
            write.execute(params![
                kind,
                sub,
                r.get::<_, String>(2)?,
                id_sealed,
                r.get::<_, String>(3)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
            ])?;
            moved += 1;
        }
        drop(rows);
        drop(read);
        tx.execute_batch("DROP TABLE exclusions_plain")?;
    }
    if moved > 0 {
        tx.execute(
            "UPDATE identity_seal SET scrub_pending = 1 WHERE id = 1",
            [],
        )?;
    }
    Ok(moved)
}

/// Checkpoints the write-ahead log into the database file and truncates
/// it; whether that completed (a reader of an older snapshot in another
/// process can hold it back).
pub(crate) fn checkpoint(conn: &rusqlite::Connection) -> Result<bool, HubError> {
    let (busy, log, done): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(busy == 0 && log == done)
}

/// Rewrites the file and empties the log if plaintext may be left in
/// them. A failure (another process holding the database) is logged and
/// the scrub stays due; returns whether none is due any more.
pub(crate) fn scrub_if_due(db: &Db) -> bool {
    if db.dialect() != crate::db::Dialect::Sqlite {
        return true;
    }
    let result = db.with_sqlite(|conn| {
        use rusqlite::OptionalExtension as _;
        let due: bool = conn
            .query_row(
                "SELECT scrub_pending FROM identity_seal WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false);
        if !due {
            return Ok(true);
        }
        conn.execute_batch("VACUUM")?;
        if !checkpoint(conn)? {
            return Ok(false);
        }
        conn.execute("UPDATE identity_seal SET scrub_pending = 0 WHERE id = 1", [])?;
        // The flag's own change is all the log holds now; empty it too.
        checkpoint(conn)?;
        tracing::info!(database = %db.describe(), "rewrote the database file: no plaintext identity is left in it");
        Ok(true)
    });
    match result {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(
                database = %db.describe(),
                "the database file could not be rewritten yet (another process holds it); it will be at the next start or retention run"
            );
            false
        }
        Err(e) => {
            tracing::warn!(
                database = %db.describe(),
                error = %e,
                "rewriting the database file failed; it will be tried again at the next start or retention run"
            );
            false
        }
    }
}
