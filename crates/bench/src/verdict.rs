//! The verdict: the core's `decide` on a scanned text, the whole path —
//! base45 and CBOR decoding, strict Ed25519 verification, the trust-list
//! and listing lookups, the measure and its limit — against the raw cost
//! of the one thing it cannot avoid: `verify_strict` of the same
//! signature over the same Sig_structure bytes, straight from
//! `ed25519-dalek`.
//!
//! The data is in memory ([`MemoryData`], as the core's conformance tests
//! use), so the figure is the core's own cost; the SQLite lookups a
//! terminal adds are measured in the `store` section.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use ed25519_dalek::{Signature, VerifyingKey};
use xinyi_core::category::Category;
use xinyi_core::cbor::{self, Value};
use xinyi_core::credential::{self, Cti, Form, Iss};
use xinyi_core::eligibility::{EligibilityEntry, EligibilitySet};
use xinyi_core::history::MemoryHistory;
use xinyi_core::verdict::{DEFAULT_MAX_OFFLINE_AGE_S, DEFAULT_SKEW_S, MemoryData};
use xinyi_core::{Catalogue, Claims, Context, Kind, UnixTime, Verdict, decide};

use crate::stats::{median, us};
use xinyi_testkit::Rng;

use crate::store::now;
use crate::{Row, Scale};

const SECTION: &str = "verdict";
/// The measure every credential is decided for: it covers every person
/// category and has a monthly limit, so the verdict runs to the end.
const MEASURE: &str = "XYX-BUS-TOPUP";

/// One minted credential and what a raw verifier needs for it.
struct Sample {
    text: String,
    message: Vec<u8>,
    signature: Signature,
}

/// The signature of a minted text, read from its COSE_Sign1 envelope.
fn signature_of(text: &str) -> anyhow::Result<Signature> {
    let body = text
        .strip_prefix(credential::PREFIX)
        .ok_or_else(|| anyhow!("minted text lacks the prefix"))?;
    let raw = xinyi_core::base45::decode(body).map_err(|e| anyhow!("base45: {e}"))?;
    let cose = cbor::decode(&raw).map_err(|e| anyhow!("cbor: {e}"))?;
    let Value::Tag(_, inner) = cose else {
        bail!("minted text is not a tagged COSE_Sign1");
    };
    let Value::Array(parts) = *inner else {
        bail!("COSE_Sign1 is not an array");
    };
    match parts.get(3) {
        Some(Value::Bytes(b)) => {
            let bytes: [u8; 64] = b
                .as_slice()
                .try_into()
                .map_err(|_| anyhow!("signature is not 64 bytes"))?;
            Ok(Signature::from_bytes(&bytes))
        }
        _ => bail!("COSE_Sign1 has no signature"),
    }
}

/// Per-operation time, in µs, of `ops` calls of `f` cycling over `n` samples.
fn batch(ops: usize, n: usize, mut f: impl FnMut(usize) -> bool) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut ok = 0usize;
    for i in 0..ops {
        ok += usize::from(black_box(f(i % n)));
    }
    let elapsed = start.elapsed();
    if ok != ops {
        bail!("{} of {ops} operations failed", ops - ok);
    }
    Ok(us(elapsed) / ops as f64)
}

pub fn run(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let listed = scale.pick(100_000, 1_000);
    let distinct = scale.pick(1_000, 100);
    let batches = scale.pick(10, 4);
    let per_batch = scale.pick(2_000, 100);

    let now = now();
    let today = now.date_utc8();
    let mut rng = Rng::from_seed(0x0076_6572_6469_6374);
    let (issuer, trusted) = crate::store::issuer(&mut rng, now)?;
    let public: VerifyingKey = trusted.public_key;

    // The listings: `listed` persons, one listing each, in force today.
    let category = "P02"
        .parse::<Category>()
        .map_err(|e| anyhow!("category P02: {e}"))?;
    let entries: Vec<EligibilityEntry> = (0..listed)
        .map(|_| EligibilityEntry {
            sub: xinyi_core::SubjectId::from_bytes(&rng.bytes()),
            kind: Kind::Person,
            category,
            valid_from: today.add_days(-100),
            valid_until: today.add_days(600),
            withdrawn: false,
            display_name: "陈*华".into(),
        })
        .collect();
    let subs: Vec<_> = entries.iter().map(|e| e.sub.clone()).collect();
    let data = MemoryData::new(
        vec![trusted],
        Vec::new(),
        EligibilitySet::new(entries, Vec::new()),
    );
    let history = MemoryHistory::new();
    let catalogue = Catalogue::from_toml(&xinyi_demo::catalogue_toml(today))
        .map_err(|e| anyhow!("demo catalogue: {e}"))?;
    let measures = vec![
        catalogue
            .get(MEASURE)
            .cloned()
            .ok_or_else(|| anyhow!("{MEASURE} is not in the demo catalogue"))?,
    ];
    let measure = measures[0].id.clone();
    let ctx = Context {
        measures: &measures,
        skew_s: DEFAULT_SKEW_S,
        max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
        data_as_of: Some(now),
        clock_floor: Some(now),
    };

    // Dynamic codes of listed subjects, as an issuer mints them.
    let mut samples = Vec::with_capacity(distinct);
    for i in 0..distinct {
        let claims = Claims {
            iss: Iss::Yss,
            sub: subs[(i * 7919) % subs.len()].clone(),
            exp: UnixTime(now.0 + 120),
            iat: UnixTime(now.0 - 10),
            cti: Cti::new(rng.bytes::<12>().to_vec()).map_err(|e| anyhow!("cti: {e}"))?,
            kind: Kind::Person,
            name: "陈*华".into(),
            form: Form::Dynamic,
        };
        let text = issuer.mint(&claims, true);
        let decoded = credential::decode(&text).map_err(|e| anyhow!("minted text: {e}"))?;
        samples.push(Sample {
            message: decoded.sig_structure(),
            signature: signature_of(&text)?,
            text,
        });
    }
    // Every one must reach OK, and verify raw.
    for s in &samples {
        let v =
            decide(&ctx, &data, &history, &s.text, &measure, now).context("deciding a sample")?;
        if !matches!(v, Verdict::Ok(_)) {
            bail!("a sample credential was refused: {}", v.code());
        }
        public
            .verify_strict(&s.message, &s.signature)
            .map_err(|e| anyhow!("raw verification of a sample: {e}"))?;
    }

    let decide_one = |i: usize| {
        matches!(
            decide(
                &ctx,
                &data,
                &history,
                black_box(&samples[i].text),
                &measure,
                now
            ),
            Ok(Verdict::Ok(_))
        )
    };
    let raw_one = |i: usize| {
        let s = &samples[i];
        public
            .verify_strict(black_box(&s.message), black_box(&s.signature))
            .is_ok()
    };
    // Warm both paths, then alternate batches so drift hits both alike.
    batch(per_batch / 4 + 1, samples.len(), decide_one)?;
    batch(per_batch / 4 + 1, samples.len(), raw_one)?;
    let mut decided = Vec::with_capacity(batches);
    let mut raw = Vec::with_capacity(batches);
    for b in 0..batches {
        if b % 2 == 0 {
            decided.push(batch(per_batch, samples.len(), decide_one)?);
            raw.push(batch(per_batch, samples.len(), raw_one)?);
        } else {
            raw.push(batch(per_batch, samples.len(), raw_one)?);
            decided.push(batch(per_batch, samples.len(), decide_one)?);
        }
    }
    let d = median(&decided);
    let r = median(&raw);
    let iterations = batches * per_batch;
    let setting = format!(
        "median of {batches} batches of {per_batch} ({iterations} verdicts and as many raw verifications, interleaved); {distinct} distinct dynamic codes of subjects among {listed} in-memory listings, each decided to OK for {MEASURE}"
    );
    Ok(vec![
        Row::new(SECTION, "decide per credential (text to verdict)", d, "µs")
            .against("ed25519-dalek verify_strict over the same Sig_structure", r)
            .target("decide ≤ 1.2× one raw verify_strict", d <= 1.2 * r)
            .note(format!(
                "full path: base45, CBOR, strict Ed25519, trust list, listing, measure and limit; {setting}"
            )),
        Row::new(SECTION, "decide overhead beyond the signature", (d - r).max(0.0), "µs")
            .note("decide minus the raw verify_strict, same run"),
        Row::new(SECTION, "verdicts per second, one core", 1e6 / d, "verdicts/s")
            .against("raw verify_strict per second", 1e6 / r)
            .note(setting),
    ])
}
