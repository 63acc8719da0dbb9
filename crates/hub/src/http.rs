//! The HTTP API terminals talk to (axum). One [`app`] builds the router;
//! [`serve_all`] runs it (and the console) on bound listeners until
//! [`shutdown_signal`];
//! [`Server`] runs it in the background (tests start one on
//! `127.0.0.1:0`).
//!
//! | endpoint | auth | answer |
//! |---|---|---|
//! | `GET /v1/health` | none | `{"ok":true,"data_version":N,"software":"0.1.0","schema":N,"database":"ok",…}`; 503 when the database fails |
//! | `POST /v1/enroll` | one-time code | sealed `EnrollGrant` |
//! | `GET /v1/metadata?have=V&head=S&app=A` | signed (`head`: the terminal's last journal sequence number, `app`: its version; both optional) | sealed `Metadata`, fresh for each request; a revoked terminal gets 403 with a sealed `RevocationNotice` |
//! | `GET /v1/a/{sha256}` | none: the address is the bytes' SHA-256, pinned by signed metadata | the bytes, for any HTTP cache to keep (`http/artefact.rs`); `Range` gives 206, `If-None-Match` 304 |
//! | `GET /v1/artefacts/{sha256}` | signed | the same bytes, for terminals of earlier versions; `Range: bytes=N-` gives 206 |
//! | `POST /v1/records` | signed | sealed `UploadReceipt` |
//! | `GET /v1/records/status` | signed | sealed `UploadReceipt` |
//!
//! Answers for one terminal say `Cache-Control: private, no-store`, and
//! refusals `no-store`: no shared cache keeps them.
//!
//! Every refusal is JSON `{"error": "...", "code": "..."}`; internal
//! failures are logged and reach clients only as `internal`. Signed
//! requests are judged on their headers before their bodies are read
//! (`http/gate.rs`); each terminal has a request allowance (429 with
//! `Retry-After` past it, `http/rate.rs`); refused requests are logged, a
//! few lines a minute per reason (`http/log.rs`). The serving loop with
//! its timeouts and connection caps is [`server`]; TLS is [`tls`].

mod artefact;
pub(crate) mod citizen;
pub mod console;
mod gate;
mod log;
mod platform;
mod rate;
pub mod server;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::check::CheckRequest;
use xinyi_core::wire::enroll::EnrollRequest;

use self::gate::{Endpoint, Gate, Head, Refused, SMALL_BODY};
use self::log::{Warnings, Who};
use crate::error::{AuthError, EnrollError, HubError, UploadError};
use crate::hub::Hub;
use crate::sync::TerminalReport;

/// A refusal as clients see it.
#[derive(Debug)]
pub enum ApiError {
    BadRequest {
        code: &'static str,
        message: String,
    },
    Unauthorized {
        code: &'static str,
        message: String,
    },
    Forbidden {
        code: &'static str,
        message: String,
    },
    NotFound(String),
    Conflict {
        code: &'static str,
        message: String,
    },
    TooLarge(String),
    Unprocessable {
        code: &'static str,
        message: String,
    },
    RangeNotSatisfiable {
        length: u64,
    },
    NotReady(String),
    /// A revoked terminal asked for metadata: the signed notice tells it.
    Revoked {
        notice: Vec<u8>,
    },
    /// The terminal's request allowance is spent.
    RateLimited {
        retry_after_s: u64,
    },
    /// The allowance of the client's address for unsigned downloads is spent.
    AddressRateLimited {
        retry_after_s: u64,
    },
    /// An upload without `Content-Length`.
    LengthRequired,
    /// The body did not arrive within the body timeout.
    BodyTimeout,
    /// The memory for upload bodies is taken; try again later.
    Busy {
        retry_after_s: u64,
    },
    /// As many unsigned downloads as allowed are being sent.
    DownloadsBusy {
        retry_after_s: u64,
    },
    /// A version is being published; its artefacts are not ready yet.
    Publishing {
        retry_after_s: u64,
    },
    Internal,
}

/// How long a terminal is asked to wait while a version is published
/// (the usage folded in before it takes seconds, a backlog minutes).
const PUBLISHING_RETRY_S: u64 = 60;

impl ApiError {
    /// The status, the code and the message clients see.
    pub(crate) fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, code, message.clone())
            }
            ApiError::Unauthorized { code, message } => {
                (StatusCode::UNAUTHORIZED, code, message.clone())
            }
            ApiError::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone()),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", m.clone()),
            ApiError::Unprocessable { code, message } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, message.clone())
            }
            ApiError::RangeNotSatisfiable { length } => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "bad_range",
                format!("the range starts past the end of the {length} bytes"),
            ),
            ApiError::NotReady(m) => (StatusCode::SERVICE_UNAVAILABLE, "not_published", m.clone()),
            ApiError::Revoked { .. } => (
                StatusCode::FORBIDDEN,
                "terminal_revoked",
                "this terminal was revoked by the registry".into(),
            ),
            ApiError::RateLimited { retry_after_s } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this terminal is making requests faster than the hub allows: try again in {retry_after_s} s"
                ),
            ),
            ApiError::AddressRateLimited { retry_after_s } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many downloads from this address: try again in {retry_after_s} s"),
            ),
            ApiError::LengthRequired => (
                StatusCode::LENGTH_REQUIRED,
                "length_required",
                "an upload must say its Content-Length".into(),
            ),
            ApiError::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time".into(),
            ),
            ApiError::Busy { retry_after_s } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("the hub is busy with other uploads: try again in {retry_after_s} s"),
            ),
            ApiError::Publishing { retry_after_s } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "publishing",
                format!("the registry is publishing a version: ask again in {retry_after_s} s"),
            ),
            ApiError::DownloadsBusy { retry_after_s } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "the hub is sending as many artefacts as it may at once: try again in {retry_after_s} s"
                ),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error in the hub; its log has the details".into(),
            ),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (status, code, message) = self.parts();
        write!(f, "{status} {code}: {message}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut body = json!({ "error": message, "code": code });
        if let ApiError::Revoked { notice } = &self {
            body["notice"] = json!(String::from_utf8_lossy(notice));
        }
        let mut resp = (status, axum::Json(body)).into_response();
        // A refusal is about this request only: no cache keeps it.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            ApiError::RangeNotSatisfiable { length } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
            }
            ApiError::RateLimited { retry_after_s }
            | ApiError::AddressRateLimited { retry_after_s }
            | ApiError::Busy { retry_after_s }
            | ApiError::Publishing { retry_after_s }
            | ApiError::DownloadsBusy { retry_after_s } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            }
            _ => {}
        }
        resp
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> ApiError {
        let message = e.to_string();
        match e {
            HubError::Enroll(EnrollError::Malformed(_) | EnrollError::BadKey(_)) => {
                ApiError::BadRequest {
                    code: "bad_request",
                    message,
                }
            }
            HubError::Enroll(EnrollError::AlreadyEnrolled(_)) => ApiError::Conflict {
                code: "already_enrolled",
                message,
            },
            HubError::Enroll(_) => ApiError::Forbidden {
                code: "enrollment_refused",
                message,
            },
            HubError::Auth(a) => {
                let code = match a {
                    AuthError::Missing(_) => "unauthenticated",
                    AuthError::UnknownTerminal(_) => "unknown_terminal",
                    AuthError::BadSignature(_) => "bad_signature",
                    AuthError::ClockSkew { .. } => "clock_skew",
                    AuthError::Replay => "replay",
                    AuthError::Revoked(_) => {
                        return ApiError::Forbidden {
                            code: "terminal_revoked",
                            message,
                        };
                    }
                };
                ApiError::Unauthorized { code, message }
            }
            HubError::Upload(u) => match u {
                UploadError::Malformed(_) => ApiError::BadRequest {
                    code: "malformed_batch",
                    message,
                },
                UploadError::TooLarge { .. } => ApiError::TooLarge(message),
                UploadError::BadSignature { .. } => ApiError::Unprocessable {
                    code: "bad_record_signature",
                    message,
                },
                UploadError::BrokenChain(_) => ApiError::Unprocessable {
                    code: "broken_chain",
                    message,
                },
                UploadError::Conflict { .. } => ApiError::Conflict {
                    code: "conflict",
                    message,
                },
            },
            HubError::Check(_) => ApiError::BadRequest {
                code: "malformed_check",
                message,
            },
            HubError::NotAtSite { .. } => ApiError::Forbidden {
                code: "measure_not_at_site",
                message,
            },
            HubError::NotPublished => ApiError::NotReady(message),
            HubError::Publishing => ApiError::Publishing {
                retry_after_s: PUBLISHING_RETRY_S,
            },
            HubError::NotFound { .. } => ApiError::NotFound(message),
            HubError::Invalid(_) => ApiError::BadRequest {
                code: "invalid",
                message,
            },
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

/// Runs hub work on the blocking pool (SQLite and signing are blocking).
async fn blocking<T: Send + 'static>(
    hub: &Arc<Hub>,
    f: impl FnOnce(&Hub) -> Result<T, HubError> + Send + 'static,
) -> Result<T, ApiError> {
    let hub = Arc::clone(hub);
    match tokio::task::spawn_blocking(move || f(&hub)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "hub task failed");
            Err(ApiError::Internal)
        }
    }
}

/// The peer of a request and, when it came through a reverse proxy on
/// this machine, whom the proxy says it forwarded for (for the log only).
struct Peer(Who);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Peer, Self::Rejection> {
        // Absent when the router is served by something else than
        // `serve_until` (a test harness): the log then says 0.0.0.0:0.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        let forwarded_for = if peer.ip().to_canonical().is_loopback() {
            parts
                .headers
                .get("x-forwarded-for")
                .or_else(|| parts.headers.get("x-real-ip"))
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        } else {
            None
        };
        Ok(Peer(Who {
            peer,
            forwarded_for,
        }))
    }
}

/// What the gate reads of a signed request before its body.
fn head<'a>(
    method: &'a Method,
    uri: &OriginalUri,
    headers: &'a HeaderMap,
    who: &'a Who,
) -> Head<'a> {
    Head {
        method,
        path: path_of(uri),
        headers,
        who,
    }
}

fn path_of(uri: &OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_owned(), |p| p.as_str().to_owned())
}

async fn health(State(gate): State<Arc<Gate>>) -> Response {
    let hub = gate.hub.clone();
    let health = match tokio::task::spawn_blocking(move || hub.health()).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("the health check failed: {e}");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "ok": false, "database": "the check failed" })),
            )
                .into_response();
        }
    };
    let status = if health.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // `version` is the data version, as before; the rest says which build
    // answers and whether its database does.
    let body = json!({
        "ok": health.ok,
        "version": health.data_version,
        "data_version": health.data_version,
        "published_at": health.published_at,
        "software": health.software,
        "schema": health.schema,
        "database": health.database,
    });
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The reason code of a refused enrollment, for the log.
fn enroll_reason(e: &HubError) -> &'static str {
    match e {
        HubError::Enroll(EnrollError::UnknownCode) => "unknown_code",
        HubError::Enroll(EnrollError::UsedCode) => "used_code",
        HubError::Enroll(EnrollError::ExpiredCode) => "expired_code",
        HubError::Enroll(EnrollError::BadKey(_)) => "bad_key",
        HubError::Enroll(EnrollError::KeyRevoked) => "key_revoked",
        HubError::Enroll(EnrollError::AlreadyEnrolled(_)) => "already_enrolled",
        HubError::Enroll(EnrollError::Malformed(_)) => "malformed_enrollment",
        _ => "enrollment_failed",
    }
}

async fn enroll(
    State(gate): State<Arc<Gate>>,
    Peer(who): Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let warn = |reason| gate.warnings.refused("enrollment", reason, &who, None);
    let b = match gate.read_body(&headers, body, SMALL_BODY).await {
        Ok(b) => b,
        Err(r) => {
            warn(match r.error {
                ApiError::TooLarge(_) => "too_large",
                ApiError::BodyTimeout => "body_timeout",
                _ => "bad_request",
            });
            return Err(r);
        }
    };
    let result = match serde_json::from_slice::<EnrollRequest>(&b) {
        Ok(req) => {
            let hub = Arc::clone(&gate.hub);
            match tokio::task::spawn_blocking(move || hub.enroll(&req)).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "hub task failed");
                    return Err(ApiError::Internal.into());
                }
            }
        }
        Err(e) => Err(HubError::Enroll(EnrollError::Malformed(e.to_string()))),
    };
    match result {
        Ok(sealed) => Ok(octets(StatusCode::OK, sealed, "application/json")),
        Err(e) => {
            warn(enroll_reason(&e));
            Err(ApiError::from(e).into())
        }
    }
}

/// The value of query parameter `name`, if the request has it.
fn query_param<'a>(uri: &'a OriginalUri, name: &str) -> Option<&'a str> {
    uri.0
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn have_param(uri: &OriginalUri) -> Result<u64, ApiError> {
    let Some(v) = query_param(uri, "have") else {
        return Ok(0);
    };
    v.parse().map_err(|_| ApiError::BadRequest {
        code: "bad_request",
        message: format!("`have` must be a version number, got {v:?}"),
    })
}

/// The longest program version a terminal may report.
const MAX_APP_VERSION: usize = 32;

/// What a terminal reports of itself in the metadata request: its
/// journal's last sequence number and its program's version.
fn report_params(uri: &OriginalUri) -> Result<(Option<u64>, Option<String>), ApiError> {
    let head = match query_param(uri, "head") {
        None => None,
        Some(v) => Some(v.parse().map_err(|_| ApiError::BadRequest {
            code: "bad_request",
            message: format!("`head` must be a sequence number, got {v:?}"),
        })?),
    };
    let app = match query_param(uri, "app") {
        None => None,
        Some(v)
            if !v.is_empty()
                && v.len() <= MAX_APP_VERSION
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-+_".contains(&b)) =>
        {
            Some(v.to_owned())
        }
        Some(v) => {
            return Err(ApiError::BadRequest {
                code: "bad_request",
                message: format!(
                    "`app` must be a version of at most {MAX_APP_VERSION} letters, digits and . - + _, got {v:?}"
                ),
            });
        }
    };
    Ok((head, app))
}

async fn metadata(
    State(gate): State<Arc<Gate>>,
    Peer(who): Peer,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let have = have_param(&uri)?;
    let (journal_head, app_version) = report_params(&uri)?;
    let report = TerminalReport {
        have,
        journal_head,
        app_version,
    };
    let head = head(&method, &uri, &headers, &who);
    let terminal = gate
        .signed_reporting(head, body, Endpoint::Small, Some(report))
        .await?
        .terminal;
    // A revoked terminal gets a small signed notice: nothing is built for it.
    if let Some(notice) = gate.hub.revocation_notice(&terminal) {
        return Err(ApiError::Revoked { notice }.into());
    }
    let sealed = blocking(&gate.hub, move |hub| hub.signed_metadata(&terminal, have)).await?;
    let mut resp = octets(StatusCode::OK, sealed, "application/json");
    resp.headers_mut().insert(header::VARY, vary_signed());
    Ok(resp)
}

/// An answer for one terminal (or one enrollment): signed for it alone,
/// fresh for each request, so no cache may keep it.
fn octets(status: StatusCode, bytes: impl Into<Body>, content_type: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, PRIVATE),
        ],
        bytes.into(),
    )
        .into_response()
}

/// How answers for one terminal may be cached: not at all, and never by
/// a shared cache.
const PRIVATE: &str = "private, no-store";

/// `Vary` for an answer signed for the terminal a request's signature
/// headers name.
fn vary_signed() -> HeaderValue {
    use xinyi_core::wire::request::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TERMINAL, HEADER_TIME};
    let names = [HEADER_TERMINAL, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE].join(", ");
    HeaderValue::from_str(&names).unwrap_or(HeaderValue::from_static("*"))
}

/// The signed download of earlier terminals: the same bytes as
/// `/v1/a/{sha256}`, for this terminal only.
async fn artefact(
    State(gate): State<Arc<Gate>>,
    Path(sha): Path<String>,
    Peer(who): Peer,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let head = head(&method, &uri, &headers, &who);
    gate.signed(head, body, Endpoint::SmallActive).await?;
    let digest =
        Digest32::from_hex(&sha).map_err(|_| ApiError::NotFound(format!("no artefact {sha:?}")))?;
    let bytes = blocking(&gate.hub, move |hub| hub.artefact(&digest))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no artefact {sha}")))?;
    let bytes = axum::body::Bytes::from(bytes);
    let mut resp = match artefact::range(&headers) {
        Some(r) => {
            let (part, content_range) = artefact::part(bytes, r)?;
            let mut r = octets(
                StatusCode::PARTIAL_CONTENT,
                part,
                "application/octet-stream",
            );
            r.headers_mut().insert(header::CONTENT_RANGE, content_range);
            r
        }
        None => octets(StatusCode::OK, bytes, "application/octet-stream"),
    };
    resp.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(resp)
}

async fn upload(
    State(gate): State<Arc<Gate>>,
    Peer(who): Peer,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let head = head(&method, &uri, &headers, &who);
    let signed = gate.signed(head, body, Endpoint::Upload).await?;
    // The body goes back to the upload buffers once it is stored; the
    // receipt is signed with the registry key.
    let sealed = blocking(&gate.hub, move |hub| {
        let r = hub.upload_sealed(&signed.terminal, &signed.body);
        drop(signed);
        r
    })
    .await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

async fn upload_status(
    State(gate): State<Arc<Gate>>,
    Peer(who): Peer,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let head = head(&method, &uri, &headers, &who);
    let terminal = gate.signed(head, body, Endpoint::Small).await?.terminal;
    let sealed = blocking(&gate.hub, move |hub| {
        hub.upload_status(&terminal.id)
            .map(|r| hub.seal_receipt(&r))
    })
    .await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

async fn check(
    State(gate): State<Arc<Gate>>,
    Peer(who): Peer,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let head = head(&method, &uri, &headers, &who);
    let signed = gate.signed(head, body, Endpoint::SmallActive).await?;
    let sealed = blocking(&gate.hub, move |hub| {
        let q = CheckRequest::parse(&signed.body).map_err(|e| HubError::Check(e.to_string()))?;
        hub.check(&signed.terminal, &signed.nonce, &q)
    })
    .await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

async fn not_found(uri: OriginalUri) -> ApiError {
    ApiError::NotFound(format!("no endpoint {}", uri.0.path()))
}

fn router(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/enroll", post(enroll))
        .route("/v1/metadata", get(metadata))
        .route("/v1/a/{sha256}", get(artefact::cacheable))
        .route("/v1/artefacts/{sha256}", get(artefact))
        .route("/v1/records", post(upload))
        .route("/v1/records/status", get(upload_status))
        .route(xinyi_core::wire::check::PATH, post(check))
        .route("/v1/platform/identity", post(platform::identity))
        .route("/v1/platform/cases", post(platform::cases))
        .merge(citizen::routes())
        .fallback(not_found)
        .with_state(gate)
}

/// The hub's router. Bodies are read by the handlers themselves, with
/// their own bounds and timeout; the connection limits and header
/// timeouts are the serving loop's ([`serve_until`]).
pub fn app(hub: Arc<Hub>) -> Router {
    router(Arc::new(Gate::new(hub, Arc::new(Warnings::default()))))
}

/// Serves on `listener` until `shutdown` completes, then finishes the
/// requests in flight. Speaks TLS if the settings name a certificate.
pub async fn serve_until(
    listener: TcpListener,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let tls = match &hub.config().tls {
        Some(files) => Some(TlsAcceptor::from(tls::load(files)?)),
        None => None,
    };
    serve_with(listener, hub, tls, shutdown).await
}

/// How often refusal summaries are written and idle rate buckets dropped.
const HOUSEKEEPING: Duration = Duration::from_secs(15);
/// How long after start retention first runs (not at once: a restart
/// should not wait for it), then how often.
const RETENTION_FIRST: Duration = Duration::from_secs(10 * 60);
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 3600);

async fn serve_with(
    listener: TcpListener,
    hub: Arc<Hub>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let addr = listener
        .local_addr()
        .map_err(|e| HubError::Internal(format!("listener address: {e}")))?;
    server::check_listen(addr, tls.is_some(), hub.config())?;
    // Without a public_url in hub.toml, the channel addresses the sites
    // publish follow the address actually served (an ephemeral port too);
    // a changed address is published before the first request.
    if hub.config().public_url.is_none()
        && hub.config().effective_public_url().is_some()
        && !addr.ip().is_unspecified()
    {
        let scheme = if tls.is_some() { "https" } else { "http" };
        hub.note_served_at(format!("{scheme}://{addr}"));
    }
    match hub.public_url() {
        Some(public) => tracing::info!(
            %public,
            "the terminals' objection and complaint codes point under this address"
        ),
        None => tracing::warn!(
            listen = %hub.config().listen,
            "no public_url in hub.toml, and listen names no address citizens' phones \
             can reach (an unspecified address, or TLS at a reverse proxy): sites \
             without addresses of their own get no objection or complaint codes; \
             set public_url"
        ),
    }
    if hub.config().public_url.is_none()
        && hub.public_url().is_some()
        && hub.db().dialect() == crate::db::Dialect::Postgres
    {
        tracing::warn!(
            listen = %addr,
            "no public_url in hub.toml: the channel addresses come from this process's \
             listen address, so every hub process sharing this database that listens \
             elsewhere publishes its own when it starts; set public_url to the address \
             in front of them (the load balancer's)"
        );
    }
    let h = Arc::clone(&hub);
    let published = tokio::task::spawn_blocking(move || h.publish_settings())
        .await
        .map_err(|e| HubError::Internal(format!("publishing the channel addresses: {e}")))??;
    if published.new_version {
        tracing::info!(
            version = published.version,
            "published: the channel addresses changed"
        );
    }
    let open_files = server::raise_open_file_limit();
    let limits = server::Limits::new(hub.config(), open_files);
    let warnings = Arc::new(Warnings::default());
    let gate = Arc::new(Gate::new(hub, Arc::clone(&warnings)));
    let housekeeping = {
        let gate = Arc::clone(&gate);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HOUSEKEEPING);
            let every = Duration::from_secs(gate.hub.config().usage_publish_interval_s);
            let mut usage_due = Instant::now() + every;
            let mut retention_due = Instant::now() + RETENTION_FIRST;
            loop {
                tick.tick().await;
                gate.warnings.flush(false);
                gate.rate.prune(Instant::now());
                gate.citizen_filings.prune(Instant::now());
                gate.citizen_checks.prune(Instant::now());
                gate.downloads.rate.prune(Instant::now());
                gate.platform_rates.prune(Instant::now());
                if Instant::now() >= usage_due {
                    usage_due = Instant::now() + every;
                    let published = blocking(&gate.hub, |hub| hub.publish_usage()).await;
                    if let Err(e) = published {
                        tracing::warn!(error = %e, "publishing usage failed");
                    }
                }
                if Instant::now() >= retention_due {
                    retention_due = Instant::now() + RETENTION_EVERY;
                    let applied = blocking(&gate.hub, |hub| hub.apply_retention()).await;
                    if let Err(e) = applied {
                        tracing::warn!(error = %e, "applying retention failed");
                    }
                }
            }
        })
    };
    let served = server::run(
        listener,
        router(Arc::clone(&gate)),
        tls,
        limits,
        Arc::clone(&warnings),
        shutdown,
    )
    .await;
    housekeeping.abort();
    warnings.flush(true);
    served
}

/// Serves the terminals' API on `listener` and, if given, the web
/// console on `console`, until `shutdown` ([`shutdown_signal`]) stops both.
pub async fn serve_all(
    listener: TcpListener,
    console: Option<TcpListener>,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    let (tx, rx) = tokio::sync::watch::channel(());
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };
    let api = serve_until(listener, Arc::clone(&hub), stopped(rx.clone()));
    let served = match console {
        Some(c) => {
            let (a, b) = tokio::join!(api, console::serve_until(c, hub, stopped(rx)));
            a.and(b)
        }
        None => api.await,
    };
    signal.abort();
    served
}

/// Ctrl-C or SIGTERM, listened for from the moment this is called (within
/// the runtime), not from the future's first poll: a signal that arrives
/// while the hub is still starting stops it in order once it is up,
/// instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let stopped = {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn either(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = either(interrupt) => {},
                () = either(terminate) => {},
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    async move {
        stopped.await;
        tracing::info!("shutting down");
    }
}

/// A hub serving in the background, stopped by [`Server::stop`] (or when
/// dropped, without waiting).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), HubError>>>,
}

impl Server {
    /// Serves `hub` on an ephemeral port of 127.0.0.1.
    pub async fn start(hub: Arc<Hub>) -> Result<Server, HubError> {
        Server::bind(hub, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves `hub` on `addr` (with TLS if its settings name a certificate).
    pub async fn bind(hub: Arc<Hub>, addr: SocketAddr) -> Result<Server, HubError> {
        let tls = match &hub.config().tls {
            Some(files) => Some(TlsAcceptor::from(tls::load(files)?)),
            None => None,
        };
        Server::spawn(hub, addr, tls).await
    }

    /// Serves `hub` over TLS on an ephemeral port of 127.0.0.1, with a PEM
    /// certificate chain and key; the certificate should name the IP
    /// address 127.0.0.1, which [`Server::url`] uses.
    pub async fn start_tls(
        hub: Arc<Hub>,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Server, HubError> {
        let tls = TlsAcceptor::from(tls::server_config(cert_pem, key_pem)?);
        Server::spawn(hub, SocketAddr::from(([127, 0, 0, 1], 0)), Some(tls)).await
    }

    async fn spawn(
        hub: Arc<Hub>,
        addr: SocketAddr,
        tls: Option<TlsAcceptor>,
    ) -> Result<Server, HubError> {
        server::check_listen(addr, tls.is_some(), hub.config())?;
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
        Ok(Server {
            addr,
            tls: secure,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` with TLS.
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
                .map_err(|e| HubError::Internal(format!("server task: {e}")))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
