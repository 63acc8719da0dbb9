//! The console's pages.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::db::params;
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Multipart, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use xinyi_core::Date;
use xinyi_core::listing::{ImportReport, ImportSummary, RowError};
use xinyi_core::time::UTC8_OFFSET_S;

use super::view::{self, Page, What, when, yuan};
use super::{
    ConsoleState, Ctx, Fail, LANG_COOKIE, MAX_CONSOLE_UPLOAD, Pending, SESSION_COOKIE,
    SIGNIN_COOKIE, blocking, cookie, same, set_cookie,
};
use crate::accounts::{NewUser, Role, SignInError};
use crate::audit::{Actor, AuditCheck, AuditQuery, mask_id_number};
use crate::error::HubError;
use crate::hub::Hub;
use crate::people::{Activity, LookUp, Subject};
use crate::reports::{ReportKind, csv_field};

pub(super) type S = State<Arc<ConsoleState>>;

/// A terminal heard from this recently (seconds) is online.
const ONLINE_WITHIN_S: i64 = 15 * 60;
/// A terminal whose clock is off by more than this (seconds) is flagged.
const CLOCK_WARN_S: i64 = 60;
/// A terminal not heard from this long (seconds) is stale.
const STALE_AFTER_S: i64 = 24 * 3600;

pub(super) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            Fail::Internal.into_response()
        }
    }
}

pub(super) fn page(ctx: &Ctx, nav: &'static str) -> Page {
    Page {
        t: ctx.t,
        user: ctx.session.user.clone(),
        role: ctx.session.role,
        scope: ctx.session.scope.clone(),
        csrf: ctx.session.csrf.clone(),
        nav,
        flash: None,
    }
}

pub(super) fn actor(ctx: &Ctx) -> Actor {
    Actor::User(ctx.session.user.clone())
}

/// The address a request came from, for the audit log.
pub(super) struct PeerIp(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<PeerIp, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string()),
        ))
    }
}

pub(super) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../assets/console.css"),
    )
        .into_response()
}

/// The kiosk's Noto Sans SC subset (GB 2312 and more), so Chinese shows
/// on an office PC without a CJK font.
pub(crate) async fn font() -> Response {
    (
        [
            (header::CONTENT_TYPE, "font/ttf"),
            (header::CACHE_CONTROL, "public, max-age=604800, immutable"),
        ],
        super::chart::FONT,
    )
        .into_response()
}

pub(super) async fn not_found(uri: OriginalUri) -> Fail {
    Fail::NotFound(uri.0.path().to_owned())
}

// ---- signing in ----------------------------------------------------------

pub(super) async fn signin_page(State(st): S, headers: HeaderMap) -> Result<Response, Fail> {
    let token = xinyi_core::hex::encode(&crate::keys::random_32()?);
    let mut res = render(&view::Login {
        t: super::lang(&headers),
        csrf: token.clone(),
        error: None,
    });
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGNIN_COOKIE, &token, Some(3600), st.secure),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn signin(
    State(st): S,
    headers: HeaderMap,
    PeerIp(from): PeerIp,
    Form(f): Form<SignInForm>,
) -> Result<Response, Fail> {
    let expected = cookie(&headers, SIGNIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &f.csrf) {
        return Err(Fail::Csrf);
    }
    let t = super::lang(&headers);
    let name = f.name.trim().to_owned();
    let outcome = blocking(&st.hub, move |hub| hub.sign_in(&name, &f.password, &from)).await?;
    match outcome {
        Ok((token, _)) => {
            let mut res = Redirect::to("/").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &token, None, st.secure),
            );
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(SIGNIN_COOKIE, "", Some(0), st.secure),
            );
            Ok(res)
        }
        Err(e) => {
            let error = match e {
                SignInError::Wrong => t
                    .t("账户或密码错误", "Wrong account or password")
                    .to_owned(),
                SignInError::Disabled => t.t("此账户已停用", "This account is disabled").to_owned(),
                SignInError::Locked(until) => format!(
                    "{} {}",
                    t.t(
                        "连续登录失败次数过多，账户已锁定至",
                        "Too many failed sign-ins: the account is shut until"
                    ),
                    when(until)
                ),
            };
            let mut res = render(&view::Login {
                t,
                csrf: expected,
                error: Some(error),
            });
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(res)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn signout(
    State(st): S,
    headers: HeaderMap,
    ctx: Ctx,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Fail> {
    ctx.csrf(&f.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        blocking(&st.hub, move |hub| hub.sign_out(&token)).await?;
    }
    let mut res = Redirect::to("/signin").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), st.secure),
    );
    Ok(res)
}

pub(super) async fn set_lang(State(st): S, Path(to): Path<String>) -> Response {
    let value = if to == "en" { "en" } else { "zh" };
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LANG_COOKIE, value, Some(365 * 86_400), st.secure),
    );
    res
}

// ---- overview ------------------------------------------------------------

/// The unit an operator's pages are limited to.
pub(super) fn unit_of(ctx: &Ctx) -> Option<String> {
    (ctx.session.role == Role::Operator)
        .then(|| ctx.session.scope.clone())
        .flatten()
}

fn fleet(hub: &Hub, unit: Option<&str>) -> Result<view::Fleet, HubError> {
    let now = hub.now();
    let sites: Vec<String> = hub
        .sites()?
        .into_iter()
        .filter(|s| unit.is_none_or(|u| s.unit == u))
        .map(|s| s.id)
        .collect();
    let mut f = view::Fleet::default();
    for t in hub.terminals()? {
        if !sites.contains(&t.site) {
            continue;
        }
        if t.revoked() {
            f.revoked += 1;
        } else {
            match t.last_seen_at {
                Some(s) if now.0 - s.0 <= ONLINE_WITHIN_S => f.online += 1,
                Some(s) if now.0 - s.0 <= STALE_AFTER_S => {}
                _ => f.stale += 1,
            }
        }
    }
    Ok(f)
}

/// Redemptions (not voided) and refusals per UTC+8 day from `from_day`
/// on, optionally of one unit.
fn per_day(
    hub: &Hub,
    from_day: &str,
    unit: Option<&str>,
) -> Result<BTreeMap<String, (u64, u64)>, HubError> {
    hub.db().read(|tx| {
        let from: Date = from_day
            .parse()
            .map_err(|_| HubError::Invalid(format!("not a day: {from_day:?}")))?;
        let mut stmt = tx.prepare(
            "SELECT (at + ?1) / 86400 AS day,
                    SUM(CASE WHEN kind = 'redemption' AND voided_by IS NULL THEN 1 ELSE 0 END),
                    SUM(CASE WHEN kind = 'refusal' THEN 1 ELSE 0 END)
             FROM records
             WHERE at >= ?2 AND (CAST(?3 AS TEXT) IS NULL OR unit = ?3)
             GROUP BY day",
        )?;
        let mut out = BTreeMap::new();
        let mut rows = stmt.query(params![UTC8_OFFSET_S, from.start_utc8().0, unit])?;
        while let Some(r) = rows.next()? {
            let day = Date::from_days(r.get(0)?).to_string();
            let red: i64 = r.get::<_, Option<i64>>(1)?.unwrap_or(0);
            let refu: i64 = r.get::<_, Option<i64>>(2)?.unwrap_or(0);
            out.insert(
                day,
                (
                    u64::try_from(red).unwrap_or(0),
                    u64::try_from(refu).unwrap_or(0),
                ),
            );
        }
        Ok(out)
    })
}

/// The last `n` days (UTC+8), oldest first.
fn last_days(hub: &Hub, n: i64) -> Vec<String> {
    let today = hub.now().0;
    (0..n)
        .rev()
        .map(|back| {
            xinyi_core::UnixTime(today - back * 86_400)
                .date_utc8()
                .to_string()
        })
        .collect()
}

pub(super) async fn overview(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let cases = page(&ctx, "overview").may_cases();
    let (version, fleet, today, chart, open_cases) = blocking(&st.hub, move |hub| {
        let version = hub.current_version()?;
        let open_cases = if cases {
            Some(hub.case_counts(unit.as_deref())?)
        } else {
            None
        };
        let chart = chart_30d_svg(hub, unit.as_deref(), t)?;
        let fleet = fleet(hub, unit.as_deref())?;
        let today = hub.today().to_string();
        let counts = per_day(hub, &today, unit.as_deref())?;
        let (redemptions, refusals) = counts.get(&today).copied().unwrap_or((0, 0));
        Ok((
            version,
            fleet,
            view::Today {
                redemptions,
                refusals,
            },
            chart,
            open_cases,
        ))
    })
    .await?;
    Ok(render(&view::Overview {
        page: page(&ctx, "overview"),
        version: version.as_ref().map(view::Version::from),
        fleet,
        today,
        chart: inline(&chart),
        cases: open_cases,
    }))
}

/// A chart's SVG to place inside a page: without the XML prologue.
fn inline(svg: &str) -> String {
    svg.find("<svg")
        .map_or_else(String::new, |i| svg[i..].to_owned())
}

fn svg(body: String, download: Option<&str>) -> Response {
    let mut res = (
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        body,
    )
        .into_response();
    if let Some(name) = download
        && let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
    {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn chart_30d_svg(hub: &Hub, unit: Option<&str>, t: view::T) -> Result<String, HubError> {
    let days = last_days(hub, 30);
    let counts = per_day(hub, &days[0], unit)?;
    let pick = |f: fn(&(u64, u64)) -> u64| -> Vec<u64> {
        days.iter().map(|d| counts.get(d).map_or(0, f)).collect()
    };
    let series = [
        super::chart::Series {
            name: t.t("享受", "redemptions").into(),
            values: pick(|c| c.0),
        },
        super::chart::Series {
            name: t.t("拒绝", "refusals").into(),
            values: pick(|c| c.1),
        },
    ];
    let labels: Vec<String> = days
        .iter()
        .map(|d| d.get(5..).unwrap_or(d).to_owned())
        .collect();
    super::chart::lines(
        t.t("近30天（UTC+8）", "Last 30 days (UTC+8)"),
        t.t("次数", "count"),
        &labels,
        &series,
    )
    .map_err(HubError::Internal)
}

fn usage_svg(hub: &Hub, unit: Option<&str>, t: view::T) -> Result<String, HubError> {
    let rows: Vec<_> = hub
        .usage_report()?
        .into_iter()
        .filter(|r| unit.is_none_or(|u| r.unit == u))
        .collect();
    let mut days: Vec<String> = rows.iter().map(|r| r.day.clone()).collect();
    days.sort();
    days.dedup();
    // The last 60 days that have any use.
    let days: Vec<String> = days.iter().rev().take(60).rev().cloned().collect();
    let mut per: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &rows {
        if let Some(i) = days.iter().position(|d| *d == r.day) {
            let v = per
                .entry(r.measure.clone())
                .or_insert_with(|| vec![0; days.len()]);
            v[i] += r.redemptions;
        }
    }
    let series: Vec<_> = per
        .into_iter()
        .map(|(name, values)| super::chart::Series { name, values })
        .collect();
    let labels: Vec<String> = days
        .iter()
        .map(|d| d.get(5..).unwrap_or(d).to_owned())
        .collect();
    super::chart::lines(
        t.t("每日享受次数（按措施）", "Redemptions per day, by measure"),
        t.t("次数", "uses"),
        &labels,
        &series,
    )
    .map_err(HubError::Internal)
}

fn refusals_svg(hub: &Hub, unit: Option<&str>, t: view::T) -> Result<String, HubError> {
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    for r in refusals(hub, unit)? {
        *per.entry(r.reason).or_default() += r.count;
    }
    let bars: Vec<(String, u64)> = per.into_iter().collect();
    super::chart::bars(
        t.t("拒绝原因", "Refusals by reason"),
        t.t("次数", "count"),
        &bars,
    )
    .map_err(HubError::Internal)
}

pub(super) async fn chart_30d(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let body = blocking(&st.hub, move |hub| chart_30d_svg(hub, unit.as_deref(), t)).await?;
    Ok(svg(body, Some("last-30-days.svg")))
}

pub(super) async fn chart_30d_png(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let body = blocking(&st.hub, move |hub| chart_30d_svg(hub, unit.as_deref(), t)).await?;
    png(&body, "last-30-days.png")
}

/// A chart as a PNG download.
fn png(svg: &str, name: &str) -> Result<Response, Fail> {
    let bytes = super::chart::png(svg).map_err(|e| {
        tracing::error!(error = %e, "a chart could not be drawn as PNG");
        Fail::Internal
    })?;
    let mut res = ([(header::CONTENT_TYPE, "image/png")], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

// ---- lists ---------------------------------------------------------------

const LIST_READERS: &[Role] = &[Role::Admin, Role::Reviewer, Role::Submitter, Role::Auditor];
const LIST_SUBMITTERS: &[Role] = &[Role::Admin, Role::Submitter];

fn history(hub: &Hub, source: Option<&str>) -> Result<Vec<view::HistoryRow>, HubError> {
    hub.db().read(|tx| {
        let mut stmt = tx.prepare(
            "SELECT id, at, source, what, file_name, rows, outcome, errors, version, summary, by_user
             FROM submissions WHERE CAST(?1 AS TEXT) IS NULL OR source = ?1 ORDER BY id DESC LIMIT 200",
        )?;
        let rows = stmt
            .query_map([source], |r| {
                Ok(view::HistoryRow {
                    id: r.get(0)?,
                    at: when(xinyi_core::UnixTime(r.get(1)?)),
                    source: r.get(2)?,
                    what: r.get(3)?,
                    file_name: r.get(4)?,
                    rows: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                    outcome: r.get(6)?,
                    errors: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                    version: r
                        .get::<_, Option<i64>>(8)?
                        .and_then(|v| u64::try_from(v).ok()),
                    summary: r.get(9)?,
                    by_user: r.get(10)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

fn sources(hub: &Hub, only: Option<&str>) -> Result<Vec<view::SourceRow>, HubError> {
    let today = hub.today().to_string();
    hub.db().read(|tx| {
        let mut stmt = tx.prepare(
            "SELECT s.source,
                    (SELECT COUNT(*) FROM listings l WHERE l.source = s.source),
                    (SELECT COUNT(*) FROM listings l WHERE l.source = s.source AND l.withdrawn = 0
                        AND l.recognised_on <= ?1 AND l.valid_until >= ?1),
                    (SELECT COUNT(*) FROM submissions m WHERE m.source = s.source)
             FROM (SELECT source FROM listings UNION SELECT source FROM submissions) s
             WHERE CAST(?2 AS TEXT) IS NULL OR s.source = ?2
             ORDER BY s.source",
        )?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let rows = stmt
            .query_map(params![today, only], |r| {
                Ok(view::SourceRow {
                    source: r.get(0)?,
                    listings: n(r.get(1)?),
                    in_force: n(r.get(2)?),
                    submissions: n(r.get(3)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

fn exclusions(hub: &Hub) -> Result<Vec<view::ExclusionRow>, HubError> {
    hub.db().read(|tx| {
        let mut stmt = tx.prepare(
            "SELECT sub, recorded_on, until, withdrawn_on, repair_ref FROM exclusions
             ORDER BY recorded_on DESC LIMIT 500",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let sub: String = r.get(0)?;
                let withdrawn_on: Option<String> = r.get(3)?;
                let repair_ref: Option<String> = r.get(4)?;
                Ok(view::ExclusionRow {
                    who: sub.chars().take(12).collect::<String>() + "…",
                    recorded_on: r.get(1)?,
                    until: r.get(2)?,
                    withdrawn: withdrawn_on
                        .map(|on| format!("{on} ({})", repair_ref.unwrap_or_default())),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

async fn lists_page(
    st: &Arc<ConsoleState>,
    ctx: &Ctx,
    source: Option<String>,
) -> Result<Response, Fail> {
    ctx.allow(LIST_READERS)?;
    // A department's submitter sees its own department only.
    let scope = match ctx.session.role {
        Role::Submitter => {
            let own = ctx.session.scope.clone();
            if let Some(s) = &source
                && own.as_deref() != Some(s.as_str())
            {
                return Err(Fail::Forbidden(format!(
                    "this account submits for {}, not for {s}",
                    own.unwrap_or_default()
                )));
            }
            own
        }
        _ => source.clone(),
    };
    let show_exclusions = matches!(
        ctx.session.role,
        Role::Admin | Role::Reviewer | Role::Auditor
    ) && source.is_none();
    let (sources, history, exclusions) = blocking(&st.hub, move |hub| {
        Ok((
            sources(hub, scope.as_deref())?,
            history(hub, scope.as_deref())?,
            if show_exclusions {
                exclusions(hub)?
            } else {
                Vec::new()
            },
        ))
    })
    .await?;
    Ok(render(&view::Lists {
        page: page(ctx, "lists"),
        source,
        may_submit: LIST_SUBMITTERS.contains(&ctx.session.role),
        sources,
        history,
        exclusions,
    }))
}

pub(super) async fn lists(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    lists_page(&st, &ctx, None).await
}

pub(super) async fn lists_of_source(
    State(st): S,
    ctx: Ctx,
    Path(source): Path<String>,
) -> Result<Response, Fail> {
    lists_page(&st, &ctx, Some(source)).await
}

/// The rows of a file whose `source` is not `scope`, as row errors; and
/// the file's departments.
fn foreign_rows(bytes: &[u8], scope: Option<&str>) -> (Vec<RowError>, Vec<String>, u64) {
    let Ok(records) = xinyi_core::csv::records(bytes) else {
        return (Vec::new(), Vec::new(), 0);
    };
    let mut it = records.iter();
    let Some(head) = it.next() else {
        return (Vec::new(), Vec::new(), 0);
    };
    let rows = u64::try_from(records.len().saturating_sub(1)).unwrap_or(0);
    let Some(col) = head.fields.iter().position(|f| f.as_slice() == b"source") else {
        return (Vec::new(), Vec::new(), rows);
    };
    let mut errors = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for r in it {
        let Some(v) = r.fields.get(col) else { continue };
        let v = String::from_utf8_lossy(v).trim().to_owned();
        if v.is_empty() {
            continue;
        }
        if let Some(own) = scope
            && v != own
        {
            errors.push(RowError {
                line: r.line,
                column: Some("source".into()),
                reason: format!("this account submits for {own} only, not for {v}"),
            });
        }
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    (errors, seen, rows)
}

fn record_submission(hub: &Hub, s: &SubmissionRecord<'_>) -> Result<(), HubError> {
    let now = hub.now();
    let sha = xinyi_core::hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(s.bytes));
    hub.db().write(|tx| {
        tx.execute(
            "INSERT INTO submissions (what, source, by_user, at, file_sha256, file_name, rows,
                outcome, errors, version, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                s.what.as_str(),
                s.source,
                s.user,
                now.0,
                sha,
                s.file_name,
                i64::try_from(s.rows).unwrap_or(i64::MAX),
                s.outcome,
                i64::try_from(s.errors).unwrap_or(i64::MAX),
                s.version.and_then(|v| i64::try_from(v).ok()),
                s.summary
            ],
        )?;
        crate::audit::append(
            tx,
            now,
            &Actor::User(s.user.to_owned()),
            &format!("{}.{}", s.what.as_str(), s.outcome),
            s.source,
            &format!(
                "{} ({} rows, sha256 {}): {}",
                s.file_name,
                s.rows,
                &sha[..16],
                s.summary
            ),
        )
    })
}

struct SubmissionRecord<'a> {
    what: What,
    source: &'a str,
    user: &'a str,
    file_name: &'a str,
    bytes: &'a [u8],
    rows: u64,
    outcome: &'a str,
    errors: u64,
    version: Option<u64>,
    summary: &'a str,
}

fn summary_text(s: &ImportSummary) -> String {
    s.to_string()
}

pub(super) async fn lists_check(
    State(st): S,
    ctx: Ctx,
    mut form: Multipart,
) -> Result<Response, Fail> {
    ctx.allow(LIST_SUBMITTERS)?;
    let mut csrf = String::new();
    let mut what = What::Listings;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Fail::Bad(format!("the upload could not be read: {e}")))?
    {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.map_err(|e| Fail::Bad(e.to_string()))?,
            "what" => {
                let v = field.text().await.map_err(|e| Fail::Bad(e.to_string()))?;
                what = match v.as_str() {
                    "listings" => What::Listings,
                    "exclusions" => What::Exclusions,
                    other => return Err(Fail::Bad(format!("no list kind {other:?}"))),
                };
            }
            "file" => {
                let name = field
                    .file_name()
                    .map(crate::admin::printable)
                    .unwrap_or_else(|| "upload.csv".into());
                let bytes = field.bytes().await.map_err(|e| {
                    Fail::Bad(format!(
                        "the file could not be read (at most {MAX_CONSOLE_UPLOAD} bytes through the console): {e}"
                    ))
                })?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    ctx.csrf(&csrf)?;
    let Some((file_name, bytes)) = file else {
        return Err(Fail::Bad("no file was uploaded".into()));
    };
    if bytes.len() > MAX_CONSOLE_UPLOAD {
        return Err(Fail::Bad(format!(
            "the file has {} bytes; the console takes at most {MAX_CONSOLE_UPLOAD} (use `xinyi-hub import`)",
            bytes.len()
        )));
    }
    let scope = (ctx.session.role == Role::Submitter)
        .then(|| ctx.session.scope.clone())
        .flatten();
    let user = ctx.session.user.clone();
    let outcome = {
        let bytes = bytes.clone();
        let file_name = file_name.clone();
        blocking(&st.hub, move |hub| {
            let (foreign, found, rows) = foreign_rows(&bytes, scope.as_deref());
            let source = scope
                .clone()
                .or_else(|| (found.len() == 1).then(|| found[0].clone()))
                .unwrap_or_else(|| {
                    if found.is_empty() {
                        "—".into()
                    } else {
                        found.join("+")
                    }
                });
            let checked = match what {
                What::Listings => hub.check_listings_file(&bytes),
                What::Exclusions => hub.check_exclusions_file(&bytes),
            };
            let (mut errors, summary) = match checked {
                Ok(s) => (Vec::new(), s),
                Err(HubError::Rejected(ImportReport { errors })) => {
                    (errors, ImportSummary::default())
                }
                Err(e) => return Err(e),
            };
            errors.extend(foreign);
            errors.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.column.cmp(&b.column)));
            if !errors.is_empty() {
                let bad_lines = errors
                    .iter()
                    .map(|e| e.line)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len();
                record_submission(
                    hub,
                    &SubmissionRecord {
                        what,
                        source: &source,
                        user: &user,
                        file_name: &file_name,
                        bytes: &bytes,
                        rows,
                        outcome: "rejected",
                        errors: u64::try_from(errors.len()).unwrap_or(0),
                        version: None,
                        summary: &format!("{bad_lines} bad line(s)"),
                    },
                )?;
            }
            Ok((errors, summary, source, rows))
        })
        .await?
    };
    let (errors, summary, source, rows) = outcome;
    let bad_lines = errors
        .iter()
        .map(|e| e.line)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let pending = if errors.is_empty() {
        let token = xinyi_core::hex::encode(&crate::keys::random_32()?);
        st.hold(
            token.clone(),
            Pending {
                user: ctx.session.user.clone(),
                what,
                source,
                file_name: file_name.clone(),
                rows,
                bytes,
                since: std::time::Instant::now(),
            },
        );
        token
    } else {
        String::new()
    };
    let mut res = render(&view::Check {
        page: page(&ctx, "lists"),
        file_name,
        errors,
        bad_lines,
        summary,
        pending,
    });
    if bad_lines > 0 {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pending: String,
}

pub(super) async fn lists_confirm(
    State(st): S,
    ctx: Ctx,
    Form(f): Form<ConfirmForm>,
) -> Result<Response, Fail> {
    ctx.allow(LIST_SUBMITTERS)?;
    ctx.csrf(&f.csrf)?;
    let Some(p) = st.take(&f.pending, &ctx.session.user) else {
        return Err(Fail::Bad(
            "this check has expired or was already imported: upload the file again".into(),
        ));
    };
    let user = ctx.session.user.clone();
    let t = ctx.t;
    let (version, summary) = blocking(&st.hub, move |hub| {
        let (summary, published) = match p.what {
            What::Listings => {
                let r = hub.import_listings(&p.bytes)?;
                (r.summary, r.published)
            }
            What::Exclusions => {
                let r = hub.import_exclusions(&p.bytes)?;
                (r.summary, r.published)
            }
        };
        let outcome = if published.new_version {
            "imported"
        } else {
            "unchanged"
        };
        let text = summary_text(&summary);
        record_submission(
            hub,
            &SubmissionRecord {
                what: p.what,
                source: &p.source,
                user: &user,
                file_name: &p.file_name,
                bytes: &p.bytes,
                rows: p.rows,
                outcome,
                errors: 0,
                version: Some(published.version),
                summary: &text,
            },
        )?;
        Ok((published.version, text))
    })
    .await?;
    let mut pg = page(&ctx, "lists");
    pg.flash = Some(format!(
        "{} {version} · {summary}",
        t.t("已导入，当前数据版本", "Imported; the data version is now")
    ));
    Ok(render(&view::Message {
        page: pg,
        heading: t.t("导入完成", "Imported").into(),
        message: format!(
            "{} {version}",
            t.t(
                "终端将在下次同步时收到数据版本",
                "Terminals receive data version"
            )
        ),
        back: "/lists",
    }))
}

// ---- sites and terminals ---------------------------------------------------

pub(super) const SITE_READERS: &[Role] =
    &[Role::Admin, Role::Reviewer, Role::Operator, Role::Auditor];
const SITE_MANAGERS: &[Role] = &[Role::Admin, Role::Operator];

/// Refuses an operator acting on a site of another unit.
pub(super) fn own_site(hub: &Hub, unit: Option<&str>, site: &str) -> Result<(), HubError> {
    let Some(unit) = unit else { return Ok(()) };
    let ok = hub.sites()?.iter().any(|s| s.id == site && s.unit == unit);
    if ok {
        Ok(())
    } else {
        Err(HubError::NotFound {
            what: "site",
            id: site.to_owned(),
            hint: " of this account's unit",
        })
    }
}

/// A terminal of a site of the account's unit (any, for the credit office).
pub(super) fn own_terminal(
    hub: &Hub,
    unit: Option<&str>,
    id: &str,
) -> Result<crate::TerminalInfo, HubError> {
    let tm = hub.terminal(id)?.ok_or_else(|| HubError::NotFound {
        what: "terminal",
        id: id.to_owned(),
        hint: "",
    })?;
    own_site(hub, unit, &tm.site)?;
    Ok(tm)
}

#[derive(Deserialize)]
pub(super) struct SitesQuery {
    edit: Option<String>,
}

pub(super) async fn sites(
    State(st): S,
    ctx: Ctx,
    Query(q): Query<SitesQuery>,
) -> Result<Response, Fail> {
    ctx.allow(SITE_READERS)?;
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let edit = q.edit.filter(|_| ctx.session.role == Role::Admin);
    let form = match edit {
        Some(id) => {
            blocking(&st.hub, move |hub| {
                let s = hub
                    .sites()?
                    .into_iter()
                    .find(|s| s.id == id)
                    .ok_or_else(|| HubError::NotFound {
                        what: "site",
                        id,
                        hint: "",
                    })?;
                Ok(view::SiteFormValues {
                    open: true,
                    measures: s.measures.join(" "),
                    max_offline_hours: (s.max_offline_age_s / 3600).to_string(),
                    online_deadline_ms: s.online_deadline_ms.to_string(),
                    void_window_minutes: (s.void_window_s / 60).to_string(),
                    objection_url: s.objection_url.unwrap_or_default(),
                    complaint_url: s.complaint_url.unwrap_or_default(),
                    unattended: s.unattended,
                    no_holder_check: !s.check_holder,
                    id: s.id,
                    name: s.name,
                    unit: s.unit,
                })
            })
            .await?
        }
        None => view::SiteFormValues::default(),
    };
    let (sites, terminals) = blocking(&st.hub, move |hub| {
        let now = hub.now();
        let sites: Vec<_> = hub
            .sites()?
            .into_iter()
            .filter(|s| unit.as_deref().is_none_or(|u| s.unit == u))
            .collect();
        let integrity: BTreeMap<String, crate::reports::IntegrityRow> = hub
            .integrity_report()?
            .into_iter()
            .map(|r| (r.terminal.clone(), r))
            .collect();
        let overused: std::collections::BTreeSet<String> = hub
            .overuse_report()?
            .into_iter()
            .flat_map(|r| r.terminals)
            .collect();
        let staff = hub.staff_counts(xinyi_core::UnixTime(
            now.0 - super::staff::STAFF_DAYS * 86_400,
        ))?;
        let terminals = hub
            .terminals()?
            .into_iter()
            .filter(|tm| sites.iter().any(|s| s.id == tm.site))
            .map(|tm| {
                let (state, state_text) = if tm.revoked() {
                    ("revoked", t.t("已吊销", "revoked"))
                } else {
                    match tm.last_seen_at {
                        Some(s) if now.0 - s.0 <= ONLINE_WITHIN_S => {
                            ("online", t.t("在线", "online"))
                        }
                        Some(s) if now.0 - s.0 <= STALE_AFTER_S => {
                            ("quiet", t.t("近一天内联系", "heard today"))
                        }
                        _ => ("stale", t.t("失联超过一天", "silent over a day")),
                    }
                };
                let i = integrity.get(&tm.id);
                let mut flags = Vec::new();
                if let Some(i) = i {
                    if i.gaps > 0 {
                        flags.push(format!("{} {}", t.t("记录缺口", "gaps"), i.gaps));
                    }
                    let bad = i.rejected_bad_signature
                        + i.rejected_broken_chain
                        + i.rejected_conflict
                        + i.rejected_malformed;
                    if bad > 0 {
                        flags.push(format!("{} {bad}", t.t("被拒上传", "refused uploads")));
                    }
                    if i.flagged > 0 {
                        flags.push(format!("{} {}", t.t("可疑记录", "flagged"), i.flagged));
                    }
                }
                if tm.clock_offset_s.is_some_and(|o| o.abs() > CLOCK_WARN_S) {
                    flags.push(t.t("时钟偏差", "clock off").into());
                }
                if overused.contains(&tm.id) {
                    flags.push(t.t("超限使用", "over-use").into());
                }
                let (members, _, lockouts) = staff.get(&tm.id).copied().unwrap_or_default();
                if lockouts > 0 {
                    flags.push(format!("{} {lockouts}", t.t("工号锁定", "lock-outs")));
                }
                view::TerminalRow {
                    id: tm.id.clone(),
                    label: tm.label.clone(),
                    site: tm.site.clone(),
                    enrolled_at: when(tm.enrolled_at),
                    last_seen: tm.last_seen_at.map(when).unwrap_or_else(|| "—".into()),
                    state,
                    state_text,
                    records: i.map_or(0, |i| i.records),
                    data_version: tm.data_version.map(|v| v.to_string()).unwrap_or_default(),
                    not_uploaded: tm.not_uploaded().map(|n| n.to_string()).unwrap_or_default(),
                    clock_offset: tm
                        .clock_offset_s
                        .map(|o| format!("{o:+}"))
                        .unwrap_or_default(),
                    app_version: tm.app_version.clone().unwrap_or_default(),
                    staff: members,
                    flags: flags.join(" · "),
                }
            })
            .collect();
        let public = hub.public_url();
        let sites = sites
            .into_iter()
            .map(|s| {
                let own = (s.objection_url.is_some(), s.complaint_url.is_some());
                (crate::channels::published(s, public.as_deref()), own)
            })
            .map(|(s, (own_objection, own_complaint))| view::SiteRow {
                objection_url: s.objection_url.unwrap_or_default(),
                own_objection,
                complaint_url: s.complaint_url.unwrap_or_default(),
                own_complaint,
                id: s.id,
                name: s.name,
                unit: s.unit,
                measures: s.measures.join(", "),
                offline_hours: s.max_offline_age_s / 3600,
                online_deadline_ms: s.online_deadline_ms,
                check_holder: s.check_holder,
            })
            .collect();
        Ok((sites, terminals))
    })
    .await?;
    let measure_ids = blocking(&st.hub, |hub| {
        Ok(hub
            .catalogue()?
            .map(|c| c.measures().iter().map(|m| m.id.to_string()).collect())
            .unwrap_or_default())
    })
    .await?;
    Ok(render(&view::Sites {
        page: page(&ctx, "sites"),
        may_manage: SITE_MANAGERS.contains(&ctx.session.role),
        may_add: ctx.session.role == Role::Admin,
        measure_ids,
        sites,
        terminals,
        form,
    }))
}

#[derive(Deserialize)]
pub(super) struct SiteForm {
    csrf: String,
    id: String,
    name: String,
    unit: String,
    /// Measure ids, separated by commas or spaces.
    measures: String,
    #[serde(default)]
    max_offline_hours: String,
    #[serde(default)]
    online_deadline_ms: String,
    #[serde(default)]
    void_window_minutes: String,
    unattended: Option<String>,
    no_holder_check: Option<String>,
    /// The site's own channel addresses; blank: the registry's pages.
    #[serde(default)]
    objection_url: String,
    #[serde(default)]
    complaint_url: String,
}

/// An optional whole-number field: empty is the default.
fn optional_number<T: std::str::FromStr>(field: &str, v: &str) -> Result<Option<T>, Fail> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| Fail::Bad(format!("{field}: {v:?} is not a whole number")))
}

/// The credit office adds a site or changes one (same id).
pub(super) async fn put_site(
    State(st): S,
    ctx: Ctx,
    Form(f): Form<SiteForm>,
) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    ctx.csrf(&f.csrf)?;
    let t = ctx.t;
    let spec = crate::admin::SiteSpec {
        id: f.id.trim().to_owned(),
        name: f.name.trim().to_owned(),
        unit: f.unit.trim().to_owned(),
        measures: f
            .measures
            .split(|c: char| c == ',' || c == '，' || c.is_whitespace())
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        max_offline_hours: optional_number("max_offline_hours", &f.max_offline_hours)?,
        void_window_minutes: optional_number("void_window_minutes", &f.void_window_minutes)?,
        unattended: f.unattended.is_some(),
        online_deadline_ms: optional_number("online_deadline_ms", &f.online_deadline_ms)?,
        no_holder_check: f.no_holder_check.is_some(),
        objection_url: Some(f.objection_url),
        complaint_url: Some(f.complaint_url),
    };
    let who = actor(&ctx);
    let id = spec.id.clone();
    let published = blocking(&st.hub, move |hub| {
        let p = hub.add_site(&spec)?;
        hub.audit(
            &who,
            "site.set",
            &spec.id,
            &format!(
                "{} · {} · measures {}{}; data version {}",
                spec.name,
                spec.unit,
                spec.measures.join(" "),
                spec.channels_note(),
                p.version
            ),
        )?;
        Ok(p)
    })
    .await?;
    let mut pg = page(&ctx, "sites");
    pg.flash = Some(format!(
        "{} {id}，{} {}",
        t.t("已保存站点", "Saved site"),
        t.t("数据版本", "data version"),
        published.version
    ));
    Ok(render(&view::Message {
        page: pg,
        heading: t.t("站点", "Sites").into(),
        message: String::new(),
        back: "/sites",
    }))
}

pub(super) async fn enroll_code(
    State(st): S,
    ctx: Ctx,
    Path(site): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Fail> {
    ctx.allow(SITE_MANAGERS)?;
    ctx.csrf(&f.csrf)?;
    let unit = unit_of(&ctx);
    let who = actor(&ctx);
    let (code, fingerprint) = blocking(&st.hub, move |hub| {
        own_site(hub, unit.as_deref(), &site)?;
        let code = hub.create_enrollment_code(&site, None)?;
        hub.audit(
            &who,
            "enroll.code",
            &site,
            &format!("a one-time code, valid until {}", when(code.expires_at)),
        )?;
        Ok((code, hub.registry_fingerprint().to_string()))
    })
    .await?;
    let qr = qrcode::QrCode::new(code.code.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    let qr = inline(&qr);
    Ok(render(&view::Enroll {
        page: page(&ctx, "sites"),
        site: code.site,
        code: code.code,
        expires: when(code.expires_at),
        qr,
        fingerprint,
    }))
}

pub(super) async fn revoke(
    State(st): S,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Fail> {
    ctx.allow(SITE_MANAGERS)?;
    ctx.csrf(&f.csrf)?;
    let unit = unit_of(&ctx);
    let who = actor(&ctx);
    let t = ctx.t;
    let shown = id.clone();
    let newly = blocking(&st.hub, move |hub| {
        let tm = own_terminal(hub, unit.as_deref(), &id)?;
        let newly = hub.revoke_terminal(&tm.id)?;
        if newly {
            hub.audit(
                &who,
                "terminal.revoke",
                &tm.id,
                &format!("site {}", tm.site),
            )?;
        }
        Ok(newly)
    })
    .await?;
    let mut pg = page(&ctx, "sites");
    pg.flash = Some(if newly {
        format!("{} {shown}", t.t("已吊销终端", "Revoked terminal"))
    } else {
        format!("{} {shown}", t.t("终端早已吊销：", "Already revoked:"))
    });
    Ok(render(&view::Message {
        page: pg,
        heading: t.t("终端已吊销", "Terminal revoked").into(),
        message: t
            .t(
                "该终端下次联系登记中心时将清除其数据，且不能再上传或下载。",
                "At its next contact the terminal wipes its data; it can no longer upload or download.",
            )
            .into(),
        back: "/sites",
    }))
}

// ---- reports -------------------------------------------------------------

const REPORT_READERS: &[Role] = &[Role::Admin, Role::Reviewer, Role::Operator, Role::Auditor];

fn refusals(hub: &Hub, unit: Option<&str>) -> Result<Vec<view::RefusalLine>, HubError> {
    hub.db().read(|tx| {
        let mut stmt = tx.prepare(
            "SELECT COALESCE(reason, ''), site, COUNT(*) FROM records
             WHERE kind = 'refusal' AND (CAST(?1 AS TEXT) IS NULL OR unit = ?1)
             GROUP BY reason, site ORDER BY COUNT(*) DESC, reason, site",
        )?;
        let rows = stmt
            .query_map([unit], |r| {
                Ok(view::RefusalLine {
                    reason: r.get(0)?,
                    site: r.get(1)?,
                    count: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

pub(super) async fn reports(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(REPORT_READERS)?;
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let (usage, refusals, overuse, integrity, charts) = blocking(&st.hub, move |hub| {
        let charts = (
            usage_svg(hub, unit.as_deref(), t)?,
            refusals_svg(hub, unit.as_deref(), t)?,
        );
        let usage = hub
            .usage_report()?
            .into_iter()
            .filter(|r| unit.as_deref().is_none_or(|u| r.unit == u))
            .map(|r| view::UsageLine {
                day: r.day,
                measure: r.measure,
                unit: r.unit,
                redemptions: r.redemptions,
                original: yuan(r.total_original),
                discount: yuan(r.total_discount),
                payable: yuan(r.total_payable),
            })
            .collect();
        let refusals = refusals(hub, unit.as_deref())?;
        // Over-use and integrity span units: the credit office's.
        let (overuse, integrity) = if unit.is_some() {
            (Vec::new(), Vec::new())
        } else {
            let overuse = hub
                .overuse_report()?
                .into_iter()
                .map(|r| view::OveruseLine {
                    measure: r.measure,
                    sub: r.sub,
                    per: r.per,
                    period_start: r.period_start,
                    limit: r.limit,
                    count: r.count,
                    how: r.how,
                })
                .collect();
            let integrity = hub
                .integrity_report()?
                .into_iter()
                .map(|r| {
                    let mut p = Vec::new();
                    if r.gaps > 0 {
                        p.push(format!("gaps {}", r.gaps));
                    }
                    for (n, what) in [
                        (r.rejected_bad_signature, "bad signature"),
                        (r.rejected_broken_chain, "broken chain"),
                        (r.rejected_conflict, "conflict"),
                        (r.rejected_malformed, "malformed"),
                        (r.flagged, "flagged"),
                    ] {
                        if n > 0 {
                            p.push(format!("{what} {n}"));
                        }
                    }
                    view::IntegrityLine {
                        terminal: r.terminal,
                        site: r.site,
                        records: r.records,
                        problems: p.join(", "),
                    }
                })
                .collect();
            (overuse, integrity)
        };
        Ok((usage, refusals, overuse, integrity, charts))
    })
    .await?;
    Ok(render(&view::Reports {
        page: page(&ctx, "reports"),
        usage_chart: inline(&charts.0),
        refusals_chart: inline(&charts.1),
        usage,
        refusals,
        overuse,
        integrity,
    }))
}

fn csv_response(body: Vec<u8>, name: &str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

pub(super) async fn report_file(
    State(st): S,
    ctx: Ctx,
    Path(file): Path<String>,
) -> Result<Response, Fail> {
    ctx.allow(REPORT_READERS)?;
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let kind = match file.as_str() {
        "usage.csv" => Some(ReportKind::Usage),
        "overuse.csv" => Some(ReportKind::Overuse),
        "integrity.csv" => Some(ReportKind::Integrity),
        "flagged.csv" => Some(ReportKind::Flagged),
        _ => None,
    };
    if let Some(kind) = kind {
        if unit.is_some() && kind != ReportKind::Usage {
            return Err(Fail::Forbidden("this report spans every unit".into()));
        }
        let body = blocking(&st.hub, move |hub| {
            let mut out = Vec::new();
            match unit {
                // An operator's usage: the same report, its unit's rows.
                Some(u) => {
                    let mut all = Vec::new();
                    hub.write_report(kind, &mut all)?;
                    let text = String::from_utf8_lossy(&all);
                    let mut lines = text.lines();
                    if let Some(h) = lines.next() {
                        out.extend_from_slice(h.as_bytes());
                        out.push(b'\n');
                    }
                    for r in hub.usage_report()?.into_iter().filter(|r| r.unit == u) {
                        let fields = [
                            r.day,
                            r.measure,
                            r.unit,
                            r.redemptions.to_string(),
                            r.total_original.to_string(),
                            r.total_discount.to_string(),
                            r.total_payable.to_string(),
                        ];
                        let l: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                        out.extend_from_slice(l.join(",").as_bytes());
                        out.push(b'\n');
                    }
                }
                None => {
                    hub.write_report(kind, &mut out)?;
                }
            }
            Ok(out)
        })
        .await?;
        return Ok(csv_response(body, &file));
    }
    match file.as_str() {
        "refusals.csv" => {
            let rows = blocking(&st.hub, move |hub| refusals(hub, unit.as_deref())).await?;
            let mut out = String::from("reason,site,count\n");
            for r in rows {
                out.push_str(&format!(
                    "{},{},{}\n",
                    csv_field(&r.reason),
                    csv_field(&r.site),
                    r.count
                ));
            }
            Ok(csv_response(out.into_bytes(), &file))
        }
        "usage.svg" => {
            let body = blocking(&st.hub, move |hub| usage_svg(hub, unit.as_deref(), t)).await?;
            Ok(svg(body, Some("usage.svg")))
        }
        "refusals.svg" => {
            let body = blocking(&st.hub, move |hub| refusals_svg(hub, unit.as_deref(), t)).await?;
            Ok(svg(body, Some("refusals.svg")))
        }
        "usage.png" => {
            let body = blocking(&st.hub, move |hub| usage_svg(hub, unit.as_deref(), t)).await?;
            png(&body, "usage.png")
        }
        "refusals.png" => {
            let body = blocking(&st.hub, move |hub| refusals_svg(hub, unit.as_deref(), t)).await?;
            png(&body, "refusals.png")
        }
        other => Err(Fail::NotFound(format!("no report {other}"))),
    }
}

// ---- audit log -----------------------------------------------------------

const AUDIT_READERS: &[Role] = &[Role::Admin, Role::Auditor];

#[derive(Deserialize)]
pub(super) struct AuditParams {
    before: Option<u64>,
}

pub(super) async fn audit(
    State(st): S,
    ctx: Ctx,
    Query(q): Query<AuditParams>,
) -> Result<Response, Fail> {
    ctx.allow(AUDIT_READERS)?;
    let t = ctx.t;
    let (check, entries) = blocking(&st.hub, move |hub| {
        Ok((
            hub.verify_audit_log()?,
            hub.audit_log(&AuditQuery {
                before: q.before,
                action: None,
                limit: 200,
            })?,
        ))
    })
    .await?;
    let (intact, chain) = match check {
        AuditCheck::Intact(n) => (
            true,
            format!(
                "{} {n}",
                t.t("哈希链完整，条目数：", "The hash chain is intact; entries:")
            ),
        ),
        AuditCheck::BrokenAt { seq, why } => (
            false,
            format!(
                "{} #{seq}: {why}",
                t.t("哈希链断裂于", "The hash chain breaks at")
            ),
        ),
    };
    let older = (entries.len() == 200)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(render(&view::Audit {
        page: page(&ctx, "audit"),
        intact,
        chain,
        entries: entries
            .into_iter()
            .map(|e| view::AuditLine {
                seq: e.seq,
                at: when(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect(),
        older,
    }))
}

pub(super) async fn audit_csv(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(AUDIT_READERS)?;
    let who = actor(&ctx);
    let body = blocking(&st.hub, move |hub| {
        // The export itself is an action the log keeps.
        hub.audit(&who, "audit.export", "audit_log", "")?;
        let mut out = String::from("seq,at,actor,action,target,detail,hash\n");
        let mut before = None;
        loop {
            let page = hub.audit_log(&AuditQuery {
                before,
                action: None,
                limit: crate::audit::MAX_AUDIT_PAGE,
            })?;
            let Some(last) = page.last() else { break };
            before = Some(last.seq);
            for e in &page {
                let fields = [
                    e.seq.to_string(),
                    e.at.0.to_string(),
                    e.actor.clone(),
                    e.action.clone(),
                    e.target.clone(),
                    e.detail.clone(),
                    e.hash.clone(),
                ];
                let l: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                out.push_str(&l.join(","));
                out.push('\n');
            }
        }
        Ok(out.into_bytes())
    })
    .await?;
    Ok(csv_response(body, "audit-log.csv"))
}

// ---- accounts --------------------------------------------------------------

pub(super) async fn users(State(st): S, ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    let t = ctx.t;
    let now = st.hub.now();
    let users = blocking(&st.hub, |hub| hub.users()).await?;
    Ok(render(&view::Users {
        page: page(&ctx, "users"),
        users: users
            .into_iter()
            .map(|u| view::UserLine {
                role: view::role_name(t, u.role),
                scope: u.scope.unwrap_or_default(),
                state: if u.disabled {
                    t.t("停用", "disabled").into()
                } else if let Some(l) = u.locked_until.filter(|l| l.0 > now.0) {
                    format!("{} {}", t.t("锁定至", "shut until"), when(l))
                } else {
                    t.t("正常", "active").into()
                },
                disabled: u.disabled,
                name: u.name,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
pub(super) struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn add_user(
    State(st): S,
    ctx: Ctx,
    Form(f): Form<NewUserForm>,
) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    ctx.csrf(&f.csrf)?;
    let role: Role = f.role.parse().map_err(Fail::Bad)?;
    let who = actor(&ctx);
    blocking(&st.hub, move |hub| {
        let scope = Some(f.scope.trim()).filter(|s| !s.is_empty() && role.scoped());
        hub.add_user(
            &NewUser {
                name: f.name.trim(),
                role,
                scope,
                password: &f.password,
            },
            &who,
        )
    })
    .await?;
    Ok(Redirect::to("/users").into_response())
}

pub(super) async fn user_state(
    State(st): S,
    ctx: Ctx,
    Path((name, what)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    ctx.csrf(&f.csrf)?;
    let disabled = match what.as_str() {
        "disable" => true,
        "enable" => false,
        other => return Err(Fail::NotFound(format!("no account action {other}"))),
    };
    if name == ctx.session.user {
        return Err(Fail::Bad(
            "an administrator cannot disable their own account".into(),
        ));
    }
    let who = actor(&ctx);
    blocking(&st.hub, move |hub| {
        hub.set_user_disabled(&name, disabled, &who)
    })
    .await?;
    Ok(Redirect::to("/users").into_response())
}

// ---- people ------------------------------------------------------------------

/// Who may look a person up by ID number (every look-up audited).
const PEOPLE_READERS: &[Role] = &[Role::Admin, Role::Reviewer, Role::Auditor];

pub(super) async fn people_page(ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(PEOPLE_READERS)?;
    Ok(render(&view::People {
        page: page(&ctx, "people"),
        kind: "person".into(),
        purpose: String::new(),
        error: None,
        found: None,
    }))
}

#[derive(Deserialize)]
pub(super) struct LookUpForm {
    csrf: String,
    kind: String,
    id_number: String,
    purpose: String,
    reveal: Option<String>,
}

fn found(t: view::T, subject: Subject, activity: Activity, reveal: bool) -> view::Found {
    let listings = subject
        .listings
        .iter()
        .map(|l| view::SubjectListing {
            category: l.category.clone(),
            recognised_on: l.recognised_on.clone(),
            valid_until: l.valid_until.clone(),
            honour: l.honour.clone(),
            source: l.source.clone(),
            name: if reveal && !l.identity_erased {
                l.name.clone()
            } else {
                l.display_name.clone()
            },
            state: match &l.withdrawn_on {
                Some(on) => format!("{} {on}", t.t("已撤销", "withdrawn")),
                None if l.withdrawn => t.t("已撤销", "withdrawn").into(),
                None => String::new(),
            },
        })
        .collect();
    let exclusions = subject
        .exclusions
        .iter()
        .map(|x| view::SubjectExclusion {
            recorded_on: x.recorded_on.clone(),
            reason: x.reason.clone(),
            until: x.until.clone(),
            state: match (&x.withdrawn_on, &x.repair_ref) {
                (Some(on), Some(r)) => format!("{} {on} ({r})", t.t("已撤销", "withdrawn")),
                (Some(on), None) => format!("{} {on}", t.t("已撤销", "withdrawn")),
                _ => String::new(),
            },
        })
        .collect();
    let uses = activity
        .per_measure
        .iter()
        .map(|u| view::SubjectUse {
            measure: u.measure.clone(),
            uses: u.uses,
            discount: yuan(u.discount_fen),
            last: when(u.last),
        })
        .collect();
    let records = activity
        .records
        .iter()
        .map(|r| {
            let mut note = Vec::new();
            if let Some(reason) = &r.reason {
                note.push(reason.clone());
            }
            if let Some(v) = &r.voided_by {
                note.push(format!("{} {v}", t.t("已作废", "voided by")));
            }
            if let Some(f) = &r.flag {
                note.push(format!("{} {f}", t.t("已标记", "flagged:")));
            }
            view::SubjectRecordLine {
                at: when(r.at),
                what: if r.kind == "refusal" {
                    t.t("拒绝", "refusal").into()
                } else {
                    t.t("享受", "redemption").into()
                },
                measure: r.measure.clone().unwrap_or_default(),
                site: r.site.clone(),
                unit: r.unit.clone(),
                discount: r.discount_fen.map(yuan).unwrap_or_default(),
                note: note.join("; "),
            }
        })
        .collect();
    view::Found {
        id_number: if reveal {
            subject.id_number.clone()
        } else {
            mask_id_number(&subject.id_number)
        },
        id_input: subject.id_number,
        sub: subject.sub,
        revealed: reveal,
        listings,
        exclusions,
        uses,
        records,
        more: activity.more,
    }
}

pub(super) async fn people_look_up(
    State(st): S,
    ctx: Ctx,
    Form(f): Form<LookUpForm>,
) -> Result<Response, Fail> {
    ctx.allow(PEOPLE_READERS)?;
    ctx.csrf(&f.csrf)?;
    let who = actor(&ctx);
    let reveal = f.reveal.as_deref() == Some("1");
    let (kind, id, purpose) = (f.kind.clone(), f.id_number.clone(), f.purpose.clone());
    let result = blocking(&st.hub, move |hub| {
        match hub.look_up(
            &who,
            &LookUp {
                kind: &kind,
                id_number: &id,
                purpose: &purpose,
                reveal,
            },
        ) {
            Ok(r) => Ok(Ok(r)),
            Err(HubError::Invalid(m)) => Ok(Err(m)),
            Err(e) => Err(e),
        }
    })
    .await?;
    let t = ctx.t;
    let refused = result.is_err();
    let (error, found) = match result {
        Ok((subject, activity)) => (None, Some(found(t, subject, activity, reveal))),
        Err(m) => (Some(m), None),
    };
    let mut res = render(&view::People {
        page: page(&ctx, "people"),
        kind: if f.kind == "enterprise" {
            "enterprise".into()
        } else {
            "person".into()
        },
        purpose: f.purpose,
        error,
        found,
    });
    if refused {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}
