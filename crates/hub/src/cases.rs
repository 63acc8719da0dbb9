//! The citizens' cases: an objection to the list (名单异议) or a complaint
//! or suggestion (投诉建议), filed from the code a terminal shows with a
//! counter record's reference, and handled in the console.
//!
//! A citizen sees what a reference points to in plain words (site, time,
//! reason) and nothing personal; files a case with a contact phone, their
//! words and, for an objection, optionally their ID number so the reviewer
//! can find the listing; and is given a case number. The case, with the
//! last four digits of the phone, shows its state and answer — and
//! nothing at all with a wrong phone. Repeated wrong phones shut the case's
//! status page for a while, so the four digits cannot be guessed.
//!
//! An objection goes to the credit office; a complaint to the unit of the
//! site it concerns, and the credit office sees it too. Each has a day to
//! be answered by, counted in working days; one past it is overdue. Every
//! step is kept with the case and written to the audit log, as is every
//! look at a case's contact details.

use crate::db::{OptionalExtension, Tx, params};
use xinyi_core::UnixTime;
use xinyi_core::ids::{Kind, normalize_id, validate_id};

use crate::audit::{self, Actor};
use crate::error::HubError;
use crate::hub::Hub;
use crate::identity::{Field, Place};

/// The longest text a citizen may write, and an answer.
pub const MAX_CASE_TEXT_CHARS: usize = 2000;
/// Wrong phone digits a case's status page takes before it shuts.
pub const MAX_STATUS_FAILURES: i64 = 5;
/// How long it stays shut, seconds.
pub const STATUS_LOCK_S: i64 = 3600;
/// Cases a queue shows at most.
pub const MAX_QUEUE: u32 = 500;
/// The characters of a case number after its date.
const NUMBER_CHARS: usize = 8;

/// What a citizen files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    /// 名单异议: the list (or a refusal that follows from it) is wrong.
    Objection,
    /// 投诉建议: about a site or unit, after good service or bad.
    Complaint,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Objection => "objection",
            CaseKind::Complaint => "complaint",
        }
    }

    pub fn parse(s: &str) -> Option<CaseKind> {
        match s {
            "objection" => Some(CaseKind::Objection),
            "complaint" => Some(CaseKind::Complaint),
            _ => None,
        }
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseState {
    New,
    InReview,
    Answered,
    Closed,
}

impl CaseState {
    pub const ALL: [CaseState; 4] = [
        CaseState::New,
        CaseState::InReview,
        CaseState::Answered,
        CaseState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::InReview => "in_review",
            CaseState::Answered => "answered",
            CaseState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Still waiting for its answer.
    pub fn open(self) -> bool {
        matches!(self, CaseState::New | CaseState::InReview)
    }
}

/// How an answered case came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The objection is right: the listing is to be fixed through the
    /// department's import.
    Upheld,
    NotUpheld,
    /// A complaint or suggestion taken note of.
    Noted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Upheld => "upheld",
            Outcome::NotUpheld => "not_upheld",
            Outcome::Noted => "noted",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Upheld, Outcome::NotUpheld, Outcome::Noted]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// What a reference names, as a citizen may see it: no person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceInfo {
    pub reference: String,
    /// `redemption` or `refusal` (other records are not shown).
    pub kind: String,
    pub at: UnixTime,
    pub site: String,
    /// The site's name, if the site is still known.
    pub site_name: Option<String>,
    pub unit: String,
    pub measure: Option<String>,
    /// A refusal's reason code.
    pub reason: Option<String>,
    /// The terminal that made it, and the subject's pseudonym: for the
    /// handler, never shown to the citizen.
    pub terminal: String,
    pub sub: Option<String>,
}

/// A case as filed.
#[derive(Debug, Clone, Default)]
pub struct NewCase {
    pub kind: Option<CaseKind>,
    /// `web`, or the platform it came through.
    pub channel: String,
    /// The counter record's reference the code carried.
    pub reference: Option<String>,
    /// The site a complaint is about, when no reference names one.
    pub site: Option<String>,
    pub phone: String,
    pub text: String,
    /// `person` or `enterprise`, and the ID number or credit code.
    pub id_number: Option<(String, String)>,
}

/// The answer to a filing: the number the citizen keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub number: String,
    pub due_at: UnixTime,
}

/// What the citizen sees of their case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStatus {
    pub number: String,
    pub kind: CaseKind,
    pub state: CaseState,
    pub created_at: UnixTime,
    pub due_at: UnixTime,
    pub answer: Option<String>,
    pub answered_at: Option<UnixTime>,
    pub record: Option<ReferenceInfo>,
}

/// The answer to a status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAnswer {
    Shown(Box<CaseStatus>),
    /// No such case, or the phone does not match: the same answer.
    NotFound,
    /// Too many wrong phones: try again after this.
    Shut {
        until: UnixTime,
    },
}

/// A case in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    pub number: String,
    pub kind: CaseKind,
    pub state: CaseState,
    pub channel: String,
    pub site: Option<String>,
    pub unit: Option<String>,
    pub created_at: UnixTime,
    pub due_at: UnixTime,
    pub overdue: bool,
    pub handler: Option<String>,
}

/// A case as its handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDetail {
    /// Its row (case steps refer to it).
    pub(crate) id: i64,
    pub summary: CaseSummary,
    pub reference: Option<String>,
    pub record: Option<ReferenceInfo>,
    /// The phone, masked but for its first three and last four digits.
    pub phone: String,
    /// The ID number given, masked; its kind and pseudonym.
    pub id_number: Option<String>,
    pub id_kind: Option<String>,
    pub sub: Option<String>,
    pub text: String,
    pub answer: Option<String>,
    pub outcome: Option<Outcome>,
    pub answered_at: Option<UnixTime>,
    pub closed_at: Option<UnixTime>,
    /// The list submission that fixed the listing, for an upheld objection.
    pub submission: Option<i64>,
    pub steps: Vec<CaseStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStep {
    pub at: UnixTime,
    pub actor: String,
    pub step: String,
    pub note: String,
}

/// Which cases a queue shows.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// Only this unit's (an operator's queue).
    pub unit: Option<String>,
    pub kind: Option<CaseKind>,
    pub state: Option<CaseState>,
    /// Only open cases past their day.
    pub overdue: bool,
    /// Only those this handler (`user:NAME`) took or answered.
    pub handler: Option<String>,
    pub limit: u32,
}

/// What a handler does to a case.
#[derive(Debug, Clone)]
pub enum CaseAction {
    /// Takes it into review (new → in review).
    Take,
    /// Answers it: the citizen sees `text`.
    Answer {
        text: String,
        outcome: Outcome,
        /// The submission that fixed the listing (an upheld objection).
        submission: Option<i64>,
    },
    /// Closes an answered case.
    Close,
}

fn invalid(s: impl Into<String>) -> HubError {
    HubError::Invalid(s.into())
}

/// A record's reference: its 16-byte id as 32 lowercase hex digits.
pub fn parse_reference(s: &str) -> Result<String, HubError> {
    let s = s.trim().to_ascii_lowercase();
    if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(invalid(
            "reference: must be the 32 hexadecimal digits the counter's code carries",
        ))
    }
}

/// A contact phone: 7 to 20 digits, spaces, dashes and a leading `+`;
/// kept as its digits (with the `+`).
pub fn parse_phone(s: &str) -> Result<String, HubError> {
    let s = s.trim();
    let ok_chars = s
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !ok_chars || !(7..=20).contains(&digits.len()) {
        return Err(invalid(
            "phone: give a mobile or landline number (7 to 20 digits)",
        ));
    }
    Ok(if s.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

/// The last four digits of a phone, as the citizen types them back.
fn phone_tail(phone: &str) -> &str {
    &phone[phone.len().saturating_sub(4)..]
}

/// A phone as handlers see it: 138****1234.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 7 {
        return format!("***{}", phone_tail(phone));
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Free text from a citizen or a handler: trimmed, 1 to
/// [`MAX_CASE_TEXT_CHARS`] characters, no control characters but line
/// breaks and tabs.
pub fn clean_text(what: &str, s: &str) -> Result<String, HubError> {
    let s = s.trim().replace("\r\n", "\n");
    let n = s.chars().count();
    if n == 0 {
        return Err(invalid(format!("{what}: must not be empty")));
    }
    if n > MAX_CASE_TEXT_CHARS {
        return Err(invalid(format!(
            "{what}: at most {MAX_CASE_TEXT_CHARS} characters, got {n}"
        )));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(format!("{what}: contains control characters")));
    }
    Ok(s)
}

fn new_number(now: UnixTime) -> Result<String, HubError> {
    let mut bytes = [0u8; NUMBER_CHARS];
    getrandom::fill(&mut bytes)
        .map_err(|e| HubError::Internal(format!("no randomness from the system: {e}")))?;
    let d = now.date_utc8();
    let mut s = format!("{:02}{:02}{:02}-", d.year() % 100, d.month(), d.day());
    for b in bytes {
        s.push(char::from(crate::admin::CODE_ALPHABET[usize::from(b & 31)]));
    }
    Ok(s)
}

/// A case number as typed: upper case, spaces dropped.
fn normalize_number(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

fn reference_in(tx: &Tx<'_>, reference: &str) -> Result<Option<ReferenceInfo>, HubError> {
    let found = tx
        .query_row(
            "SELECT r.kind, r.at, r.site, s.name, r.unit, r.measure, r.reason, r.terminal, r.sub
             FROM records r LEFT JOIN sites s ON s.id = r.site
             WHERE r.id = ?1 AND r.kind IN ('redemption', 'refusal')
             ORDER BY r.received_at LIMIT 1",
            [reference],
            |r| {
                Ok(ReferenceInfo {
                    reference: reference.to_owned(),
                    kind: r.get(0)?,
                    at: UnixTime(r.get(1)?),
                    site: r.get(2)?,
                    site_name: r.get(3)?,
                    unit: r.get(4)?,
                    measure: r.get(5)?,
                    reason: r.get(6)?,
                    terminal: r.get(7)?,
                    sub: r.get(8)?,
                })
            },
        )
        .optional()?;
    Ok(found)
}

/// Keeps a step with its case and in the audit log (`case.<what>`), in
/// the caller's transaction.
fn step(
    tx: &Tx<'_>,
    case: (i64, &str),
    at: UnixTime,
    actor: &Actor,
    what: &str,
    note: &str,
) -> Result<(), HubError> {
    tx.execute(
        "INSERT INTO case_steps (case_id, at, actor, step, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![case.0, at.0, actor.to_string(), what, note],
    )?;
    audit::append(tx, at, actor, &format!("case.{what}"), case.1, note)
}

/// A case's row beyond its summary, as stored.
struct Stored {
    id: i64,
    reference: Option<String>,
    phone: Vec<u8>,
    id_sealed: Option<Vec<u8>>,
    id_kind: Option<String>,
    sub: Option<String>,
    text: Vec<u8>,
    answer: Option<String>,
    outcome: Option<String>,
    answered_at: Option<i64>,
    closed_at: Option<i64>,
    submission: Option<i64>,
}

const SUMMARY_COLUMNS: &str =
    "number, kind, state, channel, site, unit, created_at, due_at, handler";

fn summary_row(r: &crate::db::Row<'_>, now: UnixTime) -> Result<CaseSummary, crate::db::DbError> {
    let kind: String = r.get(1)?;
    let state: String = r.get(2)?;
    let bad =
        |what: &str, v: &str| crate::db::DbError::value(what, format!("a case with {what} {v:?}"));
    let state = CaseState::parse(&state).ok_or_else(|| bad("state", &state))?;
    let due_at = UnixTime(r.get(7)?);
    Ok(CaseSummary {
        number: r.get(0)?,
        kind: CaseKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        state,
        channel: r.get(3)?,
        site: r.get(4)?,
        unit: r.get(5)?,
        created_at: UnixTime(r.get(6)?),
        due_at,
        overdue: state.open() && now > due_at,
        handler: r.get(8)?,
    })
}

impl Hub {
    /// What a reference names, for the citizen's page: `None` when the
    /// hub holds no such redemption or refusal (yet: the terminal may not
    /// have uploaded it).
    pub fn reference(&self, reference: &str) -> Result<Option<ReferenceInfo>, HubError> {
        let reference = parse_reference(reference)?;
        self.db().read(|tx| reference_in(tx, &reference))
    }

    /// The day a case filed now is to be answered by (its last second).
    pub fn case_due(&self, filed: UnixTime) -> UnixTime {
        let c = self.config();
        c.calendar
            .add_working_days(filed.date_utc8(), c.case_answer_working_days)
            .end_utc8()
    }

    /// Files a citizen's case.
    pub fn file_case(&self, c: &NewCase) -> Result<Filed, HubError> {
        let kind = c
            .kind
            .ok_or_else(|| invalid("kind: objection or complaint"))?;
        let channel = c.channel.trim();
        if channel.is_empty() || channel.len() > 64 {
            return Err(invalid("channel: 1 to 64 characters"));
        }
        let reference = c.reference.as_deref().map(parse_reference).transpose()?;
        let phone = parse_phone(&c.phone)?;
        let text = clean_text("text", &c.text)?;
        let id = match &c.id_number {
            Some((kind, id)) if !id.trim().is_empty() => {
                let k: Kind = kind.trim().parse().map_err(|_| {
                    invalid(format!(
                        "id kind {kind:?}: must be \"person\" or \"enterprise\""
                    ))
                })?;
                let id = normalize_id(id);
                validate_id(k, &id, self.today()).map_err(|e| {
                    invalid(match k {
                        Kind::Person => format!("ID number: not a valid resident ID number: {e}"),
                        Kind::Enterprise => {
                            format!("credit code: not a valid unified social credit code: {e}")
                        }
                    })
                })?;
                let sub = self.k_pseudo().pseudonym(k, &id);
                Some((k, id, sub))
            }
            _ => None,
        };
        let now = self.now();
        let due_at = self.case_due(now);
        let number = new_number(now)?;
        let seal = |field, text: &str| {
            self.identity()
                .seal(text, &Place::new(field, "case", &number))
                .map_err(|e| HubError::Internal(format!("sealing a case: {e}")))
        };
        let phone_sealed = seal(Field::CasePhone, &phone)?;
        let text_sealed = seal(Field::CaseText, &text)?;
        let id_sealed = id
            .as_ref()
            .map(|(_, id, _)| seal(Field::CaseId, id))
            .transpose()?;
        let actor = Actor::Citizen(channel.to_owned());
        self.db().write(|tx| {
            let record = match &reference {
                Some(r) => reference_in(tx, r)?,
                None => None,
            };
            // The site: the record's, else the one named (a complaint
            // from the public page).
            let site = match (&record, c.site.as_deref().map(str::trim)) {
                (Some(r), _) => Some((r.site.clone(), r.unit.clone())),
                (None, Some(s)) if !s.is_empty() => {
                    let unit: Option<String> = tx
                        .query_row("SELECT unit FROM sites WHERE id = ?1", [s], |r| r.get(0))
                        .optional()?;
                    let unit = unit.ok_or_else(|| HubError::NotFound {
                        what: "site",
                        id: s.to_owned(),
                        hint: "",
                    })?;
                    Some((s.to_owned(), unit))
                }
                _ => None,
            };
            if kind == CaseKind::Complaint && site.is_none() && reference.is_none() {
                return Err(invalid(
                    "a complaint names the counter's reference or a site",
                ));
            }
            // Objections go to the credit office; complaints to the unit.
            let unit = match kind {
                CaseKind::Objection => None,
                CaseKind::Complaint => site.as_ref().map(|(_, u)| u.clone()),
            };
            let case_id: i64 = tx.query_row(
                "INSERT INTO cases (number, kind, channel, reference, site, unit,
                                    phone_sealed, id_sealed, id_kind, sub, text_sealed,
                                    created_at, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 RETURNING id",
                params![
                    number,
                    kind.as_str(),
                    channel,
                    reference,
                    site.as_ref().map(|(s, _)| s.clone()),
                    unit,
                    phone_sealed,
                    id_sealed,
                    id.as_ref().map(|(k, _, _)| k.as_str()),
                    id.as_ref().map(|(_, _, s)| s.as_str().to_owned()),
                    text_sealed,
                    now.0,
                    due_at.0
                ],
                |r| r.get(0),
            )?;
            let detail = format!(
                "{}{}{}",
                kind.as_str(),
                reference
                    .as_deref()
                    .map(|r| format!(" · reference {r}"))
                    .unwrap_or_default(),
                if record.is_none() && reference.is_some() {
                    " (no such record held yet)"
                } else {
                    ""
                }
            );
            step(tx, (case_id, &number), now, &actor, "file", &detail)
        })?;
        Ok(Filed { number, due_at })
    }

    /// A case's state and answer for the citizen who gives its number and
    /// the last four digits of its phone.
    pub fn case_status(&self, number: &str, tail: &str) -> Result<StatusAnswer, HubError> {
        let number = normalize_number(number);
        let tail = tail.trim();
        if number.len() > 32 {
            return Ok(StatusAnswer::NotFound);
        }
        let now = self.now();
        self.db().write(|tx| {
            type Row = (i64, Vec<u8>, Option<i64>, i64);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT id, phone_sealed, status_locked_until, status_failures
                     FROM cases WHERE number = ?1",
                    [&number],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((id, phone_sealed, locked_until, failures)) = row else {
                return Ok(StatusAnswer::NotFound);
            };
            if phone_sealed.is_empty() {
                // Erased by retention: nothing to match.
                return Ok(StatusAnswer::NotFound);
            }
            if let Some(until) = locked_until.filter(|u| *u > now.0) {
                return Ok(StatusAnswer::Shut {
                    until: UnixTime(until),
                });
            }
            let phone = self
                .identity()
                .open(
                    &phone_sealed,
                    &Place::new(Field::CasePhone, "case", &number),
                )
                .map_err(|e| HubError::corrupt(format!("case {number}: {e}")))?;
            let matches = tail.len() == 4 && phone_tail(&phone) == tail;
            if !matches {
                let failures = failures + 1;
                let locked = (failures >= MAX_STATUS_FAILURES).then_some(now.0 + STATUS_LOCK_S);
                tx.execute(
                    "UPDATE cases SET status_failures = ?2, status_locked_until = ?3 WHERE id = ?1",
                    params![id, if locked.is_some() { 0 } else { failures }, locked],
                )?;
                if let Some(until) = locked {
                    audit::append(
                        tx,
                        now,
                        &Actor::Citizen("web".into()),
                        "case.status_shut",
                        &number,
                        &format!("{MAX_STATUS_FAILURES} wrong phone digits"),
                    )?;
                    return Ok(StatusAnswer::Shut {
                        until: UnixTime(until),
                    });
                }
                return Ok(StatusAnswer::NotFound);
            }
            if failures > 0 {
                tx.execute("UPDATE cases SET status_failures = 0 WHERE id = ?1", [id])?;
            }
            let d = self.detail_in(tx, &number, None, now)?;
            let answered = matches!(d.summary.state, CaseState::Answered | CaseState::Closed);
            Ok(StatusAnswer::Shown(Box::new(CaseStatus {
                number: number.clone(),
                kind: d.summary.kind,
                state: d.summary.state,
                created_at: d.summary.created_at,
                due_at: d.summary.due_at,
                answer: if answered { d.answer } else { None },
                answered_at: if answered { d.answered_at } else { None },
                record: d.record,
            })))
        })
    }

    /// A queue of cases, most urgent first (open cases by their day, then
    /// the rest newest first).
    pub fn cases(&self, q: &CaseQuery) -> Result<Vec<CaseSummary>, HubError> {
        let now = self.now();
        let limit = q.limit.clamp(1, MAX_QUEUE);
        self.db().read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM cases
                 WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR state = ?3)
                   AND (?4 = 0 OR (state IN ('new', 'in_review') AND due_at < ?5))
                   AND (CAST(?7 AS TEXT) IS NULL OR handler = ?7)
                 ORDER BY state IN ('answered', 'closed'),
                          CASE WHEN state IN ('new', 'in_review') THEN due_at END,
                          created_at DESC
                 LIMIT ?6"
            ))?;
            let rows = stmt
                .query_map(
                    params![
                        q.unit,
                        q.kind.map(CaseKind::as_str),
                        q.state.map(CaseState::as_str),
                        q.overdue,
                        now.0,
                        limit,
                        q.handler
                    ],
                    |r| summary_row(r, now),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Opens a case for a handler (`unit`: an operator's, who may open
    /// only its unit's). The look is audited: the case shows the
    /// citizen's contact and words.
    pub fn open_case(
        &self,
        number: &str,
        unit: Option<&str>,
        by: &Actor,
    ) -> Result<CaseDetail, HubError> {
        let number = normalize_number(number);
        let now = self.now();
        self.db().write(|tx| {
            let d = self.detail_in(tx, &number, unit, now)?;
            audit::append(tx, now, by, "case.open", &number, d.summary.kind.as_str())?;
            Ok(d)
        })
    }

    fn detail_in(
        &self,
        tx: &Tx<'_>,
        number: &str,
        unit: Option<&str>,
        now: UnixTime,
    ) -> Result<CaseDetail, HubError> {
        let not_found = || HubError::NotFound {
            what: "case",
            id: number.to_owned(),
            hint: "",
        };
        let summary = tx
            .query_row(
                &format!("SELECT {SUMMARY_COLUMNS} FROM cases WHERE number = ?1"),
                [number],
                |r| summary_row(r, now),
            )
            .optional()?
            .ok_or_else(not_found)?;
        if unit.is_some() && summary.unit.as_deref() != unit {
            return Err(not_found());
        }
        let stored = tx.query_row(
            "SELECT id, reference, phone_sealed, id_sealed, id_kind, sub, text_sealed, answer,
                    outcome, answered_at, closed_at, submission
             FROM cases WHERE number = ?1",
            [number],
            |r| {
                Ok(Stored {
                    id: r.get("id")?,
                    reference: r.get("reference")?,
                    phone: r.get("phone_sealed")?,
                    id_sealed: r.get("id_sealed")?,
                    id_kind: r.get("id_kind")?,
                    sub: r.get("sub")?,
                    text: r.get("text_sealed")?,
                    answer: r.get("answer")?,
                    outcome: r.get("outcome")?,
                    answered_at: r.get("answered_at")?,
                    closed_at: r.get("closed_at")?,
                    submission: r.get("submission")?,
                })
            },
        )?;
        let Stored {
            id,
            reference,
            phone,
            id_sealed,
            id_kind,
            sub,
            text,
            answer,
            outcome,
            answered_at,
            closed_at,
            submission,
        } = stored;
        // Retention leaves an emptied value.
        let open = |field, sealed: &[u8]| {
            if sealed.is_empty() {
                return Ok(String::new());
            }
            self.identity()
                .open(sealed, &Place::new(field, "case", number))
                .map_err(|e| HubError::corrupt(format!("case {number}: {e}")))
        };
        let record = match &reference {
            Some(r) => reference_in(tx, r)?,
            None => None,
        };
        let mut stmt = tx.prepare_cached(match tx.dialect() {
            crate::db::Dialect::Sqlite => {
                "SELECT at, actor, step, note FROM case_steps WHERE case_id = ?1
                     ORDER BY at, rowid"
            }
            crate::db::Dialect::Postgres => {
                "SELECT at, actor, step, note FROM case_steps WHERE case_id = ?1
                     ORDER BY at, seq"
            }
        })?;
        let steps = stmt
            .query_map([id], |r| {
                Ok(CaseStep {
                    at: UnixTime(r.get(0)?),
                    actor: r.get(1)?,
                    step: r.get(2)?,
                    note: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CaseDetail {
            id,
            summary,
            reference,
            record,
            phone: match open(Field::CasePhone, &phone)? {
                p if p.is_empty() => String::new(),
                p => mask_phone(&p),
            },
            id_number: id_sealed
                .map(|s| open(Field::CaseId, &s).map(|id| audit::mask_id_number(&id)))
                .transpose()?,
            id_kind,
            sub,
            text: open(Field::CaseText, &text)?,
            answer,
            outcome: outcome.as_deref().and_then(Outcome::parse),
            answered_at: answered_at.map(UnixTime),
            closed_at: closed_at.map(UnixTime),
            submission,
            steps,
        })
    }

    /// A handler's step on a case: taking it, answering it, closing it.
    /// Returns the case as it now stands.
    pub fn act_on_case(
        &self,
        number: &str,
        unit: Option<&str>,
        by: &Actor,
        action: &CaseAction,
    ) -> Result<CaseDetail, HubError> {
        let number = normalize_number(number);
        let now = self.now();
        let handler = by.to_string();
        self.db().write(|tx| {
            let d = self.detail_in(tx, &number, unit, now)?;
            let state = d.summary.state;
            let refuse = |what: &str| {
                Err(invalid(format!(
                    "case {number} is {}: it cannot be {what}",
                    state.as_str().replace('_', " ")
                )))
            };
            let (id, case) = (d.id, (d.id, number.as_str()));
            match action {
                CaseAction::Take => {
                    if state != CaseState::New {
                        return refuse("taken into review");
                    }
                    tx.execute(
                        "UPDATE cases SET state = 'in_review', handler = ?2 WHERE id = ?1",
                        params![id, handler],
                    )?;
                    step(tx, case, now, by, "take", "")?;
                }
                CaseAction::Answer {
                    text,
                    outcome,
                    submission,
                } => {
                    if !state.open() {
                        return refuse("answered again");
                    }
                    let text = clean_text("answer", text)?;
                    if d.summary.kind == CaseKind::Objection && *outcome == Outcome::Noted {
                        return Err(invalid(
                            "an objection is upheld or not upheld, not just noted",
                        ));
                    }
                    if let Some(s) = submission {
                        let imported: bool = tx.query_row(
                            "SELECT EXISTS (SELECT 1 FROM submissions
                                            WHERE id = ?1 AND outcome = 'imported')",
                            [s],
                            |r| r.get(0),
                        )?;
                        if !imported {
                            return Err(invalid(format!(
                                "submission {s}: no imported list submission has that number"
                            )));
                        }
                    }
                    tx.execute(
                        "UPDATE cases SET state = 'answered', answer = ?2, outcome = ?3,
                                answered_at = ?4, submission = ?5,
                                handler = COALESCE(handler, ?6)
                         WHERE id = ?1",
                        params![id, text, outcome.as_str(), now.0, submission, handler],
                    )?;
                    let note = match submission {
                        Some(s) => format!("{} · submission {s}", outcome.as_str()),
                        None => outcome.as_str().to_owned(),
                    };
                    step(tx, case, now, by, "answer", &note)?;
                }
                CaseAction::Close => {
                    if state != CaseState::Answered {
                        return refuse("closed (answer it first)");
                    }
                    tx.execute(
                        "UPDATE cases SET state = 'closed', closed_at = ?2 WHERE id = ?1",
                        params![id, now.0],
                    )?;
                    step(tx, case, now, by, "close", "")?;
                }
            }
            self.detail_in(tx, &number, unit, now)
        })
    }

    /// Open cases (new or in review) and how many of them are past their
    /// day, for the overview and the queue (of one unit, or all).
    pub fn case_counts(&self, unit: Option<&str>) -> Result<(u64, u64), HubError> {
        let now = self.now();
        self.db().read(|tx| {
            let (open, overdue): (i64, Option<i64>) = tx.query_row(
                "SELECT COUNT(*), SUM(CASE WHEN due_at < ?2 THEN 1 ELSE 0 END) FROM cases
                 WHERE state IN ('new', 'in_review') AND (CAST(?1 AS TEXT) IS NULL OR unit = ?1)",
                params![unit, now.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            Ok((n(open), n(overdue.unwrap_or(0))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_references_and_texts() {
        assert_eq!(parse_phone(" 138 0013 8000 ").unwrap(), "13800138000");
        assert_eq!(parse_phone("+86-662-3312345").unwrap(), "+866623312345");
        for bad in [
            "",
            "12345",
            "1380013800x",
            "138+0013",
            "1".repeat(21).as_str(),
        ] {
            assert!(parse_phone(bad).is_err(), "{bad:?}");
        }
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(phone_tail("13800138000"), "8000");
        let r = "0123456789ABCDEF0123456789abcdef";
        assert_eq!(parse_reference(r).unwrap(), r.to_ascii_lowercase());
        assert!(parse_reference("0123").is_err());
        assert!(parse_reference(&"g".repeat(32)).is_err());
        assert_eq!(clean_text("t", "  a\r\nb ").unwrap(), "a\nb");
        assert!(clean_text("t", "  ").is_err());
        assert!(clean_text("t", "a\u{1b}[2J").is_err());
        assert!(clean_text("t", &"字".repeat(MAX_CASE_TEXT_CHARS + 1)).is_err());
        assert_eq!(normalize_number(" 261201-abcd efgh "), "261201-ABCDEFGH");
        let n = new_number(UnixTime(1_764_547_200)).unwrap();
        assert_eq!(n.len(), 7 + NUMBER_CHARS);
        assert!(n.starts_with("251201-"), "{n}");
    }
}
