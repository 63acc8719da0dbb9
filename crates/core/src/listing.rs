//! List submissions (名单信息标准), `list-standard.md`: the listings and
//! exclusions CSV files, their all-or-nothing checks with a per-row report,
//! and the registry state they change.
//!
//! Checking is apart from storing: [`check_listings`] validates every row
//! and plans the changes against whatever holds the current state (the
//! in-memory [`Registry`] here, the hub's SQLite database there), and only a
//! file without a single bad row yields a plan to apply.

use std::collections::BTreeMap;
use std::fmt;

use crate::category::Category;
use crate::csv;
use crate::eligibility::{EligibilityEntry, EligibilitySet, ExclusionEntry};
use crate::ids::{self, Kind, PseudonymKey};
use crate::time::Date;

/// Listings stay in force this many years after recognition by default.
pub const DEFAULT_VALIDITY_YEARS: i32 = 2;
/// A serious-dishonesty record excludes its subject for this many years.
pub const EXCLUSION_YEARS: i32 = 3;

/// The columns of a listings file, in the standard's order.
pub const LISTING_COLUMNS: [&str; 10] = [
    "kind",
    "id_number",
    "name",
    "category",
    "honour",
    "source",
    "recognised_on",
    "valid_until",
    "extension_ref",
    "action",
];
const LISTING_REQUIRED: usize = 7;
/// The columns of an exclusions file, in the standard's order; the last two
/// (a withdrawal and its reference) are optional.
pub const EXCLUSION_COLUMNS: [&str; 6] = [
    "kind",
    "id_number",
    "reason",
    "recorded_on",
    "action",
    "repair_ref",
];
const EXCLUSION_REQUIRED: usize = 4;

/// What identifies a listing: importing the same key twice is one listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListingKey {
    pub kind: Kind,
    /// Normalised (upper case, trimmed).
    pub id_number: String,
    pub category: Category,
    pub recognised_on: Date,
}

/// A listing as the registry holds it (full identity: never sent to terminals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub key: ListingKey,
    pub name: String,
    pub honour: String,
    pub source: String,
    pub valid_until: Date,
    pub extension_ref: Option<String>,
    pub withdrawn: bool,
}

/// What a row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Withdraw,
}

/// A serious-dishonesty record (严重违法失信).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    pub kind: Kind,
    pub id_number: String,
    pub reason: String,
    pub recorded_on: Date,
    /// Ended early: a court reversed the record, or the subject's credit
    /// was repaired (信用修复).
    pub withdrawn: Option<Repair>,
}

/// The withdrawal of an exclusion: from `on` it no longer applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The day of the import that withdrew it.
    pub on: Date,
    /// The decision's reference (`repair_ref`).
    pub reference: String,
}

/// What identifies an exclusion: importing the same key twice is one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExclusionKey {
    pub kind: Kind,
    pub id_number: String,
    pub recorded_on: Date,
}

impl fmt::Display for ExclusionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} recorded {}",
            self.kind, self.id_number, self.recorded_on
        )
    }
}

impl Exclusion {
    pub fn key(&self) -> ExclusionKey {
        ExclusionKey {
            kind: self.kind,
            id_number: self.id_number.clone(),
            recorded_on: self.recorded_on,
        }
    }

    /// The first day the subject is no longer excluded: three years after
    /// the record, or the day it was withdrawn if that is earlier.
    pub fn ends_on(&self) -> Date {
        let lapses = self.recorded_on.add_years(EXCLUSION_YEARS);
        match &self.withdrawn {
            Some(r) if r.on < lapses => r.on.max(self.recorded_on),
            _ => lapses,
        }
    }
}

/// One planned change of an exclusions import, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExclusionChange {
    Added(Exclusion),
    /// Held already, with a new reason text (terminals see no change).
    Updated(Exclusion),
    Withdrawn(Exclusion),
    /// The same as what is held, or a withdrawal already made.
    Unchanged(ExclusionKey),
}

/// One bad row (or the header, line 1) of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based; the header is line 1.
    pub line: usize,
    /// The column at fault, or `None` for the row as a whole.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Why a submission was rejected: every bad row. Nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub errors: Vec<RowError>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: std::collections::BTreeSet<usize> = self.errors.iter().map(|e| e.line).collect();
        writeln!(
            f,
            "rejected: {} bad line(s); nothing was imported",
            lines.len()
        )?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportReport {}

/// One planned change of a listings import, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Listing),
    /// A re-submitted listing with new details (e.g. an extension).
    Updated(Listing),
    Withdrawn(Listing),
    /// The same as what is held: nothing to do.
    Unchanged(ListingKey),
}

/// Counts of an applied import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub added: usize,
    pub updated: usize,
    pub withdrawn: usize,
    pub unchanged: usize,
}

impl ImportSummary {
    /// The counts of an exclusions import (`updated`: a new reason text).
    pub fn of_exclusions(changes: &[ExclusionChange]) -> ImportSummary {
        let mut s = ImportSummary::default();
        for c in changes {
            match c {
                ExclusionChange::Added(_) => s.added += 1,
                ExclusionChange::Updated(_) => s.updated += 1,
                ExclusionChange::Withdrawn(_) => s.withdrawn += 1,
                ExclusionChange::Unchanged(_) => s.unchanged += 1,
            }
        }
        s
    }

    pub fn of(changes: &[Change]) -> ImportSummary {
        let mut s = ImportSummary::default();
        for c in changes {
            match c {
                Change::Added(_) => s.added += 1,
                Change::Updated(_) => s.updated += 1,
                Change::Withdrawn(_) => s.withdrawn += 1,
                Change::Unchanged(_) => s.unchanged += 1,
            }
        }
        s
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} withdrawn, {} unchanged",
            self.added, self.updated, self.withdrawn, self.unchanged
        )
    }
}

/// Rows of a file, with the header mapped to column positions.
struct Table {
    rows: Vec<(usize, Vec<Vec<u8>>)>,
    columns: BTreeMap<&'static str, usize>,
    width: usize,
}

fn read_table(
    bytes: &[u8],
    known: &[&'static str],
    required: &[&'static str],
    errors: &mut Vec<RowError>,
) -> Option<Table> {
    let err = |line, column: Option<&str>, reason: String| RowError {
        line,
        column: column.map(str::to_owned),
        reason,
    };
    let records = match csv::records(bytes) {
        Ok(r) => r,
        Err(e) => {
            errors.push(err(e.line, None, "a quoted field is never closed".into()));
            return None;
        }
    };
    let mut it = records.into_iter();
    let Some(header) = it.next() else {
        errors.push(err(
            1,
            None,
            format!(
                "the file is empty; the first line must be the header: {}",
                known.join(",")
            ),
        ));
        return None;
    };
    let mut columns = BTreeMap::new();
    for (pos, raw) in header.fields.iter().enumerate() {
        let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
        match known.iter().find(|k| **k == name) {
            Some(k) if columns.contains_key(k) => {
                errors.push(err(1, Some(k), "column appears twice in the header".into()))
            }
            Some(k) => {
                columns.insert(*k, pos);
            }
            None => errors.push(err(
                header.line,
                Some(&name),
                format!("unknown column {name:?}; columns are {}", known.join(",")),
            )),
        }
    }
    for r in required {
        if !columns.contains_key(r) {
            errors.push(err(
                1,
                Some(r),
                "required column is missing from the header".into(),
            ));
        }
    }
    if !errors.is_empty() {
        return None;
    }
    let width = header.fields.len();
    Some(Table {
        rows: it.map(|r| (r.line, r.fields)).collect(),
        columns,
        width,
    })
}

/// Field access for one row, collecting errors.
struct Row<'a> {
    line: usize,
    fields: &'a [Vec<u8>],
    columns: &'a BTreeMap<&'static str, usize>,
    errors: Vec<RowError>,
}

impl Row<'_> {
    fn fail(&mut self, column: &str, reason: impl Into<String>) {
        self.errors.push(RowError {
            line: self.line,
            column: Some(column.to_owned()),
            reason: reason.into(),
        });
    }

    /// The trimmed text of a column; empty when the column is absent.
    fn text(&mut self, column: &'static str) -> Option<String> {
        let Some(&pos) = self.columns.get(column) else {
            return Some(String::new());
        };
        match std::str::from_utf8(&self.fields[pos]) {
            Ok(s) => Some(s.trim().to_owned()),
            Err(_) => {
                self.fail(column, "not UTF-8 (save the file as UTF-8)");
                None
            }
        }
    }

    fn required(&mut self, column: &'static str) -> Option<String> {
        let v = self.text(column)?;
        if v.is_empty() {
            self.fail(column, "is required");
            return None;
        }
        Some(v)
    }

    fn kind(&mut self) -> Option<Kind> {
        let v = self.required("kind")?;
        v.parse::<Kind>()
            .map_err(|e| self.fail("kind", e.to_string()))
            .ok()
    }

    fn id_number(&mut self, kind: Option<Kind>, today: Date) -> Option<String> {
        let v = self.required("id_number")?;
        let kind = kind?;
        match ids::validate_id(kind, &v, today) {
            Ok(()) => Some(ids::normalize_id(&v)),
            Err(e) => {
                let what = match kind {
                    Kind::Person => "resident ID card number",
                    Kind::Enterprise => "unified social credit code",
                };
                self.fail("id_number", format!("not a valid {what}: {e}"));
                None
            }
        }
    }

    fn date(&mut self, column: &'static str, required: bool) -> Option<Option<Date>> {
        let v = if required {
            self.required(column)?
        } else {
            self.text(column)?
        };
        if v.is_empty() {
            return Some(None);
        }
        match v.parse::<Date>() {
            Ok(d) => Some(Some(d)),
            Err(e) => {
                self.fail(column, e.to_string());
                None
            }
        }
    }

    fn past_date(&mut self, column: &'static str, today: Date) -> Option<Date> {
        let d = self.date(column, true)??;
        if d > today {
            self.fail(column, format!("{d} is in the future (today is {today})"));
            return None;
        }
        Some(d)
    }
}

fn each_row<'a>(table: &'a Table, errors: &mut Vec<RowError>) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for (line, fields) in &table.rows {
        if fields.len() != table.width {
            errors.push(RowError {
                line: *line,
                column: None,
                reason: format!(
                    "wrong column count: expected {}, got {}",
                    table.width,
                    fields.len()
                ),
            });
            continue;
        }
        rows.push(Row {
            line: *line,
            fields,
            columns: &table.columns,
            errors: Vec::new(),
        });
    }
    rows
}

fn parse_listing_row(row: &mut Row<'_>, today: Date) -> Option<(Listing, Action)> {
    let kind = row.kind();
    let id_number = row.id_number(kind, today);
    let name = row.required("name");
    let category = row.required("category").and_then(|c| {
        c.parse::<Category>()
            .map_err(|e| row.fail("category", e.to_string()))
            .ok()
    });
    let category = match (kind, category) {
        (Some(k), Some(c)) if c.kind() != k => {
            row.fail(
                "category",
                format!("{c} is a {} category, but this row's kind is {k}", c.kind()),
            );
            None
        }
        (_, c) => c,
    };
    let honour = row.required("honour");
    let source = row.required("source");
    let recognised_on = row.past_date("recognised_on", today);
    let valid_until = row.date("valid_until", false);
    let extension_ref = row
        .text("extension_ref")
        .map(|s| if s.is_empty() { None } else { Some(s) });
    let action = row.text("action").and_then(|a| match a.as_str() {
        "" | "add" => Some(Action::Add),
        "withdraw" => Some(Action::Withdraw),
        other => {
            row.fail(
                "action",
                format!("must be `add` or `withdraw`, not {other:?}"),
            );
            None
        }
    });
    let recognised_on = recognised_on?;
    let default_until = recognised_on.add_years(DEFAULT_VALIDITY_YEARS);
    let valid_until = match valid_until? {
        None => default_until,
        Some(u) if u < recognised_on => {
            row.fail(
                "valid_until",
                format!("{u} is before recognised_on {recognised_on}"),
            );
            return None;
        }
        Some(u) => u,
    };
    let extension_ref = extension_ref?;
    if valid_until > default_until && extension_ref.is_none() {
        row.fail(
            "extension_ref",
            format!("valid_until {valid_until} is past the default {default_until}: an extension needs the approval's reference"),
        );
        return None;
    }
    let key = ListingKey {
        kind: kind?,
        id_number: id_number?,
        category: category?,
        recognised_on,
    };
    let listing = Listing {
        key,
        name: name?,
        honour: honour?,
        source: source?,
        valid_until,
        extension_ref,
        withdrawn: false,
    };
    Some((listing, action?))
}

/// Checks a listings file and plans its changes against the current state
/// (`held` returns the listing stored under a key). Either every row is
/// good and the plan is returned, or the report names every bad row.
pub fn check_listings(
    bytes: &[u8],
    today: Date,
    held: impl Fn(&ListingKey) -> Option<Listing>,
) -> Result<Vec<Change>, ImportReport> {
    let mut errors = Vec::new();
    let Some(table) = read_table(
        bytes,
        &LISTING_COLUMNS,
        &LISTING_COLUMNS[..LISTING_REQUIRED],
        &mut errors,
    ) else {
        return Err(ImportReport { errors });
    };
    let mut overlay: BTreeMap<ListingKey, Listing> = BTreeMap::new();
    let mut changes = Vec::new();
    for mut row in each_row(&table, &mut errors) {
        let parsed = parse_listing_row(&mut row, today);
        errors.append(&mut row.errors);
        let Some((listing, action)) = parsed else {
            continue;
        };
        let prior = overlay
            .get(&listing.key)
            .cloned()
            .or_else(|| held(&listing.key));
        let change = match (action, prior) {
            (Action::Add, Some(p)) if p == listing => Change::Unchanged(listing.key.clone()),
            (Action::Add, Some(_)) => Change::Updated(listing.clone()),
            (Action::Add, None) => Change::Added(listing.clone()),
            (Action::Withdraw, Some(p)) if p.withdrawn => Change::Unchanged(p.key),
            (Action::Withdraw, Some(p)) => Change::Withdrawn(Listing {
                withdrawn: true,
                ..p
            }),
            (Action::Withdraw, None) => {
                errors.push(RowError {
                    line: row.line,
                    column: Some("action".into()),
                    reason: format!(
                        "withdraw of a listing that does not exist ({} {} {} recognised {})",
                        listing.key.kind,
                        listing.key.id_number,
                        listing.key.category,
                        listing.key.recognised_on
                    ),
                });
                continue;
            }
        };
        if let Change::Added(l) | Change::Updated(l) | Change::Withdrawn(l) = &change {
            overlay.insert(l.key.clone(), l.clone());
        }
        changes.push(change);
    }
    report_or(changes, errors)
}

/// The value, or the report with its errors in line order.
fn report_or<T>(value: T, mut errors: Vec<RowError>) -> Result<T, ImportReport> {
    if errors.is_empty() {
        return Ok(value);
    }
    errors.sort_by_key(|e| e.line);
    Err(ImportReport { errors })
}

/// Checks an exclusions file and plans its changes against the current
/// state (`held` returns the exclusion stored under a key). Either every
/// row is good and the plan is returned, or the report names every bad row.
///
/// A withdrawal (`action=withdraw`) needs `repair_ref` and a held exclusion;
/// it ends the exclusion from `today`. A withdrawn exclusion stays withdrawn:
/// submitting its row again changes nothing, and recording the subject
/// again takes a new record (another `recorded_on`).
pub fn check_exclusions(
    bytes: &[u8],
    today: Date,
    held: impl Fn(&ExclusionKey) -> Option<Exclusion>,
) -> Result<Vec<ExclusionChange>, ImportReport> {
    let mut errors = Vec::new();
    let Some(table) = read_table(
        bytes,
        &EXCLUSION_COLUMNS,
        &EXCLUSION_COLUMNS[..EXCLUSION_REQUIRED],
        &mut errors,
    ) else {
        return Err(ImportReport { errors });
    };
    let mut overlay: BTreeMap<ExclusionKey, Exclusion> = BTreeMap::new();
    let mut changes = Vec::new();
    for mut row in each_row(&table, &mut errors) {
        let parsed = parse_exclusion_row(&mut row, today);
        errors.append(&mut row.errors);
        let Some((exclusion, action)) = parsed else {
            continue;
        };
        let key = exclusion.key();
        let prior = overlay.get(&key).cloned().or_else(|| held(&key));
        let change = match (action, prior) {
            (ExclusionAction::Add, None) => ExclusionChange::Added(exclusion),
            (ExclusionAction::Add, Some(p)) if p.reason == exclusion.reason => {
                ExclusionChange::Unchanged(key)
            }
            (ExclusionAction::Add, Some(p)) => ExclusionChange::Updated(Exclusion {
                reason: exclusion.reason,
                ..p
            }),
            (ExclusionAction::Withdraw(_), Some(p)) if p.withdrawn.is_some() => {
                ExclusionChange::Unchanged(key)
            }
            (ExclusionAction::Withdraw(reference), Some(p)) => {
                ExclusionChange::Withdrawn(Exclusion {
                    withdrawn: Some(Repair {
                        on: today,
                        reference,
                    }),
                    ..p
                })
            }
            (ExclusionAction::Withdraw(_), None) => {
                errors.push(RowError {
                    line: row.line,
                    column: Some("action".into()),
                    reason: format!("withdraw of an exclusion that does not exist ({key})"),
                });
                continue;
            }
        };
        if let ExclusionChange::Added(e)
        | ExclusionChange::Updated(e)
        | ExclusionChange::Withdrawn(e) = &change
        {
            overlay.insert(e.key(), e.clone());
        }
        changes.push(change);
    }
    report_or(changes, errors)
}

/// What an exclusions row asks for.
enum ExclusionAction {
    Add,
    /// With the decision's reference.
    Withdraw(String),
}

fn parse_exclusion_row(row: &mut Row<'_>, today: Date) -> Option<(Exclusion, ExclusionAction)> {
    let kind = row.kind();
    let id_number = row.id_number(kind, today);
    let reason = row.required("reason");
    let recorded_on = row.past_date("recorded_on", today);
    let repair_ref = row.text("repair_ref");
    let action = match row.text("action").as_deref() {
        None => None,
        Some("" | "add") => Some(ExclusionAction::Add),
        Some("withdraw") => match repair_ref {
            Some(r) if !r.is_empty() => Some(ExclusionAction::Withdraw(r)),
            None => None,
            Some(_) => {
                row.fail(
                    "repair_ref",
                    "a withdrawal needs repair_ref, the reference of the decision that ends the exclusion",
                );
                None
            }
        },
        Some(other) => {
            row.fail(
                "action",
                format!("must be `add` or `withdraw`, not {other:?}"),
            );
            None
        }
    };
    Some((
        Exclusion {
            kind: kind?,
            id_number: id_number?,
            reason: reason?,
            recorded_on: recorded_on?,
            withdrawn: None,
        },
        action?,
    ))
}

/// The registry's state in memory: the reference implementation of the
/// import rules (the hub keeps the same state in SQLite).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    listings: BTreeMap<ListingKey, Listing>,
    exclusions: BTreeMap<ExclusionKey, Exclusion>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Imports a listings file, all or nothing.
    pub fn import_listings(
        &mut self,
        bytes: &[u8],
        today: Date,
    ) -> Result<ImportSummary, ImportReport> {
        let changes = check_listings(bytes, today, |k| self.listings.get(k).cloned())?;
        for c in &changes {
            if let Change::Added(l) | Change::Updated(l) | Change::Withdrawn(l) = c {
                self.listings.insert(l.key.clone(), l.clone());
            }
        }
        Ok(ImportSummary::of(&changes))
    }

    /// Imports an exclusions file, all or nothing.
    pub fn import_exclusions(
        &mut self,
        bytes: &[u8],
        today: Date,
    ) -> Result<ImportSummary, ImportReport> {
        let changes = check_exclusions(bytes, today, |k| self.exclusions.get(k).cloned())?;
        for c in &changes {
            if let ExclusionChange::Added(e)
            | ExclusionChange::Updated(e)
            | ExclusionChange::Withdrawn(e) = c
            {
                self.exclusions.insert(e.key(), e.clone());
            }
        }
        Ok(ImportSummary::of_exclusions(&changes))
    }

    pub fn listings(&self) -> impl Iterator<Item = &Listing> {
        self.listings.values()
    }

    pub fn exclusions(&self) -> impl Iterator<Item = &Exclusion> {
        self.exclusions.values()
    }

    /// What terminals get: pseudonyms, masked names, categories and dates.
    pub fn eligibility(&self, key: &PseudonymKey) -> EligibilitySet {
        let listings = self
            .listings
            .values()
            .map(|l| EligibilityEntry::of_listing(key, l))
            .collect();
        let exclusions = self
            .exclusions
            .values()
            .map(|e| ExclusionEntry::of_exclusion(key, e))
            .collect();
        EligibilitySet::new(listings, exclusions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "kind,id_number,name,category,honour,source,recognised_on,valid_until,extension_ref,action\n";

    fn today() -> Date {
        Date::new(2026, 3, 10).unwrap()
    }

    #[test]
    fn idempotent_and_withdraw() {
        let add = format!(
            "{HEADER}person,11010519491231002X,张三明,P02,好人,市文明办,2025-05-01,,,add\n"
        );
        let mut r = Registry::new();
        assert_eq!(r.import_listings(add.as_bytes(), today()).unwrap().added, 1);
        assert_eq!(
            r.import_listings(add.as_bytes(), today())
                .unwrap()
                .unchanged,
            1
        );
        let l = r.listings().next().unwrap();
        assert_eq!(l.valid_until.to_string(), "2027-05-01");
        let wd = add.replace(",add", ",withdraw");
        assert_eq!(
            r.import_listings(wd.as_bytes(), today()).unwrap().withdrawn,
            1
        );
        assert!(r.listings().next().unwrap().withdrawn);
        // Withdrawing an unknown listing is an error, and nothing changes.
        let other = wd.replace("P02", "P03");
        let report = r.import_listings(other.as_bytes(), today()).unwrap_err();
        assert_eq!(report.errors[0].column.as_deref(), Some("action"));
        assert_eq!(r.listings().count(), 1);
    }

    #[test]
    fn header_problems() {
        let report = check_listings(b"kind,id_number,nom\n", today(), |_| None).unwrap_err();
        let cols: Vec<_> = report
            .errors
            .iter()
            .map(|e| e.column.clone().unwrap_or_default())
            .collect();
        assert!(cols.contains(&"nom".to_string()));
        assert!(cols.contains(&"category".to_string()));
        assert!(check_listings(b"", today(), |_| None).is_err());
    }

    #[test]
    fn not_utf8_names_the_column() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"person,11010519491231002X,\xC0\xFF,P02,x,y,2025-05-01,,,add\n");
        let report = check_listings(&bytes, today(), |_| None).unwrap_err();
        assert_eq!(report.errors.len(), 1);
        assert_eq!(
            (report.errors[0].line, report.errors[0].column.as_deref()),
            (2, Some("name"))
        );
    }

    #[test]
    fn exclusions_last_three_years() {
        let csv = "kind,id_number,reason,recorded_on\nperson,11010519491231002X,失信,2024-02-29\n";
        let rows = check_exclusions(csv.as_bytes(), today(), |_| None).unwrap();
        let ExclusionChange::Added(e) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(e.ends_on().to_string(), "2027-02-28");
        let future = csv.replace("2024-02-29", "2027-01-01");
        let report = check_exclusions(future.as_bytes(), today(), |_| None).unwrap_err();
        assert_eq!(report.errors[0].column.as_deref(), Some("recorded_on"));
    }

    const EXCLUSION: &str = "person,11010519491231002X,失信,2024-02-29";

    fn exclusions(rows: &[&str]) -> Vec<u8> {
        let mut s = EXCLUSION_COLUMNS.join(",");
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s.into_bytes()
    }

    #[test]
    fn a_withdrawn_exclusion_ends_on_the_day_of_the_import() {
        let mut r = Registry::new();
        let s = r
            .import_exclusions(&exclusions(&[&format!("{EXCLUSION},add,")]), today())
            .unwrap();
        assert_eq!((s.added, s.withdrawn), (1, 0));
        let withdraw = format!("{EXCLUSION},withdraw,（2026）粤1702信复字第12号");
        let s = r
            .import_exclusions(&exclusions(&[&withdraw]), today())
            .unwrap();
        assert_eq!((s.added, s.withdrawn, s.unchanged), (0, 1, 0));
        let e = r.exclusions().next().unwrap();
        assert_eq!(e.ends_on(), today());
        assert_eq!(
            e.withdrawn.as_ref().map(|w| w.reference.as_str()),
            Some("（2026）粤1702信复字第12号")
        );
        // Withdrawing again, or submitting the original row again, changes
        // nothing: the repair stands.
        let again = r
            .import_exclusions(
                &exclusions(&[&withdraw, &format!("{EXCLUSION},,")]),
                today().add_days(5),
            )
            .unwrap();
        assert_eq!((again.withdrawn, again.unchanged), (0, 2));
        assert_eq!(r.exclusions().next().unwrap().ends_on(), today());
    }

    #[test]
    fn withdrawing_what_is_not_held_or_without_a_reference_is_refused() {
        let unknown = format!("{EXCLUSION},withdraw,ref-1");
        let no_ref = EXCLUSION.replace("2024-02-29", "2024-03-01") + ",withdraw,";
        let report =
            check_exclusions(&exclusions(&[&unknown, &no_ref]), today(), |_| None).unwrap_err();
        let got: Vec<_> = report
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_deref()))
            .collect();
        assert_eq!(got, [(2, Some("action")), (3, Some("repair_ref"))]);
        assert!(
            report.errors[0].reason.contains("does not exist"),
            "{report}"
        );
        // Added earlier in the same file, withdrawn later in it: allowed.
        let both = check_exclusions(
            &exclusions(&[&format!("{EXCLUSION},,"), &unknown]),
            today(),
            |_| None,
        )
        .unwrap();
        assert!(matches!(both[1], ExclusionChange::Withdrawn(_)), "{both:?}");
    }
}
