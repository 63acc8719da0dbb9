//! The provincial platforms (粤省事 for persons, 粤商通 for enterprises)
//! that ask the registry, for a user they have authenticated, whether the
//! user is listed (身份核对) and that file objections and complaints for
//! them. A platform is registered by the credit office with its own
//! Ed25519 public key and the kinds of subject it may ask about; it signs
//! every request as a terminal does (key id, time, nonce, signature over
//! method, path and body), each nonce is accepted once, each platform has
//! its own rate, and every question is in the audit log with the ID
//! number masked. An answer concerns the subject asked about only.

use std::collections::BTreeSet;

use crate::db::{OptionalExtension, Row, params};
use ed25519_dalek::VerifyingKey;
use xinyi_core::UnixTime;
use xinyi_core::category::Category;
use xinyi_core::ids::Kind;
use xinyi_core::wire::request::RequestAuth;

use crate::audit::{self, Actor, mask_id_number};
use crate::error::{AuthError, HubError};
use crate::hub::Hub;

/// The default rate a platform may ask at (requests a minute).
pub const DEFAULT_PLATFORM_RATE: u32 = 600;

/// A registered platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformInfo {
    /// Its key id.
    pub id: String,
    pub name: String,
    pub public_key: String,
    /// Whose identities it may ask about.
    pub kinds: BTreeSet<Kind>,
    pub requests_per_minute: u32,
    pub added_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub last_seen_at: Option<UnixTime>,
}

impl PlatformInfo {
    pub fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// One listing as the answer gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListingAnswer {
    pub category: String,
    pub category_name: String,
    pub honour: String,
    pub recognised_on: String,
    pub valid_until: String,
    pub in_force: bool,
}

/// A measure that applies to the subject today.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MeasureAnswer {
    pub id: String,
    pub family: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: String,
    pub valid_until: String,
}

/// The identity check's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityAnswer {
    pub kind: String,
    /// The day (UTC+8) the answer speaks of.
    pub on: String,
    /// Listed and in force today.
    pub listed: bool,
    /// Excluded today (a serious dishonesty record): no measure applies.
    pub excluded: bool,
    /// Its listings, in force or not (withdrawn ones left out).
    pub listings: Vec<ListingAnswer>,
    /// The measures that apply to it today.
    pub measures: Vec<MeasureAnswer>,
}

const COLUMNS: &str =
    "id, name, public_key, kinds, requests_per_minute, added_at, revoked_at, last_seen_at";

fn row(r: &Row<'_>) -> Result<PlatformInfo, crate::db::DbError> {
    let kinds: String = r.get(3)?;
    Ok(PlatformInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        public_key: r.get(2)?,
        kinds: kinds
            .split_whitespace()
            .filter_map(|k| k.parse().ok())
            .collect(),
        requests_per_minute: u32::try_from(r.get::<_, i64>(4)?).unwrap_or(1),
        added_at: UnixTime(r.get(5)?),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(UnixTime),
        last_seen_at: r.get::<_, Option<i64>>(7)?.map(UnixTime),
    })
}

impl Hub {
    /// Registers a platform by its name, its public key (64 hex digits)
    /// and the kinds of subject it may ask about.
    pub fn add_platform(
        &self,
        name: &str,
        public_key: &str,
        kinds: &BTreeSet<Kind>,
        requests_per_minute: Option<u32>,
        by: &Actor,
    ) -> Result<PlatformInfo, HubError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(HubError::Invalid(
                "platform name: 1 to 64 characters, no control characters".into(),
            ));
        }
        let key = xinyi_core::hex::decode_array::<32>(public_key.trim())
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| {
                HubError::Invalid("public key: 64 hexadecimal digits of an Ed25519 key".into())
            })?;
        if kinds.is_empty() {
            return Err(HubError::Invalid(
                "kinds: person, enterprise or both".into(),
            ));
        }
        let rate = requests_per_minute.unwrap_or(DEFAULT_PLATFORM_RATE);
        if !(1..=60_000).contains(&rate) {
            return Err(HubError::Invalid(format!(
                "requests per minute: 1 to 60000, got {rate}"
            )));
        }
        let id = xinyi_core::wire::key_id(key.as_bytes());
        let now = self.now();
        let kinds_text = kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.db().write(|tx| {
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM platforms WHERE id = ?1 OR name = ?2)
                 OR EXISTS (SELECT 1 FROM terminals WHERE id = ?1)",
                params![id, name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(HubError::Invalid(format!(
                    "a platform named {name:?} or with that key is already registered"
                )));
            }
            tx.execute(
                "INSERT INTO platforms (id, name, public_key, kinds, requests_per_minute, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id,
                    name,
                    xinyi_core::hex::encode(key.as_bytes()),
                    kinds_text,
                    rate,
                    now.0
                ],
            )?;
            audit::append(
                tx,
                now,
                by,
                "platform.add",
                &id,
                &format!("{name} · {kinds_text} · {rate}/min"),
            )?;
            Ok(())
        })?;
        self.platform(&id)?
            .ok_or_else(|| HubError::Internal("the platform just added is gone".into()))
    }

    /// Revokes a platform (by id or name); false if it already was.
    pub fn revoke_platform(&self, which: &str, by: &Actor) -> Result<bool, HubError> {
        let now = self.now();
        self.db().write(|tx| {
            let p = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM platforms WHERE id = ?1 OR name = ?1"),
                    [which.trim()],
                    row,
                )
                .optional()?
                .ok_or_else(|| HubError::NotFound {
                    what: "platform",
                    id: which.to_owned(),
                    hint: " (see `xinyi-hub platform list`)",
                })?;
            if p.revoked() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE platforms SET revoked_at = ?2 WHERE id = ?1",
                params![p.id, now.0],
            )?;
            audit::append(tx, now, by, "platform.revoke", &p.id, &p.name)?;
            Ok(true)
        })
    }

    pub fn platforms(&self) -> Result<Vec<PlatformInfo>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare(&format!("SELECT {COLUMNS} FROM platforms ORDER BY name"))?;
            let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    pub fn platform(&self, id: &str) -> Result<Option<PlatformInfo>, HubError> {
        self.db().read(|tx| {
            Ok(tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM platforms WHERE id = ?1"),
                    [id],
                    row,
                )
                .optional()?)
        })
    }

    /// Checks a platform's signed request: a registered platform not
    /// revoked, its signature, its time within the skew, its nonce new.
    pub fn authenticate_platform(
        &self,
        auth: &RequestAuth,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<PlatformInfo, HubError> {
        let p = self
            .platform(&auth.terminal)?
            .ok_or_else(|| AuthError::UnknownTerminal(auth.terminal.clone()))?;
        if p.revoked() {
            return Err(AuthError::Revoked(p.id).into());
        }
        self.verify_request(auth, &p.id, &p.public_key, method, path, body)?;
        let now = self.now();
        self.db().write_for(&p.id, |tx| {
            self.take_nonce(tx, &p.id, &auth.nonce, now)?;
            tx.execute(
                "UPDATE platforms SET last_seen_at = ?2 WHERE id = ?1",
                params![p.id, now.0],
            )?;
            Ok(())
        })?;
        Ok(p)
    }

    /// 身份核对: whether the subject a platform's user is is listed, in
    /// which categories, honours and validity, and which measures apply
    /// to it today. Audited with the ID number masked.
    pub fn identity_check(
        &self,
        platform: &PlatformInfo,
        kind: &str,
        id_number: &str,
    ) -> Result<IdentityAnswer, HubError> {
        let k: Kind = kind.trim().parse().map_err(|_| {
            HubError::Invalid(format!(
                "kind {kind:?}: must be \"person\" or \"enterprise\""
            ))
        })?;
        if !platform.kinds.contains(&k) {
            return Err(HubError::Invalid(format!(
                "this platform may not ask about {}s",
                k.as_str()
            )));
        }
        let subject = self.subject(k.as_str(), id_number)?;
        let today = self.today();
        // A withdrawal (credit repair) ends an exclusion on its day.
        let excluded = subject.exclusions.iter().any(|x| x.applies_on(today));
        let listings: Vec<ListingAnswer> = subject
            .listings
            .iter()
            .filter(|l| !l.withdrawn)
            .map(|l| {
                let cat: Option<Category> = l.category.parse().ok();
                ListingAnswer {
                    category: l.category.clone(),
                    category_name: cat.map(|c| c.name_zh().to_owned()).unwrap_or_default(),
                    honour: l.honour.clone(),
                    recognised_on: l.recognised_on.clone(),
                    valid_until: l.valid_until.clone(),
                    in_force: l.in_force_on(today),
                }
            })
            .collect();
        let in_force: Vec<Category> = subject
            .listings
            .iter()
            .filter(|l| l.in_force_on(today))
            .filter_map(|l| l.category.parse().ok())
            .collect();
        let measures = if excluded || in_force.is_empty() {
            Vec::new()
        } else {
            self.catalogue()?
                .map(|c| {
                    c.measures()
                        .iter()
                        .filter(|m| {
                            m.in_force(today) && in_force.iter().any(|cat| m.covers(k, *cat))
                        })
                        .map(|m| MeasureAnswer {
                            id: m.id.to_string(),
                            family: m.family.clone(),
                            name_zh: m.name_zh.clone(),
                            name_en: m.name_en.clone(),
                            unit: m.unit.clone(),
                            valid_until: m.valid_until.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let answer = IdentityAnswer {
            kind: k.as_str().to_owned(),
            on: today.to_string(),
            listed: !in_force.is_empty() && !excluded,
            excluded,
            listings,
            measures,
        };
        self.audit(
            &Actor::Platform(platform.name.clone()),
            "identity.check",
            &mask_id_number(&subject.id_number),
            &format!(
                "{} · {}",
                k.as_str(),
                if answer.listed {
                    "listed"
                } else {
                    "not listed"
                }
            ),
        )?;
        Ok(answer)
    }
}
