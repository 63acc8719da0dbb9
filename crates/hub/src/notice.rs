//! The public list of measures (激励措施清单公示): the catalogue that was in
//! force on a day — the last revision published by that day's end — split
//! into the measures in force that day and those withdrawn by then, with
//! the sites that apply each one. Served to anyone as a page, JSON and CSV.

use std::collections::BTreeMap;
use std::io::Write;

use crate::db::OptionalExtension;
use xinyi_core::measures::{Catalogue, Measure};
use xinyi_core::{Date, UnixTime};

use crate::error::HubError;
use crate::hub::Hub;
use crate::reports::csv_field;

/// The list as of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMeasures {
    pub day: Date,
    /// The catalogue revision in force that day, and when it was published.
    pub revision: Option<i64>,
    pub published_at: Option<UnixTime>,
    /// In force on `day`.
    pub in_force: Vec<Measure>,
    /// Withdrawn on or before `day`.
    pub withdrawn: Vec<Measure>,
    /// Measure id → the names of the sites that apply it (as the sites
    /// stand now).
    pub sites: BTreeMap<String, Vec<String>>,
}

impl PublicMeasures {
    /// The sites of a measure, joined for reading.
    pub fn sites_of(&self, id: &str) -> String {
        self.sites.get(id).map(|s| s.join("、")).unwrap_or_default()
    }

    /// The list as CSV, cells a spreadsheet would run as formulas made
    /// plain text.
    pub fn write_csv(
        &self,
        out: &mut dyn Write,
        benefit: &dyn Fn(&Measure) -> String,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "id,state,family,name_zh,name_en,unit,subjects,benefit,limit,valid_from,valid_until,withdrawn_on,sites"
        )?;
        for (state, list) in [("in_force", &self.in_force), ("withdrawn", &self.withdrawn)] {
            for m in list {
                let fields = [
                    m.id.to_string(),
                    state.to_owned(),
                    m.family.clone(),
                    m.name_zh.clone(),
                    m.name_en.clone(),
                    m.unit.clone(),
                    m.subjects
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    benefit(m),
                    m.limit
                        .map(|l| format!("{}/{}", l.count, l.per.as_str()))
                        .unwrap_or_default(),
                    m.valid_from.to_string(),
                    m.valid_until.to_string(),
                    m.withdrawn_on.map(|d| d.to_string()).unwrap_or_default(),
                    self.sites_of(m.id.as_str()),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        Ok(())
    }
}

impl Hub {
    /// The public list of measures as it stood on `day` (UTC+8).
    pub fn public_measures(&self, day: Date) -> Result<PublicMeasures, HubError> {
        let end = day.end_utc8();
        let rev: Option<(i64, i64, String)> = self.db().read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT revision, published_at, toml FROM catalogue_revisions
                     WHERE published_at <= ?1 ORDER BY revision DESC LIMIT 1",
                    [end.0],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?)
        })?;
        let sites = self.sites()?;
        let mut out = PublicMeasures {
            day,
            revision: None,
            published_at: None,
            in_force: Vec::new(),
            withdrawn: Vec::new(),
            sites: BTreeMap::new(),
        };
        let Some((revision, published_at, toml)) = rev else {
            return Ok(out);
        };
        let catalogue = Catalogue::from_toml(&toml)
            .map_err(|e| HubError::corrupt(format!("catalogue revision {revision}: {e}")))?;
        out.revision = Some(revision);
        out.published_at = Some(UnixTime(published_at));
        for m in catalogue.measures() {
            if m.in_force(day) {
                out.in_force.push(m.clone());
            } else if m.withdrawn_on.is_some_and(|w| w <= day) {
                out.withdrawn.push(m.clone());
            }
        }
        for site in sites {
            for id in site.measures {
                out.sites.entry(id).or_default().push(site.name.clone());
            }
        }
        Ok(out)
    }
}
