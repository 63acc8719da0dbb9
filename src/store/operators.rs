//! The counter's operators: clerks and supervisors who sign in at the kiosk
//! with a PIN, and the per-measure shift totals the staff screen shows.
//!
//! A PIN is kept only as a salted PBKDF2-HMAC-SHA256 hash. A four-digit
//! PIN can be guessed from its hash by anyone who copies the database, so
//! the hash only slows that down; what protects the counter is the lockout
//! after a few wrong PINs in a row (its policy is the terminal's, which
//! counts it down on the monotonic clock; `sign_in_failures` keeps the
//! count and the time still to serve), and supervisors' longer PINs.
//!
//! Every change to the roster is journaled as a signed staff record in the
//! same transaction, so the registry knows who may confirm and who may
//! void at this terminal.

use ed25519_dalek::SigningKey;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::Sha256;
use xinyi_core::UnixTime;
use xinyi_core::wire::journal::{Body, StaffEvent};

use super::journal::write;
use super::{Store, StoreError};

/// PBKDF2 rounds for new PINs: about a tenth of a second on a kiosk.
pub const PIN_ITERATIONS: u32 = 100_000;
/// The shortest PIN a clerk may have.
pub const MIN_CLERK_PIN: usize = 4;
/// The shortest PIN a supervisor may have: a supervisor can void.
pub const MIN_SUPERVISOR_PIN: usize = 6;
/// The longest PIN.
pub const MAX_PIN: usize = 12;
/// The recorded operator of roster changes made before any supervisor
/// exists, or journaled when an older terminal is upgraded.
pub const SETUP: &str = "setup";
/// Failed sign-ins remembered per typed id (oldest forgotten first).
const MAX_FAILURE_ROWS: i64 = 1000;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Verifies and confirms.
    Clerk,
    /// Also voids redemptions.
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "clerk" => Some(Role::Clerk),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }

    /// The shortest PIN this role may have.
    pub fn min_pin(self) -> usize {
        match self {
            Role::Clerk => MIN_CLERK_PIN,
            Role::Supervisor => MIN_SUPERVISOR_PIN,
        }
    }
}

/// An operator as listed (no PIN material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// An operator to add.
#[derive(Debug, Clone)]
pub struct NewOperator<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub pin: &'a str,
}

/// Failed sign-ins for one typed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Wrong PINs in a row since the last lockout or good PIN.
    pub failed: u32,
    /// Lockouts in a row since the last good PIN.
    pub lockouts: u32,
    /// Lockout time still to serve, in seconds.
    pub lock_left_s: u64,
}

/// Totals of one measure over a shift.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeasureTotals {
    pub measure: String,
    /// Redemptions not voided.
    pub count: u64,
    pub discount: u64,
    pub payable: u64,
}

fn check_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(StoreError::Invalid(format!(
            "operator id {id:?} must be 1–32 letters or digits (e.g. a staff number)"
        )));
    }
    Ok(())
}

/// Whether `pin` is acceptable for `role`: digits, at least
/// [`Role::min_pin`] (6 for a supervisor, 4 for a clerk), at most 12.
pub fn check_pin(pin: &str, role: Role) -> Result<(), StoreError> {
    let min = role.min_pin();
    if !(min..=MAX_PIN).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::Invalid(format!(
            "a {}'s PIN must be {min} to {MAX_PIN} digits",
            role.as_str()
        )));
    }
    Ok(())
}

/// A typed id as kept for failure counting: cut to 32 characters.
pub fn typed_id(id: &str) -> String {
    let t: String = id.trim().chars().take(32).collect();
    if t.is_empty() { "-".to_owned() } else { t }
}

fn hash_pin(pin: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(pin.as_bytes(), salt, iterations, &mut out);
    out
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An operator's row for a PIN check: name, role, salt, hash, iterations.
type PinRow = (String, String, Vec<u8>, Vec<u8>, i64);

impl Store {
    /// Adds an operator, or replaces the name, role and PIN of an existing
    /// one, and journals the change (made `by` a supervisor, or [`SETUP`])
    /// in the same transaction.
    pub fn put_operator(
        &mut self,
        key: &SigningKey,
        op: &NewOperator<'_>,
        by: &str,
        at: UnixTime,
    ) -> Result<(), StoreError> {
        check_id(op.id)?;
        check_pin(op.pin, op.role)?;
        let name = op.name.trim();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(StoreError::Invalid(
                "an operator's display name must be 1–32 characters".into(),
            ));
        }
        let salt = super::random_id()?;
        let hash = hash_pin(op.pin, &salt, PIN_ITERATIONS);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO operators (id, name, role, pin_salt, pin_hash, iterations, created_at,
                journaled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                 pin_salt = excluded.pin_salt, pin_hash = excluded.pin_hash,
                 iterations = excluded.iterations, journaled = 1",
            params![
                op.id,
                name,
                op.role.as_str(),
                salt.as_slice(),
                hash.as_slice(),
                PIN_ITERATIONS,
                at.0
            ],
        )?;
        tx.execute("DELETE FROM sign_in_failures WHERE id = ?1", [op.id])?;
        write(
            &tx,
            key,
            by,
            at,
            Body::Staff {
                event: StaffEvent::OperatorSet,
                staff: op.id.to_owned(),
                role: Some(op.role.as_str().to_owned()),
            },
            None,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Every operator, by id.
    pub fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, role FROM operators ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (id, name, role) = row?;
            Ok(Operator {
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("operator {id} has role {role}")))?,
                id,
                name,
            })
        })
        .collect()
    }

    /// Whether any supervisor is on the roster.
    pub fn has_supervisor(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM operators WHERE role = 'supervisor')",
            [],
            |r| r.get(0),
        )?)
    }

    /// Removes an operator and journals it; whether one was removed.
    pub fn remove_operator(
        &mut self,
        key: &SigningKey,
        id: &str,
        by: &str,
        at: UnixTime,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if tx.execute("DELETE FROM operators WHERE id = ?1", [id])? == 0 {
            return Ok(false);
        }
        write(
            &tx,
            key,
            by,
            at,
            Body::Staff {
                event: StaffEvent::OperatorRemoved,
                staff: id.to_owned(),
                role: None,
            },
            None,
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Journals the operators added before roster changes were journaled
    /// (an upgraded terminal), as set up by [`SETUP`]; how many.
    pub fn journal_roster(&mut self, key: &SigningKey, at: UnixTime) -> Result<usize, StoreError> {
        // Almost always nothing is pending: no write lock for that.
        let pending: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM operators WHERE journaled = 0)",
            [],
            |r| r.get(0),
        )?;
        if !pending {
            return Ok(0);
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending: Vec<(String, String)> = tx
            .prepare("SELECT id, role FROM operators WHERE journaled = 0 ORDER BY id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, role) in &pending {
            write(
                &tx,
                key,
                SETUP,
                at,
                Body::Staff {
                    event: StaffEvent::OperatorSet,
                    staff: id.clone(),
                    role: Some(role.clone()),
                },
                None,
            )?;
        }
        tx.execute("UPDATE operators SET journaled = 1 WHERE journaled = 0", [])?;
        tx.commit()?;
        Ok(pending.len())
    }

    /// The operator `id` if `pin` is theirs. An unknown id costs the same
    /// hashing as a wrong PIN, so timing tells the two apart no better
    /// than the answer does (which is the same).
    pub fn check_pin(&self, id: &str, pin: &str) -> Result<Option<Operator>, StoreError> {
        let row: Option<PinRow> = self
            .conn
            .prepare_cached(
                "SELECT name, role, pin_salt, pin_hash, iterations FROM operators WHERE id = ?1",
            )?
            .query_row([id], |r| r.try_into())
            .optional()?;
        let Some((name, role, salt, stored, iterations)) = row else {
            hash_pin(pin, &[0u8; 16], PIN_ITERATIONS);
            return Ok(None);
        };
        let iterations = u32::try_from(iterations).unwrap_or(PIN_ITERATIONS);
        if !same(&hash_pin(pin, &salt, iterations), &stored) {
            return Ok(None);
        }
        let role = Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("operator {id} has role {role}")))?;
        Ok(Some(Operator {
            id: id.to_owned(),
            name,
            role,
        }))
    }

    /// The failed sign-ins counted for a typed id.
    pub fn failures(&self, id: &str) -> Result<Failures, StoreError> {
        let row: Option<(i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT failed, lockouts, lock_left_s FROM sign_in_failures WHERE id = ?1",
            )?
            .query_row([typed_id(id)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        Ok(row.map_or_else(Failures::default, |(f, l, left)| Failures {
            failed: u32::try_from(f).unwrap_or(u32::MAX),
            lockouts: u32::try_from(l).unwrap_or(u32::MAX),
            lock_left_s: u64::try_from(left).unwrap_or(0),
        }))
    }

    /// Records the failed sign-ins of a typed id (all zero: forgets them).
    pub fn set_failures(&self, id: &str, f: Failures, at: UnixTime) -> Result<(), StoreError> {
        let id = typed_id(id);
        if f == Failures::default() {
            self.conn
                .execute("DELETE FROM sign_in_failures WHERE id = ?1", [&id])?;
            return Ok(());
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO sign_in_failures (id, failed, lockouts, lock_left_s, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                f.failed,
                f.lockouts,
                i64::try_from(f.lock_left_s).unwrap_or(i64::MAX),
                at.0
            ],
        )?;
        // Ids typed at random must not grow the table without bound.
        self.conn.execute(
            "DELETE FROM sign_in_failures WHERE lock_left_s = 0 AND id NOT IN
                (SELECT id FROM sign_in_failures ORDER BY updated_at DESC LIMIT ?1)",
            [MAX_FAILURE_ROWS],
        )?;
        Ok(())
    }

    /// Ids with lockout time still to serve, and how much.
    pub fn lockouts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, lock_left_s FROM sign_in_failures WHERE lock_left_s > 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per-measure totals of the redemptions (not voided) made at
    /// `from ≤ at < until`, by one operator or (`None`) by all, for the
    /// staff screen's shift view.
    pub fn shift_by_measure(
        &self,
        operator: Option<&str>,
        from: UnixTime,
        until: UnixTime,
    ) -> Result<Vec<MeasureTotals>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT measure, count(*), coalesce(sum(discount), 0), coalesce(sum(payable), 0)
             FROM journal
             WHERE kind = 'redemption' AND voided = 0 AND at >= ?1 AND at < ?2
               AND (?3 IS NULL OR operator = ?3)
             GROUP BY measure ORDER BY measure",
        )?;
        let rows = stmt.query_map(params![from.0, until.0, operator], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
            Ok(MeasureTotals {
                measure: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                count: n(1)?,
                discount: n(2)?,
                payable: n(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("t.db")).unwrap();
        (dir, s)
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    #[test]
    fn pins_check_and_roster_changes_are_journaled() {
        let (_d, mut s) = store();
        let t = UnixTime(1_800_000_000);
        s.put_operator(
            &key(),
            &NewOperator {
                id: "1001",
                name: "王丽",
                role: Role::Clerk,
                pin: "1234",
            },
            SETUP,
            t,
        )
        .unwrap();
        assert!(matches!(s.check_pin("1001", "1234").unwrap(), Some(o) if o.role == Role::Clerk));
        assert_eq!(s.check_pin("1001", "0000").unwrap(), None);
        assert_eq!(s.check_pin("nobody", "1234").unwrap(), None);
        assert!(s.remove_operator(&key(), "1001", "9001", t).unwrap());
        assert!(!s.remove_operator(&key(), "1001", "9001", t).unwrap());
        let kinds: Vec<String> = s
            .recent(10)
            .unwrap()
            .iter()
            .map(|e| e.record.body.reason().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(kinds, ["operator_removed", "operator_set"]);
    }

    #[test]
    fn failures_are_kept_per_typed_id_and_forgotten_when_cleared() {
        let (_d, s) = store();
        let t = UnixTime(1_800_000_000);
        let f = Failures {
            failed: 2,
            lockouts: 1,
            lock_left_s: 300,
        };
        s.set_failures("anyone", f, t).unwrap();
        assert_eq!(s.failures("anyone").unwrap(), f);
        assert_eq!(s.lockouts().unwrap(), vec![("anyone".to_owned(), 300)]);
        s.set_failures("anyone", Failures::default(), t).unwrap();
        assert_eq!(s.failures("anyone").unwrap(), Failures::default());
    }

    #[test]
    fn bad_operator_input_is_refused() {
        let (_d, mut s) = store();
        let t = UnixTime(1_800_000_000);
        for (id, name, role, pin) in [
            ("", "a", Role::Clerk, "1234"),
            ("a b", "a", Role::Clerk, "1234"),
            ("1", "", Role::Clerk, "1234"),
            ("1", "a", Role::Clerk, "12"),
            ("1", "a", Role::Clerk, "12ab"),
            // A supervisor needs six digits or more.
            ("1", "a", Role::Supervisor, "12345"),
        ] {
            let op = NewOperator {
                id,
                name,
                role,
                pin,
            };
            assert!(
                s.put_operator(&key(), &op, SETUP, t).is_err(),
                "{id:?} {name:?} {pin:?}"
            );
        }
        assert!(s.operators().unwrap().is_empty());
        assert!(
            s.recent(1).unwrap().is_empty(),
            "a refused change journaled nothing"
        );
    }
}
