//! The citizens' pages, on the hub's public address beside the terminals'
//! API, under `/c/`: an objection or a complaint from the code a counter
//! showed (`/c/objection?ref=…`, `/c/complaint?ref=…`), a case's progress
//! by its number and the phone's last four digits, and the public list of
//! measures (a page, JSON and CSV). Sized for a phone, Chinese first with
//! `?lang=en`, no scripts. Filings and status checks are rate-limited per
//! client address; what a citizen typed is kept when a field is wrong.

use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use xinyi_core::Date;
use xinyi_core::measures::Measure;
use xinyi_core::verdict::Reason;
use xinyi_core::wire::config::query_value;

use super::Peer;
use super::console::view::{T, benefit_text, subjects_text, when};
use super::gate::Gate;
use super::rate::retry_after_s;
use crate::cases::{
    CaseKind, CaseState, Filed, NewCase, ReferenceInfo, StatusAnswer, parse_reference,
};
use crate::error::HubError;
use crate::hub::Hub;
use crate::notice::PublicMeasures;

/// The largest form a citizen page takes.
const MAX_FORM: usize = 16 * 1024;

/// The page's language and how links keep it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub t: T,
    /// `?lang=en` or nothing, for links.
    pub q: &'static str,
    /// `lang` form value.
    pub lang: &'static str,
    /// This page in the other language.
    pub switch: String,
}

impl Frame {
    fn new(lang: Option<&str>, path: &str, query: &[(&str, &str)]) -> Frame {
        let en = lang == Some("en");
        let mut other: Vec<String> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", query_value(v)))
            .collect();
        if !en {
            other.push("lang=en".into());
        }
        let switch = if other.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", other.join("&"))
        };
        Frame {
            t: T { zh: !en },
            q: if en { "?lang=en" } else { "" },
            lang: if en { "en" } else { "zh" },
            switch,
        }
    }
}

/// What a refusal's reason means, for the citizen who was refused.
pub fn reason_words(t: T, code: &str) -> &'static str {
    let Some(r) = Reason::from_code(code) else {
        return t.t("其他原因", "another reason");
    };
    match r {
        Reason::ClockSuspect | Reason::StaleData => t.t(
            "柜台设备暂时无法核验（时间或数据需要更新），不涉及您的名单情况",
            "the counter's device could not verify at the time (its clock or data needed updating); it says nothing about your listing",
        ),
        Reason::Malformed | Reason::UnknownKey | Reason::BadSignature | Reason::KeyNotValid => t.t(
            "二维码无法识别或不是有效的官方二维码",
            "the code could not be read or was not a valid official code",
        ),
        Reason::NotYetValid | Reason::Expired | Reason::LifetimeTooLong => t.t(
            "二维码已过期或时间不对，请在粤省事/粤商通刷新后再出示",
            "the code had expired or was not yet valid; refresh it in the app and show it again",
        ),
        Reason::Replayed => t.t(
            "该二维码已经使用过，动态码只能使用一次",
            "the code had already been used; a dynamic code is good once",
        ),
        Reason::CardRevoked => t.t(
            "该纸质卡已作废，请使用粤省事/粤商通中的动态码",
            "the printed card has been revoked; use the dynamic code in the app",
        ),
        Reason::NotListed => t.t(
            "核验时您不在守信激励名单中",
            "at the time you were not on the honour list",
        ),
        Reason::ListingNotValid => t.t(
            "您的名单记录当时不在有效期内或已被暂停",
            "your listing was not in force at the time, or was suspended",
        ),
        Reason::MeasureNotApplicable => t.t(
            "该项激励措施不适用于您的名单类别",
            "this measure does not apply to your listing's category",
        ),
        Reason::LimitReached => t.t(
            "已达到该措施在本周期内的使用次数上限",
            "the measure's limit for this period had been reached",
        ),
    }
}

/// A counter record as the citizen's page shows it.
pub struct RecordLine {
    pub kind: String,
    pub site: String,
    pub at: String,
    pub measure: String,
    pub reason: String,
}

fn record_line(hub: &Hub, t: T, r: &ReferenceInfo) -> RecordLine {
    let measure = r
        .measure
        .as_deref()
        .and_then(|id| {
            hub.catalogue()
                .ok()
                .flatten()
                .and_then(|c| c.get(id).map(|m| t.t(&m.name_zh, &m.name_en).to_owned()))
        })
        .or_else(|| r.measure.clone())
        .unwrap_or_default();
    RecordLine {
        kind: if r.kind == "refusal" {
            t.t("核验未通过", "Refused")
        } else {
            t.t("已享受激励", "Benefit given")
        }
        .to_owned(),
        site: r.site_name.clone().unwrap_or_else(|| r.site.clone()),
        at: when(r.at),
        measure,
        reason: r
            .reason
            .as_deref()
            .map(|c| reason_words(t, c).to_owned())
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "citizen/index.html")]
struct Index {
    f: Frame,
}

/// The values of a filing form, kept when it comes back with an error.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileForm {
    #[serde(default, rename = "ref")]
    reference: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    id_kind: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    lang: String,
}

#[derive(Template)]
#[template(path = "citizen/file.html")]
struct FilePage {
    f: Frame,
    objection: bool,
    action: &'static str,
    /// The record the reference names, if the hub holds it.
    record: Option<RecordLine>,
    /// A reference was given but no record found (yet).
    unknown_reference: bool,
    /// Sites to choose from (a complaint with no reference).
    sites: Vec<(String, String)>,
    form: FileForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "citizen/filed.html")]
struct FiledPage {
    f: Frame,
    objection: bool,
    number: String,
    due: String,
}

#[derive(Template)]
#[template(path = "citizen/case.html")]
struct CasePage {
    f: Frame,
    number: String,
    asked: bool,
    status: Option<StatusView>,
    shut_until: Option<String>,
}

struct StatusView {
    objection: bool,
    state: &'static str,
    state_text: &'static str,
    created: String,
    due: String,
    answer: Option<String>,
    answered: String,
    record: Option<RecordLine>,
}

#[derive(Template)]
#[template(path = "citizen/measures.html")]
struct MeasuresPage {
    f: Frame,
    day: String,
    today: bool,
    published: String,
    in_force: Vec<MeasureCard>,
    withdrawn: Vec<MeasureCard>,
}

struct MeasureCard {
    id: String,
    name: String,
    family: String,
    unit: String,
    subjects: String,
    benefit: String,
    limit: String,
    validity: String,
    withdrawn_on: String,
    sites: String,
}

#[derive(Template)]
#[template(path = "citizen/demo.html")]
struct DemoPage {
    f: Frame,
    at: String,
    codes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "citizen/message.html")]
struct MessagePage {
    f: Frame,
    heading: String,
    message: String,
}

fn page(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a citizen page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn message(f: Frame, status: StatusCode, heading: &str, message: String) -> Response {
    page(
        &MessagePage {
            f,
            heading: heading.to_owned(),
            message,
        },
        status,
    )
}

/// Runs `work` on the blocking pool; a failure becomes a page.
async fn run<R: Send + 'static>(
    gate: &Arc<Gate>,
    f: &Frame,
    work: impl FnOnce(&Hub) -> Result<R, HubError> + Send + 'static,
) -> Result<R, Response> {
    let hub = Arc::clone(&gate.hub);
    match tokio::task::spawn_blocking(move || work(&hub)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(HubError::Invalid(why))) => Err(message(
            f.clone(),
            StatusCode::BAD_REQUEST,
            f.t.t("请求有误", "Not understood"),
            why,
        )),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a citizen page failed");
            Err(message(
                f.clone(),
                StatusCode::INTERNAL_SERVER_ERROR,
                f.t.t("暂时无法处理", "Something went wrong"),
                f.t.t("请稍后再试。", "Please try again later.").to_owned(),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "a citizen task failed");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
        }
    }
}

/// The client address a rate limit counts: the peer, or behind a proxy
/// on this machine the address the proxy added last to
/// `X-Forwarded-For` (the ones before it are the client's to write).
pub(super) fn client_key(peer: &Peer) -> String {
    let who = &peer.0;
    match &who.forwarded_for {
        Some(x) => x.rsplit(',').next().unwrap_or("").trim().to_owned(),
        None => who.peer.ip().to_string(),
    }
}

fn limited(f: &Frame, wait: std::time::Duration) -> Response {
    let secs = retry_after_s(wait);
    let mut res = message(
        f.clone(),
        StatusCode::TOO_MANY_REQUESTS,
        f.t.t("请稍后再试", "Please wait"),
        format!(
            "{} {secs} {}",
            f.t.t(
                "提交过于频繁，请在",
                "Too many requests from here; try again in"
            ),
            f.t.t("秒后再试。", "seconds.")
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

async fn index(Query(q): Query<LangQuery>) -> Response {
    page(
        &Index {
            f: Frame::new(q.lang.as_deref(), "/c", &[]),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct FileQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
    site: Option<String>,
    lang: Option<String>,
}

async fn file_form(
    gate: Arc<Gate>,
    kind: CaseKind,
    form: FileForm,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let path = match kind {
        CaseKind::Objection => "/c/objection",
        CaseKind::Complaint => "/c/complaint",
    };
    let lang = (!form.lang.is_empty()).then_some(form.lang.as_str());
    let f = Frame::new(
        lang,
        path,
        &[
            ("ref", form.reference.as_str()),
            ("site", form.site.as_str()),
        ],
    );
    let t = f.t;
    let reference = form.reference.trim().to_owned();
    let looked = run(&gate, &f, move |hub| {
        let record = if reference.is_empty() {
            None
        } else {
            Some(hub.reference(&reference)?.map(|r| record_line(hub, t, &r)))
        };
        let sites = hub
            .sites()?
            .into_iter()
            .map(|s| (s.id, format!("{} · {}", s.name, s.unit)))
            .collect::<Vec<_>>();
        Ok((record, sites))
    })
    .await;
    let (record, sites) = match looked {
        Ok(v) => v,
        Err(res) => return res,
    };
    page(
        &FilePage {
            objection: kind == CaseKind::Objection,
            action: path,
            unknown_reference: matches!(record, Some(None)),
            record: record.flatten(),
            sites,
            form,
            error,
            f,
        },
        status,
    )
}

async fn objection_page(State(gate): State<Arc<Gate>>, Query(q): Query<FileQuery>) -> Response {
    file_page(gate, CaseKind::Objection, q).await
}

async fn complaint_page(State(gate): State<Arc<Gate>>, Query(q): Query<FileQuery>) -> Response {
    file_page(gate, CaseKind::Complaint, q).await
}

async fn file_page(gate: Arc<Gate>, kind: CaseKind, q: FileQuery) -> Response {
    let form = FileForm {
        reference: q.reference.unwrap_or_default(),
        site: q.site.unwrap_or_default(),
        lang: q.lang.unwrap_or_default(),
        ..FileForm::default()
    };
    if !form.reference.is_empty() && parse_reference(&form.reference).is_err() {
        let f = Frame::new(Some(form.lang.as_str()), "/c", &[]);
        let t = f.t;
        return message(
            f,
            StatusCode::BAD_REQUEST,
            t.t("编号无法识别", "Reference not recognised"),
            t.t(
                "二维码中的记录编号不完整，请重新扫描柜台显示的二维码。",
                "The record reference from the code is incomplete; scan the counter's code again.",
            )
            .to_owned(),
        );
    }
    file_form(gate, kind, form, None, StatusCode::OK).await
}

async fn file_objection(
    State(gate): State<Arc<Gate>>,
    peer: Peer,
    Form(form): Form<FileForm>,
) -> Response {
    file(gate, peer, CaseKind::Objection, form).await
}

async fn file_complaint(
    State(gate): State<Arc<Gate>>,
    peer: Peer,
    Form(form): Form<FileForm>,
) -> Response {
    file(gate, peer, CaseKind::Complaint, form).await
}

async fn file(gate: Arc<Gate>, peer: Peer, kind: CaseKind, form: FileForm) -> Response {
    let f = Frame::new(Some(form.lang.as_str()), "/c", &[]);
    if let Err(wait) = gate
        .citizen_filings
        .take(&client_key(&peer), Instant::now())
    {
        return limited(&f, wait);
    }
    let case = NewCase {
        kind: Some(kind),
        channel: "web".into(),
        reference: Some(form.reference.trim().to_owned()).filter(|r| !r.is_empty()),
        site: Some(form.site.trim().to_owned()).filter(|s| !s.is_empty()),
        phone: form.phone.clone(),
        text: form.text.clone(),
        id_number: (kind == CaseKind::Objection && !form.id_number.trim().is_empty())
            .then(|| (form.id_kind.clone(), form.id_number.clone())),
    };
    let hub = Arc::clone(&gate.hub);
    let filed = tokio::task::spawn_blocking(move || hub.file_case(&case)).await;
    match filed {
        Ok(Ok(Filed { number, due_at })) => page(
            &FiledPage {
                f,
                objection: kind == CaseKind::Objection,
                number,
                due: due_at.date_utc8().to_string(),
            },
            StatusCode::OK,
        ),
        Ok(Err(HubError::Invalid(why))) => {
            file_form(gate, kind, form, Some(why), StatusCode::BAD_REQUEST).await
        }
        Ok(Err(HubError::NotFound { what, id, .. })) => {
            let why = format!("{what} {id:?} is not known");
            file_form(gate, kind, form, Some(why), StatusCode::BAD_REQUEST).await
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "filing a case failed");
            message(
                f.clone(),
                StatusCode::INTERNAL_SERVER_ERROR,
                f.t.t("暂时无法提交", "Could not file"),
                f.t.t("请稍后再试。", "Please try again later.").to_owned(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "a citizen task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

async fn case_page(Query(q): Query<LangQuery>) -> Response {
    page(
        &CasePage {
            f: Frame::new(q.lang.as_deref(), "/c/case", &[]),
            number: String::new(),
            asked: false,
            status: None,
            shut_until: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    phone_tail: String,
    #[serde(default)]
    lang: String,
}

async fn case_status(
    State(gate): State<Arc<Gate>>,
    peer: Peer,
    Form(form): Form<StatusForm>,
) -> Response {
    let f = Frame::new(Some(form.lang.as_str()), "/c/case", &[]);
    if let Err(wait) = gate.citizen_checks.take(&client_key(&peer), Instant::now()) {
        return limited(&f, wait);
    }
    let t = f.t;
    let (number, tail) = (form.number.clone(), form.phone_tail.clone());
    let answer = match run(&gate, &f, move |hub| {
        let a = hub.case_status(&number, &tail)?;
        let line = match &a {
            StatusAnswer::Shown(s) => s.record.as_ref().map(|r| record_line(hub, t, r)),
            _ => None,
        };
        Ok((a, line))
    })
    .await
    {
        Ok(a) => a,
        Err(res) => return res,
    };
    let (status, shut_until, code) = match answer {
        (StatusAnswer::Shown(s), record) => {
            let (state_text, state) = match s.state {
                CaseState::New => (t.t("已受理，等待处理", "received, waiting"), "new"),
                CaseState::InReview => (t.t("处理中", "in review"), "in_review"),
                CaseState::Answered => (t.t("已答复", "answered"), "answered"),
                CaseState::Closed => (t.t("已办结", "closed"), "closed"),
            };
            (
                Some(StatusView {
                    objection: s.kind == CaseKind::Objection,
                    state,
                    state_text,
                    created: when(s.created_at),
                    due: s.due_at.date_utc8().to_string(),
                    answer: s.answer.clone(),
                    answered: s.answered_at.map(when).unwrap_or_default(),
                    record,
                }),
                None,
                StatusCode::OK,
            )
        }
        (StatusAnswer::NotFound, _) => (None, None, StatusCode::NOT_FOUND),
        (StatusAnswer::Shut { until }, _) => {
            (None, Some(when(until)), StatusCode::TOO_MANY_REQUESTS)
        }
    };
    page(
        &CasePage {
            f,
            number: form.number.trim().to_owned(),
            asked: true,
            status,
            shut_until,
        },
        code,
    )
}

#[derive(Deserialize)]
struct MeasuresQuery {
    date: Option<String>,
    lang: Option<String>,
}

fn measure_card(t: T, list: &PublicMeasures, m: &Measure) -> MeasureCard {
    MeasureCard {
        id: m.id.to_string(),
        name: t.t(&m.name_zh, &m.name_en).to_owned(),
        family: m.family.clone(),
        unit: m.unit.clone(),
        subjects: subjects_text(t, m, t.t("、", ", ")),
        benefit: benefit_text(t, &m.benefit),
        limit: m.limit.map_or_else(
            || t.t("不限次数", "no limit").to_owned(),
            |l| {
                let per = match l.per.as_str() {
                    "day" => t.t("每天", "a day"),
                    "week" => t.t("每周", "a week"),
                    "month" => t.t("每月", "a month"),
                    _ => t.t("每年", "a year"),
                };
                if t.zh {
                    format!("{per}{}次", l.count)
                } else {
                    format!("{} {per}", l.count)
                }
            },
        ),
        validity: format!("{} – {}", m.valid_from, m.valid_until),
        withdrawn_on: m.withdrawn_on.map(|d| d.to_string()).unwrap_or_default(),
        sites: list.sites_of(m.id.as_str()),
    }
}

/// The day asked for (`?date=YYYY-MM-DD`), today by default.
fn day_of(hub: &Hub, date: Option<&str>) -> Result<Date, HubError> {
    match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => d
            .parse()
            .map_err(|e| HubError::Invalid(format!("date {d:?}: {e} (YYYY-MM-DD)"))),
        None => Ok(hub.today()),
    }
}

async fn measures(State(gate): State<Arc<Gate>>, Query(q): Query<MeasuresQuery>) -> Response {
    let date = q.date.clone().unwrap_or_default();
    let f = Frame::new(q.lang.as_deref(), "/c/measures", &[("date", date.as_str())]);
    let t = f.t;
    let list = run(&gate, &f, move |hub| {
        let day = day_of(hub, q.date.as_deref())?;
        Ok((hub.public_measures(day)?, hub.today()))
    })
    .await;
    let (list, today) = match list {
        Ok(l) => l,
        Err(res) => return res,
    };
    let mut res = page(
        &MeasuresPage {
            day: list.day.to_string(),
            today: list.day == today,
            published: list.published_at.map(when).unwrap_or_default(),
            in_force: list
                .in_force
                .iter()
                .map(|m| measure_card(t, &list, m))
                .collect(),
            withdrawn: list
                .withdrawn
                .iter()
                .map(|m| measure_card(t, &list, m))
                .collect(),
            f,
        },
        StatusCode::OK,
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn measures_file(gate: Arc<Gate>, q: MeasuresQuery, csv: bool) -> Response {
    let f = Frame::new(q.lang.as_deref(), "/c/measures", &[]);
    let t = T { zh: true };
    let body = run(&gate, &f, move |hub| {
        let day = day_of(hub, q.date.as_deref())?;
        let list = hub.public_measures(day)?;
        if csv {
            let mut out = Vec::new();
            list.write_csv(&mut out, &|m| benefit_text(t, &m.benefit))
                .map_err(|e| HubError::Internal(format!("writing CSV: {e}")))?;
            Ok(out)
        } else {
            let card = |state: &str, m: &Measure| {
                serde_json::json!({
                    "id": m.id.to_string(),
                    "state": state,
                    "family": m.family,
                    "name_zh": m.name_zh,
                    "name_en": m.name_en,
                    "unit": m.unit,
                    "subjects": m.subjects.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                    "benefit": benefit_text(t, &m.benefit),
                    "limit": m.limit.map(|l| serde_json::json!({"count": l.count, "per": l.per.as_str()})),
                    "valid_from": m.valid_from.to_string(),
                    "valid_until": m.valid_until.to_string(),
                    "withdrawn_on": m.withdrawn_on.map(|d| d.to_string()),
                    "sites": list.sites.get(m.id.as_str()).cloned().unwrap_or_default(),
                })
            };
            let doc = serde_json::json!({
                "date": list.day.to_string(),
                "catalogue_revision": list.revision,
                "published_at": list.published_at.map(|p| p.0),
                "in_force": list.in_force.iter().map(|m| card("in_force", m)).collect::<Vec<_>>(),
                "withdrawn": list.withdrawn.iter().map(|m| card("withdrawn", m)).collect::<Vec<_>>(),
            });
            serde_json::to_vec_pretty(&doc)
                .map_err(|e| HubError::Internal(format!("writing JSON: {e}")))
        }
    })
    .await;
    let body = match body {
        Ok(b) => b,
        Err(res) => return res,
    };
    let kind = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn measures_json(State(gate): State<Arc<Gate>>, Query(q): Query<MeasuresQuery>) -> Response {
    measures_file(gate, q, false).await
}

async fn measures_csv(State(gate): State<Arc<Gate>>, Query(q): Query<MeasuresQuery>) -> Response {
    measures_file(gate, q, true).await
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/citizen.css"),
    )
        .into_response()
}

/// A code as an inline SVG QR code.
fn qr_svg(text: &str) -> String {
    let svg = qrcode::QrCode::new(text.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(280, 280)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    svg.find("<svg")
        .map_or_else(String::new, |i| svg[i..].to_owned())
}

/// Demo mode only: the listed demo people's codes, fresh each minute.
async fn demo(State(gate): State<Arc<Gate>>, Query(q): Query<LangQuery>) -> Response {
    let f = Frame::new(q.lang.as_deref(), "/c/demo", &[]);
    let Some(codes) = gate.hub.demo_codes() else {
        return message(
            f.clone(),
            StatusCode::NOT_FOUND,
            f.t.t("没有此页面", "No such page"),
            f.t.t(
                "只有演示模式的登记中心提供演示码。",
                "Only a demo registry shows demo codes.",
            )
            .to_owned(),
        );
    };
    let t = f.t;
    let mut res = page(
        &DemoPage {
            at: when(gate.hub.now()),
            codes: codes
                .into_iter()
                .map(|c| {
                    (
                        t.t(&c.label_zh, &c.label_en).to_owned(),
                        qr_svg(&c.text),
                        c.text,
                    )
                })
                .collect(),
            f,
        },
        StatusCode::OK,
    );
    // Refreshed by the page itself (no scripts): a code lives two minutes.
    res.headers_mut()
        .insert("refresh", HeaderValue::from_static("60"));
    res
}

/// The citizens' routes, served by the API's router.
pub(crate) fn routes() -> Router<Arc<Gate>> {
    Router::new()
        .route("/c", get(index))
        .route("/c/", get(index))
        .route("/c/static/citizen.css", get(stylesheet))
        .route(
            "/c/static/NotoSansSC-Regular.ttf",
            get(super::console::pages::font),
        )
        .route("/c/objection", get(objection_page).post(file_objection))
        .route("/c/complaint", get(complaint_page).post(file_complaint))
        .route("/c/case", get(case_page).post(case_status))
        .route("/c/measures", get(measures))
        .route("/c/measures.json", get(measures_json))
        .route("/c/measures.csv", get(measures_csv))
        .route("/c/demo", get(demo))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::middleware::from_fn(super::console::harden))
}
