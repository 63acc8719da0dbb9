//! The HTTP client of the registry hub: enrollment, signed requests,
//! metadata, resumable artefact downloads (from their content address,
//! which an HTTP cache may answer, or signed) and journal uploads. Bytes only:
//! every answer is checked by the caller against the pinned registry key
//! and the metadata before anything is trusted.
//!
//! The channel is HTTPS: a hub address that is `http://` is refused unless
//! it is this machine (the demo, tests, a local proxy). The hub's
//! certificate is checked against the system's roots, or — when the credit
//! office gave its own CA or self-signed certificate at enrollment — against
//! that alone. Every body read is bounded, error answers included.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use xinyi_core::UnixTime;
use xinyi_core::wire::check::{self, CheckRequest};
use xinyi_core::wire::enroll::{EnrollGrant, EnrollRequest};
use xinyi_core::wire::journal::{SignedRecord, encode_batch};
use xinyi_core::wire::metadata::ArtefactRef;
use xinyi_core::wire::request::RequestAuth;
use xinyi_core::wire::{Fingerprint, WireError};

/// Where artefacts are served by content address (their SHA-256 follows),
/// for any HTTP cache to keep.
pub const CACHEABLE: &str = "/v1/a/";

/// The most a metadata answer may be: it is a few kilobytes.
const MAX_METADATA: u64 = 256 * 1024;
/// The most of an error answer that is read: its JSON is a line or two.
const MAX_ERROR_BODY: u64 = 16 * 1024;

/// Why talking to the hub failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the hub at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the hub answered {status} to {what}: {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("the hub's answer to {what} is larger than the {limit} bytes allowed")]
    TooLarge { what: String, limit: u64 },
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("download file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad hub URL {0:?}: it must start with https:// (or http:// to this machine)")]
    BadUrl(String),
    #[error(
        "refusing plain http:// to {0}: the hub must be reached over https:// (plain http only to this machine, 127.0.0.1 or localhost)"
    )]
    PlainHttp(String),
    #[error("the hub's CA certificate is not usable: {0}")]
    BadCa(String),
    #[error("the hub says this terminal was revoked")]
    Revoked {
        /// The hub's signed notice, still to be checked with the pinned key.
        notice: Vec<u8>,
    },
    #[error("the hub granted enrollment to terminal {granted}, not to this terminal's key ({own})")]
    WrongGrant { granted: String, own: String },
    #[error(
        "asked for artefact {artefact} from byte {asked}, the answer holds {answered:?}: refused"
    )]
    BadRange {
        artefact: String,
        asked: u64,
        answered: String,
    },
}

/// Where an artefact is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `/v1/a/{sha256}`: unsigned, cacheable.
    Cacheable,
    /// `/v1/artefacts/{sha256}`: signed, for this terminal only.
    Signed,
}

fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + use<> {
    let path = path.to_path_buf();
    move |source| ClientError::File { path, source }
}

/// Removes a partial download, if there is one.
async fn remove_part(part: &Path) -> Result<(), ClientError> {
    match tokio::fs::remove_file(part).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(file_err(part)(e)),
        _ => Ok(()),
    }
}

/// The first byte and the total length a `Content-Range: bytes F-L/T`
/// answer names, when it runs to the end.
fn content_range(v: &str) -> Option<(u64, u64)> {
    let (span, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last, total): (u64, u64, u64) =
        (first.parse().ok()?, last.parse().ok()?, total.parse().ok()?);
    (first <= last && last.checked_add(1)? == total).then_some((first, total))
}

impl ClientError {
    /// Whether retrying later may help (the network or the hub is down),
    /// as opposed to a refusal that needs a person.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// A fresh request nonce. A nonce only has to be unlikely to repeat; a
/// failed draw falls back to the clock, which the hub's replay check still
/// covers.
fn fresh_nonce(now: UnixTime) -> [u8; 16] {
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        nonce[..8].copy_from_slice(&now.0.to_be_bytes());
    }
    nonce
}

/// A connection to one hub, as one enrolled terminal.
#[derive(Debug, Clone)]
pub struct HubClient {
    http: reqwest::Client,
    base: String,
    key: SigningKey,
    terminal_id: String,
}

/// An HTTP client for the hub. With `ca` (PEM: the credit office's CA or
/// its self-signed certificate), only certificates it vouches for are
/// accepted; without, the system's roots.
fn http_client(timeout: Duration, ca: Option<&str>) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(concat!("xinyi/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| ClientError::BadCa(e.to_string()))?;
        if certs.is_empty() {
            return Err(ClientError::BadCa("the file holds no certificate".into()));
        }
        b = b.tls_certs_only(certs);
    }
    b.build().map_err(|source| ClientError::Unreachable {
        url: String::new(),
        source,
    })
}

/// Whether `host` (as in a URL) is this machine.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The hub's base URL without a trailing slash: `https://…`, or `http://`
/// to this machine only.
pub fn normalize(url: &str) -> Result<String, ClientError> {
    let u = url.trim().trim_end_matches('/');
    if u.starts_with("https://") {
        return Ok(u.to_owned());
    }
    let Some(rest) = u.strip_prefix("http://") else {
        return Err(ClientError::BadUrl(url.to_owned()));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        // host:port, or an IPv6 literal [..]:port
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    if !is_loopback(host) {
        return Err(ClientError::PlainHttp(authority.to_owned()));
    }
    Ok(u.to_owned())
}

async fn refused(what: &str, resp: reqwest::Response) -> ClientError {
    let status = resp.status().as_u16();
    // An error answer is a line of JSON; more than that is not read.
    let body = read_limited(what, resp, MAX_ERROR_BODY, "")
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| "(an error answer too large to read)".to_owned());
    let json = serde_json::from_str::<serde_json::Value>(&body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|v| v.get(k).and_then(|e| e.as_str()).map(str::to_owned))
    };
    if status == 403
        && field("code").as_deref() == Some("terminal_revoked")
        && let Some(notice) = field("notice")
    {
        return ClientError::Revoked {
            notice: notice.into_bytes(),
        };
    }
    let message = field("error").unwrap_or_else(|| body.chars().take(200).collect());
    ClientError::Refused {
        what: what.to_owned(),
        status,
        message,
    }
}

/// Reads a body, refusing more than `limit` bytes (a hub that sends more
/// than it said is either broken or hostile: endless data).
async fn read_limited(
    what: &str,
    mut resp: reqwest::Response,
    limit: u64,
    url: &str,
) -> Result<Vec<u8>, ClientError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(ClientError::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|source| ClientError::Unreachable {
            url: url.to_owned(),
            source,
        })?
    {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(ClientError::TooLarge {
                what: what.to_owned(),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Enrolls with a one-time code: proves the code is held (without sending
/// it), and returns the grant and the registry key to pin, which must have
/// the `fingerprint` the operator gave.
pub async fn enroll(
    hub_url: &str,
    code: &str,
    label: &str,
    key: &SigningKey,
    fingerprint: &Fingerprint,
    ca: Option<&str>,
) -> Result<(EnrollGrant, VerifyingKey), ClientError> {
    let base = normalize(hub_url)?;
    let url = format!("{base}/v1/enroll");
    let req = EnrollRequest::new(code, &key.verifying_key(), fingerprint, label);
    let resp = http_client(Duration::from_secs(30), ca)?
        .post(&url)
        .json(&req)
        .send()
        .await
        .map_err(|source| ClientError::Unreachable {
            url: url.clone(),
            source,
        })?;
    if !resp.status().is_success() {
        return Err(refused("enrollment", resp).await);
    }
    let body = read_limited("enrollment", resp, MAX_METADATA, &url).await?;
    let (grant, registry) = EnrollGrant::open(&body, fingerprint)?;
    let own = xinyi_core::wire::key_id(key.verifying_key().as_bytes());
    if grant.terminal_id != own {
        return Err(ClientError::WrongGrant {
            granted: grant.terminal_id,
            own,
        });
    }
    Ok((grant, registry))
}

impl HubClient {
    /// A client of the hub at `hub_url` signing with `key`; `ca` as for
    /// enrollment.
    pub fn new(hub_url: &str, key: SigningKey, ca: Option<&str>) -> Result<HubClient, ClientError> {
        let terminal_id = xinyi_core::wire::key_id(key.verifying_key().as_bytes());
        Ok(HubClient {
            http: http_client(Duration::from_secs(120), ca)?,
            base: normalize(hub_url)?,
            key,
            terminal_id,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A request signed at `now` (the terminal's clock, passed in so that
    /// a whole sync runs on one clock).
    fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
        now: UnixTime,
    ) -> reqwest::RequestBuilder {
        self.signed_with(method, path, body, now, fresh_nonce(now))
    }

    fn signed_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
        now: UnixTime,
        nonce: [u8; 16],
    ) -> reqwest::RequestBuilder {
        let now = now.0;
        let auth = RequestAuth::sign(
            &self.key,
            &self.terminal_id,
            method.as_str(),
            path,
            now,
            nonce,
            body,
        );
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in auth.headers() {
            rb = rb.header(name, value);
        }
        rb
    }

    async fn send(
        &self,
        what: &str,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = rb.send().await.map_err(|source| ClientError::Unreachable {
            url: self.base.clone(),
            source,
        })?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(refused(what, resp).await)
        }
    }

    /// Fresh signed metadata for a terminal holding `have`, telling the
    /// hub (for its fleet view) the journal's last sequence number `head`
    /// and this program's version.
    pub async fn metadata(
        &self,
        have: u64,
        head: u64,
        now: UnixTime,
    ) -> Result<Vec<u8>, ClientError> {
        let path = format!(
            "/v1/metadata?have={have}&head={head}&app={}",
            env!("CARGO_PKG_VERSION")
        );
        let resp = self
            .send(
                "metadata",
                self.signed(reqwest::Method::GET, &path, b"", now),
            )
            .await?;
        read_limited("metadata", resp, MAX_METADATA, &self.base).await
    }

    /// Downloads an artefact pinned by the metadata into `dir`, resuming a
    /// partial download and refusing more bytes than pinned.
    ///
    /// First from its content address, `/v1/a/{sha256}`, which needs no
    /// signature, so an HTTP cache or CDN in front of the hubs may answer
    /// it. Bytes from there are used only when they are exactly the ones
    /// pinned (SHA-256 and length); anything else — other bytes, more
    /// bytes, a range not asked for, a refusal (a hub of an earlier
    /// version has no such address) — is set aside and the artefact is
    /// fetched whole with a signed request to `/v1/artefacts/{sha256}`,
    /// which no shared cache answers. Whether those bytes are the ones
    /// pinned is for the plan to judge, as for a bundle. A network failure
    /// keeps the part fetched for the next attempt to resume.
    pub async fn artefact(
        &self,
        pin: ArtefactRef,
        dir: &Path,
        now: UnixTime,
    ) -> Result<Vec<u8>, ClientError> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(file_err(dir))?;
        let hex = pin.sha256.to_hex();
        let part = dir.join(format!("{hex}.part"));
        match self.fetch(Route::Cacheable, pin, &part, now).await {
            Ok(bytes) if ArtefactRef::of(&bytes) == pin => return Ok(bytes),
            Ok(bytes) => {
                let found = ArtefactRef::of(&bytes);
                tracing::warn!(
                    artefact = %hex,
                    found = %found.sha256,
                    length = found.length,
                    pinned_length = pin.length,
                    "the bytes served at {CACHEABLE}{hex} are not the artefact the signed metadata pins \
                     (a cache or proxy on the way served wrong bytes): refused, fetching it with a signed request"
                );
            }
            // The network failed: the part fetched is kept for the next
            // attempt to resume.
            Err(e @ (ClientError::Unreachable { .. } | ClientError::File { .. })) => return Err(e),
            Err(e @ ClientError::Refused { status: 404, .. }) => {
                tracing::info!(
                    artefact = %hex,
                    "not served at {CACHEABLE}{hex} ({e}): fetching it with a signed request"
                );
            }
            Err(e) => {
                tracing::warn!(
                    artefact = %hex,
                    "{e} (at {CACHEABLE}{hex}): refused, fetching it with a signed request"
                );
            }
        }
        remove_part(&part).await?;
        self.fetch(Route::Signed, pin, &part, now).await
    }

    /// One download of `pin` into `part` from `route`, resuming what the
    /// file holds; the bytes fetched, whole or not.
    async fn fetch(
        &self,
        route: Route,
        pin: ArtefactRef,
        part: &Path,
        now: UnixTime,
    ) -> Result<Vec<u8>, ClientError> {
        let hex = pin.sha256.to_hex();
        let mut have = tokio::fs::metadata(part).await.map_or(0, |m| m.len());
        if have > pin.length {
            remove_part(part).await?;
            have = 0;
        }
        if have < pin.length {
            let mut rb = match route {
                Route::Cacheable => self.http.get(format!("{}{CACHEABLE}{hex}", self.base)),
                Route::Signed => self.signed(
                    reqwest::Method::GET,
                    &format!("/v1/artefacts/{hex}"),
                    b"",
                    now,
                ),
            };
            if have > 0 {
                rb = rb.header(reqwest::header::RANGE, format!("bytes={have}-"));
            }
            let mut resp = self.send("artefact download", rb).await?;
            if resp.status() == StatusCode::PARTIAL_CONTENT {
                // Only the rest of these bytes may be appended.
                let answered = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if content_range(answered) != Some((have, pin.length)) {
                    return Err(ClientError::BadRange {
                        artefact: hex,
                        asked: have,
                        answered: answered.chars().take(80).collect(),
                    });
                }
            }
            let resumed = if resp.status() == StatusCode::PARTIAL_CONTENT {
                have
            } else {
                0
            };
            if resp
                .content_length()
                .is_some_and(|n| resumed.saturating_add(n) > pin.length)
            {
                return Err(ClientError::TooLarge {
                    what: format!("artefact {hex}"),
                    limit: pin.length,
                });
            }
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(part)
                .await
                .map_err(file_err(part))?;
            if resp.status() != StatusCode::PARTIAL_CONTENT && have > 0 {
                // The whole artefact came instead of the rest: start over.
                file.set_len(0).await.map_err(file_err(part))?;
                have = 0;
            }
            while let Some(chunk) =
                resp.chunk()
                    .await
                    .map_err(|source| ClientError::Unreachable {
                        url: self.base.clone(),
                        source,
                    })?
            {
                if have + chunk.len() as u64 > pin.length {
                    drop(file);
                    remove_part(part).await?;
                    return Err(ClientError::TooLarge {
                        what: format!("artefact {hex}"),
                        limit: pin.length,
                    });
                }
                file.write_all(&chunk).await.map_err(file_err(part))?;
                have += chunk.len() as u64;
            }
            file.flush().await.map_err(file_err(part))?;
        }
        // Whole or not, the bytes are judged against the pin (a short or
        // corrupt file is refused); a later attempt starts afresh.
        let bytes = tokio::fs::read(part).await.map_err(file_err(part))?;
        remove_part(part).await?;
        Ok(bytes)
    }

    /// Asks the hub's online check; its signed answer (bytes, for the
    /// caller to open with the pinned key) and the nonce it must echo.
    pub async fn check(
        &self,
        request: &CheckRequest,
        now: UnixTime,
    ) -> Result<(Vec<u8>, [u8; 16]), ClientError> {
        let body = request.to_bytes();
        let nonce = fresh_nonce(now);
        let rb = self
            .signed_with(reqwest::Method::POST, check::PATH, &body, now, nonce)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let resp = self.send("online check", rb).await?;
        let bytes = read_limited("online check", resp, check::MAX_ANSWER, &self.base).await?;
        Ok((bytes, nonce))
    }

    /// Uploads a batch of signed records; the hub answers with its signed
    /// receipt (bytes, for the caller to open with the pinned key).
    pub async fn upload(
        &self,
        records: &[SignedRecord],
        now: UnixTime,
    ) -> Result<Vec<u8>, ClientError> {
        let body = encode_batch(records);
        let rb = self
            .signed(reqwest::Method::POST, "/v1/records", &body, now)
            .header(reqwest::header::CONTENT_TYPE, "application/cbor")
            .body(body);
        let resp = self.send("upload", rb).await?;
        read_limited("upload receipt", resp, MAX_METADATA, &self.base).await
    }
}
