//! The counter's operators: clerks and supervisors who sign in at the kiosk
//! with a PIN, and the per-measure shift totals the staff screen shows.
//!
//! A PIN is kept only as a salted PBKDF2-HMAC-SHA256 hash. A four-digit
//! PIN can be guessed from its hash by anyone who copies the database, so
//! the hash only slows that down; what protects the counter is the lockout
//! after a few wrong PINs in a row.

use rusqlite::{OptionalExtension, params};
use sha2::Sha256;
use xinyi_core::UnixTime;

use super::{Store, StoreError};

/// PBKDF2 rounds for new PINs: about a tenth of a second on a kiosk.
pub const PIN_ITERATIONS: u32 = 100_000;
/// Wrong PINs in a row before the operator is locked.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked operator waits.
pub const LOCKOUT_S: i64 = 5 * 60;

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
}

/// An operator as listed (no PIN material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub locked_until: Option<UnixTime>,
}

/// An operator to add.
#[derive(Debug, Clone)]
pub struct NewOperator<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub pin: &'a str,
}

/// The outcome of a sign-in attempt (wrong PINs are outcomes, not errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Ok(Operator),
    /// No such operator (told apart from a wrong PIN only in the result,
    /// so the UI can say the same thing for both).
    Unknown,
    /// Wrong PIN; this many tries are left before the lockout.
    WrongPin {
        tries_left: u32,
    },
    /// Locked after too many wrong PINs.
    Locked {
        until: UnixTime,
    },
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

/// Whether `pin` is acceptable: 4–12 digits.
pub fn check_pin(pin: &str) -> Result<(), StoreError> {
    if !(4..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::Invalid("a PIN must be 4 to 12 digits".into()));
    }
    Ok(())
}

/// An operator's row: name, role, salt, hash, iterations, failures, lock.
type PinRow = (String, String, Vec<u8>, Vec<u8>, i64, i64, Option<i64>);

fn hash_pin(pin: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(pin.as_bytes(), salt, iterations, &mut out);
    out
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// Writes take `&self`: each is one statement (its own transaction), and
// the kiosk reaches the store through `Terminal::store()`.
impl Store {
    /// Adds an operator, or replaces the name, role and PIN of an existing
    /// one (and lifts a lockout).
    pub fn put_operator(&self, op: &NewOperator<'_>, at: UnixTime) -> Result<(), StoreError> {
        check_id(op.id)?;
        check_pin(op.pin)?;
        let name = op.name.trim();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(StoreError::Invalid(
                "an operator's display name must be 1–32 characters".into(),
            ));
        }
        let salt = super::random_id()?;
        let hash = hash_pin(op.pin, &salt, PIN_ITERATIONS);
        self.conn.execute(
            "INSERT INTO operators (id, name, role, pin_salt, pin_hash, iterations, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                 pin_salt = excluded.pin_salt, pin_hash = excluded.pin_hash,
                 iterations = excluded.iterations, failed = 0, locked_until = NULL",
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
        Ok(())
    }

    /// Every operator, by id.
    pub fn operators(&self) -> Result<Vec<Operator>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, role, locked_until FROM operators ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, name, role, locked) = row?;
            Ok(Operator {
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("operator {id} has role {role}")))?,
                id,
                name,
                locked_until: locked.map(UnixTime),
            })
        })
        .collect()
    }

    /// Removes an operator; whether one was removed.
    pub fn remove_operator(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM operators WHERE id = ?1", [id])?
            > 0)
    }

    /// Checks `pin` for operator `id` at `at`, counting wrong PINs and
    /// locking after [`MAX_FAILURES`] in a row.
    pub fn sign_in(&self, id: &str, pin: &str, at: UnixTime) -> Result<SignIn, StoreError> {
        let row: Option<PinRow> = self
            .conn
            .prepare_cached(
                "SELECT name, role, pin_salt, pin_hash, iterations, failed, locked_until
                 FROM operators WHERE id = ?1",
            )?
            .query_row([id], |r| r.try_into())
            .optional()?;
        let Some((name, role, salt, stored, iterations, failed, locked)) = row else {
            return Ok(SignIn::Unknown);
        };
        if let Some(until) = locked.filter(|u| *u > at.0) {
            return Ok(SignIn::Locked {
                until: UnixTime(until),
            });
        }
        let iterations = u32::try_from(iterations).unwrap_or(PIN_ITERATIONS);
        if same(&hash_pin(pin, &salt, iterations), &stored) {
            self.conn.execute(
                "UPDATE operators SET failed = 0, locked_until = NULL WHERE id = ?1",
                [id],
            )?;
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("operator {id} has role {role}")))?;
            return Ok(SignIn::Ok(Operator {
                id: id.to_owned(),
                name,
                role,
                locked_until: None,
            }));
        }
        // A lockout that has run out starts a fresh count.
        let failed = if locked.is_some() { 1 } else { failed + 1 };
        let failed_u = u32::try_from(failed).unwrap_or(MAX_FAILURES);
        if failed_u >= MAX_FAILURES {
            let until = at.0.saturating_add(LOCKOUT_S);
            self.conn.execute(
                "UPDATE operators SET failed = ?2, locked_until = ?3 WHERE id = ?1",
                params![id, failed, until],
            )?;
            return Ok(SignIn::Locked {
                until: UnixTime(until),
            });
        }
        self.conn.execute(
            "UPDATE operators SET failed = ?2, locked_until = NULL WHERE id = ?1",
            params![id, failed],
        )?;
        Ok(SignIn::WrongPin {
            tries_left: MAX_FAILURES - failed_u,
        })
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

    #[test]
    fn sign_in_checks_the_pin_and_locks_after_repeated_failures() {
        let (_d, s) = store();
        let t = UnixTime(1_800_000_000);
        s.put_operator(
            &NewOperator {
                id: "1001",
                name: "王丽",
                role: Role::Clerk,
                pin: "1234",
            },
            t,
        )
        .unwrap();
        assert!(
            matches!(s.sign_in("1001", "1234", t).unwrap(), SignIn::Ok(o) if o.role == Role::Clerk)
        );
        assert_eq!(s.sign_in("nobody", "1234", t).unwrap(), SignIn::Unknown);
        for left in (1..MAX_FAILURES).rev() {
            assert_eq!(
                s.sign_in("1001", "0000", t).unwrap(),
                SignIn::WrongPin { tries_left: left }
            );
        }
        let locked = SignIn::Locked {
            until: UnixTime(t.0 + LOCKOUT_S),
        };
        assert_eq!(s.sign_in("1001", "0000", t).unwrap(), locked);
        // Even the right PIN waits out the lockout.
        assert_eq!(
            s.sign_in("1001", "1234", UnixTime(t.0 + 10)).unwrap(),
            locked
        );
        assert!(matches!(
            s.sign_in("1001", "1234", UnixTime(t.0 + LOCKOUT_S + 1))
                .unwrap(),
            SignIn::Ok(_)
        ));
    }

    #[test]
    fn bad_operator_input_is_refused() {
        let (_d, s) = store();
        let t = UnixTime(1_800_000_000);
        for (id, name, pin) in [
            ("", "a", "1234"),
            ("a b", "a", "1234"),
            ("1", "", "1234"),
            ("1", "a", "12"),
            ("1", "a", "12ab"),
        ] {
            let op = NewOperator {
                id,
                name,
                role: Role::Clerk,
                pin,
            };
            assert!(s.put_operator(&op, t).is_err(), "{id:?} {name:?} {pin:?}");
        }
        assert!(s.operators().unwrap().is_empty());
    }
}
