//! The registry's admin operations besides list imports: issuer keys, card
//! revocations, the measures catalogue, sites, one-time enrollment codes
//! and terminals. Each change to what terminals see publishes a new
//! version in the same transaction; a change that alters nothing
//! publishes nothing.

use crate::db::{OptionalExtension as _, Tx, params};
use xinyi_core::category::Category;
use xinyi_core::credential::{Cti, Iss, Kid};
use xinyi_core::measures::{Measure, MeasureId};
use xinyi_core::time::UnixTime;
use xinyi_core::trust::TrustedKey;
use xinyi_core::wire::config::{
    Channel, DEFAULT_ONLINE_DEADLINE_MS, DEFAULT_VOID_WINDOW_S, MAX_ONLINE_DEADLINE_MS,
    MAX_VOID_WINDOW_S, Site, TrustEntry,
};
use xinyi_core::wire::enroll::CodeSecrets;
use xinyi_core::{Catalogue, Date, Kind};

use crate::error::HubError;
use crate::hub::Hub;
use crate::publish::{Published, load_sites, next_version, unchanged};

/// A measure a new catalogue withdraws, and whom it affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureWithdrawal {
    pub measure: MeasureId,
    /// The first day the measure no longer applies.
    pub on: Date,
    /// Citizens and enterprises with a listing in force today that the
    /// measure covers.
    pub holders: u64,
}

/// Sites' default max offline age, in hours (`design.md`, "Staleness").
pub const DEFAULT_MAX_OFFLINE_HOURS: i64 = 72;
/// How long an enrollment code stays usable by default, in days.
pub const DEFAULT_CODE_VALID_DAYS: i64 = 7;
/// Characters of enrollment codes: no 0/O or 1/I to confuse.
pub(crate) const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// An issuer key to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssuerKey {
    /// `GD-YSS` or `GD-YST`.
    pub iss: String,
    /// The Ed25519 public key, 64 hex digits.
    pub public_key: String,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    /// The kid the key is expected to have, checked when given.
    pub kid: Option<String>,
}

/// A site to add or replace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteSpec {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// Measure ids; each must be in the catalogue.
    pub measures: Vec<String>,
    /// Default [`DEFAULT_MAX_OFFLINE_HOURS`].
    pub max_offline_hours: Option<i64>,
    /// How long after a redemption a supervisor may void it, in minutes
    /// (default 30, at most a day).
    pub void_window_minutes: Option<i64>,
    /// Redemptions may be confirmed with nobody signed in (a self-service
    /// point); they are recorded as confirmed by `unattended`.
    pub unattended: bool,
    /// How long a terminal waits for the online check, in milliseconds
    /// (default 300; 0 never asks).
    pub online_deadline_ms: Option<u32>,
    /// Clerks need not tick that a printed card's holder matches the
    /// masked name (on by default).
    pub no_holder_check: bool,
    /// Where the site's objection code (名单异议) points instead of the
    /// registry's page under `public_url`; blank: the registry's.
    pub objection_url: Option<String>,
    /// Where its complaint code (投诉建议) points, likewise.
    pub complaint_url: Option<String>,
}

impl SiteSpec {
    /// The site's own channel addresses, for the audit log: "" when it
    /// takes the registry's pages.
    pub fn channels_note(&self) -> String {
        [
            ("objection", &self.objection_url),
            ("complaint", &self.complaint_url),
        ]
        .into_iter()
        .filter_map(|(what, url)| {
            let url = url.as_deref().map(str::trim).filter(|u| !u.is_empty())?;
            Some(format!("; {what} at {url}"))
        })
        .collect()
    }
}

/// A freshly made enrollment code: shown once, stored only as its id and
/// the key that checks proofs of holding it (`wire::enroll`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentCode {
    /// Like `K7Q2-M9XD-4PLA-W3ZN` (80 random bits).
    pub code: String,
    pub site: String,
    pub expires_at: UnixTime,
}

/// An enrolled terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalInfo {
    /// Its key id.
    pub id: String,
    /// Its Ed25519 public key, hex.
    pub public_key: String,
    pub site: String,
    pub label: String,
    pub enrolled_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub last_seen_at: Option<UnixTime>,
    /// Its clock minus the hub's at its last signed request, seconds.
    pub clock_offset_s: Option<i64>,
    /// The data version it held at its last metadata request.
    pub data_version: Option<u64>,
    /// The last sequence number in its journal then.
    pub journal_head: Option<u64>,
    /// Its program's version then.
    pub app_version: Option<String>,
    /// The last sequence number of its records the hub holds.
    pub uploaded_through: Option<u64>,
}

impl TerminalInfo {
    /// Records it held at its last contact that the hub does not have.
    pub fn not_uploaded(&self) -> Option<u64> {
        self.journal_head
            .map(|h| h.saturating_sub(self.uploaded_through.unwrap_or(0)))
    }

    pub fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A revoked printed card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCard {
    pub cti: String,
    pub reason: String,
    pub revoked_at: UnixTime,
}

/// Parses an instant given as Unix seconds or as a `YYYY-MM-DD` day in
/// UTC+8: the day's first second, or with `end_of_day` its last.
pub fn parse_instant(s: &str, end_of_day: bool) -> Result<UnixTime, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Ok(UnixTime(n));
    }
    let d: Date = s
        .parse()
        .map_err(|_| format!("{s:?} is neither Unix seconds nor a date YYYY-MM-DD"))?;
    Ok(if end_of_day {
        UnixTime(d.add_days(1).start_utc8().0 - 1)
    } else {
        d.start_utc8()
    })
}

/// Characters in an enrollment code: 16 of 32 symbols, 80 bits.
const CODE_LEN: usize = 16;

/// A label as it may be shown and logged: control characters (a terminal
/// chooses its label) escaped, so none reaches a log or a console raw.
pub fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn new_code() -> Result<String, HubError> {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| HubError::Internal(format!("no randomness from the system: {e}")))?;
    let mut code = String::with_capacity(CODE_LEN + CODE_LEN / 4);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(CODE_ALPHABET[usize::from(b & 31)]));
    }
    Ok(code)
}

fn check_id(what: &str, id: &str) -> Result<(), HubError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid(format!(
            "{what} id {id:?} must be 1–64 characters of letters, digits, '-', '_' or '.'"
        )))
    }
}

pub(crate) fn load_catalogue(tx: &Tx<'_>) -> Result<Option<(String, Catalogue)>, HubError> {
    let text: Option<String> = tx
        .query_row("SELECT toml FROM catalogue WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    text.map(|t| {
        let c = Catalogue::from_toml(&t)?;
        Ok((t, c))
    })
    .transpose()
}

pub(crate) fn load_terminal(tx: &Tx<'_>, id: &str) -> Result<Option<TerminalInfo>, HubError> {
    Ok(tx
        .query_row(
            &format!("SELECT {TERMINAL_COLUMNS} FROM terminals t WHERE id = ?1"),
            [id],
            terminal_row,
        )
        .optional()?)
}

const TERMINAL_COLUMNS: &str = "id, public_key, site, label, enrolled_at, revoked_at, last_seen_at, \
     clock_offset_s, data_version, journal_head, app_version, \
     (SELECT MAX(seq) FROM records r WHERE r.terminal = t.id)";

fn terminal_row(r: &crate::db::Row<'_>) -> Result<TerminalInfo, crate::db::DbError> {
    let u = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
    Ok(TerminalInfo {
        id: r.get(0)?,
        public_key: r.get(1)?,
        site: r.get(2)?,
        label: r.get(3)?,
        enrolled_at: UnixTime(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(UnixTime),
        last_seen_at: r.get::<_, Option<i64>>(6)?.map(UnixTime),
        clock_offset_s: r.get(7)?,
        data_version: u(r.get(8)?),
        journal_head: u(r.get(9)?),
        app_version: r.get(10)?,
        uploaded_through: u(r.get(11)?),
    })
}

impl Hub {
    fn publish_next(&self, tx: &Tx<'_>, note: &str) -> Result<Published, HubError> {
        let v = next_version(tx)?;
        self.publish_in(tx, v, note)
    }

    /// Adds an issuer key to the trust list.
    pub fn add_issuer_key(&self, k: &NewIssuerKey) -> Result<(TrustEntry, Published), HubError> {
        let iss = Iss::parse(k.iss.trim()).ok_or_else(|| {
            HubError::Invalid(format!(
                "unknown issuer {:?}: use GD-YSS (粤省事) or GD-YST (粤商通)",
                k.iss
            ))
        })?;
        let pk = xinyi_core::hex::decode_array::<32>(k.public_key.trim())
            .map_err(|e| HubError::Invalid(format!("public key: {e}")))?;
        let kid = k
            .kid
            .as_deref()
            .map(|s| Kid::from_hex(s.trim()))
            .transpose()
            .map_err(|e| HubError::Invalid(format!("kid: {e}")))?;
        let key = TrustedKey::new(iss, pk, k.not_before, k.not_after, false, kid)?;
        let entry = TrustEntry::of(&key);
        let now = self.now();
        let published = self.db().write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM issuer_keys WHERE kid = ?1 OR public_key = ?2)",
                params![entry.kid, entry.public_key],
                |r| r.get(0),
            )?;
            if exists {
                return Err(HubError::Invalid(format!(
                    "issuer key {} is already in the trust list (see `xinyi-hub issuer list`)",
                    entry.kid
                )));
            }
            tx.execute(
                "INSERT INTO issuer_keys (kid, iss, public_key, not_before, not_after, revoked, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    entry.kid,
                    entry.iss,
                    entry.public_key,
                    entry.not_before,
                    entry.not_after,
                    now.0
                ],
            )?;
            self.publish_next(tx, &format!("issuer key {} added", entry.kid))
        })?;
        Ok((entry, published))
    }

    fn issuer_window(tx: &Tx<'_>, kid: &str) -> Result<(i64, i64, bool), HubError> {
        tx.query_row(
            "SELECT not_before, not_after, revoked FROM issuer_keys WHERE kid = ?1",
            [kid],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| HubError::NotFound {
            what: "issuer key",
            id: kid.to_owned(),
            hint: " (see `xinyi-hub issuer list`)",
        })
    }

    /// Retires an issuer key: it vouches only for credentials issued up to
    /// `not_after` (default now).
    pub fn retire_issuer_key(
        &self,
        kid: &str,
        not_after: Option<UnixTime>,
    ) -> Result<Published, HubError> {
        let kid = kid.trim().to_ascii_lowercase();
        let not_after = not_after.unwrap_or_else(|| self.now());
        self.db().write(|tx| {
            let (nb, na, _) = Self::issuer_window(tx, &kid)?;
            if not_after.0 < nb {
                return Err(HubError::Invalid(format!(
                    "not_after {} is before the key's not_before {}",
                    not_after.display_utc8(),
                    UnixTime(nb).display_utc8()
                )));
            }
            if na == not_after.0 {
                return unchanged(tx);
            }
            tx.execute(
                "UPDATE issuer_keys SET not_after = ?2 WHERE kid = ?1",
                params![kid, not_after.0],
            )?;
            self.publish_next(tx, &format!("issuer key {kid} retired"))
        })
    }

    /// Revokes an issuer key: terminals refuse everything it signed.
    pub fn revoke_issuer_key(&self, kid: &str) -> Result<Published, HubError> {
        let kid = kid.trim().to_ascii_lowercase();
        self.db().write(|tx| {
            let (_, _, revoked) = Self::issuer_window(tx, &kid)?;
            if revoked {
                return unchanged(tx);
            }
            tx.execute("UPDATE issuer_keys SET revoked = 1 WHERE kid = ?1", [&kid])?;
            self.publish_next(tx, &format!("issuer key {kid} revoked"))
        })
    }

    /// The trust list as it stands.
    pub fn issuer_keys(&self) -> Result<Vec<TrustEntry>, HubError> {
        self.db()
            .read(|tx| Ok(crate::publish::build_config(tx, None)?.trust))
    }

    /// Revokes a printed card by its cti (hex).
    pub fn revoke_card(&self, cti_hex: &str, reason: &str) -> Result<Published, HubError> {
        let cti = Cti::from_hex(cti_hex.trim())
            .map_err(|e| HubError::Invalid(format!("card cti {cti_hex:?}: {e}")))?;
        let now = self.now();
        self.db().write(|tx| {
            let n = tx.execute(
                "INSERT INTO revoked_cards (cti, reason, revoked_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![cti.to_hex(), reason, now.0],
            )?;
            if n == 0 {
                return unchanged(tx);
            }
            self.publish_next(tx, &format!("card {} revoked", cti.to_hex()))
        })
    }

    /// The revoked cards.
    pub fn revoked_cards(&self) -> Result<Vec<RevokedCard>, HubError> {
        self.db().read(|tx| {
            let mut stmt =
                tx.prepare("SELECT cti, reason, revoked_at FROM revoked_cards ORDER BY cti")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(RevokedCard {
                        cti: r.get(0)?,
                        reason: r.get(1)?,
                        revoked_at: UnixTime(r.get(2)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Publishes the measures catalogue (TOML text, `measures.md`). Every
    /// site's measures must stay in it.
    pub fn publish_catalogue(&self, toml: &str) -> Result<Published, HubError> {
        let catalogue = Catalogue::from_toml(toml)?;
        self.db()
            .write(|tx| self.publish_catalogue_in(tx, toml, &catalogue, "catalogue file"))
    }

    /// Publishes `catalogue` (its text `toml`) inside the caller's
    /// transaction, keeping it as the catalogue's next revision with
    /// `how` it came.
    pub(crate) fn publish_catalogue_in(
        &self,
        tx: &Tx<'_>,
        toml: &str,
        catalogue: &Catalogue,
        how: &str,
    ) -> Result<Published, HubError> {
        let now = self.now();
        for site in load_sites(tx)? {
            if let Some(m) = site.measures.iter().find(|m| catalogue.get(m).is_none()) {
                return Err(HubError::Invalid(format!(
                    "site {} applies measure {m}, which this catalogue lacks: keep the measure, or change the site first (`xinyi-hub site add {} --measures ...`)",
                    site.id, site.id
                )));
            }
        }
        if let Some((held, _)) = load_catalogue(tx)?
            && held == toml
        {
            return unchanged(tx);
        }
        tx.execute(
            "INSERT INTO catalogue (id, toml, published_at) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET toml = excluded.toml, published_at = excluded.published_at",
            params![toml, now.0],
        )?;
        let published = self.publish_next(
            tx,
            &format!("catalogue with {} measures", catalogue.measures().len()),
        )?;
        tx.execute(
            "INSERT INTO catalogue_revisions (toml, published_at, data_version, measures, how)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                toml,
                now.0,
                i64::try_from(published.version).unwrap_or(i64::MAX),
                i64::try_from(catalogue.measures().len()).unwrap_or(i64::MAX),
                how
            ],
        )?;
        Ok(published)
    }

    /// The catalogue in force, if one was published.
    pub fn catalogue(&self) -> Result<Option<Catalogue>, HubError> {
        self.db().read(|tx| Ok(load_catalogue(tx)?.map(|(_, c)| c)))
    }

    /// What publishing `next` would end: each measure it withdraws that the
    /// catalogue in force does not, with how many citizens and enterprises
    /// hold a listing in force today that the measure covers (every
    /// eligibility through it stops on its `withdrawn_on`).
    pub fn withdrawals_in(&self, next: &Catalogue) -> Result<Vec<MeasureWithdrawal>, HubError> {
        let today = self.today();
        self.db().read(|tx| {
            let held = load_catalogue(tx)?.map(|(_, c)| c);
            let newly: Vec<&Measure> = next
                .measures()
                .iter()
                .filter(|m| {
                    m.withdrawn_on.is_some()
                        && held
                            .as_ref()
                            .and_then(|h| h.get(m.id.as_str()))
                            .is_none_or(|old| old.withdrawn_on != m.withdrawn_on)
                })
                .collect();
            if newly.is_empty() {
                return Ok(Vec::new());
            }
            let mut holders: Vec<std::collections::BTreeSet<(String, String)>> =
                vec![std::collections::BTreeSet::new(); newly.len()];
            let mut stmt = tx.prepare(
                "SELECT kind, sub, category FROM listings
                 WHERE withdrawn = 0 AND recognised_on <= ?1 AND valid_until >= ?1",
            )?;
            let mut rows = stmt.query([today.to_string()])?;
            while let Some(r) = rows.next()? {
                let kind: String = r.get(0)?;
                let category: String = r.get(2)?;
                let (Ok(k), Ok(c)) = (kind.parse::<Kind>(), category.parse::<Category>()) else {
                    return Err(HubError::corrupt(format!(
                        "a listing of kind {kind:?} in category {category:?}"
                    )));
                };
                for (m, set) in newly.iter().zip(holders.iter_mut()) {
                    if m.covers(k, c) {
                        set.insert((kind.clone(), r.get(1)?));
                    }
                }
            }
            Ok(newly
                .iter()
                .zip(holders)
                .filter_map(|(m, set)| {
                    Some(MeasureWithdrawal {
                        measure: m.id.clone(),
                        on: m.withdrawn_on?,
                        holders: set.len() as u64,
                    })
                })
                .collect())
        })
    }

    /// Adds a site, or replaces the site with the same id.
    pub fn add_site(&self, spec: &SiteSpec) -> Result<Published, HubError> {
        check_id("site", &spec.id)?;
        for (field, v) in [("name", &spec.name), ("unit", &spec.unit)] {
            if v.trim().is_empty() {
                return Err(HubError::Invalid(format!("site {field} must not be empty")));
            }
        }
        let void_window_s = spec
            .void_window_minutes
            .map_or(DEFAULT_VOID_WINDOW_S, |m| m.saturating_mul(60));
        if !(0..=MAX_VOID_WINDOW_S).contains(&void_window_s) {
            return Err(HubError::Invalid(format!(
                "the void window must be 0 to {} minutes, got {}",
                MAX_VOID_WINDOW_S / 60,
                void_window_s / 60
            )));
        }
        if let Some(ms) = spec.online_deadline_ms
            && ms > MAX_ONLINE_DEADLINE_MS
        {
            return Err(HubError::Invalid(format!(
                "the online check deadline must be 0 to {MAX_ONLINE_DEADLINE_MS} ms, got {ms}"
            )));
        }
        let hours = spec.max_offline_hours.unwrap_or(DEFAULT_MAX_OFFLINE_HOURS);
        if !(1..=24 * 365).contains(&hours) {
            return Err(HubError::Invalid(format!(
                "max offline hours must be 1 to 8760, got {hours}"
            )));
        }
        let objection_url =
            crate::channels::site_url(Channel::Objection, spec.objection_url.as_deref())?;
        let complaint_url =
            crate::channels::site_url(Channel::Complaint, spec.complaint_url.as_deref())?;
        let mut measures: Vec<String> = spec.measures.iter().map(|m| m.trim().to_owned()).collect();
        measures.retain(|m| !m.is_empty());
        if measures.is_empty() {
            return Err(HubError::Invalid(
                "a site needs at least one measure (--measures A,B)".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(m) = measures.iter().find(|m| !seen.insert(m.as_str())) {
            return Err(HubError::Invalid(format!("measure {m} is listed twice")));
        }
        let site = Site {
            id: spec.id.clone(),
            name: spec.name.trim().to_owned(),
            unit: spec.unit.trim().to_owned(),
            measures,
            max_offline_age_s: hours * 3600,
            void_window_s,
            unattended: spec.unattended,
            online_deadline_ms: spec
                .online_deadline_ms
                .unwrap_or(DEFAULT_ONLINE_DEADLINE_MS),
            check_holder: !spec.no_holder_check,
            objection_url,
            complaint_url,
        };
        let now = self.now();
        self.db().write(|tx| {
            let (_, catalogue) = load_catalogue(tx)?.ok_or(HubError::NoCatalogue)?;
            if let Some(m) = site.measures.iter().find(|m| catalogue.get(m).is_none()) {
                let known: Vec<&str> = catalogue.measures().iter().map(|m| m.id.as_str()).collect();
                return Err(HubError::Invalid(format!(
                    "measure {m} is not in the catalogue; it has: {}",
                    known.join(", ")
                )));
            }
            if load_sites(tx)?.contains(&site) {
                return unchanged(tx);
            }
            let measures = serde_json::to_string(&site.measures)
                .map_err(|e| HubError::Internal(e.to_string()))?;
            tx.execute(
                "INSERT INTO sites (id, name, unit, measures, max_offline_age_s, void_window_s,
                    unattended, online_deadline_ms, check_holder, objection_url, complaint_url,
                    updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, unit = excluded.unit,
                    measures = excluded.measures, max_offline_age_s = excluded.max_offline_age_s,
                    void_window_s = excluded.void_window_s, unattended = excluded.unattended,
                    online_deadline_ms = excluded.online_deadline_ms,
                    check_holder = excluded.check_holder, objection_url = excluded.objection_url,
                    complaint_url = excluded.complaint_url, updated_at = excluded.updated_at",
                params![
                    site.id,
                    site.name,
                    site.unit,
                    measures,
                    site.max_offline_age_s,
                    site.void_window_s,
                    site.unattended,
                    site.online_deadline_ms,
                    site.check_holder,
                    site.objection_url,
                    site.complaint_url,
                    now.0
                ],
            )?;
            self.publish_next(tx, &format!("site {}", site.id))
        })
    }

    /// The sites, as set: a channel address is the site's own, `None`
    /// where the site takes the registry's page
    /// ([`crate::channels::published`] gives what terminals get).
    pub fn sites(&self) -> Result<Vec<Site>, HubError> {
        self.db().read(load_sites)
    }

    /// Makes a one-time enrollment code for a site, valid for `valid_for_s`
    /// seconds (default 7 days).
    pub fn create_enrollment_code(
        &self,
        site: &str,
        valid_for_s: Option<i64>,
    ) -> Result<EnrollmentCode, HubError> {
        let valid_for = valid_for_s.unwrap_or(DEFAULT_CODE_VALID_DAYS * 86_400);
        if !(1..=366 * 86_400).contains(&valid_for) {
            return Err(HubError::Invalid(format!(
                "an enrollment code may be valid for 1 second to 366 days, not {valid_for} s"
            )));
        }
        let now = self.now();
        let code = new_code()?;
        let expires_at = UnixTime(now.0.saturating_add(valid_for));
        self.db().write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM sites WHERE id = ?1)",
                [site],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(HubError::NotFound {
                    what: "site",
                    id: site.to_owned(),
                    hint: ": add it first with `xinyi-hub site add`",
                });
            }
            let secrets = CodeSecrets::derive(&code);
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, mac_key, site, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    secrets.id.to_hex(),
                    xinyi_core::hex::encode(secrets.mac_key()),
                    site,
                    now.0,
                    expires_at.0
                ],
            )?;
            Ok(())
        })?;
        Ok(EnrollmentCode {
            code,
            site: site.to_owned(),
            expires_at,
        })
    }

    /// The enrolled terminals.
    pub fn terminals(&self) -> Result<Vec<TerminalInfo>, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {TERMINAL_COLUMNS} FROM terminals t ORDER BY enrolled_at, id"
            ))?;
            let rows = stmt
                .query_map([], terminal_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// One terminal.
    pub fn terminal(&self, id: &str) -> Result<Option<TerminalInfo>, HubError> {
        self.db().read(|tx| load_terminal(tx, id))
    }

    /// Revokes a terminal: it may no longer upload or download, and its
    /// metadata tells it to wipe its data. Returns false if it already was.
    pub fn revoke_terminal(&self, id: &str) -> Result<bool, HubError> {
        let now = self.now();
        self.db().write(|tx| {
            let t = load_terminal(tx, id.trim())?.ok_or_else(|| HubError::NotFound {
                what: "terminal",
                id: id.to_owned(),
                hint: " (see `xinyi-hub terminal list`)",
            })?;
            if t.revoked() {
                return Ok(false);
            }
            tx.execute(
                "UPDATE terminals SET revoked_at = ?2 WHERE id = ?1",
                params![t.id, now.0],
            )?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typeable_and_normalised() {
        let c = new_code().unwrap();
        assert_eq!(c.len(), 19);
        assert_eq!(c.matches('-').count(), 3);
        assert!(
            c.chars()
                .all(|ch| ch == '-' || CODE_ALPHABET.contains(&(ch as u8)))
        );
        let id = |code: &str| CodeSecrets::derive(code).id;
        assert_eq!(id(&c), id(&c.to_lowercase().replace('-', " ")));
        assert_ne!(id(&c), id("K7Q2-M9XD-4PLA-W3ZN"));
        assert_ne!(new_code().unwrap(), c);
    }

    #[test]
    fn labels_are_shown_without_control_characters() {
        assert_eq!(printable("bus 1 · 江城"), "bus 1 · 江城");
        let shown = printable("bus\n2026-01-01 INFO forged line\u{1b}[2J");
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.contains("\\n"), "{shown}");
    }

    #[test]
    fn instants() {
        assert_eq!(
            parse_instant("1735660800", false),
            Ok(UnixTime(1_735_660_800))
        );
        // 2027-12-31 ends at 1830268799 (the vectors' not_after).
        assert_eq!(
            parse_instant("2027-12-31", true),
            Ok(UnixTime(1_830_268_799))
        );
        assert_eq!(
            parse_instant("2025-01-01", false),
            Ok(UnixTime(1_735_660_800))
        );
        assert!(parse_instant("tomorrow", false).is_err());
    }
}
