//! Reports from the ingested journals, as CSV: usage per measure, unit and
//! day (UTC+8); subjects over a measure's use limit across all terminals;
//! each terminal's journal integrity; and the records kept but flagged as
//! implausible (`records.rs`).
//!
//! The CSV is opened in spreadsheets: a cell that starts like a formula
//! (`=`, `+`, `-`, `@`, a tab or a carriage return) — a measure name or a
//! refusal detail a terminal wrote — gets a leading `'` so it stays text.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use xinyi_core::time::UTC8_OFFSET_S;
use xinyi_core::{Date, UnixTime};

use crate::admin::load_catalogue;
use crate::error::HubError;
use crate::hub::Hub;
use crate::publish::to_i64;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Usage,
    Overuse,
    Integrity,
    Flagged,
}

/// A record kept as evidence but flagged as implausible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedRow {
    pub terminal: String,
    pub seq: u64,
    pub at: UnixTime,
    pub kind: String,
    pub operator: String,
    pub why: String,
}

/// Redemptions of one measure at one unit on one day (voided ones left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub day: String,
    pub measure: String,
    pub unit: String,
    pub redemptions: u64,
    pub total_original: u64,
    pub total_discount: u64,
    pub total_payable: u64,
}

/// A subject that used a measure more often in one period than its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OveruseRow {
    pub measure: String,
    pub sub: String,
    /// `day`, `week`, `month` or `year`.
    pub per: String,
    /// The period's first day (UTC+8).
    pub period_start: String,
    pub limit: u32,
    pub count: u64,
    /// The terminals the redemptions were made on.
    pub terminals: Vec<String>,
    /// How the uses past the limit were let through, by the records'
    /// word: `offline` (the terminal could not reach the registry and did
    /// not know of uses elsewhere — the one way past a limit the design
    /// leaves open), `online` (the registry was asked and still let it
    /// through: two counters at the same instant, or a fault), `unrecorded`
    /// (records from terminals that did not say). Several joined by `+`.
    pub how: String,
}

/// One terminal's journal as the hub holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityRow {
    pub terminal: String,
    pub site: String,
    pub revoked: bool,
    pub records: u64,
    /// The highest seq held with no gap before it.
    pub held_through: u64,
    pub max_seq: u64,
    /// Seqs missing below `max_seq`, other than those retention deleted.
    pub gaps: u64,
    /// Records deleted by retention (the oldest; see `record_retention_days`).
    pub retired: u64,
    pub rejected_bad_signature: u64,
    pub rejected_broken_chain: u64,
    pub rejected_conflict: u64,
    pub rejected_malformed: u64,
    /// Records kept but flagged as implausible.
    pub flagged: u64,
    pub last_seen_at: Option<UnixTime>,
}

/// A CSV field: text a spreadsheet would run as a formula is made plain
/// text with a leading `'`, then the field is quoted when it needs to be.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn line(out: &mut dyn Write, fields: &[String]) -> std::io::Result<()> {
    let l: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    writeln!(out, "{}", l.join(","))
}

/// One use in the over-use count: its terminal and how it was checked.
type CountedUse = (String, Option<String>);

fn n(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Hub {
    /// Usage per measure, unit and day (UTC+8), flagged records left out.
    /// Every amount counted is at most what a measure allows (larger ones
    /// are flagged on ingest), so the sums cannot overflow.
    pub fn usage_report(&self) -> Result<Vec<UsageRow>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT (at + ?1) / 86400 AS day, measure, unit, COUNT(*),
                        COALESCE(SUM(original), 0), COALESCE(SUM(discount), 0),
                        COALESCE(SUM(payable), 0)
                 FROM records
                 WHERE kind = 'redemption' AND voided_by IS NULL AND flag IS NULL
                 GROUP BY day, measure, unit
                 ORDER BY day, measure, unit",
            )?;
            let rows = stmt
                .query_map([UTC8_OFFSET_S], |r| {
                    Ok(UsageRow {
                        day: Date::from_days(r.get(0)?).to_string(),
                        measure: r.get(1)?,
                        unit: r.get(2)?,
                        redemptions: n(r.get(3)?),
                        total_original: n(r.get(4)?),
                        total_discount: n(r.get(5)?),
                        total_payable: n(r.get(6)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Subjects whose confirmed (not voided) redemptions of a measure in
    /// one of its limit periods exceed the limit, across all terminals.
    pub fn overuse_report(&self) -> Result<Vec<OveruseRow>, HubError> {
        self.db().read(|tx| {
            let Some((_, catalogue)) = load_catalogue(tx)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            let mut stmt = tx.prepare(
                "SELECT sub, at, terminal, basis FROM records
                 WHERE kind = 'redemption' AND voided_by IS NULL AND measure = ?1
                 ORDER BY sub, at, terminal, seq",
            )?;
            for m in catalogue.measures() {
                let Some(limit) = m.limit else { continue };
                let mut groups: BTreeMap<(String, i64), Vec<CountedUse>> = BTreeMap::new();
                let mut rows = stmt.query([m.id.as_str()])?;
                while let Some(r) = rows.next()? {
                    let sub: String = r.get(0)?;
                    let (start, _) = limit.per.bounds(UnixTime(r.get(1)?));
                    groups
                        .entry((sub, start.0))
                        .or_default()
                        .push((r.get(2)?, r.get(3)?));
                }
                let allowed = usize::try_from(limit.count).unwrap_or(usize::MAX);
                for ((sub, start), uses) in groups {
                    if uses.len() <= allowed {
                        continue;
                    }
                    // The uses in time order; those after the limit-th
                    // are the ones that should have been refused.
                    let how: BTreeSet<&str> = uses[allowed..]
                        .iter()
                        .map(|(_, basis)| basis.as_deref().unwrap_or("unrecorded"))
                        .collect();
                    out.push(OveruseRow {
                        measure: m.id.to_string(),
                        sub,
                        per: limit.per.as_str().to_owned(),
                        period_start: UnixTime(start).date_utc8().to_string(),
                        limit: limit.count,
                        count: uses.len() as u64,
                        terminals: uses
                            .iter()
                            .map(|(t, _)| t.clone())
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect(),
                        how: how.into_iter().collect::<Vec<_>>().join("+"),
                    });
                }
            }
            Ok(out)
        })
    }

    /// Each terminal's journal: records held, the contiguous run, gaps and
    /// refused uploads.
    pub fn integrity_report(&self) -> Result<Vec<IntegrityRow>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT t.id, t.site, t.revoked_at IS NOT NULL, t.last_seen_at,
                    (SELECT COUNT(*) FROM records r WHERE r.terminal = t.id),
                    (SELECT COALESCE(MAX(seq), 0) FROM records r WHERE r.terminal = t.id),
                    (SELECT COALESCE(SUM(count), 0) FROM upload_rejection_counts u
                        WHERE u.terminal = t.id AND u.reason = 'bad_signature'),
                    (SELECT COALESCE(SUM(count), 0) FROM upload_rejection_counts u
                        WHERE u.terminal = t.id AND u.reason = 'broken_chain'),
                    (SELECT COALESCE(SUM(count), 0) FROM upload_rejection_counts u
                        WHERE u.terminal = t.id AND u.reason = 'conflict'),
                    (SELECT COALESCE(SUM(count), 0) FROM upload_rejection_counts u
                        WHERE u.terminal = t.id AND u.reason = 'malformed'),
                    (SELECT COUNT(*) FROM records r
                        WHERE r.terminal = t.id AND r.flag IS NOT NULL),
                    COALESCE(x.through, 0), COALESCE(x.count, 0),
                    (SELECT COUNT(*) FROM records r
                        WHERE r.terminal = t.id AND r.seq > COALESCE(x.through, 0))
                 FROM terminals t LEFT JOIN records_retired x ON x.terminal = t.id
                 ORDER BY t.id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let records = n(r.get(4)?);
                    let max_seq = n(r.get(5)?);
                    let retired_through = n(r.get(11)?);
                    let above = n(r.get(13)?);
                    Ok(IntegrityRow {
                        terminal: r.get(0)?,
                        site: r.get(1)?,
                        revoked: r.get(2)?,
                        last_seen_at: r.get::<_, Option<i64>>(3)?.map(UnixTime),
                        records,
                        held_through: retired_through,
                        max_seq,
                        gaps: max_seq
                            .saturating_sub(retired_through)
                            .saturating_sub(above),
                        retired: n(r.get(12)?),
                        rejected_bad_signature: n(r.get(6)?),
                        rejected_broken_chain: n(r.get(7)?),
                        rejected_conflict: n(r.get(8)?),
                        rejected_malformed: n(r.get(9)?),
                        flagged: n(r.get(10)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            let mut out = Vec::with_capacity(rows.len());
            for mut row in rows {
                let retired_through = row.held_through;
                row.held_through = if row.gaps == 0 {
                    row.max_seq.max(retired_through)
                } else {
                    let mut s = tx.prepare_cached(
                        "SELECT seq FROM records WHERE terminal = ?1 AND seq > ?2 ORDER BY seq",
                    )?;
                    let seqs = s
                        .query_map(
                            crate::params![&row.terminal, to_i64(retired_through, "seq")?],
                            |r| r.get::<_, i64>(0),
                        )?
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut through = retired_through;
                    for seq in seqs {
                        if n(seq) != through + 1 {
                            break;
                        }
                        through += 1;
                    }
                    through
                };
                out.push(row);
            }
            Ok(out)
        })
    }

    /// The records kept but flagged as implausible, oldest first.
    pub fn flagged_report(&self) -> Result<Vec<FlaggedRow>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT terminal, seq, at, kind, operator, flag FROM records
                 WHERE flag IS NOT NULL ORDER BY at, terminal, seq",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(FlaggedRow {
                        terminal: r.get(0)?,
                        seq: n(r.get(1)?),
                        at: UnixTime(r.get(2)?),
                        kind: r.get(3)?,
                        operator: r.get(4)?,
                        why: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Writes a report as CSV (header first); returns the number of rows.
    pub fn write_report(&self, kind: ReportKind, out: &mut dyn Write) -> Result<usize, HubError> {
        let io = |e: std::io::Error| HubError::Internal(format!("writing the report: {e}"));
        let s = |v: &dyn ToString| v.to_string();
        let count = match kind {
            ReportKind::Usage => {
                let rows = self.usage_report()?;
                line(
                    out,
                    &[
                        "day",
                        "measure",
                        "unit",
                        "redemptions",
                        "total_original_fen",
                        "total_discount_fen",
                        "total_payable_fen",
                    ]
                    .map(String::from),
                )
                .map_err(io)?;
                for r in &rows {
                    line(
                        out,
                        &[
                            r.day.clone(),
                            r.measure.clone(),
                            r.unit.clone(),
                            s(&r.redemptions),
                            s(&r.total_original),
                            s(&r.total_discount),
                            s(&r.total_payable),
                        ],
                    )
                    .map_err(io)?;
                }
                rows.len()
            }
            ReportKind::Overuse => {
                let rows = self.overuse_report()?;
                line(
                    out,
                    &[
                        "measure",
                        "sub",
                        "per",
                        "period_start",
                        "limit",
                        "count",
                        "terminals",
                        "how",
                    ]
                    .map(String::from),
                )
                .map_err(io)?;
                for r in &rows {
                    line(
                        out,
                        &[
                            r.measure.clone(),
                            r.sub.clone(),
                            r.per.clone(),
                            r.period_start.clone(),
                            s(&r.limit),
                            s(&r.count),
                            r.terminals.join(" "),
                            r.how.clone(),
                        ],
                    )
                    .map_err(io)?;
                }
                rows.len()
            }
            ReportKind::Integrity => {
                let rows = self.integrity_report()?;
                line(
                    out,
                    &[
                        "terminal",
                        "site",
                        "revoked",
                        "records",
                        "held_through",
                        "max_seq",
                        "gaps",
                        "rejected_bad_signature",
                        "rejected_broken_chain",
                        "rejected_conflict",
                        "rejected_malformed",
                        "flagged",
                        "last_seen",
                        "retired",
                    ]
                    .map(String::from),
                )
                .map_err(io)?;
                for r in &rows {
                    line(
                        out,
                        &[
                            r.terminal.clone(),
                            r.site.clone(),
                            s(&r.revoked),
                            s(&r.records),
                            s(&r.held_through),
                            s(&r.max_seq),
                            s(&r.gaps),
                            s(&r.rejected_bad_signature),
                            s(&r.rejected_broken_chain),
                            s(&r.rejected_conflict),
                            s(&r.rejected_malformed),
                            s(&r.flagged),
                            r.last_seen_at.map(|t| t.display_utc8()).unwrap_or_default(),
                            s(&r.retired),
                        ],
                    )
                    .map_err(io)?;
                }
                rows.len()
            }
            ReportKind::Flagged => {
                let rows = self.flagged_report()?;
                line(
                    out,
                    &["at", "terminal", "seq", "kind", "operator", "why"].map(String::from),
                )
                .map_err(io)?;
                for r in &rows {
                    line(
                        out,
                        &[
                            r.at.display_utc8(),
                            r.terminal.clone(),
                            s(&r.seq),
                            r.kind.clone(),
                            r.operator.clone(),
                            r.why.clone(),
                        ],
                    )
                    .map_err(io)?;
                }
                rows.len()
            }
        };
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(super::csv_field("a"), "a");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn formulas_stay_text() {
        assert_eq!(
            super::csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        for s in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert!(
                super::csv_field(s)
                    .trim_start_matches('"')
                    .starts_with('\''),
                "{s}"
            );
        }
        assert_eq!(super::csv_field("2026-11-30"), "2026-11-30");
    }
}
