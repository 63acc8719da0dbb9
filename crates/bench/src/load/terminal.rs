//! A simulated counter terminal: its own Ed25519 key, enrolled with a
//! one-time code, signing every request and keeping a hash-chained
//! journal, as the kiosk does; it speaks the hub's HTTP API with the wire
//! formats of `xinyi_core` and checks every answer as a terminal would
//! (the registry's signature on metadata and receipts, the pinned hash and
//! length of each artefact, the receipt's count and chain head). It keeps
//! no store of its own: what it downloads is checked and dropped, so the
//! machine's cores go to the hub.
//!
//! Every request is timed from just before it is sent to the last byte of
//! its answer; signing before and checking after are the terminal's own
//! work and are not in the time. Each request opens a connection of its
//! own, as terminals a minute apart do (the hub closes a connection idle
//! for 10 s).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use xinyi_core::UnixTime;
use xinyi_core::wire::enroll::{EnrollGrant, EnrollRequest};
use xinyi_core::wire::journal::{Body, Record, SignedRecord, StaffEvent, encode_batch};
use xinyi_core::wire::metadata::{ArtefactRef, Metadata};
use xinyi_core::wire::receipt::UploadReceipt;
use xinyi_core::wire::request::RequestAuth;
use xinyi_core::wire::{Digest32, Fingerprint, key_id};
use xinyi_testkit::Rng;

use crate::store::now;

/// The operator of the simulated terminals' redemptions.
pub const OPERATOR: &str = "op-1";

/// The endpoints measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Enroll,
    Metadata,
    Artefact,
    Upload,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Enroll,
        Endpoint::Metadata,
        Endpoint::Artefact,
        Endpoint::Upload,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Enroll => "enroll",
            Endpoint::Metadata => "metadata",
            Endpoint::Artefact => "artefact",
            Endpoint::Upload => "upload",
        }
    }

    /// The request, as the hub's API names it.
    pub fn request(self) -> &'static str {
        match self {
            Endpoint::Enroll => "POST /v1/enroll",
            Endpoint::Metadata => "GET /v1/metadata",
            Endpoint::Artefact => "GET /v1/artefacts/{sha256}",
            Endpoint::Upload => "POST /v1/records",
        }
    }

    fn index(self) -> usize {
        match self {
            Endpoint::Enroll => 0,
            Endpoint::Metadata => 1,
            Endpoint::Artefact => 2,
            Endpoint::Upload => 3,
        }
    }
}

/// What a phase of requests measured.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Milliseconds per answered request, per endpoint.
    samples: [Vec<f64>; 4],
    /// When each answered request was sent and answered (about: taken
    /// when it is tallied), in the order of `samples`.
    spans: [Vec<(Instant, Instant)>; 4],
    /// Failed requests per endpoint (not answered, refused, or an answer
    /// that did not check out).
    errors: [u64; 4],
    /// The first few failures, in words.
    pub first_errors: Vec<String>,
    /// Records the hub said it stored.
    pub records: u64,
    /// Bytes of answers received.
    pub bytes_down: u64,
}

impl Tally {
    pub fn answered(&mut self, e: Endpoint, ms: f64) {
        let end = Instant::now();
        let start = end
            .checked_sub(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
            .unwrap_or(end);
        self.samples[e.index()].push(ms);
        self.spans[e.index()].push((start, end));
    }

    /// The times of the requests to `e` that did not overlap `from..to`,
    /// and of those that did.
    pub fn split(&self, e: Endpoint, from: Instant, to: Instant) -> (Vec<f64>, Vec<f64>) {
        let mut clear = Vec::new();
        let mut during = Vec::new();
        for (ms, (start, end)) in self.samples[e.index()].iter().zip(&self.spans[e.index()]) {
            if *end < from || *start > to {
                clear.push(*ms);
            } else {
                during.push(*ms);
            }
        }
        (clear, during)
    }

    pub fn failed(&mut self, e: Endpoint, why: String) {
        self.errors[e.index()] += 1;
        if self.first_errors.len() < 5 {
            self.first_errors.push(format!("{}: {why}", e.name()));
        }
    }

    pub fn samples(&self, e: Endpoint) -> &[f64] {
        &self.samples[e.index()]
    }

    pub fn errors(&self, e: Endpoint) -> u64 {
        self.errors[e.index()]
    }

    pub fn all_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Requests made (answered or not).
    pub fn requests(&self, e: Endpoint) -> u64 {
        self.samples[e.index()].len() as u64 + self.errors[e.index()]
    }

    pub fn all_requests(&self) -> u64 {
        Endpoint::ALL.iter().map(|e| self.requests(*e)).sum()
    }

    /// Adds another tally's figures to this one.
    pub fn merge(&mut self, other: &Tally) {
        for i in 0..4 {
            self.samples[i].extend_from_slice(&other.samples[i]);
            self.spans[i].extend_from_slice(&other.spans[i]);
            self.errors[i] += other.errors[i];
        }
        for e in &other.first_errors {
            if self.first_errors.len() < 5 {
                self.first_errors.push(e.clone());
            }
        }
        self.records += other.records;
        self.bytes_down += other.bytes_down;
    }
}

/// A tally shared by many terminals.
pub type Shared = Arc<Mutex<Tally>>;

/// Adds to a shared tally (a poisoned lock only loses the figure).
pub fn note(tally: &Shared, f: impl FnOnce(&mut Tally)) {
    if let Ok(mut t) = tally.lock() {
        f(&mut t);
    }
}

/// The hubs as terminals reach them.
#[derive(Debug, Clone)]
pub struct Net {
    http: reqwest::Client,
    /// Each hub process's address.
    pub urls: Vec<String>,
    /// The registry key terminals pin at enrollment.
    pub registry: VerifyingKey,
    pub fingerprint: Fingerprint,
}

/// Answers a terminal reads at most: metadata is a few kB, an artefact
/// is pinned by its length.
const MAX_ANSWER: usize = 256 * 1024 * 1024;

impl Net {
    pub fn new(urls: Vec<String>, registry: VerifyingKey) -> anyhow::Result<Net> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Net {
            http,
            urls,
            fingerprint: Fingerprint::of(registry.as_bytes()),
            registry,
        })
    }

    /// Sends a request and reads its answer: the body and the
    /// milliseconds from sending to its last byte, or why it failed.
    async fn exchange(&self, rb: reqwest::RequestBuilder) -> Result<(Vec<u8>, f64), String> {
        let t = Instant::now();
        let resp = rb.send().await.map_err(|e| format!("not answered: {e}"))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("answer cut short: {e}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(format!("{status}: {text}"));
        }
        if body.len() > MAX_ANSWER {
            return Err(format!("an answer of {} bytes", body.len()));
        }
        Ok((body.to_vec(), ms))
    }
}

/// One simulated terminal.
#[derive(Debug)]
pub struct Sim {
    key: SigningKey,
    pub id: String,
    /// The hub process it talks to.
    pub hub: usize,
    seq: u64,
    prev: Digest32,
    /// The data version it holds.
    pub have: u64,
    /// The config artefact it holds.
    pub config: Option<Digest32>,
    pub rng: Rng,
}

impl Sim {
    /// A terminal with a key of its own, talking to hub process `hub`.
    pub fn new(mut rng: Rng, hub: usize) -> Sim {
        let key = SigningKey::from_bytes(&rng.bytes());
        Sim {
            id: key_id(key.verifying_key().as_bytes()),
            key,
            hub,
            seq: 0,
            prev: Digest32::default(),
            have: 0,
            config: None,
            rng,
        }
    }

    /// The key the hub checks its signatures with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The last record of its journal: (seq, chain hash).
    pub fn head(&self) -> (u64, Digest32) {
        (self.seq, self.prev)
    }

    fn signed(
        &self,
        net: &Net,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let mut nonce = [0u8; 16];
        if getrandom::fill(&mut nonce).is_err() {
            nonce[..8].copy_from_slice(&now().0.to_be_bytes());
        }
        let auth = RequestAuth::sign(
            &self.key,
            &self.id,
            method.as_str(),
            path,
            now().0,
            nonce,
            &body,
        );
        let mut rb = net
            .http
            .request(method, format!("{}{path}", net.urls[self.hub]));
        for (name, value) in auth.headers() {
            rb = rb.header(name, value);
        }
        rb.body(body)
    }

    /// Enrolls with a one-time code: the grant must name this terminal's
    /// key and be signed by the registry key of the pinned fingerprint.
    pub async fn enroll(&self, net: &Net, code: &str, label: &str) -> Result<f64, String> {
        let req = EnrollRequest::new(code, &self.key.verifying_key(), &net.fingerprint, label);
        let rb = net
            .http
            .post(format!("{}/v1/enroll", net.urls[self.hub]))
            .json(&req);
        let (body, ms) = net.exchange(rb).await?;
        let (grant, _) =
            EnrollGrant::open(&body, &net.fingerprint).map_err(|e| format!("grant: {e}"))?;
        if grant.terminal_id != self.id {
            return Err(format!(
                "granted to {}, not to {}",
                grant.terminal_id, self.id
            ));
        }
        Ok(ms)
    }

    /// The next record of its journal, signed and chained.
    pub fn record(&mut self, at: i64, body: Body) -> SignedRecord {
        self.seq += 1;
        let record = Record {
            id: self.rng.bytes(),
            terminal: self.id.clone(),
            seq: self.seq,
            prev: self.prev,
            at: UnixTime(at),
            data_version: self.have,
            operator: OPERATOR.into(),
            body,
        };
        let signed = record.sign(&self.key);
        self.prev = signed.hash();
        signed
    }

    /// The record a terminal journals when its clerk is set up.
    pub fn roster(&mut self, at: i64) -> SignedRecord {
        self.record(
            at,
            Body::Staff {
                event: StaffEvent::OperatorSet,
                staff: OPERATOR.into(),
                role: Some("clerk".into()),
            },
        )
    }

    /// Uploads records ending at the journal's head (`encode_batch`
    /// bytes, `count` records): the registry's receipt must say it stored
    /// them all and holds the chain through `head`. Returns the time.
    pub async fn upload_encoded(
        &self,
        net: &Net,
        batch: Vec<u8>,
        count: u64,
        head: (u64, Digest32),
    ) -> Result<f64, String> {
        let rb = self.signed(net, reqwest::Method::POST, "/v1/records", batch);
        let (body, ms) = net.exchange(rb).await?;
        let r = UploadReceipt::open(&body, &net.registry).map_err(|e| format!("receipt: {e}"))?;
        if r.terminal != self.id || r.stored != count || r.duplicates != 0 {
            return Err(format!(
                "the receipt says {} stored and {} duplicates for {}, of {count} sent by {}",
                r.stored, r.duplicates, r.terminal, self.id
            ));
        }
        if r.held_through != head.0 || r.held_hash != Some(head.1) {
            return Err(format!(
                "the receipt holds the chain through {}, not {}",
                r.held_through, head.0
            ));
        }
        Ok(ms)
    }

    /// Uploads records ending at the journal's head.
    pub async fn upload(&self, net: &Net, records: &[SignedRecord]) -> Result<f64, String> {
        self.upload_encoded(
            net,
            encode_batch(records),
            records.len() as u64,
            self.head(),
        )
        .await
    }

    /// Signed metadata for the version held, opened with the pinned key;
    /// it must carry this terminal's standing, not revoked.
    pub async fn metadata(&self, net: &Net) -> Result<(Metadata, f64), String> {
        let path = format!("/v1/metadata?have={}&head={}", self.have, self.seq);
        let rb = self.signed(net, reqwest::Method::GET, &path, Vec::new());
        let (body, ms) = net.exchange(rb).await?;
        let meta = Metadata::open(&body, &net.registry).map_err(|e| format!("metadata: {e}"))?;
        match &meta.terminal {
            Some(t) if t.id == self.id && !t.revoked => {}
            other => return Err(format!("metadata with the standing {other:?}")),
        }
        if meta.version < self.have {
            return Err(format!(
                "metadata offers version {} below the {} held",
                meta.version, self.have
            ));
        }
        Ok((meta, ms))
    }

    /// An artefact the metadata pins: exactly its length and hash.
    pub async fn artefact(&self, net: &Net, pin: ArtefactRef) -> Result<(usize, f64), String> {
        let path = format!("/v1/artefacts/{}", pin.sha256.to_hex());
        let rb = self.signed(net, reqwest::Method::GET, &path, Vec::new());
        let (body, ms) = net.exchange(rb).await?;
        if body.len() as u64 != pin.length || Digest32::of(&body) != pin.sha256 {
            return Err(format!(
                "artefact {} of {} bytes does not match its pin ({} bytes)",
                pin.sha256.to_hex(),
                body.len(),
                pin.length
            ));
        }
        Ok((body.len(), ms))
    }

    /// A download round: metadata, then the config and eligibility
    /// artefacts it pins that are not held; the version is then held.
    /// Each request is tallied; the first failure ends the round.
    pub async fn sync(&mut self, net: &Net, tally: &Shared) -> bool {
        let meta = match self.metadata(net).await {
            Ok((m, ms)) => {
                note(tally, |t| t.answered(Endpoint::Metadata, ms));
                m
            }
            Err(e) => {
                note(tally, |t| t.failed(Endpoint::Metadata, e));
                return false;
            }
        };
        let mut wanted = Vec::new();
        if self.config != Some(meta.config.sha256) {
            wanted.push(meta.config);
        }
        if let Some(e) = &meta.eligibility {
            if e.from != 0 && e.from != self.have {
                note(tally, |t| {
                    t.failed(
                        Endpoint::Metadata,
                        format!(
                            "a delta from {} for a terminal holding {}",
                            e.from, self.have
                        ),
                    );
                });
                return false;
            }
            wanted.push(e.artefact);
        }
        for pin in wanted {
            match self.artefact(net, pin).await {
                Ok((n, ms)) => note(tally, |t| {
                    t.answered(Endpoint::Artefact, ms);
                    t.bytes_down += n as u64;
                }),
                Err(e) => {
                    note(tally, |t| t.failed(Endpoint::Artefact, e));
                    return false;
                }
            }
        }
        self.have = meta.version;
        self.config = Some(meta.config.sha256);
        true
    }
}
