//! The measures catalogue (激励措施清单), `measures.md`: TOML in, validated
//! measures out, with an error naming every bad field of a bad catalogue.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::ids::Kind;
use crate::money::Fen;
use crate::time::{Date, UnixTime};

/// The measure families of the seed (its introduction names 信易购, its
/// numbered list 信易读: both are valid).
pub const FAMILIES: [&str; 12] = [
    "信易批",
    "信易贷",
    "信易租",
    "信易行",
    "信易游",
    "信易医",
    "信易购",
    "信易读",
    "信易管",
    "信易惠",
    "信易聘",
    "其他",
];

/// A measure should be valid for at least this many years (原则上有效期不少于2年).
pub const MIN_VALIDITY_YEARS: i32 = 2;

/// A catalogue accepted with a caution for whoever publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueWarning {
    /// In force for less than two years.
    ShortValidity {
        id: MeasureId,
        valid_from: Date,
        valid_until: Date,
    },
}

impl fmt::Display for CatalogueWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogueWarning::ShortValidity {
                id,
                valid_from,
                valid_until,
            } => write!(
                f,
                "measure {id} is in force from {valid_from} to {valid_until}, less than two years (原则上有效期不少于2年)"
            ),
        }
    }
}

/// A stable measure id such as `XYX-BUS-TOPUP`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MeasureId(String);

impl MeasureId {
    /// Ids are 1–64 characters of `A–Z a–z 0–9 - _ .`.
    pub fn parse(s: &str) -> Result<MeasureId, MeasureIdError> {
        if s.is_empty() || s.len() > 64 {
            return Err(MeasureIdError::Length(s.chars().count()));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(MeasureIdError::BadChar {
                id: s.to_owned(),
                c,
            });
        }
        Ok(MeasureId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a measure id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureIdError {
    #[error("measure id must be 1–64 characters, got {0}")]
    Length(usize),
    #[error("measure id {id:?} has {c:?}; use letters, digits, '-', '_' or '.'")]
    BadChar { id: String, c: char },
}

impl fmt::Display for MeasureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the counter gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Benefit {
    PercentOff {
        percent: u8,
        max_discount: Option<Fen>,
    },
    FixedOff {
        amount_off: Fen,
    },
    /// Holder free; companions at `companion_percent` off, at most `companion_max` of them.
    FreeEntry {
        companion_percent: u8,
        companion_max: Option<u32>,
    },
    Waiver {
        what: String,
    },
    Privilege {
        what: String,
    },
}

impl Benefit {
    /// The spec's name of the benefit kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Benefit::PercentOff { .. } => "percent_off",
            Benefit::FixedOff { .. } => "fixed_off",
            Benefit::FreeEntry { .. } => "free_entry",
            Benefit::Waiver { .. } => "waiver",
            Benefit::Privilege { .. } => "privilege",
        }
    }
}

/// A calendar period for use limits, in UTC+8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
    Year,
}

impl Period {
    /// The `[start, end)` instants of the period that holds `now`, in UTC+8.
    pub fn bounds(self, now: UnixTime) -> (UnixTime, UnixTime) {
        let today = now.date_utc8();
        let (start, end) = match self {
            Period::Day => (today, today.add_days(1)),
            Period::Week => {
                let monday = today.add_days(-today.weekday_from_monday());
                (monday, monday.add_days(7))
            }
            Period::Month => (today.first_of_month(), today.first_of_next_month()),
            Period::Year => {
                let first = Date::new(today.year(), 1, 1).unwrap_or(today);
                (first, first.add_years(1))
            }
        };
        (start.start_utc8(), end.start_utc8())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }
}

/// Uses per subject per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per: Period,
    pub count: u32,
}

/// Which categories a measure covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Categories {
    All,
    Only(BTreeSet<Category>),
}

/// One measure of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub id: MeasureId,
    pub family: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: String,
    pub subjects: BTreeSet<Kind>,
    pub categories: Categories,
    pub valid_from: Date,
    pub valid_until: Date,
    pub withdrawn_on: Option<Date>,
    pub benefit: Benefit,
    pub limit: Option<Limit>,
}

impl Measure {
    /// In force on `day`: from valid_from to valid_until inclusive, and
    /// before withdrawn_on ("from that day the measure stops").
    pub fn in_force(&self, day: Date) -> bool {
        self.valid_from <= day
            && day <= self.valid_until
            && self.withdrawn_on.is_none_or(|w| day < w)
    }

    /// Whether the measure covers a subject of `kind` holding `category`.
    pub fn covers(&self, kind: Kind, category: Category) -> bool {
        self.subjects.contains(&kind)
            && category.kind() == kind
            && match &self.categories {
                Categories::All => true,
                Categories::Only(set) => set.contains(&category),
            }
    }
}

/// A validated catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalogue {
    measures: Vec<Measure>,
}

/// Why a catalogue was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("the catalogue is not valid TOML: {0}")]
    Syntax(String),
    #[error("the catalogue has {} problem(s):\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    #[serde(default)]
    measure: Vec<RawMeasure>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    id: String,
    family: String,
    name_zh: String,
    name_en: String,
    unit: String,
    subjects: Vec<String>,
    categories: RawCategories,
    valid_from: String,
    valid_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdrawn_on: Option<String>,
    benefit: RawBenefit,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<RawLimit>,
}

#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum RawCategories {
    Word(String),
    List(Vec<String>),
}

#[derive(Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawBenefit {
    PercentOff {
        percent: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_discount: Option<i64>,
    },
    FixedOff {
        amount_off: i64,
    },
    FreeEntry {
        #[serde(skip_serializing_if = "Option::is_none")]
        companion_percent: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        companion_max: Option<i64>,
    },
    Waiver {
        what: String,
    },
    Privilege {
        what: String,
    },
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    per: String,
    count: i64,
}

impl Catalogue {
    /// Parses and validates a catalogue; the error lists every problem.
    pub fn from_toml(text: &str) -> Result<Catalogue, CatalogueError> {
        let raw: RawCatalogue = toml::from_str(text)
            .map_err(|e| CatalogueError::Syntax(e.to_string().trim().to_owned()))?;
        let mut problems = Vec::new();
        let mut measures = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, m) in raw.measure.into_iter().enumerate() {
            let label = format!("measure #{} ({})", i + 1, m.id);
            let mut p =
                |field: &str, why: String| problems.push(format!("{label}: {field}: {why}"));
            if let Some(measure) = validate(m, &mut p) {
                if !seen.insert(measure.id.clone()) {
                    p("id", "appears twice in the catalogue".into());
                } else {
                    measures.push(measure);
                }
            }
        }
        if measures.is_empty() && problems.is_empty() {
            problems.push("the catalogue has no [[measure]]".into());
        }
        if problems.is_empty() {
            Ok(Catalogue { measures })
        } else {
            Err(CatalogueError::Invalid(problems))
        }
    }

    /// A catalogue from already-validated measures (ids must be unique).
    pub fn from_measures(measures: Vec<Measure>) -> Catalogue {
        Catalogue { measures }
    }

    pub fn measures(&self) -> &[Measure] {
        &self.measures
    }

    /// What the catalogue may hold but the policy advises against: a
    /// measure valid for less than two years (原则上有效期不少于2年).
    pub fn warnings(&self) -> Vec<CatalogueWarning> {
        self.measures
            .iter()
            .filter(|m| m.valid_until < m.valid_from.add_years(MIN_VALIDITY_YEARS).add_days(-1))
            .map(|m| CatalogueWarning::ShortValidity {
                id: m.id.clone(),
                valid_from: m.valid_from,
                valid_until: m.valid_until,
            })
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.id.as_str() == id)
    }

    /// The catalogue as TOML in the format of `measures.md`, measures in
    /// order; [`Catalogue::from_toml`] reads it back equal.
    pub fn to_toml(&self) -> String {
        let raw = RawCatalogue {
            measure: self.measures.iter().map(Measure::raw).collect(),
        };
        // Serialising plain strings, integers and tables cannot fail.
        toml::to_string(&raw).unwrap_or_default()
    }

    /// This catalogue with `m` in place of the measure of the same id, or
    /// added at the end.
    pub fn with(&self, m: Measure) -> Catalogue {
        let mut measures = self.measures.clone();
        match measures.iter_mut().find(|old| old.id == m.id) {
            Some(old) => *old = m,
            None => measures.push(m),
        }
        Catalogue { measures }
    }
}

fn fen_i64(f: Fen) -> i64 {
    i64::try_from(f.0).unwrap_or(i64::MAX)
}

impl Measure {
    fn raw(&self) -> RawMeasure {
        RawMeasure {
            id: self.id.as_str().to_owned(),
            family: self.family.clone(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            unit: self.unit.clone(),
            subjects: self
                .subjects
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            categories: match &self.categories {
                Categories::All => RawCategories::Word("all".into()),
                Categories::Only(set) => {
                    RawCategories::List(set.iter().map(|c| c.code()).collect())
                }
            },
            valid_from: self.valid_from.to_string(),
            valid_until: self.valid_until.to_string(),
            withdrawn_on: self.withdrawn_on.map(|d| d.to_string()),
            benefit: match &self.benefit {
                Benefit::PercentOff {
                    percent,
                    max_discount,
                } => RawBenefit::PercentOff {
                    percent: i64::from(*percent),
                    max_discount: max_discount.map(fen_i64),
                },
                Benefit::FixedOff { amount_off } => RawBenefit::FixedOff {
                    amount_off: fen_i64(*amount_off),
                },
                Benefit::FreeEntry {
                    companion_percent,
                    companion_max,
                } => RawBenefit::FreeEntry {
                    // 0 is what an absent companion_percent means.
                    companion_percent: (*companion_percent > 0)
                        .then(|| i64::from(*companion_percent)),
                    companion_max: companion_max.map(i64::from),
                },
                Benefit::Waiver { what } => RawBenefit::Waiver { what: what.clone() },
                Benefit::Privilege { what } => RawBenefit::Privilege { what: what.clone() },
            },
            limit: self.limit.map(|l| RawLimit {
                per: l.per.as_str().to_owned(),
                count: i64::from(l.count),
            }),
        }
    }

    /// One measure as a catalogue TOML of its own, for validating it as
    /// the import does.
    pub fn to_toml(&self) -> String {
        Catalogue::from_measures(vec![self.clone()]).to_toml()
    }
}

fn percent(v: i64, field: &str, p: &mut impl FnMut(&str, String)) -> Option<u8> {
    match u8::try_from(v) {
        Ok(n) if (1..=100).contains(&n) => Some(n),
        _ => {
            p(field, format!("must be 1–100, got {v}"));
            None
        }
    }
}

fn fen(v: i64, field: &str, p: &mut impl FnMut(&str, String)) -> Option<Fen> {
    match u64::try_from(v) {
        Ok(n) if n <= crate::money::MAX_AMOUNT.0 => Some(Fen(n)),
        _ => {
            p(
                field,
                format!(
                    "must be an amount in fen from 0 to {}, got {v}",
                    crate::money::MAX_AMOUNT.0
                ),
            );
            None
        }
    }
}

fn validate(m: RawMeasure, p: &mut impl FnMut(&str, String)) -> Option<Measure> {
    let id = MeasureId::parse(&m.id)
        .map_err(|e| p("id", e.to_string()))
        .ok();
    if !FAMILIES.contains(&m.family.as_str()) {
        p(
            "family",
            format!("{:?} is not one of {}", m.family, FAMILIES.join(" ")),
        );
    }
    for (field, value) in [
        ("name_zh", &m.name_zh),
        ("name_en", &m.name_en),
        ("unit", &m.unit),
    ] {
        if value.trim().is_empty() {
            p(field, "must not be empty".into());
        }
    }
    let mut subjects = BTreeSet::new();
    for s in &m.subjects {
        match s.parse::<Kind>() {
            Ok(k) => {
                subjects.insert(k);
            }
            Err(e) => p("subjects", e.to_string()),
        }
    }
    if m.subjects.is_empty() {
        p("subjects", "must name person, enterprise or both".into());
    }
    let categories = match m.categories {
        RawCategories::Word(w) if w == "all" => Some(Categories::All),
        RawCategories::Word(w) => {
            p(
                "categories",
                format!("must be \"all\" or a list of codes, got {w:?}"),
            );
            None
        }
        RawCategories::List(list) => {
            let mut set = BTreeSet::new();
            for code in &list {
                match code.parse::<Category>() {
                    Ok(c) if !subjects.is_empty() && !subjects.contains(&c.kind()) => {
                        p(
                            "categories",
                            format!(
                                "{c} is a {} category, but subjects are {:?}",
                                c.kind(),
                                m.subjects
                            ),
                        );
                    }
                    Ok(c) => {
                        set.insert(c);
                    }
                    Err(e) => p("categories", e.to_string()),
                }
            }
            if list.is_empty() {
                p(
                    "categories",
                    "an empty list covers no one; use \"all\" or name codes".into(),
                );
            }
            Some(Categories::Only(set))
        }
    };
    let mut date =
        |field: &str, s: &str| s.parse::<Date>().map_err(|e| p(field, e.to_string())).ok();
    let valid_from = date("valid_from", &m.valid_from);
    let valid_until = date("valid_until", &m.valid_until);
    let withdrawn_on = m.withdrawn_on.as_deref().map(|s| date("withdrawn_on", s));
    if let (Some(f), Some(u)) = (valid_from, valid_until)
        && u < f
    {
        p("valid_until", format!("{u} is before valid_from {f}"));
    }
    let benefit = benefit(m.benefit, p);
    let limit = limit(m.limit, p);
    Some(Measure {
        id: id?,
        family: m.family,
        name_zh: m.name_zh,
        name_en: m.name_en,
        unit: m.unit,
        subjects,
        categories: categories?,
        valid_from: valid_from?,
        valid_until: valid_until?,
        withdrawn_on: withdrawn_on.map(|w| w.ok_or(())).transpose().ok()?,
        benefit: benefit?,
        limit: limit?,
    })
}

fn benefit(raw: RawBenefit, p: &mut impl FnMut(&str, String)) -> Option<Benefit> {
    match raw {
        RawBenefit::PercentOff {
            percent: pc,
            max_discount,
        } => {
            let percent = percent(pc, "benefit.percent", p);
            let cap = match max_discount {
                Some(v) => Some(fen(v, "benefit.max_discount", p)?),
                None => None,
            };
            Some(Benefit::PercentOff {
                percent: percent?,
                max_discount: cap,
            })
        }
        RawBenefit::FixedOff { amount_off } => fen(amount_off, "benefit.amount_off", p)
            .map(|amount_off| Benefit::FixedOff { amount_off }),
        RawBenefit::FreeEntry {
            companion_percent,
            companion_max,
        } => {
            let cp = match companion_percent {
                Some(v) => percent(v, "benefit.companion_percent", p),
                None => Some(0),
            };
            let cm = match companion_max {
                Some(v) => match u32::try_from(v) {
                    Ok(n) => Some(Some(n)),
                    Err(_) => {
                        p(
                            "benefit.companion_max",
                            format!("must be 0 or more, got {v}"),
                        );
                        None
                    }
                },
                None => Some(None),
            };
            Some(Benefit::FreeEntry {
                companion_percent: cp?,
                companion_max: cm?,
            })
        }
        RawBenefit::Waiver { what } => {
            if what.trim().is_empty() {
                p("benefit.what", "must name the waived charge".into());
            }
            Some(Benefit::Waiver { what })
        }
        RawBenefit::Privilege { what } => {
            if what.trim().is_empty() {
                p("benefit.what", "must describe the privilege".into());
            }
            Some(Benefit::Privilege { what })
        }
    }
}

fn limit(raw: Option<RawLimit>, p: &mut impl FnMut(&str, String)) -> Option<Option<Limit>> {
    match raw {
        None => Some(None),
        Some(RawLimit { per, count }) => {
            let per = match per.as_str() {
                "day" => Some(Period::Day),
                "week" => Some(Period::Week),
                "month" => Some(Period::Month),
                "year" => Some(Period::Year),
                other => {
                    p(
                        "limit.per",
                        format!("must be day, week, month or year, got {other:?}"),
                    );
                    None
                }
            };
            let count = match u32::try_from(count) {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    p("limit.count", format!("must be 1 or more, got {count}"));
                    None
                }
            };
            Some(Some(Limit {
                per: per?,
                count: count?,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[measure]]
id = "M1"
family = "信易行"
name_zh = "公交"
name_en = "Bus"
unit = "公交公司"
subjects = ["person"]
categories = "all"
valid_from = "2024-01-01"
valid_until = "2027-12-31"
benefit = { kind = "percent_off", percent = 50 }
limit = { per = "week", count = 1 }
"#;

    #[test]
    fn parses_a_measure() {
        let c = Catalogue::from_toml(ONE).unwrap();
        let m = c.get("M1").unwrap();
        assert_eq!(
            m.limit,
            Some(Limit {
                per: Period::Week,
                count: 1
            })
        );
        assert!(m.in_force("2027-12-31".parse().unwrap()));
        assert!(!m.in_force("2028-01-01".parse().unwrap()));
    }

    #[test]
    fn a_catalogue_written_out_reads_back_equal() {
        let more = format!(
            "{ONE}{}",
            r#"
[[measure]]
id = "M2"
family = "信易游"
name_zh = "景区 \"免票\""
name_en = "Entry"
unit = "景区"
subjects = ["person", "enterprise"]
categories = ["P01", "E02"]
valid_from = "2024-01-01"
valid_until = "2025-06-30"
withdrawn_on = "2025-03-01"
benefit = { kind = "free_entry", companion_percent = 50, companion_max = 3 }

[[measure]]
id = "M3"
family = "信易医"
name_zh = "押金"
name_en = "Deposit"
unit = "医院"
subjects = ["person"]
categories = "all"
valid_from = "2024-01-01"
valid_until = "2027-12-31"
benefit = { kind = "free_entry" }

[[measure]]
id = "M4"
family = "其他"
name_zh = "减免"
name_en = "Off"
unit = "店"
subjects = ["person"]
categories = "all"
valid_from = "2024-01-01"
valid_until = "2027-12-31"
benefit = { kind = "percent_off", percent = 20, max_discount = 1500 }
limit = { per = "year", count = 2 }
"#
        );
        let c = Catalogue::from_toml(&more).unwrap();
        assert_eq!(c.measures().len(), 4);
        let back = Catalogue::from_toml(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        // One measure in its own catalogue.
        let m = c.get("M2").unwrap();
        let alone = Catalogue::from_toml(&m.to_toml()).unwrap();
        assert_eq!(alone.measures(), std::slice::from_ref(m));
        // `with` replaces by id, or adds.
        let mut changed = m.clone();
        changed.name_en = "Changed".into();
        let c2 = c.with(changed.clone());
        assert_eq!(c2.measures().len(), 4);
        assert_eq!(c2.get("M2"), Some(&changed));
        changed.id = MeasureId::parse("M9").unwrap();
        assert_eq!(c.with(changed).measures().len(), 5);
    }

    #[test]
    fn both_names_of_the_shopping_family_are_accepted() {
        for family in ["信易购", "信易读"] {
            let c = Catalogue::from_toml(&ONE.replace("信易行", family)).unwrap();
            assert_eq!(c.get("M1").unwrap().family, family);
        }
    }

    #[test]
    fn a_measure_valid_for_less_than_two_years_is_accepted_with_a_warning() {
        // 2024-01-01 to 2027-12-31: four years, no warning.
        assert!(Catalogue::from_toml(ONE).unwrap().warnings().is_empty());
        // Exactly two years (to 2025-12-31 inclusive): no warning.
        let two = ONE.replace("2027-12-31", "2025-12-31");
        assert!(Catalogue::from_toml(&two).unwrap().warnings().is_empty());
        // One day short.
        let short = ONE.replace("2027-12-31", "2025-12-30");
        let c = Catalogue::from_toml(&short).unwrap();
        let w = c.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().contains("M1"), "{}", w[0]);
        assert!(w[0].to_string().contains("原则上有效期不少于2年"));
    }

    #[test]
    fn names_every_problem() {
        let bad = ONE
            .replace("信易行", "信易飞")
            .replace("percent = 50", "percent = 150")
            .replace("\"week\"", "\"fortnight\"")
            .replace("2024-01-01", "2024-02-30");
        let Err(CatalogueError::Invalid(problems)) = Catalogue::from_toml(&bad) else {
            panic!("accepted a bad catalogue")
        };
        let text = problems.join("\n");
        for needle in ["family", "benefit.percent", "limit.per", "valid_from"] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        assert!(text.contains("measure #1 (M1)"));
    }

    #[test]
    fn syntax_and_unknown_fields() {
        assert!(matches!(
            Catalogue::from_toml("[[measure]\n"),
            Err(CatalogueError::Syntax(_))
        ));
        let typo = ONE.replace("limit =", "limt =");
        let Err(CatalogueError::Syntax(msg)) = Catalogue::from_toml(&typo) else {
            panic!()
        };
        assert!(msg.contains("limt"), "{msg}");
        let two = format!("{ONE}{ONE}");
        let Err(CatalogueError::Invalid(p)) = Catalogue::from_toml(&two) else {
            panic!()
        };
        assert!(p[0].contains("twice"));
    }

    #[test]
    fn period_bounds_utc8() {
        // 2026-03-10 (Tuesday) 09:30 UTC+8.
        let now = UnixTime(1_773_106_200);
        let day = |s: &str| s.parse::<Date>().unwrap().start_utc8();
        assert_eq!(
            Period::Day.bounds(now),
            (day("2026-03-10"), day("2026-03-11"))
        );
        assert_eq!(
            Period::Week.bounds(now),
            (day("2026-03-09"), day("2026-03-16"))
        );
        assert_eq!(
            Period::Month.bounds(now),
            (day("2026-03-01"), day("2026-04-01"))
        );
        assert_eq!(
            Period::Year.bounds(now),
            (day("2026-01-01"), day("2027-01-01"))
        );
    }
}
