//! The audit log: who did what to the registry, and who looked up whom.
//!
//! Append only (the schema's triggers refuse updates and deletions) and
//! chained: each entry's hash covers the previous entry's hash and its own
//! fields, so an entry edited or removed with a shell on the database
//! breaks the chain at that point ([`Hub::verify_audit_log`]). Entries
//! never hold an ID number or a full name: a look-up is logged by the
//! subject's pseudonym and a masked ID number.

use std::fmt;

use crate::db::{OptionalExtension as _, Tx, params};
use sha2::{Digest as _, Sha256};
use xinyi_core::UnixTime;

use crate::error::HubError;
use crate::hub::Hub;

/// Who acted: a console user, an administrator at the command line, a
/// terminal (its enrollment) or the hub itself (housekeeping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Cli(String),
    Terminal(String),
    /// A citizen, by the channel they came through (`web`, or a
    /// provincial platform's id).
    Citizen(String),
    /// A provincial platform, by name.
    Platform(String),
    Hub,
}

impl Actor {
    /// The administrator at the command line, by the system account name.
    pub fn cli() -> Actor {
        let who = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Actor::Cli(who)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(u) => write!(f, "user:{u}"),
            Actor::Cli(u) => write!(f, "cli:{u}"),
            Actor::Terminal(t) => write!(f, "terminal:{t}"),
            Actor::Citizen(c) => write!(f, "citizen:{c}"),
            Actor::Platform(p) => write!(f, "platform:{p}"),
            Actor::Hub => f.write_str("hub"),
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: UnixTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub hash: String,
}

/// Which entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries older than this sequence number (paging).
    pub before: Option<u64>,
    /// Only this action.
    pub action: Option<String>,
    /// At most this many (bounded by [`MAX_AUDIT_PAGE`]).
    pub limit: usize,
}

/// The most entries one read returns.
pub const MAX_AUDIT_PAGE: usize = 10_000;

/// The chain's starting point.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn entry_hash(
    prev: &str,
    seq: u64,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    for part in [
        seq.to_string().as_str(),
        at.to_string().as_str(),
        actor,
        action,
        target,
        detail,
    ] {
        // Length-prefixed, so no two field splits hash alike.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    xinyi_core::hex::encode(&h.finalize())
}

/// Appends an entry inside the caller's transaction, so the change and
/// its entry commit together.
pub(crate) fn append(
    tx: &Tx<'_>,
    at: UnixTime,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), HubError> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_owned()),
    };
    let seq_u = u64::try_from(seq).map_err(|_| HubError::corrupt("a negative audit sequence"))?;
    let actor = actor.to_string();
    let hash = entry_hash(&prev, seq_u, at.0, &actor, action, target, detail);
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, target, detail, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, at.0, actor, action, target, detail, hash],
    )?;
    Ok(())
}

/// Where the chain breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    /// Every entry's hash holds; this many entries.
    Intact(u64),
    /// The entry at `seq` does not match its hash, or follows a gap.
    BrokenAt { seq: u64, why: String },
}

impl Hub {
    /// Records an action in its own transaction.
    pub fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), HubError> {
        let now = self.now();
        self.db()
            .write(|tx| append(tx, now, actor, action, target, detail))
    }

    /// Entries, newest first.
    pub fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, HubError> {
        let limit = q.limit.clamp(1, MAX_AUDIT_PAGE);
        let before = q
            .before
            .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.db().read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT seq, at, actor, action, target, detail, hash FROM audit_log
                 WHERE seq < ?1 AND (CAST(?2 AS TEXT) IS NULL OR action = ?2)
                 ORDER BY seq DESC LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![before, q.action, limit as i64], |r| {
                    Ok(AuditEntry {
                        seq: r.get::<_, i64>(0)?.max(0) as u64,
                        at: UnixTime(r.get(1)?),
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        target: r.get(4)?,
                        detail: r.get(5)?,
                        hash: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Walks the whole chain from its start.
    pub fn verify_audit_log(&self) -> Result<AuditCheck, HubError> {
        self.db().read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT seq, at, actor, action, target, detail, hash FROM audit_log ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            let mut prev = GENESIS.to_owned();
            let mut expected = 1u64;
            while let Some(r) = rows.next()? {
                let seq = r.get::<_, i64>(0)?.max(0) as u64;
                if seq != expected {
                    return Ok(AuditCheck::BrokenAt {
                        seq,
                        why: format!("entry {expected} is missing"),
                    });
                }
                let (actor, action, target, detail, hash): (
                    String,
                    String,
                    String,
                    String,
                    String,
                ) = (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
                let want = entry_hash(&prev, seq, r.get(1)?, &actor, &action, &target, &detail);
                if want != hash {
                    return Ok(AuditCheck::BrokenAt {
                        seq,
                        why: "its content does not match its hash".into(),
                    });
                }
                prev = hash;
                expected += 1;
            }
            Ok(AuditCheck::Intact(expected - 1))
        })
    }
}

/// An ID number as the log and the console show it without an audited
/// reveal: the first two and the last two characters.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..2].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 4));
    out.extend(&chars[chars.len() - 2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_id_keeps_two_characters_at_each_end() {
        let m = mask_id_number("ABCDEFGHIJ");
        assert_eq!(m.chars().count(), 10);
        assert!(m.starts_with("AB") && m.ends_with("IJ"));
        assert!(!m.contains('E'));
        assert_eq!(mask_id_number("abc"), "***");
    }

    #[test]
    fn the_hash_depends_on_every_field_and_on_the_split() {
        let base = entry_hash(GENESIS, 1, 10, "a", "b", "c", "d");
        assert_ne!(base, entry_hash(GENESIS, 2, 10, "a", "b", "c", "d"));
        assert_ne!(base, entry_hash(GENESIS, 1, 11, "a", "b", "c", "d"));
        assert_ne!(base, entry_hash(GENESIS, 1, 10, "ab", "", "c", "d"));
        assert_ne!(base, entry_hash(&base, 1, 10, "a", "b", "c", "d"));
    }
}
