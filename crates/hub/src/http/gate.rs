//! Admission of requests before their bodies are read.
//!
//! A signed request is judged from its headers first: the signature
//! headers must parse, the terminal must be known (and, where the endpoint
//! says so, not revoked), its time within the allowed skew, its rate
//! allowance not spent, and its `Content-Length` within the endpoint's
//! bound. Only then is the body read — with that bound, within the body
//! timeout, and for uploads only while the memory set aside for upload
//! bodies has room — and the signature, which covers the body's hash,
//! verified over it by [`Hub::authenticate`]. So a client without
//! credentials never gets a large body buffered, and refusals of requests
//! whose body was not read close the connection (what the client is still
//! sending cannot be told from a next request).
//!
//! Upload bodies are read into at most `max_concurrent_uploads` buffers of
//! `max_upload_bytes`, reused from one upload to the next. Fresh buffers
//! for each upload would be bounded in number too, but the allocator keeps
//! freed blocks that large in per-thread arenas: measured, 40 forged 8 MiB
//! uploads then raised the peak resident memory by 80 MiB instead of 32.

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use xinyi_core::wire::request::RequestAuth;

use super::log::{Warnings, Who};
use super::rate::{RateLimiter, retry_after_s};
use super::{ApiError, blocking};
use crate::admin::TerminalInfo;
use crate::error::{AuthError, HubError};
use crate::hub::Hub;
use crate::sync::TerminalReport;

/// The largest body of a request other than an upload.
pub(crate) const SMALL_BODY: usize = 16 * 1024;
/// `Retry-After` when every upload buffer stayed taken for the body timeout.
const BUSY_RETRY_S: u64 = 30;

/// A refusal, and whether the connection must close because the
/// request's body was not (entirely) read.
#[derive(Debug)]
pub(crate) struct Refused {
    pub error: ApiError,
    pub close: bool,
}

impl Refused {
    fn open(error: impl Into<ApiError>) -> Refused {
        Refused {
            error: error.into(),
            close: false,
        }
    }

    fn closing(error: impl Into<ApiError>) -> Refused {
        Refused {
            error: error.into(),
            close: true,
        }
    }
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused::open(error)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut resp = self.error.into_response();
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// What an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A small body (usually none); revoked terminals may still ask.
    Small,
    /// A small body; revoked terminals are refused.
    SmallActive,
    /// A record upload: `Content-Length` required, up to
    /// `max_upload_bytes`; revoked terminals are refused.
    Upload,
}

/// An authenticated request.
#[derive(Debug)]
pub(crate) struct Signed {
    pub terminal: TerminalInfo,
    /// The request's nonce, for answers bound to it.
    pub nonce: [u8; 16],
    pub body: Payload,
}

/// A request body: small ones on their own, uploads in a pooled buffer.
#[derive(Debug)]
pub(crate) enum Payload {
    Small(Bytes),
    Upload(PooledBody),
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Payload::Small(b) => b,
            Payload::Upload(b) => &b.buf,
        }
    }
}

/// The upload buffers and the permits to use them.
#[derive(Debug)]
struct BodyPool {
    permits: Arc<Semaphore>,
    free: Mutex<Vec<Vec<u8>>>,
    size: usize,
}

/// An upload body in a pooled buffer; the buffer and its permit go back
/// when this is dropped.
#[derive(Debug)]
pub(crate) struct PooledBody {
    buf: Vec<u8>,
    pool: Arc<BodyPool>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Ok(mut free) = self.pool.free.lock() {
            free.push(buf);
        }
    }
}

/// The request's method, path (with query) and headers.
#[derive(Debug)]
pub(crate) struct Head<'a> {
    pub method: &'a Method,
    pub path: String,
    pub headers: &'a HeaderMap,
    pub who: &'a Who,
}

/// Cases one client address may file: a few at once, then one a minute.
pub(crate) const CITIZEN_FILING_BURST: u32 = 5;
pub(crate) const CITIZEN_FILINGS_PER_MINUTE: u32 = 1;
/// Case status checks one client address may make.
pub(crate) const CITIZEN_CHECK_BURST: u32 = 20;
pub(crate) const CITIZEN_CHECKS_PER_MINUTE: u32 = 10;

/// The gate of one server.
#[derive(Debug)]
pub(crate) struct Gate {
    pub hub: Arc<Hub>,
    pub rate: RateLimiter,
    /// Cases filed on the citizens' pages, per client address.
    pub citizen_filings: RateLimiter,
    /// Case status checks, per client address.
    pub citizen_checks: RateLimiter,
    /// Each provincial platform's requests, at its own rate.
    pub platform_rates: super::platform::PlatformRates,
    /// Unsigned artefact downloads, per client address.
    pub downloads: super::artefact::Downloads,
    pub warnings: Arc<Warnings>,
    uploads: Arc<BodyPool>,
    body_timeout: Duration,
}

/// The reason code a refusal is logged under: the code clients see.
fn reason_of(e: &ApiError) -> &'static str {
    e.parts().1
}

impl Gate {
    pub(crate) fn new(hub: Arc<Hub>, warnings: Arc<Warnings>) -> Gate {
        let c = hub.config();
        Gate {
            rate: RateLimiter::new(c.terminal_requests_per_minute, c.terminal_request_burst),
            citizen_filings: RateLimiter::new(CITIZEN_FILINGS_PER_MINUTE, CITIZEN_FILING_BURST),
            citizen_checks: RateLimiter::new(CITIZEN_CHECKS_PER_MINUTE, CITIZEN_CHECK_BURST),
            platform_rates: super::platform::PlatformRates::default(),
            downloads: super::artefact::Downloads::default(),
            uploads: Arc::new(BodyPool {
                permits: Arc::new(Semaphore::new(c.max_concurrent_uploads.max(1))),
                free: Mutex::new(Vec::new()),
                size: c.max_upload_bytes,
            }),
            body_timeout: Duration::from_secs(c.body_timeout_s),
            warnings,
            hub,
        }
    }

    /// Reads a body of at most `limit` bytes within the body timeout.
    /// Refusals close the connection: the rest of the body is unread.
    pub(crate) async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<Bytes, Refused> {
        let declared = declared_length(headers)?;
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(Refused::closing(ApiError::TooLarge(format!(
                "the body is larger than the {limit} bytes allowed here"
            ))));
        }
        let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
        let mut buf = Vec::with_capacity(capacity);
        self.timed(read_into(body, &mut buf, limit)).await?;
        Ok(Bytes::from(buf))
    }

    /// Admits a signed request: the checks from the headers, then the
    /// body, then the signature over it. Every refusal is logged (rate
    /// limited) with the claimed terminal and the peer.
    pub(crate) async fn signed(
        &self,
        head: Head<'_>,
        body: Body,
        endpoint: Endpoint,
    ) -> Result<Signed, Refused> {
        self.signed_reporting(head, body, endpoint, None).await
    }

    /// [`Gate::signed`] for a request that also reports the terminal's
    /// state (a metadata poll): noted in the nonce's transaction, so that
    /// the request commits once.
    pub(crate) async fn signed_reporting(
        &self,
        head: Head<'_>,
        body: Body,
        endpoint: Endpoint,
        report: Option<TerminalReport>,
    ) -> Result<Signed, Refused> {
        let claimed = head
            .headers
            .get(xinyi_core::wire::request::HEADER_TERMINAL)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match self.admit(&head, body, endpoint, report).await {
            Ok(s) => Ok(s),
            Err(r) => {
                self.warnings.refused(
                    "signed request",
                    reason_of(&r.error),
                    head.who,
                    claimed.as_deref(),
                );
                Err(r)
            }
        }
    }

    async fn admit(
        &self,
        head: &Head<'_>,
        body: Body,
        endpoint: Endpoint,
        report: Option<TerminalReport>,
    ) -> Result<Signed, Refused> {
        let auth = RequestAuth::from_headers(|h| head.headers.get(h).and_then(|v| v.to_str().ok()))
            .map_err(|e| Refused::closing(HubError::Auth(AuthError::Missing(e.to_string()))))?;
        if let Err(wait) = self.rate.check(&auth.terminal, Instant::now()) {
            return Err(Refused::closing(ApiError::RateLimited {
                retry_after_s: retry_after_s(wait),
            }));
        }
        let declared = declared_length(head.headers)?;
        let limit = match endpoint {
            Endpoint::Small | Endpoint::SmallActive => SMALL_BODY,
            Endpoint::Upload => self.hub.config().max_upload_bytes,
        };
        // Who is asking, before anything is read.
        let claimed = auth.terminal.clone();
        let time = auth.time;
        let refuse_revoked = endpoint != Endpoint::Small;
        let known = blocking(&self.hub, move |hub| {
            precheck(hub, &claimed, time, refuse_revoked)
        })
        .await
        .map_err(Refused::closing)?;
        let length = match (declared, endpoint) {
            (Some(n), _) if n > limit as u64 => {
                return Err(Refused::closing(ApiError::TooLarge(format!(
                    "the body of {n} bytes is larger than the {limit} bytes allowed here"
                ))));
            }
            (Some(n), _) => usize::try_from(n).unwrap_or(limit),
            (None, Endpoint::Upload) => return Err(Refused::closing(ApiError::LengthRequired)),
            (None, _) => 0,
        };
        let payload = match endpoint {
            Endpoint::Upload => Payload::Upload(self.read_upload(body, length).await?),
            _ => {
                let mut buf = Vec::with_capacity(length);
                self.timed(read_into(body, &mut buf, limit)).await?;
                Payload::Small(Bytes::from(buf))
            }
        };
        let method = head.method.as_str().to_owned();
        let path = head.path.clone();
        let nonce = auth.nonce;
        let (terminal, payload) = blocking(&self.hub, move |hub| {
            let t = hub.authenticate(&known, &auth, &method, &path, &payload, report.as_ref())?;
            Ok((t, payload))
        })
        .await
        .map_err(Refused::open)?;
        if refuse_revoked && terminal.revoked() {
            return Err(Refused::open(HubError::Auth(AuthError::Revoked(
                terminal.id.clone(),
            ))));
        }
        if let Err(wait) = self.rate.take(&terminal.id, Instant::now()) {
            return Err(Refused::open(ApiError::RateLimited {
                retry_after_s: retry_after_s(wait),
            }));
        }
        Ok(Signed {
            terminal,
            nonce,
            body: payload,
        })
    }

    /// Reads an upload body of `length` bytes into a pooled buffer once
    /// one is free (503 if none is within the body timeout: the hub is
    /// busy with other uploads), then within the body timeout.
    async fn read_upload(&self, body: Body, length: usize) -> Result<PooledBody, Refused> {
        let pool = &self.uploads;
        let waiting = Arc::clone(&pool.permits).acquire_owned();
        let permit = match tokio::time::timeout(self.body_timeout, waiting).await {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(Refused::closing(ApiError::Busy {
                    retry_after_s: BUSY_RETRY_S,
                }));
            }
        };
        let buf = pool
            .free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_else(|| Vec::with_capacity(pool.size));
        let mut pooled = PooledBody {
            buf,
            pool: Arc::clone(pool),
            _permit: permit,
        };
        self.timed(read_into(body, &mut pooled.buf, length.min(pool.size)))
            .await?;
        Ok(pooled)
    }

    /// `read` within the body timeout; past it the client gets 408.
    async fn timed<T>(&self, read: impl Future<Output = Result<T, Refused>>) -> Result<T, Refused> {
        match tokio::time::timeout(self.body_timeout, read).await {
            Ok(r) => r,
            Err(_) => Err(Refused::closing(ApiError::BodyTimeout)),
        }
    }
}

/// The checks a signed request passes on its headers alone: the terminal
/// is known (and not revoked, if `refuse_revoked`) and the request time
/// within the skew. [`Hub::authenticate`] repeats them with the signature.
fn precheck(
    hub: &Hub,
    terminal: &str,
    time: i64,
    refuse_revoked: bool,
) -> Result<TerminalInfo, HubError> {
    let t = hub
        .terminal(terminal)?
        .ok_or_else(|| AuthError::UnknownTerminal(terminal.to_owned()))?;
    if refuse_revoked && t.revoked() {
        return Err(AuthError::Revoked(t.id).into());
    }
    let skew = hub.config().request_skew_s;
    let offset = time.saturating_sub(hub.now().0);
    if offset.saturating_abs() > skew {
        return Err(AuthError::ClockSkew {
            offset_s: offset,
            max_s: skew,
        }
        .into());
    }
    Ok(t)
}

/// The `Content-Length` a request declares, if any.
fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, Refused> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| {
                Refused::closing(ApiError::BadRequest {
                    code: "bad_request",
                    message: "Content-Length is not a number".into(),
                })
            }),
    }
}

/// Appends `body` to `buf`, refusing more than `limit` bytes. The caller
/// bounds the time of the whole body: a timeout that restarted with every
/// chunk would let a client trickle forever.
async fn read_into(mut body: Body, buf: &mut Vec<u8>, limit: usize) -> Result<(), Refused> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Refused::closing(ApiError::BadRequest {
                code: "bad_request",
                message: format!("cannot read the request body: {e}"),
            })
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(Refused::closing(ApiError::TooLarge(format!(
                    "the body is larger than the {limit} bytes allowed here"
                ))));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(())
}
