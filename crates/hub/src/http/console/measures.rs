//! The measures catalogue page: the credit office creates, edits and
//! withdraws measures; a unit's operator applies to offer one, to change
//! or cancel one of its own; the credit office approves or rejects.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xinyi_core::measures::{Benefit, Catalogue, Categories, FAMILIES, Measure};
use xinyi_core::{Date, Fen};

use super::pages::{S, actor, page, render, unit_of};
use super::view::{self, MeasureFields, T, benefit_text, subjects_text, when, yuan};
use super::{Ctx, Fail, blocking};
use crate::accounts::Role;
use crate::error::HubError;
use crate::offers::RequestKind;

const READERS: &[Role] = &[Role::Admin, Role::Reviewer, Role::Operator, Role::Auditor];
/// Who changes the catalogue: the credit office directly, a unit by request.
const PROPOSERS: &[Role] = &[Role::Admin, Role::Operator];

fn line(t: T, m: &Measure, today: Date, role: Role, unit: Option<&str>) -> view::MeasureLine {
    let (state, state_text) = match m.withdrawn_on {
        Some(w) if w <= today => ("withdrawn", format!("{} {w}", t.t("已撤销", "withdrawn"))),
        _ if m.valid_until < today => ("ended", t.t("已到期", "ended").to_owned()),
        _ if m.valid_from > today => ("future", t.t("未生效", "not yet").to_owned()),
        Some(w) => (
            "in-force",
            format!("{} {w}", t.t("将撤销于", "withdrawn from")),
        ),
        None => ("in-force", t.t("有效", "in force").to_owned()),
    };
    let own = match role {
        Role::Admin => true,
        Role::Operator => unit == Some(m.unit.as_str()),
        _ => false,
    };
    let open = m.withdrawn_on.is_none() && m.valid_until >= today;
    view::MeasureLine {
        id: m.id.to_string(),
        name: t.t(&m.name_zh, &m.name_en).to_owned(),
        family: m.family.clone(),
        unit: m.unit.clone(),
        subjects: subjects_text(t, m, " "),
        validity: format!("{} – {}", m.valid_from, m.valid_until),
        benefit: benefit_text(t, &m.benefit),
        limit: m
            .limit
            .map_or_else(String::new, |l| format!("{} / {}", l.count, l.per.as_str())),
        state,
        state_text,
        editable: own && open,
        cancellable: own && open,
    }
}

pub(super) async fn list(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(READERS)?;
    let t = ctx.t;
    let role = ctx.session.role;
    let unit = unit_of(&ctx);
    let (today, catalogue, requests, revisions) = blocking(&st.hub, move |hub| {
        let requests = match role {
            Role::Operator => hub.measure_requests(Some(unit.as_deref().unwrap_or("")))?,
            _ => hub.measure_requests(None)?,
        };
        Ok((
            hub.today(),
            hub.catalogue()?.unwrap_or_default(),
            requests,
            hub.catalogue_revisions()?,
        ))
    })
    .await?;
    let unit = unit_of(&ctx);
    let measures = catalogue
        .measures()
        .iter()
        .map(|m| line(t, m, today, role, unit.as_deref()))
        .collect();
    let requests = requests
        .into_iter()
        .map(|r| view::RequestLine {
            id: r.id,
            at: when(r.at),
            unit: r.unit,
            measure: r.measure,
            what: match &r.kind {
                RequestKind::Offer(m) => format!(
                    "{}：{}（{}）",
                    t.t("提供", "offer"),
                    t.t(&m.name_zh, &m.name_en),
                    benefit_text(t, &m.benefit)
                ),
                RequestKind::Cancel(on) => format!("{} {on}", t.t("取消，自", "cancel from")),
            },
            reason: r.reason,
            by: r.by_user,
            state_text: match r.state.as_str() {
                "pending" => t.t("待审批", "pending"),
                "approved" => t.t("已批准", "approved"),
                _ => t.t("已驳回", "rejected"),
            }
            .to_owned(),
            pending: r.state == "pending",
            decision: [
                r.decided_by.unwrap_or_default(),
                r.decided_at.map(when).unwrap_or_default(),
                r.note.unwrap_or_default(),
                r.data_version
                    .map(|v| format!("{} {v}", t.t("数据版本", "data version")))
                    .unwrap_or_default(),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · "),
            state: r.state,
        })
        .collect();
    let revisions = revisions
        .into_iter()
        .map(|r| view::RevisionLine {
            revision: r.revision,
            at: when(r.published_at),
            data_version: r.data_version,
            how: r.how,
            measures: r.measures,
        })
        .collect();
    Ok(render(&view::Measures {
        page: page(&ctx, "measures"),
        is_admin: role == Role::Admin,
        may_propose: PROPOSERS.contains(&role),
        today: today.to_string(),
        measures,
        requests,
        revisions,
    }))
}

/// The page after a change: what was done, and the way back.
fn done(ctx: &Ctx, flash: String) -> Response {
    let mut pg = page(ctx, "measures");
    pg.flash = Some(flash);
    render(&view::Message {
        page: pg,
        heading: ctx.t.t("激励措施", "Measures").into(),
        message: String::new(),
        back: "/measures",
    })
}

fn form_page(ctx: &Ctx, f: MeasureFields, errors: Vec<String>) -> Response {
    render(&view::MeasureEdit {
        page: page(ctx, "measures"),
        f,
        is_admin: ctx.session.role == Role::Admin,
        fixed_unit: unit_of(ctx),
        errors,
        families: &FAMILIES,
    })
}

pub(super) async fn new_form(ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(PROPOSERS)?;
    let f = MeasureFields {
        family: FAMILIES[0].into(),
        person: Some("1".into()),
        categories: "all".into(),
        benefit: "percent_off".into(),
        unit: unit_of(&ctx).unwrap_or_default(),
        ..MeasureFields::default()
    };
    Ok(form_page(&ctx, f, Vec::new()))
}

/// The form filled in with measure `m`.
fn fields_of(m: &Measure) -> MeasureFields {
    let mut f = MeasureFields {
        editing: "1".into(),
        id: m.id.to_string(),
        family: m.family.clone(),
        name_zh: m.name_zh.clone(),
        name_en: m.name_en.clone(),
        unit: m.unit.clone(),
        person: m
            .subjects
            .iter()
            .any(|k| k.as_str() == "person")
            .then(|| "1".into()),
        enterprise: m
            .subjects
            .iter()
            .any(|k| k.as_str() == "enterprise")
            .then(|| "1".into()),
        categories: match &m.categories {
            Categories::All => "all".into(),
            Categories::Only(set) => set.iter().map(|c| c.code()).collect::<Vec<_>>().join(" "),
        },
        valid_from: m.valid_from.to_string(),
        valid_until: m.valid_until.to_string(),
        limit_per: m
            .limit
            .map(|l| l.per.as_str().to_owned())
            .unwrap_or_default(),
        limit_count: m.limit.map(|l| l.count.to_string()).unwrap_or_default(),
        ..MeasureFields::default()
    };
    f.benefit = m.benefit.kind_name().into();
    match &m.benefit {
        Benefit::PercentOff {
            percent,
            max_discount,
        } => {
            f.percent = percent.to_string();
            f.max_discount = max_discount.map(|d| yuan(d.0)).unwrap_or_default();
        }
        Benefit::FixedOff { amount_off } => f.amount_off = yuan(amount_off.0),
        Benefit::FreeEntry {
            companion_percent,
            companion_max,
        } => {
            f.companion_percent = companion_percent.to_string();
            f.companion_max = companion_max.map(|n| n.to_string()).unwrap_or_default();
        }
        Benefit::Waiver { what } | Benefit::Privilege { what } => f.what = what.clone(),
    }
    f
}

pub(super) async fn edit_form(
    State(st): S,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, Fail> {
    ctx.allow(PROPOSERS)?;
    let unit = unit_of(&ctx);
    let m = blocking(&st.hub, move |hub| {
        let c = hub.catalogue()?.unwrap_or_default();
        match c.get(&id) {
            Some(m) if unit.as_deref().is_none_or(|u| u == m.unit) => Ok(m.clone()),
            _ => Err(HubError::NotFound {
                what: "measure",
                id,
                hint: " that this account may change",
            }),
        }
    })
    .await?;
    Ok(form_page(&ctx, fields_of(&m), Vec::new()))
}

/// A whole-number benefit field, into `b`.
fn int(field: &str, v: &str, required: bool, b: &mut toml::Table, problems: &mut Vec<String>) {
    let v = v.trim();
    if v.is_empty() {
        if required {
            problems.push(format!("benefit.{field}: required for this benefit"));
        }
        return;
    }
    match v.parse::<i64>() {
        Ok(n) => {
            b.insert(field.into(), toml::Value::Integer(n));
        }
        Err(_) => problems.push(format!("benefit.{field}: {v:?} is not a whole number")),
    }
}

/// A money benefit field typed in yuan, into `b` in fen.
fn money(field: &str, v: &str, required: bool, b: &mut toml::Table, problems: &mut Vec<String>) {
    let v = v.trim();
    if v.is_empty() {
        if required {
            problems.push(format!("benefit.{field}: required for this benefit"));
        }
        return;
    }
    match Fen::parse_yuan(v) {
        Ok(fen) => {
            b.insert(
                field.into(),
                toml::Value::Integer(i64::try_from(fen.0).unwrap_or(i64::MAX)),
            );
        }
        Err(e) => problems.push(format!("benefit.{field}: {v:?}: {e}")),
    }
}

/// The form as one measure, checked as the catalogue file is: the
/// measure, or every problem (field names as in the file).
fn measure_of(f: &MeasureFields) -> Result<Measure, Vec<String>> {
    let mut problems = Vec::new();
    let mut m = toml::Table::new();
    let s = |v: &str| toml::Value::String(v.trim().to_owned());
    m.insert("id".into(), s(&f.id));
    m.insert("family".into(), s(&f.family));
    m.insert("name_zh".into(), s(&f.name_zh));
    m.insert("name_en".into(), s(&f.name_en));
    m.insert("unit".into(), s(&f.unit));
    let mut subjects = Vec::new();
    if f.person.is_some() {
        subjects.push(s("person"));
    }
    if f.enterprise.is_some() {
        subjects.push(s("enterprise"));
    }
    m.insert("subjects".into(), toml::Value::Array(subjects));
    let cats = f.categories.trim();
    m.insert(
        "categories".into(),
        if cats == "all" {
            s("all")
        } else {
            toml::Value::Array(
                cats.split(|c: char| c == ',' || c == '，' || c.is_whitespace())
                    .filter(|c| !c.is_empty())
                    .map(s)
                    .collect(),
            )
        },
    );
    m.insert("valid_from".into(), s(&f.valid_from));
    m.insert("valid_until".into(), s(&f.valid_until));
    let mut b = toml::Table::new();
    b.insert("kind".into(), s(&f.benefit));
    match f.benefit.as_str() {
        "percent_off" => {
            int("percent", &f.percent, true, &mut b, &mut problems);
            money(
                "max_discount",
                &f.max_discount,
                false,
                &mut b,
                &mut problems,
            );
        }
        "fixed_off" => money("amount_off", &f.amount_off, true, &mut b, &mut problems),
        "free_entry" => {
            int(
                "companion_percent",
                &f.companion_percent,
                false,
                &mut b,
                &mut problems,
            );
            int(
                "companion_max",
                &f.companion_max,
                false,
                &mut b,
                &mut problems,
            );
        }
        _ => {
            b.insert("what".into(), s(&f.what));
        }
    }
    m.insert("benefit".into(), toml::Value::Table(b));
    if !f.limit_per.trim().is_empty() {
        let mut l = toml::Table::new();
        l.insert("per".into(), s(&f.limit_per));
        match f.limit_count.trim().parse::<i64>() {
            Ok(n) => {
                l.insert("count".into(), toml::Value::Integer(n));
            }
            Err(_) => problems.push(format!(
                "limit.count: {:?} is not a whole number",
                f.limit_count.trim()
            )),
        }
        m.insert("limit".into(), toml::Value::Table(l));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut doc = toml::Table::new();
    doc.insert(
        "measure".into(),
        toml::Value::Array(vec![toml::Value::Table(m)]),
    );
    let text = doc.to_string();
    match Catalogue::from_toml(&text) {
        Ok(c) => c
            .measures()
            .first()
            .cloned()
            .ok_or_else(|| vec!["no measure".to_owned()]),
        Err(xinyi_core::measures::CatalogueError::Invalid(list)) => Err(list),
        Err(e) => Err(vec![e.to_string()]),
    }
}

pub(super) async fn save(
    State(st): S,
    ctx: Ctx,
    Form(mut f): Form<MeasureFields>,
) -> Result<Response, Fail> {
    ctx.allow(PROPOSERS)?;
    ctx.csrf(&f.csrf)?;
    let t = ctx.t;
    let unit = unit_of(&ctx);
    if let Some(u) = &unit {
        // An operator's measures are its unit's, whatever the form says.
        f.unit.clone_from(u);
    }
    let m = match measure_of(&f) {
        Ok(m) => m,
        Err(problems) => {
            let mut res = form_page(&ctx, f, problems);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let who = actor(&ctx);
    let reason = f.reason.clone();
    let id = m.id.to_string();
    let outcome = blocking(&st.hub, move |hub| {
        let r = match &unit {
            None => hub
                .put_measure(&who, &m)
                .map(|(p, w)| (Some(p.version), None, w)),
            Some(u) => hub
                .request_measure(&who, u, &m, &reason)
                .map(|(n, w)| (None, Some(n), w)),
        };
        match r {
            Ok(v) => Ok(Ok(v)),
            Err(HubError::Invalid(e)) => Ok(Err(e)),
            Err(HubError::Catalogue(e)) => Ok(Err(e.to_string())),
            Err(e) => Err(e),
        }
    })
    .await?;
    let (version, request, warnings) = match outcome {
        Ok(v) => v,
        Err(problem) => {
            let mut res = form_page(&ctx, f, vec![problem]);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let mut message = match (version, request) {
        (Some(v), _) => format!(
            "{} {id}，{} {v}",
            t.t("已发布措施", "Published measure"),
            t.t("数据版本", "data version")
        ),
        (None, Some(n)) => format!(
            "{} #{n}（{id}），{}",
            t.t("已提交申请", "Request submitted"),
            t.t("待信用中心审批", "waiting for the credit office's approval")
        ),
        (None, None) => String::new(),
    };
    for w in warnings {
        message.push_str(&format!("。{} {w}", t.t("提醒：", "Note:")));
    }
    Ok(done(&ctx, message))
}

#[derive(Deserialize)]
pub(super) struct WithdrawForm {
    csrf: String,
    on: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn withdraw(
    State(st): S,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<WithdrawForm>,
) -> Result<Response, Fail> {
    ctx.allow(PROPOSERS)?;
    ctx.csrf(&f.csrf)?;
    let t = ctx.t;
    let on: Date =
        f.on.trim()
            .parse()
            .map_err(|e| Fail::Bad(format!("withdraw_on {:?}: {e}", f.on)))?;
    let unit = unit_of(&ctx);
    let who = actor(&ctx);
    let shown = id.clone();
    let outcome = blocking(&st.hub, move |hub| match &unit {
        None => hub
            .withdraw_measure(&who, &id, on)
            .map(|p| (Some(p.version), None)),
        Some(u) => hub
            .request_cancel(&who, u, &id, on, &f.reason)
            .map(|n| (None, Some(n))),
    })
    .await?;
    Ok(done(
        &ctx,
        match outcome {
            (Some(v), _) => format!(
                "{shown} {} {on}，{} {v}",
                t.t("已撤销，自", "withdrawn from"),
                t.t("数据版本", "data version")
            ),
            (_, Some(n)) => format!(
                "{} #{n}：{shown} {} {on}",
                t.t("已提交申请", "Request submitted"),
                t.t("取消，自", "cancel from")
            ),
            _ => String::new(),
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct DecideForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn decide(
    State(st): S,
    ctx: Ctx,
    Path(id): Path<i64>,
    Form(f): Form<DecideForm>,
) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    ctx.csrf(&f.csrf)?;
    let t = ctx.t;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => return Err(Fail::Bad(format!("decision {other:?}: approve or reject"))),
    };
    let who = actor(&ctx);
    let published = blocking(&st.hub, move |hub| {
        hub.decide_measure_request(&who, id, approve, &f.note)
    })
    .await?;
    Ok(done(
        &ctx,
        match published {
            Some(p) => format!(
                "{} #{id}，{} {}",
                t.t("已批准申请", "Approved request"),
                t.t("数据版本", "data version"),
                p.version
            ),
            None => format!("{} #{id}", t.t("已驳回申请", "Rejected request")),
        },
    ))
}
