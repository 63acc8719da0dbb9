//! Publishing (`crates/core/src/wire/mod.rs`): numbered versions, each with
//! the set hash and counts of the published eligibility set and a
//! content-addressed config artefact; and the eligibility artefacts built
//! for terminals on demand — a snapshot of every row, or a delta of the
//! rows changed since the version a terminal holds — zlib-compressed,
//! content-addressed and cached.
//!
//! Every row carries `changed_in`, the version that last changed what
//! terminals see of it, so a delta from version `v` is exactly the rows
//! with `changed_in > v`. Rows are never deleted (a withdrawal is a flag),
//! so deltas only insert or replace.
//!
//! Privacy: what is published comes from the projection columns only
//! (pseudonym, masked name, category, dates); ID numbers and names never
//! leave the `listings` and `exclusions` tables.

use std::io::Write as _;

use crate::db::{OptionalExtension as _, Tx, params};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use xinyi_core::category::Category;
use xinyi_core::eligibility::{EligibilityEntry, ExclusionEntry};
use xinyi_core::ids::{Kind, SubjectId};
use xinyi_core::wire::Digest32;
use xinyi_core::wire::config::{Config, Site, TrustEntry};
use xinyi_core::wire::eligibility::{self, ArtefactKind, Header, Item, SetHash};
use xinyi_core::wire::metadata::{ArtefactRef, EligibilityRef};
use xinyi_core::{Date, UnixTime};

use crate::error::HubError;
use crate::hub::Hub;
use crate::usage;

/// The most items a publication's delta from the version before may hold
/// for the publication to build it in its own transaction. A larger one
/// (a backlog of uploads after an outage) is built by the first terminal
/// that asks, in a read transaction: on SQLite the publication holds the
/// one write lock, and uploads wait for it only so long.
const EAGER_DELTA_MAX_ITEMS: u64 = 100_000;

/// What a change did to the published data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The version in force after the change.
    pub version: u64,
    /// Whether the change published that version (false: nothing that
    /// terminals see changed, and no version was published).
    pub new_version: bool,
}

/// Nothing terminals see changed: the version in force stays.
pub(crate) fn unchanged(tx: &Tx<'_>) -> Result<Published, HubError> {
    Ok(Published {
        version: current_version(tx)?,
        new_version: false,
    })
}

/// A published version, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: u64,
    pub published_at: UnixTime,
    pub set_hash: Digest32,
    pub listings: u64,
    pub exclusions: u64,
    pub config: ArtefactRef,
    /// What changed, for people.
    pub note: String,
}

pub(crate) fn to_i64(n: u64, what: &str) -> Result<i64, HubError> {
    i64::try_from(n).map_err(|_| HubError::Invalid(format!("{what} {n} is too large")))
}

pub(crate) fn to_u64(n: i64) -> Result<u64, HubError> {
    u64::try_from(n).map_err(|_| HubError::corrupt(format!("negative count {n}")))
}

pub(crate) fn date(s: &str) -> Result<Date, HubError> {
    s.parse::<Date>().map_err(HubError::corrupt)
}

fn kind(s: &str) -> Result<Kind, HubError> {
    s.parse::<Kind>().map_err(HubError::corrupt)
}

/// The number of the latest version, 0 before the first.
pub(crate) fn current_version(tx: &Tx<'_>) -> Result<u64, HubError> {
    let v: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM versions", [], |r| {
        r.get(0)
    })?;
    to_u64(v)
}

/// The version the next change will publish.
pub(crate) fn next_version(tx: &Tx<'_>) -> Result<u64, HubError> {
    Ok(current_version(tx)? + 1)
}

pub(crate) fn version_info(tx: &Tx<'_>, version: u64) -> Result<Option<VersionInfo>, HubError> {
    let row = tx
        .query_row(
            "SELECT version, published_at, set_hash, listings, exclusions, config_sha256,
                    config_length, note
             FROM versions WHERE version = ?1",
            [to_i64(version, "version")?],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((v, at, set_hash, l, x, sha, len, note)) = row else {
        return Ok(None);
    };
    Ok(Some(VersionInfo {
        version: to_u64(v)?,
        published_at: UnixTime(at),
        set_hash: Digest32::from_hex(&set_hash).map_err(HubError::corrupt)?,
        listings: to_u64(l)?,
        exclusions: to_u64(x)?,
        config: ArtefactRef {
            sha256: Digest32::from_hex(&sha).map_err(HubError::corrupt)?,
            length: to_u64(len)?,
        },
        note,
    }))
}

/// Stores bytes under their SHA-256; when they are already stored, only
/// their time is renewed (and their row held until the transaction ends),
/// so a publication pruning old artefacts at the same moment keeps them.
pub(crate) fn store_artefact(
    tx: &Tx<'_>,
    bytes: &[u8],
    now: UnixTime,
) -> Result<ArtefactRef, HubError> {
    let pinned = ArtefactRef::of(bytes);
    tx.execute(
        "INSERT INTO artefacts (sha256, bytes, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at",
        params![pinned.sha256.to_hex(), bytes, now.0],
    )?;
    Ok(pinned)
}

/// Calls `f` with every published listing and exclusion (or only those
/// changed after version `since`), in key order.
pub(crate) fn for_each_item(
    tx: &Tx<'_>,
    since: Option<u64>,
    mut f: impl FnMut(Item) -> Result<(), HubError>,
) -> Result<(), HubError> {
    let delta_since = since;
    let since = to_i64(since.unwrap_or(0), "version")?;
    let mut stmt = tx.prepare_cached(
        "SELECT sub, kind, category, recognised_on, valid_until, withdrawn, display_name
         FROM listings WHERE changed_in > ?1
         ORDER BY sub, category, recognised_on",
    )?;
    let mut rows = stmt.query([since])?;
    while let Some(r) = rows.next()? {
        let sub: String = r.get(0)?;
        let kind = kind(&r.get::<_, String>(1)?)?;
        let category: Category = r.get::<_, String>(2)?.parse().map_err(HubError::corrupt)?;
        if category.kind() != kind {
            return Err(HubError::corrupt(format!("listing {sub}: kind {kind}")));
        }
        f(Item::Listing(EligibilityEntry {
            sub: SubjectId::parse(&sub).map_err(HubError::corrupt)?,
            kind,
            category,
            valid_from: date(&r.get::<_, String>(3)?)?,
            valid_until: date(&r.get::<_, String>(4)?)?,
            withdrawn: r.get::<_, bool>(5)?,
            display_name: r.get(6)?,
        }))?;
    }
    let mut stmt = tx.prepare_cached(
        "SELECT sub, recorded_on, until FROM exclusions WHERE changed_in > ?1
         ORDER BY sub, recorded_on",
    )?;
    let mut rows = stmt.query([since])?;
    while let Some(r) = rows.next()? {
        f(Item::Exclusion(ExclusionEntry {
            sub: SubjectId::parse(&r.get::<_, String>(0)?).map_err(HubError::corrupt)?,
            from: date(&r.get::<_, String>(1)?)?,
            until: date(&r.get::<_, String>(2)?)?,
        }))?;
    }
    usage::for_each(tx, delta_since, &mut f)
}

/// The set hash and counts of everything published now.
pub(crate) fn set_hash(tx: &Tx<'_>) -> Result<(SetHash, u64, u64), HubError> {
    let mut h = SetHash::new();
    let (mut listings, mut exclusions) = (0u64, 0u64);
    for_each_item(tx, None, |item| {
        match &item {
            Item::Listing(_) => listings += 1,
            Item::Exclusion(_) => exclusions += 1,
            _ => {}
        }
        h.add(&item);
        Ok(())
    })?;
    Ok((h, listings, exclusions))
}

/// The config artefact as it stands: trust list, revoked cards, the
/// catalogue's text and the sites, each in a stable order; each site's
/// channels at its own addresses, else under the registry's `public`
/// address ([`crate::channels`]).
pub(crate) fn build_config(tx: &Tx<'_>, public: Option<&str>) -> Result<Config, HubError> {
    let mut stmt = tx.prepare_cached(
        "SELECT kid, iss, public_key, not_before, not_after, revoked FROM issuer_keys ORDER BY kid",
    )?;
    let trust = stmt
        .query_map([], |r| {
            Ok(TrustEntry {
                kid: r.get(0)?,
                iss: r.get(1)?,
                public_key: r.get(2)?,
                not_before: r.get(3)?,
                not_after: r.get(4)?,
                revoked: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = tx.prepare_cached("SELECT cti FROM revoked_cards ORDER BY cti")?;
    let revoked_cards = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let catalogue: String = tx
        .query_row("SELECT toml FROM catalogue WHERE id = 1", [], |r| r.get(0))
        .optional()?
        .unwrap_or_default();
    let sites = load_sites(tx)?
        .into_iter()
        .map(|s| crate::channels::published(s, public))
        .collect();
    Ok(Config {
        trust,
        revoked_cards,
        catalogue,
        sites,
    })
}

/// The sites as the credit office set them: a channel address is the
/// site's own, `None` where it takes the registry's.
pub(crate) fn load_sites(tx: &Tx<'_>) -> Result<Vec<Site>, HubError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, name, unit, measures, max_offline_age_s, void_window_s, unattended,
            online_deadline_ms, check_holder, objection_url, complaint_url
         FROM sites ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                Site {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    unit: r.get(2)?,
                    measures: Vec::new(),
                    max_offline_age_s: r.get(4)?,
                    void_window_s: r.get(5)?,
                    unattended: r.get(6)?,
                    online_deadline_ms: r.get(7)?,
                    check_holder: r.get(8)?,
                    objection_url: r.get(9)?,
                    complaint_url: r.get(10)?,
                },
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(site, measures)| {
            Ok(Site {
                measures: serde_json::from_str(&measures).map_err(HubError::corrupt)?,
                ..site
            })
        })
        .collect()
}

/// The eligibility artefact a terminal holding `have` needs to reach
/// `to`: its reference when already built, or its bytes to store.
pub(crate) enum Plan {
    UpToDate,
    Cached(EligibilityRef),
    Built {
        eligibility: EligibilityRef,
        from: u64,
        compressed: Vec<u8>,
    },
}

fn cached(tx: &Tx<'_>, from: u64, to: u64) -> Result<Option<EligibilityRef>, HubError> {
    let row = tx
        .query_row(
            "SELECT sha256, length, raw_length FROM eligibility_artefacts
             WHERE from_version = ?1 AND to_version = ?2",
            params![to_i64(from, "version")?, to_i64(to, "version")?],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    row.map(|(sha, len, raw)| {
        Ok(EligibilityRef {
            artefact: ArtefactRef {
                sha256: Digest32::from_hex(&sha).map_err(HubError::corrupt)?,
                length: to_u64(len)?,
            },
            from,
            raw_length: to_u64(raw)?,
        })
    })
    .transpose()
}

fn count_since(tx: &Tx<'_>, since: u64) -> Result<u64, HubError> {
    let since_version = since;
    let since = to_i64(since, "version")?;
    let n: i64 = tx.query_row(
        "SELECT (SELECT COUNT(*) FROM listings WHERE changed_in > ?1)
              + (SELECT COUNT(*) FROM exclusions WHERE changed_in > ?1)",
        [since],
        |r| r.get(0),
    )?;
    Ok(to_u64(n)? + usage::count_since(tx, since_version)?)
}

/// Encodes and compresses the artefact from `from` (0: snapshot) to `to`.
pub(crate) fn build_eligibility(
    tx: &Tx<'_>,
    from: u64,
    to: u64,
) -> Result<(Vec<u8>, u64), HubError> {
    let mut body = Vec::new();
    let mut items = 0u64;
    for_each_item(tx, (from > 0).then_some(from), |item| {
        eligibility::encode_item(&mut body, &item);
        items += 1;
        Ok(())
    })?;
    let mut raw = Vec::with_capacity(body.len() + 32);
    eligibility::write_header(
        &mut raw,
        Header {
            kind: if from == 0 {
                ArtefactKind::Snapshot
            } else {
                ArtefactKind::Delta
            },
            from,
            to,
            items,
        },
    );
    raw.extend_from_slice(&body);
    let raw_length = raw.len() as u64;
    let mut z = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::default());
    z.write_all(&raw)
        .and_then(|()| z.finish())
        .map(|compressed| (compressed, raw_length))
        .map_err(|e| HubError::Internal(format!("compressing an artefact: {e}")))
}

/// What a terminal holding `have` gets to reach version `to` when that
/// needs neither counting nor building: nothing (it is up to date), or the
/// delta from `have` stored for an earlier terminal. `None`: ask
/// [`plan_eligibility`].
pub(crate) fn stored_plan(tx: &Tx<'_>, have: u64, to: u64) -> Result<Option<Plan>, HubError> {
    if have == to {
        return Ok(Some(Plan::UpToDate));
    }
    if have > 0 && have < to {
        // Stored only when it was chosen as smaller than a snapshot, and
        // what changed from `have` to `to` never changes.
        if let Some(r) = cached(tx, have, to)? {
            return Ok(Some(Plan::Cached(r)));
        }
    }
    Ok(None)
}

/// Decides what a terminal holding `have` gets to reach version `to`: a
/// delta when `have` is a version this hub published and the delta is
/// smaller than a snapshot, else a snapshot.
pub(crate) fn plan_eligibility(tx: &Tx<'_>, have: u64, to: u64) -> Result<Plan, HubError> {
    plan_counted(tx, have, to, None)
}

/// [`plan_eligibility`], given what `count_since(have)` is if the caller
/// has just counted it.
fn plan_counted(tx: &Tx<'_>, have: u64, to: u64, changed: Option<u64>) -> Result<Plan, HubError> {
    if let Some(plan) = stored_plan(tx, have, to)? {
        return Ok(plan);
    }
    let known = have > 0
        && have < to
        && have >= usage::delta_floor(tx)?
        && version_info(tx, have)?.is_some();
    let from = if known {
        let changed = match changed {
            Some(n) => n,
            None => count_since(tx, have)?,
        };
        let total = count_since(tx, 0)?;
        if changed < total { have } else { 0 }
    } else {
        0
    };
    if let Some(r) = cached(tx, from, to)? {
        return Ok(Plan::Cached(r));
    }
    if usage::folded_past(tx, to)? {
        return Err(HubError::Publishing);
    }
    let (compressed, raw_length) = build_eligibility(tx, from, to)?;
    Ok(Plan::Built {
        eligibility: EligibilityRef {
            artefact: ArtefactRef::of(&compressed),
            from,
            raw_length,
        },
        from,
        compressed,
    })
}

/// Stores a built eligibility artefact for the terminals that ask next.
fn store_eligibility(
    tx: &Tx<'_>,
    to: u64,
    eligibility: &EligibilityRef,
    compressed: &[u8],
    now: UnixTime,
) -> Result<(), HubError> {
    store_artefact(tx, compressed, now)?;
    tx.execute(
        "INSERT INTO eligibility_artefacts
            (from_version, to_version, sha256, length, raw_length, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO NOTHING",
        params![
            to_i64(eligibility.from, "version")?,
            to_i64(to, "version")?,
            eligibility.artefact.sha256.to_hex(),
            to_i64(eligibility.artefact.length, "length")?,
            to_i64(eligibility.raw_length, "length")?,
            now.0,
        ],
    )?;
    Ok(())
}

impl Hub {
    /// Records version `version` (which must be the next one) from the
    /// state in `tx`, the usage of limited measures brought up to date
    /// first: config artefact, set hash, counts. Old cached eligibility
    /// artefacts that no valid metadata can name are dropped.
    pub(crate) fn publish_in(
        &self,
        tx: &Tx<'_>,
        version: u64,
        note: &str,
    ) -> Result<Published, HubError> {
        usage::refresh(tx, version, self.now())?;
        self.publish_refreshed(tx, version, note)
    }

    /// [`Hub::publish_in`] for a caller that has just refreshed the usage
    /// for `version` itself.
    pub(crate) fn publish_refreshed(
        &self,
        tx: &Tx<'_>,
        version: u64,
        note: &str,
    ) -> Result<Published, HubError> {
        let expected = next_version(tx)?;
        if version != expected {
            return Err(HubError::Internal(format!(
                "publishing version {version}, but the next version is {expected}"
            )));
        }
        let now = self.now();
        let public = self.public_url();
        let config = store_artefact(tx, &build_config(tx, public.as_deref())?.to_bytes(), now)?;
        let started = std::time::Instant::now();
        let (hash, listings, exclusions) = set_hash(tx)?;
        let hashed_ms = started.elapsed().as_millis();
        tx.execute(
            "INSERT INTO versions (version, published_at, set_hash, listings, exclusions,
                                   config_sha256, config_length, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                to_i64(version, "version")?,
                now.0,
                hash.digest().to_hex(),
                to_i64(listings, "count")?,
                to_i64(exclusions, "count")?,
                config.sha256.to_hex(),
                to_i64(config.length, "length")?,
                note,
            ],
        )?;
        // Terminals holding the version before (nearly all of them, as
        // they poll every few minutes) find their delta stored the moment
        // this version is visible, instead of all building it at once.
        let started = std::time::Instant::now();
        let changed = if version > 1 {
            count_since(tx, version - 1)?
        } else {
            0
        };
        if version > 1
            && changed <= EAGER_DELTA_MAX_ITEMS
            && let Plan::Built {
                eligibility,
                compressed,
                ..
            } = plan_counted(tx, version - 1, version, Some(changed))?
        {
            store_eligibility(tx, version, &eligibility, &compressed, now)?;
        }
        let delta_ms = started.elapsed().as_millis();
        // Metadata naming an artefact stays valid for its lifetime; past
        // that, artefacts of older versions are never asked for again.
        let keep_after = now.0.saturating_sub(2 * self.config().metadata_lifetime_s);
        tx.execute(
            "DELETE FROM eligibility_artefacts WHERE to_version < ?1 AND created_at < ?2",
            params![to_i64(version, "version")?, keep_after],
        )?;
        tx.execute(
            "DELETE FROM artefacts
             WHERE sha256 NOT IN (SELECT config_sha256 FROM versions)
               AND sha256 NOT IN (SELECT sha256 FROM eligibility_artefacts)
               AND created_at < ?1",
            [keep_after],
        )?;
        tracing::info!(
            version,
            listings,
            exclusions,
            changed,
            hashed_ms,
            delta_ms,
            note,
            "published"
        );
        Ok(Published {
            version,
            new_version: true,
        })
    }

    /// Publishes a new version if what terminals would see differs from
    /// the latest version — the usage of limited measures included — or
    /// always, with `force`.
    pub fn publish(&self, force: bool) -> Result<Published, HubError> {
        let now = self.now();
        let public = self.public_url();
        self.db().write(|tx| {
            let current = current_version(tx)?;
            let usage_changed = usage::refresh(tx, current + 1, now)? > 0;
            if !force
                && !usage_changed
                && let Some(info) = version_info(tx, current)?
            {
                let config = build_config(tx, public.as_deref())?.to_bytes();
                let (hash, _, _) = set_hash(tx)?;
                if Digest32::of(&config) == info.config.sha256 && hash.digest() == info.set_hash {
                    return Ok(Published {
                        version: current,
                        new_version: false,
                    });
                }
            }
            self.publish_refreshed(tx, current + 1, "published by hand")
        })
    }

    /// Publishes a version when the config artefact these settings make
    /// differs from the latest version's: `public_url` (or the `listen`
    /// address it defaults from) changed since, and with it every
    /// site's channel addresses. `serve` calls it at start.
    pub fn publish_settings(&self) -> Result<Published, HubError> {
        let public = self.public_url();
        self.db().write(|tx| {
            let current = current_version(tx)?;
            let Some(info) = version_info(tx, current)? else {
                return unchanged(tx);
            };
            let config = build_config(tx, public.as_deref())?.to_bytes();
            if Digest32::of(&config) == info.config.sha256 {
                return unchanged(tx);
            }
            self.publish_in(tx, current + 1, "channel addresses from hub.toml")
        })
    }

    /// The latest published version, if any.
    pub fn current_version(&self) -> Result<Option<VersionInfo>, HubError> {
        self.db().read(|tx| {
            let v = current_version(tx)?;
            version_info(tx, v)
        })
    }

    /// Every published version, newest first.
    pub fn versions(&self) -> Result<Vec<VersionInfo>, HubError> {
        self.db().read(|tx| {
            let mut out = Vec::new();
            let mut v = current_version(tx)?;
            while v > 0 {
                if let Some(info) = version_info(tx, v)? {
                    out.push(info);
                }
                v -= 1;
            }
            Ok(out)
        })
    }

    /// The config artefact of the latest version, as published.
    pub fn current_config(&self) -> Result<Option<Config>, HubError> {
        let Some(info) = self.current_version()? else {
            return Ok(None);
        };
        let bytes = self
            .artefact(&info.config.sha256)?
            .ok_or_else(|| HubError::corrupt("the current config artefact is missing"))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(HubError::corrupt)
    }

    /// An artefact's bytes by SHA-256.
    pub fn artefact(&self, sha256: &Digest32) -> Result<Option<Vec<u8>>, HubError> {
        self.db().read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT bytes FROM artefacts WHERE sha256 = ?1",
                    [sha256.to_hex()],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    /// The eligibility artefact for a terminal holding `have` (None when
    /// it holds the latest version), built and stored if needed.
    pub fn eligibility_for(&self, have: u64) -> Result<Option<EligibilityRef>, HubError> {
        let (to, stored) = self.db().read(|tx| {
            let to = current_version(tx)?;
            Ok((to, stored_plan(tx, have, to)?))
        })?;
        if let Some(plan) = stored {
            return self.settle(to, plan);
        }
        let _one = self.one_build();
        let (to, plan) = self.db().read(|tx| {
            let to = current_version(tx)?;
            Ok((to, plan_eligibility(tx, have, to)?))
        })?;
        self.settle(to, plan)
    }

    /// This process's turn to build an eligibility artefact (see
    /// `Hub::eligibility_builds`); a build that panicked leaves nothing
    /// half-done behind the lock, so its poison is ignored.
    pub(crate) fn one_build(&self) -> std::sync::MutexGuard<'_, ()> {
        self.eligibility_builds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a built artefact; returns the reference to it.
    pub(crate) fn settle(&self, to: u64, plan: Plan) -> Result<Option<EligibilityRef>, HubError> {
        match plan {
            Plan::UpToDate => Ok(None),
            Plan::Cached(r) => Ok(Some(r)),
            Plan::Built {
                eligibility,
                from,
                compressed,
            } => {
                let now = self.now();
                // Kept for the next terminal: inserts that cannot
                // conflict, so under a lock of their own, not the
                // registry's writer (a long import does not hold up a
                // terminal's metadata).
                self.db()
                    .write_for(&format!("eligibility {from} {to}"), |tx| {
                        store_eligibility(tx, to, &eligibility, &compressed, now)
                    })?;
                Ok(Some(eligibility))
            }
        }
    }
}
