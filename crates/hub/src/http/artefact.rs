//! Artefacts by content address, for terminals and for the HTTP caches in
//! front of the hubs.
//!
//! `GET /v1/a/{sha256}` needs no signature: the address is the SHA-256 of
//! the bytes, a terminal learns it only from metadata the registry key
//! signed and checks the bytes against it (and their length), so what a
//! cache or CDN keeps and serves cannot pass for anything but what the
//! registry published. The answer says any cache may keep it for a year
//! (`Cache-Control: public, max-age=31536000, immutable`, a strong `ETag`
//! that is the hash), answers `If-None-Match` with 304 and
//! `Range: bytes=N-` / `bytes=N-M` with 206.
//!
//! Only stored artefacts are ever read: the address must be 64 lowercase
//! hex digits (nothing else reaches the database; no query string, no
//! body), and the bytes are checked against it before they go out, so a
//! damaged row is never handed to a cache to keep for a year. Anyone may
//! ask, so asking is bounded: each client address has a token bucket
//! ([`DOWNLOAD_BURST`], then [`DOWNLOADS_PER_MINUTE`]; behind a proxy on
//! this machine, the address it added last to `X-Forwarded-For`), checked
//! before anything else, and at most [`MAX_BODIES`] answers' bytes are
//! held at once (until each is sent or dropped); past either the client
//! gets 429 or 503 with `Retry-After` at the cost of a map lookup. The
//! signed `/v1/artefacts/{sha256}` of earlier terminals answers the same
//! bytes, per terminal and never to be stored by a shared cache.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use xinyi_core::wire::Digest32;

use super::gate::{Gate, Refused};
use super::rate::{RateLimiter, retry_after_s};
use super::{ApiError, Peer, blocking};
use crate::error::HubError;

/// Where artefacts are served by content address.
pub const CACHEABLE_PREFIX: &str = "/v1/a/";
/// How the answers may be cached: by anyone, for a year, never revalidated.
pub const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";
/// Cacheable artefact requests one client address may make at once…
pub(crate) const DOWNLOAD_BURST: u32 = 60;
/// …and per minute after that. A terminal fetches one or two artefacts a
/// sync; a cache in front fetches each artefact once.
pub(crate) const DOWNLOADS_PER_MINUTE: u32 = 120;
/// Cacheable answers whose bytes one hub process holds at once.
pub(crate) const MAX_BODIES: usize = 32;
/// `Retry-After` when all of them are taken.
const BUSY_RETRY_S: u64 = 5;
/// The most of a bad address that is echoed in the refusal.
const MAX_SHOWN: usize = 80;

/// The bounds on cacheable downloads of one server.
#[derive(Debug)]
pub(crate) struct Downloads {
    /// Requests per client address.
    pub rate: RateLimiter,
    /// Answers holding an artefact's bytes.
    bodies: Arc<Semaphore>,
}

impl Default for Downloads {
    fn default() -> Downloads {
        Downloads {
            rate: RateLimiter::new(DOWNLOADS_PER_MINUTE, DOWNLOAD_BURST),
            bodies: Arc::new(Semaphore::new(MAX_BODIES)),
        }
    }
}

/// The strong entity tag of the artefact with this hash.
fn etag(digest: &Digest32) -> String {
    format!("\"{}\"", digest.to_hex())
}

/// The artefact an address names: exactly 64 lowercase hex digits. Any
/// other spelling would be a second cache entry for the same bytes.
fn parse_address(address: &str) -> Option<Digest32> {
    if address.len() != 64
        || !address
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    Digest32::from_hex(address).ok()
}

/// Whether `If-None-Match` names this entity tag (weak comparison, as
/// RFC 9110 asks for this header) or is `*`.
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// The start (and end, if given) of a `Range: bytes=N-` or `bytes=N-M`
/// request, if it is one that is served; other forms are ignored and the
/// whole artefact is sent.
pub(super) fn range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
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

/// The part of `bytes` a range asks for, with its `Content-Range`; 416 for
/// a range starting past the end.
pub(super) fn part(
    bytes: Bytes,
    (start, end): (u64, Option<u64>),
) -> Result<(Bytes, HeaderValue), ApiError> {
    let len = bytes.len() as u64;
    if start >= len {
        return Err(ApiError::RangeNotSatisfiable { length: len });
    }
    let last = end.map_or(len - 1, |e| e.min(len - 1));
    let content_range = HeaderValue::from_str(&format!("bytes {start}-{last}/{len}"))
        .map_err(|_| ApiError::Internal)?;
    // start <= last < len, which is a usize.
    let part = bytes.slice(start as usize..=last as usize);
    Ok((part, content_range))
}

/// An answer's bytes, holding one of the [`MAX_BODIES`] permits until it
/// has been sent or dropped.
struct Held {
    data: Option<Bytes>,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// Client text for a refusal: at most [`MAX_SHOWN`] characters.
fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let mut s: String = chars.by_ref().take(MAX_SHOWN).collect();
    if chars.next().is_some() {
        s.push('…');
    }
    s
}

/// `GET /v1/a/{sha256}` (and HEAD).
pub(super) async fn cacheable(
    State(gate): State<Arc<Gate>>,
    peer: Peer,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    let key = super::citizen::client_key(&peer);
    let refused = |reason: &'static str, e: ApiError| {
        gate.warnings
            .refused("artefact download", reason, &peer.0, None);
        e
    };
    if let Err(wait) = gate.downloads.rate.take(&key, Instant::now()) {
        return Err(refused(
            "address_rate_limited",
            ApiError::AddressRateLimited {
                retry_after_s: retry_after_s(wait),
            },
        )
        .into());
    }
    if uri.0.query().is_some() {
        return Err(ApiError::BadRequest {
            code: "bad_request",
            message: "an artefact's address takes no query string".into(),
        }
        .into());
    }
    if has_body(&headers) {
        // The body is not read: the connection closes after the answer.
        return Err(Refused {
            error: ApiError::TooLarge("a download takes no request body".into()),
            close: true,
        });
    }
    // The raw path, not percent-decoded: only hex digits are an address.
    let address = uri.0.path().strip_prefix(CACHEABLE_PREFIX).unwrap_or("");
    let Some(digest) = parse_address(address) else {
        return Err(ApiError::NotFound(format!(
            "no artefact at {:?}: an artefact's address is the SHA-256 of its bytes in 64 lowercase hex digits",
            shown(address)
        ))
        .into());
    };
    let Ok(permit) = Arc::clone(&gate.downloads.bodies).try_acquire_owned() else {
        return Err(refused(
            "downloads_busy",
            ApiError::DownloadsBusy {
                retry_after_s: BUSY_RETRY_S,
            },
        )
        .into());
    };
    let bytes = blocking(&gate.hub, move |hub| {
        let Some(bytes) = hub.artefact(&digest)? else {
            return Ok(None);
        };
        // What a cache keeps for a year must be what its address says.
        if Digest32::of(&bytes) != digest {
            return Err(HubError::corrupt(format!(
                "the stored artefact {digest} does not have that SHA-256"
            )));
        }
        Ok(Some(bytes))
    })
    .await?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "no artefact {digest}: the hub holds none with this SHA-256"
        ))
    })?;
    let tag = etag(&digest);
    let mut resp = if none_match(&headers, &tag) {
        drop(permit);
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let bytes = Bytes::from(bytes);
        // A range is served only while `If-Range`, if sent, names these
        // bytes (it always does for an address that never changes).
        let wanted = range(&headers).filter(|_| {
            headers
                .get(header::IF_RANGE)
                .is_none_or(|v| v.as_bytes() == tag.as_bytes())
        });
        let (status, data, content_range) = match wanted {
            Some(r) => {
                let (data, cr) = part(bytes, r)?;
                (StatusCode::PARTIAL_CONTENT, data, Some(cr))
            }
            None => (StatusCode::OK, bytes, None),
        };
        let mut r = Response::new(Body::new(Held {
            data: Some(data),
            _permit: permit,
        }));
        *r.status_mut() = status;
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Some(cr) = content_range {
            h.insert(header::CONTENT_RANGE, cr);
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_FOREVER),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Whether a request says it carries a body.
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lowercase_sha256_only() {
        let d = Digest32::of(b"artefact");
        assert_eq!(parse_address(&d.to_hex()), Some(d));
        for bad in [
            d.to_hex().to_uppercase(),
            d.to_hex()[..63].to_owned(),
            format!("{}0", d.to_hex()),
            "../../hub.db".into(),
            format!("{}%00", &d.to_hex()[..61]),
            String::new(),
        ] {
            assert_eq!(parse_address(&bad), None, "{bad}");
        }
    }

    #[test]
    fn if_none_match_forms() {
        let tag = etag(&Digest32::of(b"x"));
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{tag}")).unwrap(),
        );
        assert!(none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, &tag));
    }

    #[test]
    fn ranges() {
        let mut h = HeaderMap::new();
        for (v, want) in [
            ("bytes=5-", Some((5, None))),
            ("bytes=2-4", Some((2, Some(4)))),
            ("bytes=4-2", None),
            ("bytes=-3", None),
            ("bytes=0-1,3-4", None),
            ("items=0-1", None),
        ] {
            h.insert(header::RANGE, HeaderValue::from_static(v));
            assert_eq!(range(&h), want, "{v}");
        }
        let bytes = Bytes::from_static(b"0123456789");
        let (p, cr) = part(bytes.clone(), (2, Some(4))).unwrap();
        assert_eq!(
            (&p[..], cr.to_str().unwrap()),
            (&b"234"[..], "bytes 2-4/10")
        );
        let (p, cr) = part(bytes.clone(), (7, Some(99))).unwrap();
        assert_eq!(
            (&p[..], cr.to_str().unwrap()),
            (&b"789"[..], "bytes 7-9/10")
        );
        assert!(matches!(
            part(bytes, (10, None)),
            Err(ApiError::RangeNotSatisfiable { length: 10 })
        ));
        assert!(matches!(
            part(Bytes::new(), (0, None)),
            Err(ApiError::RangeNotSatisfiable { length: 0 })
        ));
    }
}
