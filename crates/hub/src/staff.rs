//! The people who work each terminal's counter, as the terminal's own
//! staff records tell the registry: who is on its roster and in what role,
//! who set them up, failed sign-ins and lock-outs, and what each operator
//! did lately. Clerks are added at the terminal under a supervisor's PIN;
//! the registry holds operator ids and roles only, never names or PINs.

use std::collections::HashMap;

use crate::db::{Tx, params};
use xinyi_core::UnixTime;

use crate::error::HubError;
use crate::hub::Hub;

/// Ids typed at sign-in that are not on the roster are listed up to this
/// many per terminal; the rest are only counted.
pub const MAX_STRANGERS: usize = 200;

/// Where an operator id stands on a terminal's roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// On the roster now.
    Member,
    /// Was on it and was removed.
    Removed,
    /// Never on it: only typed at a failed sign-in.
    Unknown,
}

/// One operator id of a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub staff: String,
    pub standing: Standing,
    /// The role given by the last change (members only).
    pub role: Option<String>,
    /// The last time the id was set up, changed or removed, and the
    /// operator (a supervisor) who did it.
    pub changed_at: Option<UnixTime>,
    pub changed_by: Option<String>,
    /// Failed sign-ins and lock-outs since the roster's `since`.
    pub failed_sign_ins: u64,
    pub lockouts: u64,
    pub last_failed_at: Option<UnixTime>,
    /// Redemptions, refusals and voids the id made since `since`, and the
    /// time of its last record of any kind.
    pub redemptions: u64,
    pub refusals: u64,
    pub voids: u64,
    pub last_record_at: Option<UnixTime>,
}

impl StaffRow {
    fn new(staff: &str) -> StaffRow {
        StaffRow {
            staff: staff.to_owned(),
            standing: Standing::Unknown,
            role: None,
            changed_at: None,
            changed_by: None,
            failed_sign_ins: 0,
            lockouts: 0,
            last_failed_at: None,
            redemptions: 0,
            refusals: 0,
            voids: 0,
            last_record_at: None,
        }
    }
}

/// A terminal's roster and the sign-in trouble around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub terminal: String,
    /// Counts are of records dated from here on.
    pub since: UnixTime,
    /// Members first (by id), then removed ids, then unknown ones.
    pub rows: Vec<StaffRow>,
    /// Unknown ids with failed sign-ins beyond [`MAX_STRANGERS`].
    pub more_strangers: u64,
}

impl Roster {
    pub fn members(&self) -> impl Iterator<Item = &StaffRow> {
        self.rows.iter().filter(|r| r.standing == Standing::Member)
    }

    /// Failed sign-ins and lock-outs since `since`, all ids together.
    pub fn trouble(&self) -> (u64, u64) {
        self.rows
            .iter()
            .fold((0, 0), |(f, l), r| (f + r.failed_sign_ins, l + r.lockouts))
    }
}

/// Operator id → role, as the terminal's accepted staff records built it:
/// what the registry judges its voids and redemptions against.
pub(crate) fn roles(tx: &Tx<'_>, terminal: &str) -> Result<HashMap<String, String>, HubError> {
    let (by_id, _) = fold(tx, terminal, UnixTime(i64::MAX))?;
    Ok(by_id
        .into_values()
        .filter_map(|r| Some((r.staff, r.role?)))
        .collect())
}

/// Every id the terminal's staff records name, in its standing after the
/// last of them, with sign-in trouble from `since` on; and the number of
/// failed sign-ins by ids beyond [`MAX_STRANGERS`].
fn fold(
    tx: &Tx<'_>,
    terminal: &str,
    since: UnixTime,
) -> Result<(HashMap<String, StaffRow>, u64), HubError> {
    let mut by_id: HashMap<String, StaffRow> = HashMap::new();
    let mut strangers = 0usize;
    let mut more_strangers = 0u64;
    let mut stmt = tx.prepare_cached(
        "SELECT reason, staff, role, at, operator FROM records
         WHERE terminal = ?1 AND kind = 'staff' AND flag IS NULL
         ORDER BY seq",
    )?;
    let mut rows = stmt.query([terminal])?;
    while let Some(r) = rows.next()? {
        let event: String = r.get(0)?;
        let staff: String = r.get(1)?;
        let role: Option<String> = r.get(2)?;
        let at = UnixTime(r.get(3)?);
        let by: String = r.get(4)?;
        let setting = matches!(event.as_str(), "operator_set" | "operator_removed");
        if !setting && at < since {
            continue;
        }
        if !by_id.contains_key(&staff) {
            if !setting {
                if strangers >= MAX_STRANGERS {
                    more_strangers += 1;
                    continue;
                }
                strangers += 1;
            }
            by_id.insert(staff.clone(), StaffRow::new(&staff));
        }
        let Some(row) = by_id.get_mut(&staff) else {
            continue;
        };
        if setting {
            let set = event == "operator_set" && role.is_some();
            row.standing = if set {
                Standing::Member
            } else {
                Standing::Removed
            };
            row.role = if set { role } else { None };
            row.changed_at = Some(at);
            row.changed_by = Some(by);
        } else if event == "locked_out" {
            row.lockouts += 1;
            row.last_failed_at = row.last_failed_at.max(Some(at));
        } else if event == "sign_in_failed" {
            row.failed_sign_ins += 1;
            row.last_failed_at = row.last_failed_at.max(Some(at));
        }
    }
    Ok((by_id, more_strangers))
}

fn roster_in(tx: &Tx<'_>, terminal: &str, since: UnixTime) -> Result<Roster, HubError> {
    let (mut by_id, more_strangers) = fold(tx, terminal, since)?;
    let mut stmt = tx.prepare_cached(
        "SELECT operator,
                SUM(CASE WHEN kind = 'redemption' THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 'refusal' THEN 1 ELSE 0 END),
                SUM(CASE WHEN kind = 'void' THEN 1 ELSE 0 END),
                MAX(at)
         FROM records
         WHERE terminal = ?1 AND kind IN ('redemption', 'refusal', 'void') AND at >= ?2
         GROUP BY operator",
    )?;
    let mut rows = stmt.query(params![terminal, since.0])?;
    while let Some(r) = rows.next()? {
        let op: String = r.get(0)?;
        // Work by an id the roster does not know is the integrity
        // report's business (such records are flagged); only known ids
        // are shown here.
        let Some(row) = by_id.get_mut(&op) else {
            continue;
        };
        let count = |i: usize| -> Result<u64, HubError> {
            Ok(u64::try_from(r.get::<_, Option<i64>>(i)?.unwrap_or(0)).unwrap_or(0))
        };
        row.redemptions = count(1)?;
        row.refusals = count(2)?;
        row.voids = count(3)?;
        row.last_record_at = r.get::<_, Option<i64>>(4)?.map(UnixTime);
    }
    let mut rows: Vec<StaffRow> = by_id.into_values().collect();
    let rank = |s: Standing| match s {
        Standing::Member => 0,
        Standing::Removed => 1,
        Standing::Unknown => 2,
    };
    rows.sort_by(|a, b| {
        rank(a.standing)
            .cmp(&rank(b.standing))
            .then_with(|| a.staff.cmp(&b.staff))
    });
    Ok(Roster {
        terminal: terminal.to_owned(),
        since,
        rows,
        more_strangers,
    })
}

type Counts = HashMap<String, (u64, u64, u64)>;

/// Puts the number of members of `terminal`'s roster into `out`.
fn count_members(terminal: Option<String>, members: &mut HashMap<String, bool>, out: &mut Counts) {
    if let Some(t) = terminal {
        let n = members.values().filter(|m| **m).count();
        out.entry(t).or_default().0 = u64::try_from(n).unwrap_or(u64::MAX);
    }
    members.clear();
}

impl Hub {
    /// A terminal's roster, with sign-in failures and each operator's
    /// work counted from `since` on.
    pub fn roster(&self, terminal: &str, since: UnixTime) -> Result<Roster, HubError> {
        self.db().read(|tx| {
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM terminals WHERE id = ?1)",
                [terminal],
                |r| r.get(0),
            )?;
            if !known {
                return Err(HubError::NotFound {
                    what: "terminal",
                    id: terminal.to_owned(),
                    hint: " (see `xinyi-hub terminal list`)",
                });
            }
            roster_in(tx, terminal, since)
        })
    }

    /// For each terminal, its number of roster members and its failed
    /// sign-ins and lock-outs since `since` (terminals without staff
    /// records are absent).
    pub fn staff_counts(&self, since: UnixTime) -> Result<Counts, HubError> {
        self.db().read(|tx| {
            let mut out = Counts::new();
            let mut stmt = tx.prepare(
                "SELECT terminal, reason, staff, role, at FROM records
                 WHERE kind = 'staff' AND flag IS NULL
                 ORDER BY terminal, seq",
            )?;
            let mut rows = stmt.query([])?;
            let mut current: Option<String> = None;
            let mut members: HashMap<String, bool> = HashMap::new();
            while let Some(r) = rows.next()? {
                let terminal: String = r.get(0)?;
                if current.as_deref() != Some(terminal.as_str()) {
                    count_members(current.take(), &mut members, &mut out);
                    current = Some(terminal.clone());
                }
                let event: String = r.get(1)?;
                let staff: String = r.get(2)?;
                let role: Option<String> = r.get(3)?;
                let at = UnixTime(r.get(4)?);
                match event.as_str() {
                    "operator_set" => {
                        members.insert(staff, role.is_some());
                    }
                    "operator_removed" => {
                        members.insert(staff, false);
                    }
                    "sign_in_failed" if at >= since => out.entry(terminal).or_default().1 += 1,
                    "locked_out" if at >= since => out.entry(terminal).or_default().2 += 1,
                    _ => {}
                }
            }
            count_members(current, &mut members, &mut out);
            Ok(out)
        })
    }
}
