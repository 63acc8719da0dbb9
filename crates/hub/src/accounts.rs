//! The console's accounts and sessions.
//!
//! Five roles (`design.md`): the credit office's administrator, reviewer
//! and auditor; a department's submitter, who submits its own lists only;
//! a unit's operator, who runs its sites and terminals. Passwords are kept
//! as argon2id hashes; an account is shut for [`LOCKOUT`] after
//! [`MAX_FAILURES`] failed sign-ins in a row. A session is a random token
//! in an HTTP-only cookie, kept here only as its SHA-256, ending after
//! [`IDLE_TIMEOUT`] without use or [`MAX_SESSION`] in all; each session
//! has its own token that every form it posts must carry (CSRF).

use std::fmt;
use std::str::FromStr;

use crate::db::{OptionalExtension as _, params};
use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};
use sha2::{Digest as _, Sha256};
use xinyi_core::UnixTime;

use crate::audit::{Actor, append};
use crate::error::HubError;
use crate::hub::Hub;
use crate::keys::random_32;

/// Failed sign-ins in a row that shut an account.
pub const MAX_FAILURES: i64 = 5;
/// How long a shut account stays shut, in seconds.
pub const LOCKOUT: i64 = 15 * 60;
/// A session unused this long (seconds) has ended.
pub const IDLE_TIMEOUT: i64 = 30 * 60;
/// No session lasts longer than this (seconds).
pub const MAX_SESSION: i64 = 12 * 3600;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The credit office: everything.
    Admin,
    /// The credit office: reads the people and the lists, handles objections.
    Reviewer,
    /// A department: submits and reads its own lists.
    Submitter,
    /// A unit: its sites, terminals and statistics; applies for measures.
    Operator,
    /// Reads everything, changes nothing; reads and exports the audit log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Reviewer,
        Role::Submitter,
        Role::Operator,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Submitter => "submitter",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    /// Whether the role acts for one department or unit (its scope).
    pub fn scoped(self) -> bool {
        matches!(self, Role::Submitter | Role::Operator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("no role {s:?}: one of admin, reviewer, submitter, operator, auditor")
            })
    }
}

/// An account as the console lists it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The department or unit of a scoped role.
    pub scope: Option<String>,
    pub locked_until: Option<UnixTime>,
    pub disabled: bool,
    pub created_at: UnixTime,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub role: Role,
    pub scope: Option<&'a str>,
    pub password: &'a str,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub scope: Option<String>,
    /// The token its forms carry.
    pub csrf: String,
}

/// Why a sign-in failed. The console shows the same words for a wrong
/// name and a wrong password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("wrong name or password")]
    Wrong,
    #[error("this account is shut after {MAX_FAILURES} failed sign-ins in a row; try again later")]
    Locked(UnixTime),
    #[error("this account is disabled")]
    Disabled,
}

fn sha256_hex(s: &str) -> String {
    xinyi_core::hex::encode(&Sha256::digest(s.as_bytes()))
}

fn token() -> Result<String, HubError> {
    Ok(xinyi_core::hex::encode(&random_32()?))
}

fn hash_password(password: &str) -> Result<String, HubError> {
    // A fresh 16-byte salt from the system's randomness, argon2id with
    // the crate's (OWASP's) default cost.
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HubError::Internal(format!("password hash: {e}")))
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the name is unknown, so a wrong name
/// costs the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

fn check_name(name: &str) -> Result<(), HubError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid(format!(
            "account name {name:?}: 1 to 64 of a-z, 0-9, '.', '_' and '-'"
        )))
    }
}

/// Why a password is refused, if it is.
pub fn password_problem(password: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > 1024 {
        return Some("a password may have at most 1024 bytes".into());
    }
    None
}

fn user_row(r: &crate::db::Row<'_>) -> Result<(User, String, i64), crate::db::DbError> {
    let role: String = r.get(1)?;
    let role = role
        .parse::<Role>()
        .map_err(|e| crate::db::DbError::value("role", e))?;
    Ok((
        User {
            name: r.get(0)?,
            role,
            scope: r.get(2)?,
            locked_until: r.get::<_, Option<i64>>(3)?.map(UnixTime),
            disabled: r.get(4)?,
            created_at: UnixTime(r.get(5)?),
        },
        r.get(6)?,
        r.get(7)?,
    ))
}

const USER_COLUMNS: &str =
    "name, role, scope, locked_until, disabled, created_at, password_hash, failed";

impl Hub {
    /// Creates an account.
    pub fn add_user(&self, new: &NewUser<'_>, by: &Actor) -> Result<(), HubError> {
        check_name(new.name)?;
        if let Some(why) = password_problem(new.password) {
            return Err(HubError::Invalid(why));
        }
        let scope = new.scope.map(str::trim).filter(|s| !s.is_empty());
        match (new.role.scoped(), scope) {
            (true, None) => {
                return Err(HubError::Invalid(format!(
                    "a {} acts for one {}: give it",
                    new.role,
                    if new.role == Role::Submitter {
                        "department (the lists' source)"
                    } else {
                        "unit (the sites' unit)"
                    }
                )));
            }
            (false, Some(s)) => {
                return Err(HubError::Invalid(format!(
                    "a {} acts for the whole registry, not for {s:?}",
                    new.role
                )));
            }
            _ => {}
        }
        let hash = hash_password(new.password)?;
        let now = self.now();
        self.db().write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)",
                [new.name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(HubError::Invalid(format!(
                    "an account {:?} exists already",
                    new.name
                )));
            }
            tx.execute(
                "INSERT INTO users (name, role, scope, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![new.name, new.role.as_str(), scope, hash, now.0],
            )?;
            let detail = match scope {
                Some(s) => format!("role {} for {s}", new.role),
                None => format!("role {}", new.role),
            };
            append(tx, now, by, "user.add", new.name, &detail)
        })
    }

    /// Sets an account's password (and opens it if it was shut); its
    /// sessions end.
    pub fn set_password(&self, name: &str, password: &str, by: &Actor) -> Result<(), HubError> {
        if let Some(why) = password_problem(password) {
            return Err(HubError::Invalid(why));
        }
        let hash = hash_password(password)?;
        let now = self.now();
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE users SET password_hash = ?2, failed = 0, locked_until = NULL WHERE name = ?1",
                params![name, hash],
            )?;
            if n == 0 {
                return Err(HubError::NotFound {
                    what: "account",
                    id: name.into(),
                    hint: "",
                });
            }
            tx.execute("DELETE FROM console_sessions WHERE \"user\" = ?1", [name])?;
            append(tx, now, by, "user.password", name, "")
        })
    }

    /// Disables or enables an account; disabling ends its sessions.
    pub fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        by: &Actor,
    ) -> Result<(), HubError> {
        let now = self.now();
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE users SET disabled = ?2 WHERE name = ?1",
                params![name, disabled],
            )?;
            if n == 0 {
                return Err(HubError::NotFound {
                    what: "account",
                    id: name.into(),
                    hint: "",
                });
            }
            if disabled {
                tx.execute("DELETE FROM console_sessions WHERE \"user\" = ?1", [name])?;
            }
            let action = if disabled {
                "user.disable"
            } else {
                "user.enable"
            };
            append(tx, now, by, action, name, "")
        })
    }

    /// Every account, by name.
    pub fn users(&self) -> Result<Vec<User>, HubError> {
        self.db().read(|tx| {
            let mut stmt =
                tx.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
            let rows = stmt
                .query_map([], user_row)?
                .map(|r| r.map(|(u, _, _)| u))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Checks a name and password; on success starts a session and
    /// returns its cookie token. Every attempt is audited.
    pub fn sign_in(
        &self,
        name: &str,
        password: &str,
        from: &str,
    ) -> Result<Result<(String, Session), SignInError>, HubError> {
        let now = self.now();
        let found = self.db().read(|tx| {
            Ok(tx
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
                    [name],
                    user_row,
                )
                .optional()?)
        })?;
        let Some((user, hash, _)) = found else {
            // The same work as for a wrong password.
            let _ = verify_password(decoy_hash(), password);
            let shown = crate::admin::printable(name);
            self.audit(&Actor::Hub, "signin.unknown", &shown, from)?;
            return Ok(Err(SignInError::Wrong));
        };
        if user.disabled {
            self.audit(
                &Actor::User(user.name.clone()),
                "signin.disabled",
                &user.name,
                from,
            )?;
            return Ok(Err(SignInError::Disabled));
        }
        if let Some(until) = user.locked_until.filter(|u| u.0 > now.0) {
            self.audit(
                &Actor::User(user.name.clone()),
                "signin.locked",
                &user.name,
                from,
            )?;
            return Ok(Err(SignInError::Locked(until)));
        }
        let actor = Actor::User(user.name.clone());
        if !verify_password(&hash, password) {
            let locked = self.db().write(|tx| {
                let failed: i64 = tx.query_row(
                    "UPDATE users SET failed = failed + 1 WHERE name = ?1 RETURNING failed",
                    [&user.name],
                    |r| r.get(0),
                )?;
                let locked = failed >= MAX_FAILURES;
                if locked {
                    tx.execute(
                        "UPDATE users SET failed = 0, locked_until = ?2 WHERE name = ?1",
                        params![user.name, now.0 + LOCKOUT],
                    )?;
                    append(tx, now, &actor, "signin.lockout", &user.name, from)?;
                } else {
                    append(tx, now, &actor, "signin.failed", &user.name, from)?;
                }
                Ok(locked)
            })?;
            return Ok(Err(if locked {
                SignInError::Locked(UnixTime(now.0 + LOCKOUT))
            } else {
                SignInError::Wrong
            }));
        }
        let cookie = token()?;
        let csrf = token()?;
        self.db().write(|tx| {
            tx.execute(
                "UPDATE users SET failed = 0, locked_until = NULL WHERE name = ?1",
                [&user.name],
            )?;
            // Ended sessions go as anyone signs in.
            tx.execute(
                "DELETE FROM console_sessions WHERE last_seen < ?1 OR created_at < ?2",
                params![now.0 - IDLE_TIMEOUT, now.0 - MAX_SESSION],
            )?;
            tx.execute(
                "INSERT INTO console_sessions (token_hash, \"user\", csrf, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![sha256_hex(&cookie), user.name, csrf, now.0],
            )?;
            append(tx, now, &actor, "signin", &user.name, from)
        })?;
        Ok(Ok((
            cookie,
            Session {
                user: user.name,
                role: user.role,
                scope: user.scope,
                csrf,
            },
        )))
    }

    /// The live session a cookie token belongs to (its use keeps it
    /// alive), or None.
    pub fn session(&self, cookie: &str) -> Result<Option<Session>, HubError> {
        if cookie.len() != 64 {
            return Ok(None);
        }
        let now = self.now();
        let key = sha256_hex(cookie);
        self.db().write(|tx| {
            let found = tx
                .query_row(
                    "SELECT s.user, u.role, u.scope, s.csrf, s.created_at, s.last_seen, u.disabled
                     FROM console_sessions s JOIN users u ON u.name = s.\"user\"
                     WHERE s.token_hash = ?1",
                    [&key],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, bool>(6)?,
                        ))
                    },
                )
                .optional()?;
            let Some((user, role, scope, csrf, created, seen, disabled)) = found else {
                return Ok(None);
            };
            if disabled || seen < now.0 - IDLE_TIMEOUT || created < now.0 - MAX_SESSION {
                tx.execute("DELETE FROM console_sessions WHERE token_hash = ?1", [&key])?;
                return Ok(None);
            }
            let role = role
                .parse::<Role>()
                .map_err(|e| HubError::corrupt(format!("account {user}: {e}")))?;
            if now.0 - seen >= 60 {
                tx.execute(
                    "UPDATE console_sessions SET last_seen = ?2 WHERE token_hash = ?1",
                    params![key, now.0],
                )?;
            }
            Ok(Some(Session {
                user,
                role,
                scope,
                csrf,
            }))
        })
    }

    /// Ends a session.
    pub fn sign_out(&self, cookie: &str) -> Result<(), HubError> {
        let now = self.now();
        let key = sha256_hex(cookie);
        self.db().write(|tx| {
            let user: Option<String> = tx
                .query_row(
                    "DELETE FROM console_sessions WHERE token_hash = ?1 RETURNING \"user\"",
                    [&key],
                    |r| r.get(0),
                )
                .optional()?;
            match user {
                Some(u) => append(tx, now, &Actor::User(u.clone()), "signout", &u, ""),
                None => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_verifies_only_its_password() {
        let h = hash_password("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterx"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        // A fresh salt each time.
        assert_ne!(
            h,
            hash_password("correct horse battery").unwrap_or_default()
        );
    }

    #[test]
    fn roles_parse_back() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
