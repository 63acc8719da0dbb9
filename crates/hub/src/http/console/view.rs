//! What the console's templates are given: the language, the page frame
//! (who is signed in, what they may open) and each page's rows, already
//! formatted for people (UTC+8 times, yuan from fen).

use askama::Template;
use xinyi_core::UnixTime;
use xinyi_core::listing::{ImportSummary, RowError};
use xinyi_core::measures::Benefit;
use xinyi_core::time::UTC8_OFFSET_S;

use crate::accounts::Role;
use crate::publish::VersionInfo;

/// The page's language: Chinese first, English on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct T {
    pub zh: bool,
}

impl T {
    /// The text in the page's language.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.zh { zh } else { en }
    }

    pub fn lang(&self) -> &'static str {
        if self.zh { "zh-CN" } else { "en" }
    }

    /// The switch's target.
    pub fn other(&self) -> &'static str {
        if self.zh { "en" } else { "zh" }
    }
}

/// A time as people read it: `2026-11-30 21:05` in UTC+8.
pub fn when(t: UnixTime) -> String {
    let local = t.0 + UTC8_OFFSET_S;
    let secs = local.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}",
        t.date_utc8(),
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// Fen as yuan with two decimals.
pub fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A measure's benefit in plain words.
pub(crate) fn benefit_text(t: T, b: &Benefit) -> String {
    match b {
        Benefit::PercentOff {
            percent,
            max_discount,
        } => {
            let mut s = format!("{} {percent}%", t.t("优惠", "off"));
            if let Some(m) = max_discount {
                s.push_str(&format!(
                    "，{} {} {}",
                    t.t("最高", "at most"),
                    yuan(m.0),
                    t.t("元", "yuan")
                ));
            }
            s
        }
        Benefit::FixedOff { amount_off } => {
            format!(
                "{} {} {}",
                t.t("减免", "off"),
                yuan(amount_off.0),
                t.t("元", "yuan")
            )
        }
        Benefit::FreeEntry {
            companion_percent,
            companion_max,
        } => {
            let mut s = t.t("免费入场", "free entry").to_owned();
            if *companion_percent > 0 {
                s.push_str(&format!(
                    "，{} {companion_percent}%",
                    t.t("随行优惠", "companions off")
                ));
                if let Some(n) = companion_max {
                    s.push_str(&format!(" ({} {n})", t.t("至多", "at most")));
                }
            }
            s
        }
        Benefit::Waiver { what } => format!("{} {what}", t.t("免交", "waived:")),
        Benefit::Privilege { what } => what.clone(),
    }
}

/// Whom a measure is for, in words: persons, enterprises.
pub(crate) fn subjects_text(t: T, m: &xinyi_core::measures::Measure, sep: &str) -> String {
    m.subjects
        .iter()
        .map(|k| match k.as_str() {
            "person" => t.t("个人", "persons"),
            _ => t.t("企业", "enterprises"),
        })
        .collect::<Vec<_>>()
        .join(sep)
}

/// The frame around every signed-in page.
#[derive(Debug)]
pub struct Page {
    pub t: T,
    pub user: String,
    pub role: Role,
    pub scope: Option<String>,
    pub csrf: String,
    pub nav: &'static str,
    pub flash: Option<String>,
}

impl Page {
    pub fn may_lists(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Reviewer | Role::Submitter | Role::Auditor
        )
    }

    pub fn may_sites(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Reviewer | Role::Operator | Role::Auditor
        )
    }

    pub fn may_reports(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Reviewer | Role::Operator | Role::Auditor
        )
    }

    pub fn may_measures(&self) -> bool {
        self.role != Role::Submitter
    }

    pub fn may_cases(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Reviewer | Role::Operator | Role::Auditor
        )
    }

    pub fn may_people(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Reviewer | Role::Auditor)
    }

    pub fn may_audit(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Auditor)
    }

    pub fn may_users(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn role_name(&self) -> &'static str {
        role_name(self.t, self.role)
    }
}

pub fn role_name(t: T, r: Role) -> &'static str {
    match r {
        Role::Admin => t.t("管理员", "administrator"),
        Role::Reviewer => t.t("审核员", "reviewer"),
        Role::Submitter => t.t("部门报送员", "department submitter"),
        Role::Operator => t.t("单位操作员", "unit operator"),
        Role::Auditor => t.t("审计员", "auditor"),
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct Login {
    pub t: T,
    pub csrf: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/message.html")]
pub struct Message {
    pub page: Page,
    pub heading: String,
    pub message: String,
    pub back: &'static str,
}

#[derive(Debug, Default)]
pub struct Fleet {
    pub online: u64,
    pub stale: u64,
    pub revoked: u64,
}

#[derive(Debug, Default)]
pub struct Today {
    pub redemptions: u64,
    pub refusals: u64,
}

pub struct Version {
    pub version: u64,
    pub published_at: String,
}

impl From<&VersionInfo> for Version {
    fn from(v: &VersionInfo) -> Version {
        Version {
            version: v.version,
            published_at: when(v.published_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/overview.html")]
pub struct Overview {
    pub page: Page,
    pub version: Option<Version>,
    pub fleet: Fleet,
    pub today: Today,
    /// The last 30 days, as inline SVG.
    pub chart: String,
    /// Citizens' cases open and overdue (for those who handle them).
    pub cases: Option<(u64, u64)>,
}

/// Which kind of list a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Listings,
    Exclusions,
}

impl What {
    pub fn as_str(self) -> &'static str {
        match self {
            What::Listings => "listings",
            What::Exclusions => "exclusions",
        }
    }
}

pub struct SourceRow {
    pub source: String,
    pub listings: u64,
    pub in_force: u64,
    pub submissions: u64,
}

pub struct HistoryRow {
    pub id: i64,
    pub at: String,
    pub source: String,
    pub what: String,
    pub file_name: String,
    pub rows: u64,
    pub outcome: String,
    pub errors: u64,
    pub version: Option<u64>,
    pub summary: String,
    pub by_user: String,
}

pub struct ExclusionRow {
    pub who: String,
    pub recorded_on: String,
    pub until: String,
    pub withdrawn: Option<String>,
}

#[derive(Template)]
#[template(path = "console/lists.html")]
pub struct Lists {
    pub page: Page,
    pub source: Option<String>,
    pub may_submit: bool,
    pub sources: Vec<SourceRow>,
    pub history: Vec<HistoryRow>,
    pub exclusions: Vec<ExclusionRow>,
}

#[derive(Template)]
#[template(path = "console/check.html")]
pub struct Check {
    pub page: Page,
    pub file_name: String,
    pub errors: Vec<RowError>,
    pub bad_lines: usize,
    pub summary: ImportSummary,
    pub pending: String,
}

pub struct SiteRow {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub measures: String,
    pub offline_hours: i64,
    pub online_deadline_ms: u32,
    pub check_holder: bool,
    /// The channel addresses terminals get (empty: none), and whether
    /// each is the site's own rather than the registry's page.
    pub objection_url: String,
    pub own_objection: bool,
    pub complaint_url: String,
    pub own_complaint: bool,
}

pub struct TerminalRow {
    pub id: String,
    pub label: String,
    pub site: String,
    pub enrolled_at: String,
    pub last_seen: String,
    /// `online`, `quiet`, `stale` or `revoked`.
    pub state: &'static str,
    pub state_text: &'static str,
    pub records: u64,
    pub data_version: String,
    pub not_uploaded: String,
    pub clock_offset: String,
    pub app_version: String,
    /// Roster members, from its staff records.
    pub staff: u64,
    pub flags: String,
}

#[derive(Template)]
#[template(path = "console/sites.html")]
pub struct Sites {
    pub page: Page,
    pub may_manage: bool,
    /// The credit office adds and changes sites.
    pub may_add: bool,
    /// The catalogue's measure ids, offered to the site form.
    pub measure_ids: Vec<String>,
    pub sites: Vec<SiteRow>,
    pub terminals: Vec<TerminalRow>,
    /// The site form's values: a site's as they stand when changing it.
    pub form: SiteFormValues,
}

/// The add-or-change form's values, as text.
#[derive(Debug, Default)]
pub struct SiteFormValues {
    /// The form opens with a site to change.
    pub open: bool,
    pub id: String,
    pub name: String,
    pub unit: String,
    pub measures: String,
    pub max_offline_hours: String,
    pub online_deadline_ms: String,
    pub void_window_minutes: String,
    pub objection_url: String,
    pub complaint_url: String,
    pub unattended: bool,
    pub no_holder_check: bool,
}

pub struct StaffLine {
    pub staff: String,
    /// `member`, `removed` or `unknown` (a CSS class).
    pub standing: &'static str,
    pub standing_text: String,
    pub changed: String,
    pub redemptions: u64,
    pub refusals: u64,
    pub voids: u64,
    pub last_record: String,
    pub failed: u64,
    pub lockouts: u64,
    pub last_failed: String,
}

#[derive(Template)]
#[template(path = "console/staff.html")]
pub struct Staff {
    pub page: Page,
    pub terminal: String,
    pub label: String,
    pub site: String,
    pub revoked: bool,
    pub days: i64,
    pub members: usize,
    pub failed: u64,
    pub lockouts: u64,
    pub more_strangers: u64,
    pub rows: Vec<StaffLine>,
}

#[derive(Template)]
#[template(path = "console/enroll.html")]
pub struct Enroll {
    pub page: Page,
    pub site: String,
    pub code: String,
    pub expires: String,
    pub qr: String,
    pub fingerprint: String,
}

pub struct UsageLine {
    pub day: String,
    pub measure: String,
    pub unit: String,
    pub redemptions: u64,
    pub original: String,
    pub discount: String,
    pub payable: String,
}

pub struct RefusalLine {
    pub reason: String,
    pub site: String,
    pub count: u64,
}

pub struct OveruseLine {
    pub measure: String,
    pub sub: String,
    pub per: String,
    pub period_start: String,
    pub limit: u32,
    pub count: u64,
    pub how: String,
}

pub struct IntegrityLine {
    pub terminal: String,
    pub site: String,
    pub records: u64,
    pub problems: String,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
pub struct Reports {
    pub page: Page,
    pub usage_chart: String,
    pub refusals_chart: String,
    pub usage: Vec<UsageLine>,
    pub refusals: Vec<RefusalLine>,
    pub overuse: Vec<OveruseLine>,
    pub integrity: Vec<IntegrityLine>,
}

pub struct AuditLine {
    pub seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct Audit {
    pub page: Page,
    pub intact: bool,
    pub chain: String,
    pub entries: Vec<AuditLine>,
    pub older: Option<u64>,
}

pub struct UserLine {
    pub name: String,
    pub role: &'static str,
    pub scope: String,
    pub state: String,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
pub struct Users {
    pub page: Page,
    pub users: Vec<UserLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc8() {
        // 1970-01-01 16:00 UTC is midnight of the 2nd in UTC+8.
        assert_eq!(when(UnixTime(16 * 3600)), "1970-01-02 00:00");
        assert_eq!(when(UnixTime(0)), "1970-01-01 08:00");
    }

    #[test]
    fn fen_are_shown_as_yuan() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(12_345), "123.45");
    }
}

pub struct SubjectListing {
    pub category: String,
    pub recognised_on: String,
    pub valid_until: String,
    pub honour: String,
    pub source: String,
    /// Masked, or the full name once revealed.
    pub name: String,
    pub state: String,
}

pub struct SubjectExclusion {
    pub recorded_on: String,
    pub reason: String,
    pub until: String,
    pub state: String,
}

pub struct SubjectUse {
    pub measure: String,
    pub uses: u64,
    pub discount: String,
    pub last: String,
}

pub struct SubjectRecordLine {
    pub at: String,
    pub what: String,
    pub measure: String,
    pub site: String,
    pub unit: String,
    pub discount: String,
    pub note: String,
}

/// What a look-up found.
pub struct Found {
    /// Masked, or in full once revealed.
    pub id_number: String,
    /// The full ID number, for the reveal form (the clerk typed it).
    pub id_input: String,
    pub sub: String,
    pub revealed: bool,
    pub listings: Vec<SubjectListing>,
    pub exclusions: Vec<SubjectExclusion>,
    pub uses: Vec<SubjectUse>,
    pub records: Vec<SubjectRecordLine>,
    pub more: bool,
}

#[derive(Template)]
#[template(path = "console/people.html")]
pub struct People {
    pub page: Page,
    pub kind: String,
    pub purpose: String,
    pub error: Option<String>,
    pub found: Option<Found>,
}

pub struct MeasureLine {
    pub id: String,
    pub name: String,
    pub family: String,
    pub unit: String,
    pub subjects: String,
    pub validity: String,
    pub benefit: String,
    pub limit: String,
    /// `in-force`, `withdrawn`, `ended` or `future`.
    pub state: &'static str,
    pub state_text: String,
    /// This account may change it (or ask to).
    pub editable: bool,
    /// This account may withdraw it (or ask to cancel it).
    pub cancellable: bool,
}

pub struct RequestLine {
    pub id: i64,
    pub at: String,
    pub unit: String,
    pub measure: String,
    pub what: String,
    pub reason: String,
    pub by: String,
    pub state: String,
    pub state_text: String,
    pub decision: String,
    pub pending: bool,
}

pub struct RevisionLine {
    pub revision: i64,
    pub at: String,
    pub data_version: u64,
    pub how: String,
    pub measures: usize,
}

#[derive(Template)]
#[template(path = "console/measures.html")]
pub struct Measures {
    pub page: Page,
    pub is_admin: bool,
    pub may_propose: bool,
    pub today: String,
    pub measures: Vec<MeasureLine>,
    pub requests: Vec<RequestLine>,
    pub revisions: Vec<RevisionLine>,
}

/// A measure's form, as typed (money in yuan).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct MeasureFields {
    pub csrf: String,
    pub editing: String,
    pub id: String,
    pub family: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: String,
    pub person: Option<String>,
    pub enterprise: Option<String>,
    pub categories: String,
    pub valid_from: String,
    pub valid_until: String,
    pub benefit: String,
    pub percent: String,
    pub max_discount: String,
    pub amount_off: String,
    pub companion_percent: String,
    pub companion_max: String,
    pub what: String,
    pub limit_per: String,
    pub limit_count: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "console/measure_form.html")]
pub struct MeasureEdit {
    pub page: Page,
    pub f: MeasureFields,
    pub is_admin: bool,
    /// An operator's unit: the only one its measures may name.
    pub fixed_unit: Option<String>,
    pub errors: Vec<String>,
    pub families: &'static [&'static str],
}

pub struct CaseLine {
    pub number: String,
    pub kind: &'static str,
    /// The state's code (a CSS class).
    pub state: &'static str,
    pub state_text: &'static str,
    pub channel: String,
    pub site: String,
    pub unit: String,
    pub created: String,
    pub due: String,
    pub overdue: bool,
    pub handler: String,
}

#[derive(Template)]
#[template(path = "console/cases.html")]
pub struct Cases {
    pub page: Page,
    pub cases: Vec<CaseLine>,
    pub overdue: u64,
    pub state: &'static str,
    pub kind: &'static str,
    pub only_overdue: bool,
    pub only_mine: bool,
    pub states: Vec<(&'static str, &'static str)>,
}

pub struct CaseRecord {
    pub kind: String,
    pub at: String,
    pub site: String,
    pub unit: String,
    pub measure: String,
    pub reason: String,
    pub terminal: String,
    pub sub: String,
}

pub struct CaseDetailView {
    pub line: CaseLine,
    pub objection: bool,
    pub reference: String,
    pub record: Option<CaseRecord>,
    pub phone: String,
    pub id_number: String,
    pub sub: String,
    pub text: String,
    pub answer: String,
    pub outcome: &'static str,
    pub answered: String,
    pub submission: String,
    /// (when, who, step, note)
    pub steps: Vec<(String, String, String, String)>,
    pub may_take: bool,
    pub may_answer: bool,
    pub may_close: bool,
}

#[derive(Template)]
#[template(path = "console/case.html")]
pub struct CasePage {
    pub page: Page,
    pub case: CaseDetailView,
}

pub struct PlatformLine {
    pub id: String,
    pub name: String,
    pub kinds: String,
    pub rate: u32,
    pub added: String,
    pub last_seen: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "console/platforms.html")]
pub struct Platforms {
    pub page: Page,
    pub may_change: bool,
    pub platforms: Vec<PlatformLine>,
}
