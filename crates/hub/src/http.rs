//! The HTTP API terminals talk to (axum). One [`app`] builds the router;
//! [`serve`] runs it on a bound listener until Ctrl-C or SIGTERM;
//! [`Server`] runs it in the background (tests start one on
//! `127.0.0.1:0`).
//!
//! | endpoint | auth | answer |
//! |---|---|---|
//! | `GET /v1/health` | none | `{"ok":true,"version":N}` |
//! | `POST /v1/enroll` | one-time code | sealed `EnrollGrant` |
//! | `GET /v1/metadata?have=V` | signed | sealed `Metadata`, fresh for each request; a revoked terminal gets 403 with a sealed `RevocationNotice` |
//! | `GET /v1/artefacts/{sha256}` | signed | the bytes; `Range: bytes=N-` gives 206 |
//! | `POST /v1/records` | signed | sealed `UploadReceipt` |
//! | `GET /v1/records/status` | signed | sealed `UploadReceipt` |
//!
//! Every refusal is JSON `{"error": "...", "code": "..."}`; internal
//! failures are logged and reach clients only as `internal`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xinyi_core::wire::Digest32;
use xinyi_core::wire::enroll::EnrollRequest;
use xinyi_core::wire::request::RequestAuth;

use crate::admin::TerminalInfo;
use crate::error::{AuthError, EnrollError, HubError, UploadError};
use crate::hub::Hub;

/// The largest body of a request other than an upload.
const SMALL_BODY: usize = 16 * 1024;

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
    Internal,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
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
        if let ApiError::RangeNotSatisfiable { length } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}"))
        {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
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
            HubError::NotPublished => ApiError::NotReady(message),
            HubError::NotFound { .. } => ApiError::NotFound(message),
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

fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(r.body_text())
        } else {
            ApiError::BadRequest {
                code: "bad_request",
                message: r.body_text(),
            }
        }
    })
}

/// Authenticates a signed request.
async fn signed(
    hub: &Arc<Hub>,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<TerminalInfo, ApiError> {
    let auth = RequestAuth::from_headers(|h| headers.get(h).and_then(|v| v.to_str().ok()))
        .map_err(|e| HubError::Auth(AuthError::Missing(e.to_string())))?;
    let path = uri
        .0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_owned(), |p| p.as_str().to_owned());
    let method = method.as_str().to_owned();
    blocking(hub, move |hub| {
        hub.authenticate(&auth, &method, &path, &body)
    })
    .await
}

fn refuse_revoked(t: &TerminalInfo) -> Result<(), ApiError> {
    if t.revoked() {
        return Err(HubError::Auth(AuthError::Revoked(t.id.clone())).into());
    }
    Ok(())
}

async fn health(State(hub): State<Arc<Hub>>) -> Result<Response, ApiError> {
    let version = blocking(&hub, |hub| {
        Ok(hub.current_version()?.map_or(0, |v| v.version))
    })
    .await?;
    Ok(axum::Json(json!({ "ok": true, "version": version })).into_response())
}

async fn enroll(
    State(hub): State<Arc<Hub>>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let req: EnrollRequest = serde_json::from_slice(&b)
        .map_err(|e| HubError::Enroll(EnrollError::Malformed(e.to_string())))?;
    let sealed = blocking(&hub, move |hub| hub.enroll(&req)).await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

fn have_param(uri: &OriginalUri) -> Result<u64, ApiError> {
    let bad = |v: &str| ApiError::BadRequest {
        code: "bad_request",
        message: format!("`have` must be a version number, got {v:?}"),
    };
    let Some(q) = uri.0.query() else {
        return Ok(0);
    };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix("have=") {
            return v.parse().map_err(|_| bad(v));
        }
    }
    Ok(0)
}

async fn metadata(
    State(hub): State<Arc<Hub>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let terminal = signed(&hub, &method, &uri, &headers, body(b)?).await?;
    // A revoked terminal gets a small signed notice: nothing is built for it.
    if let Some(notice) = hub.revocation_notice(&terminal) {
        return Err(ApiError::Revoked { notice });
    }
    let have = have_param(&uri)?;
    let sealed = blocking(&hub, move |hub| hub.signed_metadata(&terminal, have)).await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

fn octets(status: StatusCode, bytes: Vec<u8>, content_type: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// The start of a `Range: bytes=N-` (or `bytes=N-M`) request, if it is one
/// we serve; other forms are ignored and the whole artefact is sent.
fn range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let v = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse::<u64>().ok()?),
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    Some((start, end))
}

async fn artefact(
    State(hub): State<Arc<Hub>>,
    Path(sha): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let terminal = signed(&hub, &method, &uri, &headers, body(b)?).await?;
    refuse_revoked(&terminal)?;
    let digest =
        Digest32::from_hex(&sha).map_err(|_| ApiError::NotFound(format!("no artefact {sha:?}")))?;
    let bytes = blocking(&hub, move |hub| hub.artefact(&digest))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no artefact {sha}")))?;
    let len = bytes.len() as u64;
    let mut resp = match range(&headers) {
        Some((start, _)) if start >= len => {
            return Err(ApiError::RangeNotSatisfiable { length: len });
        }
        Some((start, end)) => {
            let last = end.map_or(len - 1, |e| e.min(len - 1));
            let part = bytes
                .get(start as usize..=last as usize)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            let mut r = octets(
                StatusCode::PARTIAL_CONTENT,
                part,
                "application/octet-stream",
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{last}/{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        None => octets(StatusCode::OK, bytes, "application/octet-stream"),
    };
    resp.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(resp)
}

async fn upload(
    State(hub): State<Arc<Hub>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let terminal = signed(&hub, &method, &uri, &headers, b.clone()).await?;
    refuse_revoked(&terminal)?;
    let sealed = blocking(&hub, move |hub| {
        hub.upload(&terminal, &b).map(|r| hub.seal_receipt(&r))
    })
    .await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

async fn upload_status(
    State(hub): State<Arc<Hub>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let terminal = signed(&hub, &method, &uri, &headers, body(b)?).await?;
    let sealed = blocking(&hub, move |hub| {
        hub.upload_status(&terminal.id)
            .map(|r| hub.seal_receipt(&r))
    })
    .await?;
    Ok(octets(StatusCode::OK, sealed, "application/json"))
}

async fn not_found(uri: OriginalUri) -> ApiError {
    ApiError::NotFound(format!("no endpoint {}", uri.0.path()))
}

/// The hub's router.
pub fn app(hub: Arc<Hub>) -> Router {
    let upload_limit = hub.config().max_upload_bytes;
    Router::new()
        .route("/v1/health", get(health))
        .route(
            "/v1/enroll",
            post(enroll).layer(DefaultBodyLimit::max(SMALL_BODY)),
        )
        .route(
            "/v1/metadata",
            get(metadata).layer(DefaultBodyLimit::max(SMALL_BODY)),
        )
        .route(
            "/v1/artefacts/{sha256}",
            get(artefact).layer(DefaultBodyLimit::max(SMALL_BODY)),
        )
        .route(
            "/v1/records",
            post(upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/v1/records/status",
            get(upload_status).layer(DefaultBodyLimit::max(SMALL_BODY)),
        )
        .fallback(not_found)
        .with_state(hub)
}

/// Serves on `listener` until `shutdown` completes, then finishes the
/// requests in flight.
pub async fn serve_until(
    listener: TcpListener,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    axum::serve(listener, app(hub))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| HubError::Internal(format!("serving HTTP: {e}")))
}

/// Serves on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(listener: TcpListener, hub: Arc<Hub>) -> Result<(), HubError> {
    serve_until(listener, hub, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// A hub serving in the background, stopped by [`Server::stop`] (or when
/// dropped, without waiting).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), HubError>>>,
}

impl Server {
    /// Serves `hub` on an ephemeral port of 127.0.0.1.
    pub async fn start(hub: Arc<Hub>) -> Result<Server, HubError> {
        Server::bind(hub, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves `hub` on `addr`.
    pub async fn bind(hub: Arc<Hub>, addr: SocketAddr) -> Result<Server, HubError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| HubError::Internal(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HubError::Internal(format!("listener address: {e}")))?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_until(listener, hub, async move {
            let _ = rx.await;
        }));
        Ok(Server {
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
