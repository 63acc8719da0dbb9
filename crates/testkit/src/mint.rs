//! Fresh credentials for tests that need more codes than the vectors
//! carry (a citizen at several counters): minted with the vectors' issuer
//! keys for a subject the vectors list, so the same tests run on any
//! conforming vector set.

use serde_json::Value;
use xinyi_core::credential::{Claims, Cti, Form, Iss, MAX_DYNAMIC_LIFETIME_S};
use xinyi_core::ids::{Kind, SubjectId};
use xinyi_core::issue::IssuerKey;
use xinyi_core::{MeasureId, UnixTime, hex};

use crate::{catalogue, k_pseudo, registry};

/// A person the vectors list, eligible for a measure on a day, and a key
/// that may issue their codes.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub sub: SubjectId,
    /// The masked name terminals show.
    pub name: String,
    issuer: IssuerKey,
    /// Distinguishes the codes minted for this citizen.
    minted: u64,
}

/// The `nth` (from 0) person of the vectors' lists with a listing in force
/// at `at`, no exclusion that day, covered by `measure`; and an issuer key
/// of the trust list valid and not revoked at `at`, whose secret seed the
/// vectors carry. Panics when the vectors have no such person.
pub fn citizen_for(v: &Value, measure: &MeasureId, at: UnixTime, nth: usize) -> Citizen {
    let day = at.date_utc8();
    let cat = catalogue();
    let m = cat
        .get(measure.as_str())
        .expect("the measure is in the sample catalogue");
    let set = registry(v).eligibility(&k_pseudo(v));
    let mut eligible: Vec<_> = set
        .listings()
        .filter(|l| {
            l.kind == Kind::Person
                && l.in_force(day)
                && m.covers(l.kind, l.category)
                && !set.exclusions_of(&l.sub).iter().any(|x| x.applies_on(day))
        })
        .collect();
    eligible.dedup_by(|a, b| a.sub == b.sub);
    let entry = eligible.get(nth).unwrap_or_else(|| {
        panic!("the vectors have no {nth}th person eligible for {measure} on {day}")
    });
    let seeds = &v["issuer_secret_seeds_hex"];
    let issuer = v["trust_list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            k["iss"] == "GD-YSS"
                && !k["revoked"].as_bool().unwrap()
                && k["not_before"].as_i64().unwrap() <= at.0
                && at.0 <= k["not_after"].as_i64().unwrap()
        })
        .find_map(|k| seeds[k["kid"].as_str().unwrap()].as_str())
        .map(|seed| IssuerKey::from_seed(Iss::Yss, hex::decode_array(seed).unwrap()))
        .expect("the vectors carry the seed of a valid 粤省事 key");
    Citizen {
        sub: entry.sub.clone(),
        name: entry.display_name.clone(),
        issuer,
        minted: 0,
    }
}

impl Citizen {
    /// A fresh dynamic code (its own cti) issued at `at`.
    pub fn dynamic_code(&mut self, at: UnixTime) -> String {
        self.code(
            Form::Dynamic,
            UnixTime(at.0 - 10),
            UnixTime(at.0 - 10 + MAX_DYNAMIC_LIFETIME_S),
        )
    }

    /// A printed card issued at `at`, valid for two years.
    pub fn printed_card(&mut self, at: UnixTime) -> String {
        self.code(
            Form::PrintedCard,
            UnixTime(at.0 - 86_400),
            UnixTime(at.0 + 2 * 365 * 86_400),
        )
    }

    fn code(&mut self, form: Form, iat: UnixTime, exp: UnixTime) -> String {
        self.minted += 1;
        let mut cti = [0u8; 12];
        cti[..4].copy_from_slice(&self.sub.as_str().as_bytes()[..4]);
        cti[4..].copy_from_slice(&self.minted.to_be_bytes());
        let claims = Claims {
            iss: self.issuer.iss,
            sub: self.sub.clone(),
            exp,
            iat,
            cti: Cti::new(cti.to_vec()).unwrap(),
            kind: Kind::Person,
            name: self.name.clone(),
            form,
        };
        self.issuer.mint(&claims, true)
    }
}
