//! The measures catalogue changed from the console. The credit office
//! creates, edits and withdraws measures; a unit applies to offer a
//! measure (a new one, or a change to one of its own) and asks to cancel
//! one of its own from a day; the credit office approves or rejects each
//! request. Every change is checked as the catalogue file is, published
//! as the catalogue's next revision and data version, and audited in the
//! same transaction.

use crate::db::{OptionalExtension, Row, Tx, params};
use xinyi_core::measures::{Catalogue, CatalogueWarning, Measure};
use xinyi_core::{Date, UnixTime};

use crate::admin::load_catalogue;
use crate::audit::{Actor, append};
use crate::error::HubError;
use crate::hub::Hub;
use crate::publish::{Published, unchanged};

/// The longest reason or decision note.
pub const MAX_REASON_CHARS: usize = 500;
/// The most requests or revisions one listing returns.
pub const MAX_LISTED: u32 = 500;

/// What a unit asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// To offer this measure (new, or a change to its own).
    Offer(Box<Measure>),
    /// To cancel its measure from this day.
    Cancel(Date),
}

/// A unit's request and, once decided, the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureRequest {
    pub id: i64,
    pub kind: RequestKind,
    pub measure: String,
    pub unit: String,
    pub reason: String,
    pub by_user: String,
    pub at: UnixTime,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<UnixTime>,
    pub note: Option<String>,
    /// The data version that published an approved request.
    pub data_version: Option<u64>,
}

/// One published catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRevision {
    pub revision: i64,
    pub published_at: UnixTime,
    pub data_version: u64,
    pub how: String,
    pub measures: usize,
}

fn one_line(what: &str, text: &str, required: bool) -> Result<String, HubError> {
    let t = text.trim();
    if required && t.is_empty() {
        return Err(HubError::Invalid(format!("{what}: must not be empty")));
    }
    if t.chars().count() > MAX_REASON_CHARS || t.chars().any(char::is_control) {
        return Err(HubError::Invalid(format!(
            "{what}: one line of at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(t.to_owned())
}

/// The catalogue in force, or an empty one.
fn current(tx: &Tx<'_>) -> Result<Catalogue, HubError> {
    Ok(load_catalogue(tx)?.map(|(_, c)| c).unwrap_or_default())
}

/// `next` checked as a catalogue file is (its text read back).
fn checked(next: &Catalogue) -> Result<(String, Catalogue), HubError> {
    let text = next.to_toml();
    let again = Catalogue::from_toml(&text)?;
    Ok((text, again))
}

/// A measure withdrawn from `on`: not before today, not after it ended,
/// not if it is already withdrawn by then.
fn withdrawn(held: &Catalogue, id: &str, on: Date, today: Date) -> Result<Catalogue, HubError> {
    let Some(m) = held.get(id) else {
        return Err(HubError::NotFound {
            what: "measure",
            id: id.to_owned(),
            hint: "",
        });
    };
    if on < today {
        return Err(HubError::Invalid(format!(
            "withdraw_on {on} is in the past (today is {today}): a withdrawal cannot end uses already made"
        )));
    }
    if on > m.valid_until {
        return Err(HubError::Invalid(format!(
            "withdraw_on {on} is after the measure ends ({}): nothing to withdraw",
            m.valid_until
        )));
    }
    if let Some(w) = m.withdrawn_on
        && w <= on
    {
        return Err(HubError::Invalid(format!(
            "measure {id} is already withdrawn from {w}"
        )));
    }
    let mut changed = m.clone();
    changed.withdrawn_on = Some(on);
    Ok(held.with(changed))
}

/// Whether the unit `unit` may ask to change measure `m` held as `held`.
fn unit_may_offer(held: &Catalogue, unit: &str, m: &Measure) -> Result<(), HubError> {
    if m.unit != unit {
        return Err(HubError::Invalid(format!(
            "unit: this account offers measures of {unit}, not of {}",
            m.unit
        )));
    }
    if let Some(old) = held.get(m.id.as_str())
        && old.unit != unit
    {
        return Err(HubError::Invalid(format!(
            "id: measure {} is {}'s; choose another id",
            m.id, old.unit
        )));
    }
    Ok(())
}

fn request_row(
    r: &Row<'_>,
) -> Result<(MeasureRequest, Option<String>, Option<String>), crate::db::DbError> {
    Ok((
        MeasureRequest {
            id: r.get(0)?,
            // Set from the toml or withdraw_on column by `finish`.
            kind: RequestKind::Cancel(UnixTime(0).date_utc8()),
            measure: r.get(2)?,
            unit: r.get(3)?,
            reason: r.get(6)?,
            by_user: r.get(7)?,
            at: UnixTime(r.get(8)?),
            state: r.get(9)?,
            decided_by: r.get(10)?,
            decided_at: r.get::<_, Option<i64>>(11)?.map(UnixTime),
            note: r.get(12)?,
            data_version: r
                .get::<_, Option<i64>>(13)?
                .and_then(|v| u64::try_from(v).ok()),
        },
        r.get(4)?,
        r.get(5)?,
    ))
}

const REQUEST_COLUMNS: &str = "id, kind, measure, unit, toml, withdraw_on, reason, by_user, at, \
     state, decided_by, decided_at, note, data_version";

fn finish(
    (mut req, toml, on): (MeasureRequest, Option<String>, Option<String>),
) -> Result<MeasureRequest, HubError> {
    let bad = |why: String| HubError::corrupt(format!("measure request {}: {why}", req.id));
    req.kind = match (toml, on) {
        (Some(t), None) => {
            let c = Catalogue::from_toml(&t).map_err(|e| bad(e.to_string()))?;
            let m = c
                .measures()
                .first()
                .cloned()
                .ok_or_else(|| bad("no measure".into()))?;
            RequestKind::Offer(Box::new(m))
        }
        (None, Some(d)) => RequestKind::Cancel(d.parse().map_err(|e| bad(format!("{e}")))?),
        _ => return Err(bad("neither an offer nor a cancellation".into())),
    };
    Ok(req)
}

fn load_request(tx: &Tx<'_>, id: i64) -> Result<Option<MeasureRequest>, HubError> {
    let row = tx
        .query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM measure_requests WHERE id = ?1"),
            [id],
            request_row,
        )
        .optional()?;
    row.map(finish).transpose()
}

impl Hub {
    /// The credit office puts `m` in the catalogue (a new measure, or a
    /// change to the one of its id) and publishes it. Returns what was
    /// published and the catalogue's warnings about `m`.
    pub fn put_measure(
        &self,
        by: &Actor,
        m: &Measure,
    ) -> Result<(Published, Vec<CatalogueWarning>), HubError> {
        let now = self.now();
        self.db().write(|tx| {
            let held = current(tx)?;
            if held.get(m.id.as_str()) == Some(m) {
                // Sent back as it is: nothing to publish, nothing done.
                return Ok((unchanged(tx)?, warnings_of(&held, m)));
            }
            let verb = if held.get(m.id.as_str()).is_some() {
                "changed"
            } else {
                "added"
            };
            let (text, next) = checked(&held.with(m.clone()))?;
            let how = format!("measure {} {verb} by {by}", m.id);
            let published = self.publish_catalogue_in(tx, &text, &next, &how)?;
            append(
                tx,
                now,
                by,
                "measure.put",
                m.id.as_str(),
                &format!("{verb}; data version {}", published.version),
            )?;
            Ok((published, warnings_of(&next, m)))
        })
    }

    /// The credit office withdraws measure `id` from `on` (today or
    /// later): from that day it, and every eligibility through it, stops.
    pub fn withdraw_measure(&self, by: &Actor, id: &str, on: Date) -> Result<Published, HubError> {
        let (now, today) = (self.now(), self.today());
        self.db().write(|tx| {
            let (text, next) = checked(&withdrawn(&current(tx)?, id, on, today)?)?;
            let how = format!("measure {id} withdrawn from {on} by {by}");
            let published = self.publish_catalogue_in(tx, &text, &next, &how)?;
            append(
                tx,
                now,
                by,
                "measure.withdraw",
                id,
                &format!("from {on}; data version {}", published.version),
            )?;
            Ok(published)
        })
    }

    /// Unit `unit` applies to offer `m` (new, or a change to one of its
    /// own measures), saying why; the credit office decides. Checked now
    /// as it would be published; returns the request's number and the
    /// catalogue's warnings about `m`.
    pub fn request_measure(
        &self,
        by: &Actor,
        unit: &str,
        m: &Measure,
        reason: &str,
    ) -> Result<(i64, Vec<CatalogueWarning>), HubError> {
        let reason = one_line("reason", reason, true)?;
        let now = self.now();
        self.db().write(|tx| {
            let held = current(tx)?;
            unit_may_offer(&held, unit, m)?;
            let (_, next) = checked(&held.with(m.clone()))?;
            let id: i64 = tx.query_row(
                "INSERT INTO measure_requests (kind, measure, unit, toml, reason, by_user, at)
                 VALUES ('offer', ?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING id",
                params![
                    m.id.as_str(),
                    unit,
                    m.to_toml(),
                    reason,
                    by.to_string(),
                    now.0
                ],
                |r| r.get(0),
            )?;
            append(
                tx,
                now,
                by,
                "measure.request",
                m.id.as_str(),
                &format!("request #{id}: offer; {reason}"),
            )?;
            Ok((id, warnings_of(&next, m)))
        })
    }

    /// Unit `unit` asks to cancel its measure `id` from `on`.
    pub fn request_cancel(
        &self,
        by: &Actor,
        unit: &str,
        id: &str,
        on: Date,
        reason: &str,
    ) -> Result<i64, HubError> {
        let reason = one_line("reason", reason, true)?;
        let (now, today) = (self.now(), self.today());
        self.db().write(|tx| {
            let held = current(tx)?;
            if let Some(m) = held.get(id)
                && m.unit != unit
            {
                return Err(HubError::Invalid(format!(
                    "measure {id} is {}'s, not {unit}'s",
                    m.unit
                )));
            }
            withdrawn(&held, id, on, today)?;
            let n: i64 = tx.query_row(
                "INSERT INTO measure_requests (kind, measure, unit, withdraw_on, reason, by_user, at)
                 VALUES ('cancel', ?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING id",
                params![id, unit, on.to_string(), reason, by.to_string(), now.0],
                |r| r.get(0),
            )?;
            append(
                tx,
                now,
                by,
                "measure.request",
                id,
                &format!("request #{n}: cancel from {on}; {reason}"),
            )?;
            Ok(n)
        })
    }

    /// The credit office approves (publishing it) or rejects pending
    /// request `id`, with a note. An approval is checked against the
    /// catalogue in force now; if it no longer fits, nothing changes and
    /// the error says why.
    pub fn decide_measure_request(
        &self,
        by: &Actor,
        id: i64,
        approve: bool,
        note: &str,
    ) -> Result<Option<Published>, HubError> {
        let note = one_line("note", note, !approve)?;
        let (now, today) = (self.now(), self.today());
        self.db().write(|tx| {
            let Some(req) = load_request(tx, id)? else {
                return Err(HubError::NotFound {
                    what: "measure request",
                    id: id.to_string(),
                    hint: "",
                });
            };
            if req.state != "pending" {
                return Err(HubError::Invalid(format!(
                    "request #{id} was already {}",
                    req.state
                )));
            }
            let published = if approve {
                let held = current(tx)?;
                let next = match &req.kind {
                    RequestKind::Offer(m) => {
                        unit_may_offer(&held, &req.unit, m)?;
                        held.with(m.as_ref().clone())
                    }
                    RequestKind::Cancel(on) => withdrawn(&held, &req.measure, *on, today)?,
                };
                let (text, next) = checked(&next)?;
                let how = format!("request #{id} of {} approved by {by}", req.unit);
                Some(self.publish_catalogue_in(tx, &text, &next, &how)?)
            } else {
                None
            };
            tx.execute(
                "UPDATE measure_requests SET state = ?2, decided_by = ?3, decided_at = ?4,
                     note = ?5, data_version = ?6
                 WHERE id = ?1",
                params![
                    id,
                    if approve { "approved" } else { "rejected" },
                    by.to_string(),
                    now.0,
                    note,
                    published
                        .as_ref()
                        .map(|p| i64::try_from(p.version).unwrap_or(i64::MAX))
                ],
            )?;
            let detail = match &published {
                Some(p) => format!("request #{id} approved; data version {}", p.version),
                None => format!("request #{id} rejected: {note}"),
            };
            append(
                tx,
                now,
                by,
                if approve {
                    "measure.approve"
                } else {
                    "measure.reject"
                },
                &req.measure,
                &detail,
            )?;
            Ok(published)
        })
    }

    /// Requests, newest first: every unit's, or `unit`'s only.
    pub fn measure_requests(&self, unit: Option<&str>) -> Result<Vec<MeasureRequest>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM measure_requests
                 WHERE CAST(?1 AS TEXT) IS NULL OR unit = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![unit, MAX_LISTED], request_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(finish).collect()
        })
    }

    /// Published catalogues, newest first.
    pub fn catalogue_revisions(&self) -> Result<Vec<CatalogueRevision>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT revision, published_at, data_version, how, measures FROM catalogue_revisions
                 ORDER BY revision DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([MAX_LISTED], |r| {
                    Ok(CatalogueRevision {
                        revision: r.get(0)?,
                        published_at: UnixTime(r.get(1)?),
                        data_version: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        how: r.get(3)?,
                        measures: usize::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

fn warnings_of(next: &Catalogue, m: &Measure) -> Vec<CatalogueWarning> {
    next.warnings()
        .into_iter()
        .filter(|w| match w {
            CatalogueWarning::ShortValidity { id, .. } => *id == m.id,
        })
        .collect()
}
