//! The citizens' cases in the console: a queue (the credit office sees
//! every case, a unit's operator its unit's complaints), each case with
//! the counter record its reference names, the citizen's words and
//! contact (masked, the look audited), its steps, and the forms to take
//! it into review, answer it (what the citizen reads) and close it. An
//! upheld objection names the list submission that fixed the listing.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::pages::{S, actor, page, render, unit_of};
use super::view::{self, T, when};
use super::{Ctx, Fail, blocking};
use crate::accounts::Role;
use crate::cases::{CaseAction, CaseDetail, CaseKind, CaseQuery, CaseState, CaseSummary, Outcome};
use crate::http::citizen::reason_words;

/// Who opens cases: the credit office, reviewers, units (their own) and
/// auditors (reading only).
pub(super) const CASE_READERS: &[Role] =
    &[Role::Admin, Role::Reviewer, Role::Operator, Role::Auditor];
/// Who handles them.
const CASE_HANDLERS: &[Role] = &[Role::Admin, Role::Reviewer, Role::Operator];

pub(super) fn kind_text(t: T, k: CaseKind) -> &'static str {
    match k {
        CaseKind::Objection => t.t("名单异议", "objection"),
        CaseKind::Complaint => t.t("投诉建议", "complaint"),
    }
}

pub(super) fn state_text(t: T, s: CaseState) -> &'static str {
    match s {
        CaseState::New => t.t("新收", "new"),
        CaseState::InReview => t.t("处理中", "in review"),
        CaseState::Answered => t.t("已答复", "answered"),
        CaseState::Closed => t.t("已办结", "closed"),
    }
}

fn outcome_text(t: T, o: Outcome) -> &'static str {
    match o {
        Outcome::Upheld => t.t("异议成立", "upheld"),
        Outcome::NotUpheld => t.t("异议不成立", "not upheld"),
        Outcome::Noted => t.t("已记录并处理", "noted"),
    }
}

fn line(t: T, c: &CaseSummary) -> view::CaseLine {
    view::CaseLine {
        number: c.number.clone(),
        kind: kind_text(t, c.kind),
        state: c.state.as_str(),
        state_text: state_text(t, c.state),
        channel: c.channel.clone(),
        site: c.site.clone().unwrap_or_default(),
        unit: c
            .unit
            .clone()
            .unwrap_or_else(|| t.t("市信用中心", "credit office").to_owned()),
        created: when(c.created_at),
        due: c.due_at.date_utc8().to_string(),
        overdue: c.overdue,
        handler: c.handler.clone().unwrap_or_default(),
    }
}

#[derive(Deserialize)]
pub(super) struct QueueQuery {
    state: Option<String>,
    kind: Option<String>,
    overdue: Option<String>,
    mine: Option<String>,
}

pub(super) async fn queue(
    State(st): S,
    ctx: Ctx,
    Query(q): Query<QueueQuery>,
) -> Result<Response, Fail> {
    ctx.allow(CASE_READERS)?;
    let t = ctx.t;
    let query = CaseQuery {
        unit: unit_of(&ctx),
        kind: q.kind.as_deref().and_then(CaseKind::parse),
        state: q.state.as_deref().and_then(CaseState::parse),
        overdue: q.overdue.as_deref() == Some("1"),
        handler: (q.mine.as_deref() == Some("1")).then(|| actor(&ctx).to_string()),
        limit: crate::cases::MAX_QUEUE,
    };
    let filter = (
        query.state.map(CaseState::as_str).unwrap_or_default(),
        query.kind.map(CaseKind::as_str).unwrap_or_default(),
        query.overdue,
        query.handler.is_some(),
    );
    let (cases, overdue) = blocking(&st.hub, move |hub| {
        Ok((
            hub.cases(&query)?,
            hub.case_counts(query.unit.as_deref())?.1,
        ))
    })
    .await?;
    Ok(render(&view::Cases {
        page: page(&ctx, "cases"),
        cases: cases.iter().map(|c| line(t, c)).collect(),
        overdue,
        state: filter.0,
        kind: filter.1,
        only_overdue: filter.2,
        only_mine: filter.3,
        states: CaseState::ALL
            .iter()
            .map(|s| (s.as_str(), state_text(t, *s)))
            .collect(),
    }))
}

fn detail(t: T, d: CaseDetail, may_handle: bool) -> view::CaseDetailView {
    let record = d.record.as_ref().map(|r| view::CaseRecord {
        kind: r.kind.clone(),
        at: when(r.at),
        site: r.site_name.clone().unwrap_or_else(|| r.site.clone()),
        unit: r.unit.clone(),
        measure: r.measure.clone().unwrap_or_default(),
        reason: r
            .reason
            .as_deref()
            .map(|c| format!("{c} · {}", reason_words(t, c)))
            .unwrap_or_default(),
        terminal: r.terminal.clone(),
        sub: r.sub.clone().unwrap_or_default(),
    });
    let state = d.summary.state;
    view::CaseDetailView {
        line: line(t, &d.summary),
        objection: d.summary.kind == CaseKind::Objection,
        reference: d.reference.unwrap_or_default(),
        record,
        phone: d.phone,
        id_number: d.id_number.unwrap_or_default(),
        sub: d.sub.unwrap_or_default(),
        text: d.text,
        answer: d.answer.unwrap_or_default(),
        outcome: d.outcome.map(|o| outcome_text(t, o)).unwrap_or_default(),
        answered: d.answered_at.map(when).unwrap_or_default(),
        submission: d.submission.map(|s| s.to_string()).unwrap_or_default(),
        steps: d
            .steps
            .into_iter()
            .map(|s| (when(s.at), s.actor, s.step, s.note))
            .collect(),
        may_take: may_handle && state == CaseState::New,
        may_answer: may_handle && state.open(),
        may_close: may_handle && state == CaseState::Answered,
    }
}

pub(super) async fn open(
    State(st): S,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, Fail> {
    ctx.allow(CASE_READERS)?;
    let t = ctx.t;
    let unit = unit_of(&ctx);
    let who = actor(&ctx);
    let d = blocking(&st.hub, move |hub| {
        hub.open_case(&number, unit.as_deref(), &who)
    })
    .await?;
    let may = CASE_HANDLERS.contains(&ctx.session.role);
    Ok(render(&view::CasePage {
        page: page(&ctx, "cases"),
        case: detail(t, d, may),
    }))
}

#[derive(Deserialize)]
pub(super) struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    submission: String,
}

pub(super) async fn act(
    State(st): S,
    ctx: Ctx,
    Path((number, what)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Result<Response, Fail> {
    ctx.allow(CASE_HANDLERS)?;
    ctx.csrf(&f.csrf)?;
    let t = ctx.t;
    let action = match what.as_str() {
        "take" => CaseAction::Take,
        "close" => CaseAction::Close,
        "answer" => CaseAction::Answer {
            text: f.answer.clone(),
            outcome: Outcome::parse(f.outcome.trim())
                .ok_or_else(|| Fail::Bad("outcome: upheld, not_upheld or noted".into()))?,
            submission: match f.submission.trim() {
                "" => None,
                s => Some(s.trim_start_matches('#').parse().map_err(|_| {
                    Fail::Bad(format!("submission {s:?}: the number of a list submission"))
                })?),
            },
        },
        other => return Err(Fail::NotFound(format!("no case action {other:?}"))),
    };
    let unit = unit_of(&ctx);
    let who = actor(&ctx);
    let d = blocking(&st.hub, move |hub| {
        hub.act_on_case(&number, unit.as_deref(), &who, &action)
    })
    .await?;
    let mut pg = page(&ctx, "cases");
    pg.flash = Some(format!(
        "{} {} · {}",
        t.t("案件", "Case"),
        d.summary.number,
        state_text(t, d.summary.state)
    ));
    Ok(render(&view::CasePage {
        page: pg,
        case: detail(t, d, true),
    }))
}
