//! The verdict (`credential.md`, "Verdict reason codes, checked in this
//! order"): a pure function of the terminal's data, the subject's history,
//! the scanned text, the measure and `now`. Refusals are values, not errors;
//! an `Err` means only that the local store could not be read.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

use crate::category::Category;
use crate::credential::{self, Claims, Cti, Form, Kid, Malformed};
use crate::eligibility::{EligibilityEntry, EligibilitySet, ExclusionEntry};
use crate::history::{Basis, DataError, History};
use crate::ids::SubjectId;
use crate::measures::{Limit, Measure, MeasureId};
use crate::money::{AmountError, Amounts, Fen};
use crate::time::UnixTime;
use crate::trust::TrustedKey;

/// Default allowed clock skew between issuer and terminal.
pub const DEFAULT_SKEW_S: i64 = 60;
/// Default max offline age of a site's data: 72 hours.
pub const DEFAULT_MAX_OFFLINE_AGE_S: i64 = 72 * 3600;

/// Allowed step back of the wall clock below the latest trusted time
/// (an NTP correction), before the clock is suspect.
pub const CLOCK_TOLERANCE_S: i64 = 120;

/// The refusal reasons, in the order they are checked: the spec's fourteen,
/// preceded by the terminal's own CLOCK_SUSPECT (a wall clock set back
/// below a time the terminal already trusted makes every other check
/// meaningless: expired codes and stale data would look current).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    ClockSuspect,
    StaleData,
    Malformed,
    UnknownKey,
    BadSignature,
    KeyNotValid,
    NotYetValid,
    Expired,
    LifetimeTooLong,
    Replayed,
    CardRevoked,
    NotListed,
    ListingNotValid,
    MeasureNotApplicable,
    LimitReached,
}

impl Reason {
    /// Every reason, in check order.
    pub const ALL: [Reason; 15] = [
        Reason::ClockSuspect,
        Reason::StaleData,
        Reason::Malformed,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::KeyNotValid,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::LifetimeTooLong,
        Reason::Replayed,
        Reason::CardRevoked,
        Reason::NotListed,
        Reason::ListingNotValid,
        Reason::MeasureNotApplicable,
        Reason::LimitReached,
    ];

    /// The spec's code, e.g. `NOT_LISTED`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::ClockSuspect => "CLOCK_SUSPECT",
            Reason::StaleData => "STALE_DATA",
            Reason::Malformed => "MALFORMED",
            Reason::UnknownKey => "UNKNOWN_KEY",
            Reason::BadSignature => "BAD_SIGNATURE",
            Reason::KeyNotValid => "KEY_NOT_VALID",
            Reason::NotYetValid => "NOT_YET_VALID",
            Reason::Expired => "EXPIRED",
            Reason::LifetimeTooLong => "LIFETIME_TOO_LONG",
            Reason::Replayed => "REPLAYED",
            Reason::CardRevoked => "CARD_REVOKED",
            Reason::NotListed => "NOT_LISTED",
            Reason::ListingNotValid => "LISTING_NOT_VALID",
            Reason::MeasureNotApplicable => "MEASURE_NOT_APPLICABLE",
            Reason::LimitReached => "LIMIT_REACHED",
        }
    }

    /// Parses a code.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal: the reason code and a precise detail for logs and staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub detail: String,
    /// The decoding fault, for MALFORMED.
    pub malformed: Option<Malformed>,
    /// The claims, when the code could be decoded.
    pub claims: Option<Claims>,
}

/// An `OK` verdict: who, under which measure and categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub claims: Claims,
    pub kid: Kid,
    pub measure: Measure,
    /// The subject's categories in force today that the measure covers.
    pub categories: Vec<Category>,
    /// Uses so far in the current period, when the measure has a limit.
    pub used: Option<(u32, Limit)>,
    /// Whether the uses and redeemed codes counted were confirmed online by
    /// the registry, or known offline. [`decide`] says offline; the
    /// terminal marks a verdict it checked with the registry.
    pub basis: Basis,
}

impl Approval {
    /// The amounts for what the staff typed (`measures.md`, "Benefits").
    pub fn amounts(&self, amount: Fen, companions: u32) -> Result<Amounts, AmountError> {
        self.measure.benefit.compute(amount, companions)
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Verdict {
    Ok(Approval),
    Refused(Refusal),
}

impl Verdict {
    /// `OK` or the refusal code.
    pub fn code(&self) -> &'static str {
        match self {
            Verdict::Ok(_) => "OK",
            Verdict::Refused(r) => r.reason.code(),
        }
    }

    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Verdict::Ok(a) => Some(&a.claims),
            Verdict::Refused(r) => r.claims.as_ref(),
        }
    }
}

/// The terminal's synced data, as the verdict reads it.
pub trait VerifierData {
    fn trusted_key(&self, kid: &Kid) -> Result<Option<TrustedKey>, DataError>;
    fn card_revoked(&self, cti: &Cti) -> Result<bool, DataError>;
    fn listings_of(&self, sub: &SubjectId) -> Result<Vec<EligibilityEntry>, DataError>;
    fn exclusions_of(&self, sub: &SubjectId) -> Result<Vec<ExclusionEntry>, DataError>;
}

/// Verifier data in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryData {
    pub keys: BTreeMap<Kid, TrustedKey>,
    pub revoked_cards: BTreeSet<Cti>,
    pub eligibility: EligibilitySet,
}

impl MemoryData {
    pub fn new(
        keys: Vec<TrustedKey>,
        revoked_cards: Vec<Cti>,
        eligibility: EligibilitySet,
    ) -> MemoryData {
        MemoryData {
            keys: keys.into_iter().map(|k| (k.kid, k)).collect(),
            revoked_cards: revoked_cards.into_iter().collect(),
            eligibility,
        }
    }
}

impl VerifierData for MemoryData {
    fn trusted_key(&self, kid: &Kid) -> Result<Option<TrustedKey>, DataError> {
        Ok(self.keys.get(kid).cloned())
    }
    fn card_revoked(&self, cti: &Cti) -> Result<bool, DataError> {
        Ok(self.revoked_cards.contains(cti))
    }
    fn listings_of(&self, sub: &SubjectId) -> Result<Vec<EligibilityEntry>, DataError> {
        Ok(self.eligibility.listings_of(sub).to_vec())
    }
    fn exclusions_of(&self, sub: &SubjectId) -> Result<Vec<ExclusionEntry>, DataError> {
        Ok(self.eligibility.exclusions_of(sub).to_vec())
    }
}

/// The site's setting for a verdict.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The measures this site applies.
    pub measures: &'a [Measure],
    pub skew_s: i64,
    pub max_offline_age_s: i64,
    /// When the data in use was last known current (`None`: never synced).
    pub data_as_of: Option<UnixTime>,
    /// The latest time the terminal already trusts: the hub's signed time
    /// and its own last record. A `now` more than [`CLOCK_TOLERANCE_S`]
    /// before it means the wall clock was set back.
    pub clock_floor: Option<UnixTime>,
}

/// Decides on one scan. See the module doc.
pub fn decide(
    ctx: &Context<'_>,
    data: &impl VerifierData,
    history: &impl History,
    text: &str,
    measure_id: &MeasureId,
    now: UnixTime,
) -> Result<Verdict, DataError> {
    let refuse = |reason, detail: String, claims: Option<&Claims>| {
        Ok(Verdict::Refused(Refusal {
            reason,
            detail,
            malformed: None,
            claims: claims.cloned(),
        }))
    };
    let hours = |s: i64| format!("{} h {:02} min", s / 3600, s % 3600 / 60);

    // 0. CLOCK_SUSPECT (the terminal's own check, before the spec's list)
    if let Some(floor) = ctx.clock_floor
        && now.0 < floor.0.saturating_sub(CLOCK_TOLERANCE_S)
    {
        return refuse(
            Reason::ClockSuspect,
            format!(
                "this terminal's clock says {}, but it already trusted {} ({} earlier)",
                now.display_utc8(),
                floor.display_utc8(),
                hours(floor.0 - now.0)
            ),
            None,
        );
    }

    // 1. STALE_DATA
    match ctx.data_as_of {
        None => {
            return refuse(
                Reason::StaleData,
                "no data has been synced yet".into(),
                None,
            );
        }
        Some(t) if now.0.saturating_sub(t.0) > ctx.max_offline_age_s => {
            return refuse(
                Reason::StaleData,
                format!(
                    "data published {} is {} old; the site allows {}",
                    t.display_utc8(),
                    hours(now.0.saturating_sub(t.0)),
                    hours(ctx.max_offline_age_s)
                ),
                None,
            );
        }
        Some(_) => {}
    }

    // 2. MALFORMED
    let cred = match credential::decode(text) {
        Ok(c) => c,
        Err(m) => {
            return Ok(Verdict::Refused(Refusal {
                reason: Reason::Malformed,
                detail: format!("{}: {m}", m.field()),
                malformed: Some(m),
                claims: None,
            }));
        }
    };
    let c = &cred.claims;

    // 3. UNKNOWN_KEY
    let Some(key) = data.trusted_key(&cred.kid)? else {
        return refuse(
            Reason::UnknownKey,
            format!("kid {} is not in the trust list", cred.kid),
            Some(c),
        );
    };
    // 4. BAD_SIGNATURE
    if !cred.verify(&key.public_key) {
        return refuse(
            Reason::BadSignature,
            format!("signature does not verify with key {}", cred.kid),
            Some(c),
        );
    }
    // 5. KEY_NOT_VALID
    if let Err(why) = key.valid_for(c.iss, c.iat) {
        return refuse(Reason::KeyNotValid, why.to_string(), Some(c));
    }
    // 6. NOT_YET_VALID
    if c.iat.0 > now.0.saturating_add(ctx.skew_s) {
        return refuse(
            Reason::NotYetValid,
            format!(
                "issued at {}, {} s ahead of this terminal's clock",
                c.iat.display_utc8(),
                c.iat.0 - now.0
            ),
            Some(c),
        );
    }
    // 7. EXPIRED
    if c.exp.0 < now.0.saturating_sub(ctx.skew_s) {
        return refuse(
            Reason::Expired,
            format!("expired at {}", c.exp.display_utc8()),
            Some(c),
        );
    }
    // 8. LIFETIME_TOO_LONG
    let lifetime = c.exp.0.saturating_sub(c.iat.0);
    if c.form == Form::Dynamic && lifetime > credential::MAX_DYNAMIC_LIFETIME_S {
        return refuse(
            Reason::LifetimeTooLong,
            format!(
                "a dynamic code may live {} s, this one {lifetime} s",
                credential::MAX_DYNAMIC_LIFETIME_S
            ),
            Some(c),
        );
    }
    // 9. REPLAYED
    if c.form == Form::Dynamic && history.cti_redeemed(&c.cti)? {
        return refuse(
            Reason::Replayed,
            format!("code {} was already redeemed", c.cti),
            Some(c),
        );
    }
    // 10. CARD_REVOKED
    if c.form == Form::PrintedCard && data.card_revoked(&c.cti)? {
        return refuse(
            Reason::CardRevoked,
            format!("card {} is on the revocation list", c.cti),
            Some(c),
        );
    }
    // 11. NOT_LISTED
    let listings: Vec<EligibilityEntry> = data
        .listings_of(&c.sub)?
        .into_iter()
        .filter(|l| l.kind == c.kind)
        .collect();
    if listings.is_empty() {
        return refuse(
            Reason::NotListed,
            format!("subject {} is on no list", c.sub),
            Some(c),
        );
    }
    // 12. LISTING_NOT_VALID
    let today = now.date_utc8();
    if let Some(x) = data
        .exclusions_of(&c.sub)?
        .into_iter()
        .find(|x| x.applies_on(today))
    {
        return refuse(
            Reason::ListingNotValid,
            format!(
                "excluded for serious dishonesty recorded {} until {}",
                x.from, x.until
            ),
            Some(c),
        );
    }
    let in_force: Vec<&EligibilityEntry> = listings.iter().filter(|l| l.in_force(today)).collect();
    if in_force.is_empty() {
        let states: Vec<String> = listings
            .iter()
            .map(|l| {
                let state = if l.withdrawn {
                    "withdrawn"
                } else if today < l.valid_from {
                    "not yet in force"
                } else {
                    "expired"
                };
                format!("{} {}–{} {state}", l.category, l.valid_from, l.valid_until)
            })
            .collect();
        return refuse(
            Reason::ListingNotValid,
            format!("no listing in force today: {}", states.join("; ")),
            Some(c),
        );
    }
    // 13. MEASURE_NOT_APPLICABLE
    let Some(measure) = ctx.measures.iter().find(|m| &m.id == measure_id) else {
        return refuse(
            Reason::MeasureNotApplicable,
            format!("measure {measure_id} is not offered at this site"),
            Some(c),
        );
    };
    if !measure.in_force(today) {
        let ended = match measure.withdrawn_on {
            Some(w) if w <= today => format!("withdrawn on {w}"),
            _ => format!("in force {} – {}", measure.valid_from, measure.valid_until),
        };
        return refuse(
            Reason::MeasureNotApplicable,
            format!("measure {} is not in force today ({ended})", measure.id),
            Some(c),
        );
    }
    let categories: Vec<Category> = in_force
        .iter()
        .map(|l| l.category)
        .filter(|&cat| measure.covers(c.kind, cat))
        .collect();
    if categories.is_empty() {
        let held: Vec<String> = in_force.iter().map(|l| l.category.to_string()).collect();
        return refuse(
            Reason::MeasureNotApplicable,
            format!(
                "measure {} does not cover a {} of category {}",
                measure.id,
                c.kind,
                held.join(", ")
            ),
            Some(c),
        );
    }
    // 14. LIMIT_REACHED
    let mut used = None;
    if let Some(limit) = measure.limit {
        let (from, until) = limit.per.bounds(now);
        let n = history.uses_between(&c.sub, &measure.id, from, until)?;
        if n >= limit.count {
            return refuse(
                Reason::LimitReached,
                format!(
                    "{n} of {} uses this {} already",
                    limit.count,
                    limit.per.as_str()
                ),
                Some(c),
            );
        }
        used = Some((n, limit));
    }
    // 15. OK
    Ok(Verdict::Ok(Approval {
        claims: c.clone(),
        kid: cred.kid,
        measure: measure.clone(),
        categories,
        used,
        basis: Basis::Offline,
    }))
}
