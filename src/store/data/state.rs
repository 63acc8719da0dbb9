//! The version held and how current it is: the `data_state` row, the
//! hub's signed time, the trusted-time floor, the status bar, and the wipe
//! when the registry revokes this terminal.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use xinyi_core::UnixTime;
use xinyi_core::wire::plan::{Held, Refresh, Refused};

use super::super::{Store, StoreError, from_sql_int};
use super::{DataState, Status, corrupt, digest};

pub(in crate::store) fn read_state(conn: &Connection) -> Result<Option<DataState>, StoreError> {
    type Row = (i64, i64, Vec<u8>, i64, i64, Vec<u8>, i64, i64, i64, i64);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT version, published_at, set_hash, listings, exclusions, config_sha256,
                    hub_issued_at, received_at, expires_at, applied_at
             FROM data_state WHERE id = 1",
        )?
        .query_row([], |r| r.try_into())
        .optional()?;
    let Some((
        version,
        published,
        hash,
        listings,
        exclusions,
        config,
        issued,
        received,
        expires,
        applied,
    )) = row
    else {
        return Ok(None);
    };
    let count = |n: i64, what: &str| u64::try_from(n).map_err(|_| corrupt(format!("{what} {n}")));
    Ok(Some(DataState {
        version: count(version, "data version")?,
        published_at: UnixTime(published),
        set_hash: digest(hash, "the set hash")?,
        listings: count(listings, "listing count")?,
        exclusions: count(exclusions, "exclusion count")?,
        config_sha256: digest(config, "the config hash")?,
        hub_issued_at: UnixTime(issued),
        received_at: UnixTime(received),
        expires_at: UnixTime(expires),
        applied_at: UnixTime(applied),
    }))
}

/// Inside an executing transaction: the data held must still be what the
/// plan was made against (another connection may have applied a version
/// while this one was fetching).
pub(super) fn still_held(
    tx: &Transaction<'_>,
    planned: Option<&Held>,
    version: u64,
) -> Result<(), StoreError> {
    let found = read_state(tx)?.map(|s| s.held());
    if found.as_ref() == planned {
        return Ok(());
    }
    Err(StoreError::Refused {
        version,
        reason: Refused::HeldChanged {
            planned: planned.map(|h| h.version),
            found: found.map(|h| h.version),
        },
    })
}

/// How far a trusted-time floor may stand above a fresh signed time from
/// the hub before it is taken for a clock that was once set ahead (records
/// dated in the future) and brought down to the hub's time.
pub const FLOOR_RESET_S: i64 = 86_400;

/// Raises the trusted-time floor to the hub's signed time `hub` (just
/// accepted as newer than any held): the floor never goes below it, and a
/// floor more than [`FLOOR_RESET_S`] above it — left by records made while
/// the clock was far ahead — comes down to it, or the terminal would stay
/// CLOCK_SUSPECT until that future date.
pub(super) fn raise_floor_to_hub(tx: &Transaction<'_>, hub: UnixTime) -> Result<(), StoreError> {
    let floor: i64 = tx.query_row("SELECT floor FROM trusted_time WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    let new = if floor > hub.0.saturating_add(FLOOR_RESET_S) {
        tracing::warn!(
            floor = %UnixTime(floor).display_utc8(),
            hub = %hub.display_utc8(),
            "records are dated far after the hub's signed time: this terminal's clock was ahead; trusting the hub's time"
        );
        hub.0
    } else {
        floor.max(hub.0)
    };
    tx.execute("UPDATE trusted_time SET floor = ?1 WHERE id = 1", [new])?;
    Ok(())
}

impl Store {
    /// The data version held, or `None` before the first sync.
    pub fn data_state(&self) -> Result<Option<DataState>, StoreError> {
        read_state(&self.conn)
    }

    /// What the plan needs to know of the data held, or `None` before the
    /// first sync.
    pub fn held(&self) -> Result<Option<Held>, StoreError> {
        Ok(self.data_state()?.map(|s| s.held()))
    }

    /// Executes [`ApplyPlan::UpToDate`](xinyi_core::wire::plan::ApplyPlan):
    /// records that the hub confirmed the held version is still current —
    /// its signed time, the local time it arrived and the new expiry.
    /// Metadata signed earlier than the one already recorded (a replay)
    /// changes nothing; returns whether anything was refreshed.
    pub fn refresh(&mut self, plan: &Refresh, now: UnixTime) -> Result<bool, StoreError> {
        if !plan.newer {
            return Ok(false);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        still_held(&tx, Some(&plan.held), plan.held.version)?;
        tx.execute(
            "UPDATE data_state SET hub_issued_at = ?1, received_at = ?2, expires_at = ?3
             WHERE id = 1",
            params![plan.issued_at.0, now.0, plan.expires_at.0],
        )?;
        raise_floor_to_hub(&tx, plan.issued_at)?;
        tx.commit()?;
        Ok(true)
    }

    /// The registry revoked this terminal: deletes the listings,
    /// exclusions, trust list and card revocations, and forgets the data
    /// version, so every verdict is STALE_DATA until it is enrolled and
    /// synced again. The journal stays, to be uploaded.
    pub fn wipe_eligibility(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for table in [
            "listings",
            "exclusions",
            "trust_keys",
            "revoked_cards",
            "data_state",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        tx.commit()?;
        // secure_delete zeroed the freed pages in the database; the WAL
        // still holds copies until it is folded in and truncated.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The latest time this terminal already trusts: the high-water mark
    /// of the hub's signed times and of its own records' times. No record
    /// lowers it (a refusal made while the clock was set back included);
    /// only a fresh signed time from the hub far below it (the clock was
    /// once set ahead) brings it down to the hub's time.
    pub fn clock_floor(&self) -> Result<Option<UnixTime>, StoreError> {
        let floor: Option<i64> = self
            .conn
            .prepare_cached("SELECT floor FROM trusted_time WHERE id = 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(floor.filter(|f| *f > 0).map(UnixTime))
    }

    /// The time of the last journal record, if any.
    pub fn last_record_at(&self) -> Result<Option<UnixTime>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT at FROM journal ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?
            .map(UnixTime))
    }

    /// What the status bar shows, at `now` (terminal clock).
    pub fn status(&self, now: UnixTime) -> Result<Status, StoreError> {
        let data = self.data_state()?;
        let (unsent, oldest): (i64, Option<i64>) = self.conn.query_row(
            "SELECT count(*), min(at) FROM journal WHERE uploaded_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Status {
            age_s: data
                .as_ref()
                .map(|d| now.0.saturating_sub(d.published_at.0)),
            since_hub_s: data
                .as_ref()
                .map(|d| now.0.saturating_sub(d.hub_issued_at.0)),
            metadata_expired: data.as_ref().is_some_and(|d| d.expires_at < now),
            data,
            unsent: from_sql_int(unsent, "the unsent count")?,
            oldest_unsent_at: oldest.map(UnixTime),
        })
    }
}
