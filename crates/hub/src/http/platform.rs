//! The provincial platforms' API: `POST /v1/platform/identity` (身份核对:
//! is this user listed, in which categories, which measures apply now) and
//! `POST /v1/platform/cases` (an objection or complaint filed for the
//! user). Requests are signed with the platform's own key, as terminals
//! sign theirs; each platform has its own rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use xinyi_core::wire::request::RequestAuth;

use super::gate::{Gate, Refused, SMALL_BODY};
use super::rate::{RateLimiter, retry_after_s};
use super::{ApiError, blocking, octets};
use crate::cases::{CaseKind, NewCase};
use crate::error::{AuthError, HubError};
use crate::platforms::PlatformInfo;

/// Each platform's token bucket, at its own rate.
#[derive(Debug, Default)]
pub(crate) struct PlatformRates {
    buckets: Mutex<HashMap<String, Arc<RateLimiter>>>,
}

impl PlatformRates {
    fn take(&self, p: &PlatformInfo) -> Result<(), std::time::Duration> {
        let limiter = match self.buckets.lock() {
            Ok(mut m) => Arc::clone(m.entry(p.id.clone()).or_insert_with(|| {
                Arc::new(RateLimiter::new(
                    p.requests_per_minute,
                    p.requests_per_minute,
                ))
            })),
            Err(_) => return Ok(()),
        };
        limiter.take(&p.id, Instant::now())
    }

    pub(crate) fn prune(&self, now: Instant) {
        if let Ok(m) = self.buckets.lock() {
            for l in m.values() {
                l.prune(now);
            }
        }
    }
}

/// A platform's signed request, admitted: who sent it and its body.
async fn admit(
    gate: &Arc<Gate>,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(PlatformInfo, Bytes), Refused> {
    let auth = RequestAuth::from_headers(|h| headers.get(h).and_then(|v| v.to_str().ok()))
        .map_err(|e| ApiError::from(HubError::Auth(AuthError::Missing(e.to_string()))))?;
    let body = gate.read_body(headers, body, SMALL_BODY).await?;
    let path = uri
        .0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_owned(), |p| p.as_str().to_owned());
    let method = method.as_str().to_owned();
    let bytes = body.clone();
    let p = blocking(&gate.hub, move |hub| {
        hub.authenticate_platform(&auth, &method, &path, &bytes)
    })
    .await?;
    if let Err(wait) = gate.platform_rates.take(&p) {
        return Err(ApiError::RateLimited {
            retry_after_s: retry_after_s(wait),
        }
        .into());
    }
    Ok((p, body))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        code: "bad_request",
        message: format!("the body is not the JSON this endpoint takes: {e}"),
    })
}

fn json_response(v: &serde_json::Value) -> Response {
    octets(
        StatusCode::OK,
        serde_json::to_vec(v).unwrap_or_default(),
        "application/json",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityQuestion {
    kind: String,
    id_number: String,
}

pub(super) async fn identity(
    State(gate): State<Arc<Gate>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let (p, body) = admit(&gate, &method, &uri, &headers, body).await?;
    let q: IdentityQuestion = parse(&body)?;
    let answer = blocking(&gate.hub, move |hub| {
        hub.identity_check(&p, &q.kind, &q.id_number)
    })
    .await?;
    Ok(json_response(&json!(answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFiling {
    kind: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    site: Option<String>,
    phone: String,
    text: String,
    #[serde(default)]
    id_kind: Option<String>,
    #[serde(default)]
    id_number: Option<String>,
}

pub(super) async fn cases(
    State(gate): State<Arc<Gate>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let (p, body) = admit(&gate, &method, &uri, &headers, body).await?;
    let f: CaseFiling = parse(&body)?;
    let kind = CaseKind::parse(f.kind.trim()).ok_or_else(|| ApiError::BadRequest {
        code: "bad_request",
        message: format!("kind {:?}: objection or complaint", f.kind),
    })?;
    let case = NewCase {
        kind: Some(kind),
        channel: format!("platform:{}", p.name),
        reference: f.reference,
        site: f.site,
        phone: f.phone,
        text: f.text,
        id_number: f
            .id_number
            .map(|id| (f.id_kind.unwrap_or_else(|| "person".into()), id)),
    };
    let filed = blocking(&gate.hub, move |hub| hub.file_case(&case)).await?;
    Ok(json_response(&json!({
        "number": filed.number,
        "due": filed.due_at.date_utc8().to_string(),
    })))
}
