//! Retention: how long the registry keeps what it no longer needs
//! (`hub.toml`: `listing_identity_retention_days`,
//! `exclusion_identity_retention_days`, `record_retention_days`).
//!
//! - A listing's sealed identity (ID number and full name) is erased a
//!   number of days after the listing ended (the day after `valid_until`)
//!   or was withdrawn; an exclusion's, a number of days after it ended
//!   (`until`). The pseudonymous row stays: it is what terminals were sent
//!   and what later versions are built from.
//! - Terminals' records older than a number of days are deleted, as a
//!   run from each terminal's first seq, except what uploads still need:
//!   the terminal's newest record (the next upload's chain continues from
//!   it) and, for each operator still on its roster, the staff record that
//!   put them there (uploads judge records against the roster those
//!   records build). The seq the run reached is noted in
//!   `records_retired` so the hub still says it holds everything before
//!   it. A measure's limit counts uses over at most a year, and voids come
//!   within a day, so records that old count for nothing else.
//!
//! - A citizen's case keeps its phone, ID number and words (sealed) a
//!   number of days after it was answered (`case_retention_days`); then
//!   they are emptied. Its number, state, the record it points to and the
//!   answer stay, and its status page finds nothing any more.
//!
//! The hub's connections overwrite deleted content with zeros
//! (`secure_delete`), and the write-ahead log is checkpointed afterwards,
//! so erased identities do not linger in the file.

use std::fmt;

use crate::db::{OptionalExtension as _, Tx, params};
use xinyi_core::{Date, UnixTime};

use crate::error::HubError;
use crate::hub::Hub;
use crate::records::{recount_held, retired_through};
use crate::seal;

/// What one retention run erased and deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// Listings whose ID number and name were erased in this run.
    pub listing_identities_erased: u64,
    /// Listings that ended (the day after `valid_until`) or were withdrawn
    /// on or before this day (UTC+8) have no identity any more.
    pub listings_ended_by: Date,
    /// Exclusions whose ID number was erased in this run.
    pub exclusion_identities_erased: u64,
    /// Exclusions that ended (`until`) on or before this day have no
    /// identity any more.
    pub exclusions_ended_by: Date,
    /// Cases whose phone, ID number and words were erased in this run.
    pub case_contacts_erased: u64,
    /// Cases answered before this instant have no contact any more.
    pub cases_answered_before: UnixTime,
    /// Records deleted in this run.
    pub records_deleted: u64,
    /// How many terminals those records came from.
    pub terminals: u64,
    /// Records made before this instant may be deleted.
    pub records_before: UnixTime,
}

impl fmt::Display for RetentionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "erased the ID numbers and names of {} listings (those ended or withdrawn on or before {}) \
             and the ID numbers of {} exclusions (those ended on or before {}); \
             erased the phones, ID numbers and words of {} citizens' cases answered before {}; \
             deleted {} records of {} terminals made before {} (each terminal's newest record and \
             the staff records of its current operators are kept)",
            self.listing_identities_erased,
            self.listings_ended_by,
            self.exclusion_identities_erased,
            self.exclusions_ended_by,
            self.case_contacts_erased,
            self.cases_answered_before.display_utc8(),
            self.records_deleted,
            self.terminals,
            self.records_before.display_utc8()
        )
    }
}

/// Deletes the old records of one terminal; returns how many went.
fn retire_records(
    tx: &Tx<'_>,
    terminal: &str,
    before: UnixTime,
    now: UnixTime,
) -> Result<u64, HubError> {
    let base = retired_through(tx, terminal)?;
    let newest: Option<i64> = tx.query_row(
        "SELECT MAX(seq) FROM records WHERE terminal = ?1",
        [terminal],
        |r| r.get(0),
    )?;
    let Some(newest) = newest else {
        return Ok(0);
    };
    let first_recent: Option<i64> = tx
        .query_row(
            "SELECT MIN(seq) FROM records WHERE terminal = ?1 AND seq > ?2 AND at >= ?3",
            params![terminal, base, before.0],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    // A run from the start: up to the first record recent enough to keep
    // (terminal clocks can step back, so a later seq is not always a
    // later time), never the newest, and never past a gap (the integrity
    // report must keep showing it).
    // Counted in full, not from the receipts' mark: a gap is never
    // deleted past.
    let held = recount_held(tx, terminal)?;
    let held = i64::try_from(held).unwrap_or(i64::MAX);
    let upto = first_recent
        .map_or(newest, |s| s - 1)
        .min(newest - 1)
        .min(held);
    if upto <= base {
        return Ok(0);
    }
    let deleted = tx.execute(
        "DELETE FROM records WHERE terminal = ?1 AND seq <= ?2 AND seq NOT IN (
            SELECT r.seq FROM records r
            WHERE r.terminal = ?1 AND r.kind = 'staff' AND r.flag IS NULL
              AND r.reason = 'operator_set'
              AND r.seq = (SELECT MAX(r2.seq) FROM records r2
                           WHERE r2.terminal = ?1 AND r2.kind = 'staff' AND r2.flag IS NULL
                             AND r2.reason IN ('operator_set', 'operator_removed')
                             AND r2.staff = r.staff))",
        params![terminal, upto],
    )?;
    if deleted > 0 {
        // Records gone may have counted in a period's usage: the next
        // refresh recomputes every key.
        tx.execute("DELETE FROM usage_state", [])?;
    }
    tx.execute(
        "INSERT INTO records_retired (terminal, through, count, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (terminal) DO UPDATE SET through = excluded.through,
             count = records_retired.count + excluded.count, at = excluded.at",
        params![
            terminal,
            upto,
            i64::try_from(deleted).unwrap_or(i64::MAX),
            now.0
        ],
    )?;
    Ok(deleted as u64)
}

impl Hub {
    /// Applies the retention settings now: erases the identities of
    /// listings and exclusions that ended long enough ago and deletes old
    /// records (see the module's documentation). Safe to run at any time
    /// and as often as wanted; a second run the same day finds nothing.
    pub fn apply_retention(&self) -> Result<RetentionReport, HubError> {
        let config = self.config();
        let today = self.today();
        let now = self.now();
        let listings_ended_by = today.add_days(-i64::from(config.listing_identity_retention_days));
        let exclusions_ended_by =
            today.add_days(-i64::from(config.exclusion_identity_retention_days));
        let records_before = UnixTime(now.0 - i64::from(config.record_retention_days) * 86_400);
        let cases_answered_before =
            UnixTime(now.0 - i64::from(config.case_retention_days) * 86_400);
        let (listings, exclusions, cases) = self.db().write(|tx| {
            // Ended on day E = valid_until + 1: E <= cut, i.e. valid_until < cut.
            let listings = tx.execute(
                "UPDATE listings SET id_sealed = NULL, name_sealed = NULL, erased_at = ?2
                 WHERE id_sealed IS NOT NULL
                   AND (valid_until < ?1 OR (withdrawn = 1 AND withdrawn_on <= ?1))",
                params![listings_ended_by.to_string(), now.0],
            )?;
            let exclusions = tx.execute(
                "UPDATE exclusions SET id_sealed = NULL, erased_at = ?2
                 WHERE id_sealed IS NOT NULL AND until <= ?1",
                params![exclusions_ended_by.to_string(), now.0],
            )?;
            // Nonces of senders that went quiet (each sender forgets its
            // own as it makes requests).
            tx.execute(
                "DELETE FROM nonces WHERE seen_at < ?1",
                [now.0.saturating_sub(config.nonce_retention_s)],
            )?;
            let cases = tx.execute(
                "UPDATE cases SET phone_sealed = ?3, id_sealed = NULL, text_sealed = ?3,
                        erased_at = ?2
                 WHERE erased_at IS NULL AND answered_at < ?1",
                params![cases_answered_before.0, now.0, Vec::<u8>::new()],
            )?;
            Ok((listings as u64, exclusions as u64, cases as u64))
        })?;
        let terminals: Vec<String> = self.db().read(|tx| {
            let mut stmt = tx.prepare("SELECT id FROM terminals ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })?;
        let (mut records_deleted, mut pruned) = (0u64, 0u64);
        // One transaction per terminal, under that terminal's own lock:
        // its uploads wait for its deletion only, others' not at all.
        for t in &terminals {
            let n = self
                .db()
                .write_for(t, |tx| retire_records(tx, t, records_before, now))?;
            if n > 0 {
                records_deleted += n;
                pruned += 1;
            }
        }
        if listings + exclusions + cases + records_deleted > 0
            && self.db().dialect() == crate::db::Dialect::Sqlite
        {
            // The old pages are still in SQLite's log until it is
            // checkpointed. (PostgreSQL's old row versions go at its
            // vacuum, which its administrators schedule.)
            let done = self.db().with_sqlite(|conn| seal::checkpoint(conn))?;
            if !done {
                tracing::warn!(
                    "the write-ahead log could not be emptied yet (a reader holds it): it will be at a later checkpoint"
                );
            }
        }
        seal::scrub_if_due(self.db());
        let report = RetentionReport {
            listing_identities_erased: listings,
            listings_ended_by,
            exclusion_identities_erased: exclusions,
            exclusions_ended_by,
            case_contacts_erased: cases,
            cases_answered_before,
            records_deleted,
            terminals: pruned,
            records_before,
        };
        tracing::info!(%report, "retention applied");
        Ok(report)
    }
}
