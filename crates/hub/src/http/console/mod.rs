//! The registry's web console: the pages the credit office, the reporting
//! departments and the implementing units use every day.
//!
//! Server-rendered HTML (askama templates compiled into the binary, one
//! stylesheet, no scripts), served on its own listener — loopback by
//! default (`console_listen` in `hub.toml`) — apart from the terminals'
//! API. It calls the same [`Hub`] methods as the command line.
//!
//! Security: sessions in HTTP-only, SameSite=Strict cookies (Secure under
//! TLS or behind a TLS proxy); every POST carries the session's CSRF token
//! (the sign-in form a double-submit token); a strict Content Security
//! Policy; `no-store` on every page; each role sees only its own part
//! (a department's submitter its own lists, a unit's operator its own
//! sites), and every change is in the audit log.

mod cases;
mod chart;
mod measures;
pub(crate) mod pages;
mod platforms;
mod staff;
pub(crate) mod view;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::accounts::{Role, Session};
use crate::error::HubError;
use crate::hub::Hub;

pub use view::T;

/// The session cookie.
const SESSION_COOKIE: &str = "xinyi_session";
/// The sign-in form's double-submit cookie.
const SIGNIN_COOKIE: &str = "xinyi_signin";
/// The language cookie (`zh` or `en`).
const LANG_COOKIE: &str = "xinyi_lang";
/// The largest file a department uploads through the console (a larger
/// one goes through `xinyi-hub import`).
pub const MAX_CONSOLE_UPLOAD: usize = 64 * 1024 * 1024;
/// How long a checked file waits for its confirmation.
const PENDING_FOR: Duration = Duration::from_secs(30 * 60);
/// Checked files held at once, across every account.
const MAX_PENDING: usize = 16;

/// A checked file waiting for its submitter's confirmation. Held in
/// memory only: it holds identities, which never reach the disk in clear.
struct Pending {
    user: String,
    what: view::What,
    source: String,
    file_name: String,
    rows: u64,
    bytes: Vec<u8>,
    since: Instant,
}

/// What every console handler shares.
pub(crate) struct ConsoleState {
    hub: Arc<Hub>,
    /// Cookies get `Secure` (TLS here or at a proxy in front).
    secure: bool,
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for ConsoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleState")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl ConsoleState {
    fn hold(&self, token: String, p: Pending) {
        let mut held = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|_, old| old.since.elapsed() < PENDING_FOR && old.user != p.user);
        while held.len() >= MAX_PENDING {
            let oldest = held
                .iter()
                .min_by_key(|(_, v)| v.since)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => held.remove(&k),
                None => break,
            };
        }
        held.insert(token, p);
    }

    fn take(&self, token: &str, user: &str) -> Option<Pending> {
        let mut held = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match held.get(token) {
            Some(p) if p.user == user && p.since.elapsed() < PENDING_FOR => held.remove(token),
            _ => None,
        }
    }
}

/// The value of cookie `name` in a request's headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Path=/"))
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Why a console request fails, shown as a small page.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Not signed in: to the sign-in page.
    SignIn,
    Forbidden(String),
    NotFound(String),
    Bad(String),
    /// A form without its session's token.
    Csrf,
    Internal,
}

impl From<HubError> for Fail {
    fn from(e: HubError) -> Fail {
        match e {
            HubError::Invalid(m) => Fail::Bad(m),
            HubError::NotFound { .. } => Fail::NotFound(e.to_string()),
            HubError::Rejected(r) => Fail::Bad(r.to_string()),
            HubError::Catalogue(_) | HubError::Trust(_) | HubError::NoCatalogue => {
                Fail::Bad(e.to_string())
            }
            other => {
                tracing::error!(error = %other, "console request failed");
                Fail::Internal
            }
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let (status, what) = match self {
            Fail::SignIn => return Redirect::to("/signin").into_response(),
            Fail::Forbidden(m) => (StatusCode::FORBIDDEN, format!("禁止访问 / Forbidden: {m}")),
            Fail::NotFound(m) => (StatusCode::NOT_FOUND, format!("未找到 / Not found: {m}")),
            Fail::Bad(m) => (StatusCode::BAD_REQUEST, m),
            Fail::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效，请返回重试 / This form has expired or did not come from this console: go back, reload and try again".into(),
            ),
            Fail::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "内部错误，已记入日志 / Internal error; it has been logged".into(),
            ),
        };
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title>\
             <link rel=\"stylesheet\" href=\"/static/console.css\"></head><body><main>\
             <h1>{}</h1><p class=\"error\" id=\"problem\">{}</p><p><a href=\"/\">← 返回 / Back</a></p>\
             </main></body></html>",
            status.as_u16(),
            status,
            askama::filters::escape(&what, askama::filters::Html)
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
        (status, Html(body)).into_response()
    }
}

/// A signed-in request: the session and the language.
pub(crate) struct Ctx {
    session: Session,
    t: T,
}

impl Ctx {
    /// Refuses a form whose token is not this session's.
    fn csrf(&self, token: &str) -> Result<(), Fail> {
        if same(token, &self.session.csrf) {
            Ok(())
        } else {
            Err(Fail::Csrf)
        }
    }

    /// Refuses unless the account has one of `roles`.
    fn allow(&self, roles: &[Role]) -> Result<(), Fail> {
        if roles.contains(&self.session.role) {
            Ok(())
        } else {
            Err(Fail::Forbidden(format!(
                "a {} account cannot open this page",
                self.session.role
            )))
        }
    }
}

fn lang(headers: &HeaderMap) -> T {
    T {
        zh: cookie(headers, LANG_COOKIE).as_deref() != Some("en"),
    }
}

impl FromRequestParts<Arc<ConsoleState>> for Ctx {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ConsoleState>) -> Result<Ctx, Fail> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Fail::SignIn);
        };
        let session = blocking(&state.hub, move |hub| hub.session(&token)).await?;
        match session {
            Some(session) => Ok(Ctx {
                session,
                t: lang(&parts.headers),
            }),
            None => Err(Fail::SignIn),
        }
    }
}

/// Hub work on the blocking pool.
async fn blocking<T: Send + 'static>(
    hub: &Arc<Hub>,
    f: impl FnOnce(&Hub) -> Result<T, HubError> + Send + 'static,
) -> Result<T, Fail> {
    let hub = Arc::clone(hub);
    match tokio::task::spawn_blocking(move || f(&hub)).await {
        Ok(r) => r.map_err(Fail::from),
        Err(e) => {
            tracing::error!(error = %e, "console task failed");
            Err(Fail::Internal)
        }
    }
}

/// The headers every console answer carries.
pub(crate) async fn harden(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The console's router, for `hub`. `secure`: cookies are marked Secure.
pub fn router(hub: Arc<Hub>, secure: bool) -> Router {
    let state = Arc::new(ConsoleState {
        hub,
        secure,
        pending: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/static/console.css", get(pages::stylesheet))
        .route("/static/NotoSansSC-Regular.ttf", get(pages::font))
        .route("/signin", get(pages::signin_page).post(pages::signin))
        .route("/signout", post(pages::signout))
        .route("/lang/{to}", get(pages::set_lang))
        .route("/", get(pages::overview))
        .route("/charts/30d.svg", get(pages::chart_30d))
        .route("/charts/30d.png", get(pages::chart_30d_png))
        .route("/lists", get(pages::lists))
        .route("/lists/source/{source}", get(pages::lists_of_source))
        .route(
            "/lists/check",
            post(pages::lists_check).layer(DefaultBodyLimit::max(MAX_CONSOLE_UPLOAD + 64 * 1024)),
        )
        .route("/lists/confirm", post(pages::lists_confirm))
        .route("/sites", get(pages::sites).post(pages::put_site))
        .route("/sites/{id}/enroll", post(pages::enroll_code))
        .route("/terminals/{id}/revoke", post(pages::revoke))
        .route("/terminals/{id}/staff", get(staff::roster))
        .route("/reports", get(pages::reports))
        .route("/reports/{file}", get(pages::report_file))
        .route("/measures", get(measures::list))
        .route("/measures/new", get(measures::new_form))
        .route("/measures/save", post(measures::save))
        .route("/measures/{id}/edit", get(measures::edit_form))
        .route("/measures/{id}/withdraw", post(measures::withdraw))
        .route("/measures/requests/{id}/decide", post(measures::decide))
        .route(
            "/people",
            get(pages::people_page).post(pages::people_look_up),
        )
        .route("/cases", get(cases::queue))
        .route("/cases/{number}", get(cases::open))
        .route("/cases/{number}/{what}", post(cases::act))
        .route("/audit", get(pages::audit))
        .route("/audit.csv", get(pages::audit_csv))
        .route("/users", get(pages::users).post(pages::add_user))
        .route("/platforms", get(platforms::list).post(platforms::add))
        .route("/platforms/{id}/revoke", post(platforms::revoke))
        .route("/users/{name}/{what}", post(pages::user_state))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(harden))
        .with_state(state)
}

/// Whether the console's cookies must be marked Secure under `hub`'s
/// settings.
pub fn secure_cookies(hub: &Hub) -> bool {
    hub.config().tls.is_some() || hub.config().plain_http_behind_proxy
}

/// Serves the console on `listener` until `shutdown`, with the serving
/// loop's limits (and TLS if the settings name a certificate).
pub async fn serve_until(
    listener: TcpListener,
    hub: Arc<Hub>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let tls = match &hub.config().tls {
        Some(files) => Some(TlsAcceptor::from(super::tls::load(files)?)),
        None => None,
    };
    serve_with(listener, hub, tls, shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    hub: Arc<Hub>,
    tls: Option<TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let addr = listener
        .local_addr()
        .map_err(|e| HubError::Internal(format!("listener address: {e}")))?;
    super::server::check_listen(addr, tls.is_some(), hub.config())?;
    let limits = super::server::Limits::new(hub.config(), None);
    let secure = tls.is_some() || hub.config().plain_http_behind_proxy;
    super::server::run(
        listener,
        router(hub, secure),
        tls,
        limits,
        Arc::new(super::log::Warnings::default()),
        shutdown,
    )
    .await
}

/// The console serving in the background (tests, the demo).
#[derive(Debug)]
pub struct Console {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), HubError>>>,
}

impl Console {
    /// Serves the console of `hub` on an ephemeral port of 127.0.0.1.
    pub async fn start(hub: Arc<Hub>) -> Result<Console, HubError> {
        Console::bind(hub, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves the console of `hub` on `addr`.
    pub async fn bind(hub: Arc<Hub>, addr: SocketAddr) -> Result<Console, HubError> {
        let tls = match &hub.config().tls {
            Some(files) => Some(TlsAcceptor::from(super::tls::load(files)?)),
            None => None,
        };
        super::server::check_listen(addr, tls.is_some(), hub.config())?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| HubError::Internal(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HubError::Internal(format!("listener address: {e}")))?;
        let (tx, rx) = oneshot::channel::<()>();
        let secure = tls.is_some();
        let task = tokio::spawn(serve_with(listener, hub, tls, async move {
            let _ = rx.await;
        }));
        Ok(Console {
            addr,
            tls: secure,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or https).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, finishes requests in flight and waits.
    pub async fn stop(mut self) -> Result<(), HubError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t
                .await
                .map_err(|e| HubError::Internal(format!("console task: {e}")))?,
            None => Ok(()),
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("xinyi_session_x=1; xinyi_session=abc; other=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
