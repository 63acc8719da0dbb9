//! The hub's side of sync, independent of HTTP: enrolling terminals with a
//! one-time code, authenticating signed requests (known terminal, good
//! signature, time within the skew, nonce never seen), and signing fresh
//! metadata for each terminal.

use crate::db::{OptionalExtension as _, params};
use ed25519_dalek::VerifyingKey;
use xinyi_core::wire::enroll::{CodeSecrets, EnrollGrant, EnrollRequest};
use xinyi_core::wire::metadata::{Metadata, SPEC, TerminalStanding};
use xinyi_core::wire::receipt::RevocationNotice;
use xinyi_core::wire::request::RequestAuth;
use xinyi_core::wire::{Digest32, Fingerprint, key_id};

use crate::admin::{TerminalInfo, load_terminal, printable};
use crate::error::{AuthError, EnrollError, HubError};
use crate::hub::Hub;
use crate::publish::{current_version, plan_eligibility, stored_plan, version_info};

/// What a terminal says of itself when it polls for metadata: the version
/// it holds, its journal's last sequence number and its program's version
/// (the last two absent from terminals of earlier releases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalReport {
    pub have: u64,
    pub journal_head: Option<u64>,
    pub app_version: Option<String>,
}

/// The longest terminal label kept.
const MAX_LABEL: usize = 200;

fn parse_key(hex: &str) -> Result<VerifyingKey, EnrollError> {
    let raw: [u8; 32] = xinyi_core::hex::decode_array(hex.trim())
        .map_err(|e| EnrollError::BadKey(e.to_string()))?;
    let key = VerifyingKey::from_bytes(&raw)
        .map_err(|_| EnrollError::BadKey("not an Ed25519 public key".into()))?;
    if key.is_weak() {
        return Err(EnrollError::BadKey("a weak (small-order) key".into()));
    }
    Ok(key)
}

impl Hub {
    /// The registry key's fingerprint, for people: what a technician types
    /// at `xinyi enroll --fingerprint`.
    pub fn registry_fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.registry_public_key().as_bytes())
    }

    /// Enrolls a terminal: checks the proof that it holds a one-time code
    /// (bound to its key, this registry's fingerprint and its label),
    /// spends the code, registers the key for the code's site, and returns
    /// the sealed grant. The same key presenting its own spent code again
    /// gets the grant again (its first answer may have been lost on the
    /// way).
    pub fn enroll(&self, req: &EnrollRequest) -> Result<Vec<u8>, HubError> {
        let key = parse_key(&req.public_key)?;
        let public_key = xinyi_core::hex::encode(key.as_bytes());
        let id = key_id(key.as_bytes());
        let code_id = Digest32::from_hex(req.code_id.trim())
            .map_err(|e| EnrollError::Malformed(format!("code_id: {e}")))?;
        let proof = xinyi_core::hex::decode(req.proof.trim())
            .map_err(|e| EnrollError::Malformed(format!("proof: {e}")))?;
        let fingerprint = self.registry_fingerprint();
        let label: String = printable(req.label.trim())
            .chars()
            .take(MAX_LABEL)
            .collect();
        let now = self.now();
        let site = self.db().write(|tx| {
            let code = tx
                .query_row(
                    "SELECT site, expires_at, used_at, used_by, mac_key FROM enrollment_codes
                     WHERE code_hash = ?1",
                    [code_id.to_hex()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, Option<String>>(4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((site, expires_at, used_at, used_by, mac_key)) = code else {
                return Err(EnrollError::UnknownCode.into());
            };
            let Some(mac_key) = mac_key else {
                return Err(EnrollError::OldCode.into());
            };
            let mac_key = xinyi_core::hex::decode_array::<32>(&mac_key)
                .map_err(|e| HubError::corrupt(format!("enrollment code key: {e}")))?;
            // The label the terminal sent is what the proof covers.
            if !CodeSecrets::from_parts(code_id, mac_key).verify(
                &proof,
                key.as_bytes(),
                &fingerprint,
                &req.label,
            ) {
                return Err(EnrollError::BadProof.into());
            }
            let held = load_terminal(tx, &id)?;
            if used_at.is_some() {
                return match (used_by, held) {
                    (Some(by), Some(t)) if by == id && !t.revoked() => Ok(t.site),
                    _ => Err(EnrollError::UsedCode.into()),
                };
            }
            if expires_at < now.0 {
                return Err(EnrollError::ExpiredCode.into());
            }
            if let Some(t) = held {
                return Err(if t.revoked() {
                    EnrollError::KeyRevoked
                } else {
                    EnrollError::AlreadyEnrolled(t.id)
                }
                .into());
            }
            tx.execute(
                "UPDATE enrollment_codes SET used_at = ?2, used_by = ?3 WHERE code_hash = ?1",
                params![code_id.to_hex(), now.0, id],
            )?;
            tx.execute(
                "INSERT INTO terminals (id, public_key, site, label, enrolled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, public_key, site, label, now.0],
            )?;
            crate::audit::append(
                tx,
                now,
                &crate::audit::Actor::Terminal(id.clone()),
                "terminal.enroll",
                &id,
                &format!("site {site}, label {label}"),
            )?;
            tracing::info!(terminal = %id, site = %site, label = %label, "terminal enrolled");
            Ok(site)
        })?;
        let grant = EnrollGrant {
            terminal_id: id,
            site,
            registry_key: xinyi_core::hex::encode(self.registry_public_key().as_bytes()),
            issued_at: now.0,
        };
        Ok(grant.seal(&self.registry_key()))
    }

    /// Authenticates a signed request (`path` with its query string) and
    /// records its nonce. Refuses unknown terminals, bad signatures, times
    /// off by more than the allowed skew and replayed nonces. Revoked
    /// terminals pass: each endpoint decides what they may still do.
    /// `known` is the terminal the request names, as read before its body.
    pub fn authenticate(
        &self,
        known: &TerminalInfo,
        auth: &RequestAuth,
        method: &str,
        path: &str,
        body: &[u8],
        report: Option<&TerminalReport>,
    ) -> Result<TerminalInfo, HubError> {
        // The signature first, with the key the request's precheck read:
        // a forged request is refused before it writes anything.
        let offset = self.verify_request(auth, &known.id, &known.public_key, method, path, body)?;
        // Then one transaction: the terminal as it is when its nonce is
        // taken.
        self.db().write_for(&known.id, |tx| {
            let terminal = load_terminal(tx, &known.id)?
                .filter(|t| t.public_key == known.public_key)
                .ok_or_else(|| AuthError::UnknownTerminal(known.id.clone()))?;
            let now = self.now();
            self.take_nonce(tx, &terminal.id, &auth.nonce, now)?;
            // What a revoked terminal says of itself is not kept: it gets
            // a notice and nothing else.
            let report = report.filter(|_| !terminal.revoked());
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            tx.execute(
                "UPDATE terminals SET last_seen_at = ?2, clock_offset_s = ?3,
                     data_version = COALESCE(?4, data_version),
                     journal_head = COALESCE(?5, journal_head),
                     app_version = COALESCE(?6, app_version)
                 WHERE id = ?1",
                params![
                    terminal.id,
                    now.0,
                    offset,
                    report.map(|r| n(r.have)),
                    report.and_then(|r| r.journal_head).map(n),
                    report.and_then(|r| r.app_version.as_deref())
                ],
            )?;
            Ok(terminal)
        })
    }

    /// Checks a signed request's signature with `public_key` (hex) of
    /// `who` (a terminal's or a platform's key id) and its time against
    /// the hub's clock; returns the sender's clock offset, seconds.
    pub(crate) fn verify_request(
        &self,
        auth: &RequestAuth,
        who: &str,
        public_key: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<i64, HubError> {
        let key = xinyi_core::hex::decode_array::<32>(public_key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| HubError::corrupt(format!("the key of {who}")))?;
        auth.verify(&key, method, path, body)
            .map_err(|_| AuthError::BadSignature(who.to_owned()))?;
        let skew = self.config().request_skew_s;
        let offset = auth.time.saturating_sub(self.now().0);
        if offset.saturating_abs() > skew {
            return Err(AuthError::ClockSkew {
                offset_s: offset,
                max_s: skew,
            }
            .into());
        }
        Ok(offset)
    }

    /// Accepts a request's nonce once per sender (and forgets the sender's
    /// nonces older than the retention, which the skew check already
    /// refuses; retention forgets those of senders gone quiet). Only the
    /// sender's own rows are touched, so the senders' transactions never
    /// wait for each other ([`crate::db::Db::write_for`]).
    pub(crate) fn take_nonce(
        &self,
        tx: &crate::db::Tx<'_>,
        who: &str,
        nonce: &[u8],
        now: xinyi_core::UnixTime,
    ) -> Result<(), HubError> {
        let retention = self.config().nonce_retention_s;
        tx.execute(
            "DELETE FROM nonces WHERE terminal = ?1 AND seen_at < ?2",
            params![who, now.0.saturating_sub(retention)],
        )?;
        let fresh = tx.execute(
            "INSERT INTO nonces (terminal, nonce, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![who, xinyi_core::hex::encode(nonce), now.0],
        )?;
        if fresh == 0 {
            return Err(AuthError::Replay.into());
        }
        Ok(())
    }

    /// The metadata for `terminal` holding version `have`, unsigned: the
    /// latest version, its config, and the eligibility artefact to reach
    /// it (None when `have` is the latest).
    pub fn metadata(&self, terminal: &TerminalInfo, have: u64) -> Result<Metadata, HubError> {
        self.metadata_with(Some(terminal), have, self.config().metadata_lifetime_s)
    }

    /// Metadata for a terminal (or for any terminal of the registry, as in
    /// a site's data bundle) with the given lifetime.
    pub(crate) fn metadata_with(
        &self,
        terminal: Option<&TerminalInfo>,
        have: u64,
        lifetime_s: i64,
    ) -> Result<Metadata, HubError> {
        // The latest version and what reaches it from `have`: first only
        // if it is stored; if not, built in this process's turn (which
        // finds it stored when another terminal's request just built it).
        let state = |build: bool| {
            self.db().read(|tx| {
                let ready: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM catalogue WHERE id = 1)",
                    [],
                    |r| r.get(0),
                )?;
                let v = current_version(tx)?;
                let info = version_info(tx, v)?.filter(|_| ready);
                let Some(info) = info else {
                    return Err(HubError::NotPublished);
                };
                let plan = if build {
                    Some(plan_eligibility(tx, have, v)?)
                } else {
                    stored_plan(tx, have, v)?
                };
                Ok((info, plan))
            })
        };
        // The turn is held until what was built is stored.
        let mut turn = None;
        let (info, plan) = match state(false)? {
            (info, Some(plan)) => (info, plan),
            (_, None) => {
                turn = Some(self.one_build());
                let (info, plan) = state(true)?;
                let plan = plan.ok_or_else(|| {
                    HubError::Internal("no plan for the eligibility artefact".into())
                })?;
                (info, plan)
            }
        };
        let eligibility = self.settle(info.version, plan)?;
        drop(turn);
        let now = self.now();
        Ok(Metadata {
            spec: SPEC,
            version: info.version,
            published_at: info.published_at.0.min(now.0),
            issued_at: now.0,
            expires_at: now.0.saturating_add(lifetime_s),
            set_hash: info.set_hash,
            listings: info.listings,
            exclusions: info.exclusions,
            config: info.config,
            eligibility,
            terminal: match terminal {
                Some(t) => {
                    let held = self.upload_status(&t.id)?;
                    Some(TerminalStanding {
                        id: t.id.clone(),
                        site: t.site.clone(),
                        revoked: t.revoked(),
                        held_through: Some(held.held_through),
                        held_hash: held.held_hash,
                    })
                }
                None => None,
            },
            rotation: crate::rotation::chain(self.db())?,
        })
    }

    /// [`Hub::metadata`], signed with the registry key: the bytes a
    /// terminal receives.
    pub fn signed_metadata(&self, terminal: &TerminalInfo, have: u64) -> Result<Vec<u8>, HubError> {
        Ok(self.metadata(terminal, have)?.seal(&self.registry_key()))
    }

    /// What a revoked terminal gets instead of metadata: a small signed
    /// notice that names it, so it wipes its list data. Nothing is built
    /// for it. `None` when the terminal is not revoked.
    pub fn revocation_notice(&self, terminal: &TerminalInfo) -> Option<Vec<u8>> {
        let revoked_at = terminal.revoked_at?;
        Some(
            RevocationNotice {
                terminal: terminal.id.clone(),
                revoked_at: revoked_at.0,
                issued_at: self.now().0,
            }
            .seal(&self.registry_key()),
        )
    }
}
