//! Registry key rotation (TUF-style): a new registry key is signed over by
//! the current one, and the chain of such signatures is published with the
//! metadata, so every terminal — whichever earlier key it pinned — follows
//! the new key only because a key it trusts vouched for it.
//!
//! The key file is replaced in steps that survive a crash at any point:
//! the new key is written beside the old one (`registry.key.new`), the
//! rotation is committed in the database, then the new file is renamed
//! over the old one. `finish_pending` completes the rename when the hub
//! opens after a crash between the two. The old key is not kept: the
//! chain's links are already signed, and a retired key left on disk could
//! only be stolen (files that older versions kept as
//! `registry.key.retired-N` are removed too).
//!
//! Other hub processes on the same PostgreSQL keep their own data
//! directories. The new key is therefore also kept in the database,
//! sealed with the identity key (bound to its public key; the keys of
//! earlier rotations are erased), and a process that finds the registry
//! rotated past its key file takes the new key from there and writes it
//! over its file (`current_key`). A stale key file with no sealed key to
//! take (a rotation made by an older release) stops the hub with a
//! message saying which file to copy: signing with it would only make
//! the terminals that followed the rotation refuse.

use std::path::Path;

use crate::db::{OptionalExtension as _, params};
use ed25519_dalek::SigningKey;
use xinyi_core::wire::envelope::{self, Purpose};
use xinyi_core::wire::metadata::Rotation;

use crate::db::{Db, Tx};
use crate::error::HubError;
use crate::hub::Hub;
use crate::identity::{IdentityKey, Place};
use crate::keys::{self, REGISTRY_KEY_FILE};

const NEW_KEY_FILE: &str = "registry.key.new";

/// How many rotations the database holds.
pub(crate) fn count(db: &Db) -> Result<usize, HubError> {
    db.read(count_in)
}

/// [`count`] in a transaction already open.
pub(crate) fn count_in(tx: &Tx<'_>) -> Result<usize, HubError> {
    let n: i64 = tx.query_row("SELECT count(*) FROM registry_rotations", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The rotation chain to publish, if the key was ever rotated.
pub(crate) fn chain(db: &Db) -> Result<Option<Rotation>, HubError> {
    let links: Vec<String> = db.read(|tx| {
        let mut stmt = tx.prepare("SELECT envelope FROM registry_rotations ORDER BY seq")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(rows)
    })?;
    Ok((!links.is_empty()).then_some(Rotation { chain: links }))
}

/// Completes a rotation that was committed but whose key files were not
/// yet renamed; returns the number of rotations.
pub(crate) fn finish_pending(dir: &Path, db: &Db) -> Result<usize, HubError> {
    let n = count(db)?;
    let pending = dir.join(NEW_KEY_FILE);
    if !pending.exists() {
        remove_retired(dir)?;
        return Ok(n);
    }
    let committed: Option<String> = db.read(|tx| {
        Ok(tx
            .query_row(
                "SELECT new_key FROM registry_rotations ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    })?;
    let new = SigningKey::from_bytes(&keys::read(&pending)?);
    let new_hex = xinyi_core::hex::encode(new.verifying_key().as_bytes());
    if committed.as_deref() == Some(new_hex.as_str()) {
        // One atomic step: the old key is gone the moment the new one is
        // in its place.
        let current = dir.join(REGISTRY_KEY_FILE);
        std::fs::rename(&pending, &current).map_err(HubError::io(&pending))?;
    } else {
        // The rotation never committed: the new key was never used.
        std::fs::remove_file(&pending).map_err(HubError::io(&pending))?;
    }
    remove_retired(dir)?;
    Ok(n)
}

/// The registry key this process signs with, and how many rotations the
/// database held when it was chosen: the key file in `dir`, unless the
/// registry was rotated past it by another process; then the new key,
/// opened from the database, which replaces the key file.
pub(crate) fn current_key(
    dir: &Path,
    db: &Db,
    identity: &IdentityKey,
) -> Result<(usize, SigningKey), HubError> {
    let (n, newest) = db.read(|tx| {
        let n: i64 = tx.query_row("SELECT count(*) FROM registry_rotations", [], |r| r.get(0))?;
        let newest: Option<(String, Option<Vec<u8>>)> = tx
            .query_row(
                "SELECT new_key, key_sealed FROM registry_rotations ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok((usize::try_from(n).unwrap_or(0), newest))
    })?;
    let file = keys::registry_key(dir)?;
    let Some((public, sealed)) = newest else {
        return Ok((n, file));
    };
    if xinyi_core::hex::encode(file.verifying_key().as_bytes()) == public {
        return Ok((n, file));
    }
    let kid = xinyi_core::hex::decode_array::<32>(&public)
        .map(|k| xinyi_core::wire::key_id(&k))
        .map_err(|e| HubError::corrupt(format!("the newest registry rotation's key: {e}")))?;
    let path = dir.join(REGISTRY_KEY_FILE);
    let Some(sealed) = sealed else {
        return Err(HubError::KeyFile {
            path,
            why: format!(
                "it is not the registry's current key {kid}, and the database does not hold \
                 that key (it was rotated by an older release): copy registry.key from the \
                 data directory where rotate-key ran"
            ),
        });
    };
    let seed = crate::seal::open(identity, &sealed, &Place::registry_key(&public), || {
        format!("the registry rotation to key {kid}")
    })?;
    let seed = keys::parse_32(&seed)
        .map_err(|e| HubError::corrupt(format!("the registry rotation to key {kid}: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    if xinyi_core::hex::encode(key.verifying_key().as_bytes()) != public {
        return Err(HubError::corrupt(format!(
            "the registry rotation to key {kid}: its sealed key is another key"
        )));
    }
    // Written beside the file, then renamed over it in one step; each
    // writer has a name of its own.
    let suffix = xinyi_core::hex::encode(&keys::random_32()?[..8]);
    let fresh = dir.join(format!("{REGISTRY_KEY_FILE}.taken-{suffix}"));
    keys::write_new(&fresh, &seed)?;
    std::fs::rename(&fresh, &path).map_err(HubError::io(&path))?;
    tracing::info!(key = %kid, "took up the registry key rotated by another process");
    Ok((n, key))
}

/// Removes retired registry keys that earlier versions kept.
fn remove_retired(dir: &Path) -> Result<(), HubError> {
    let entries = std::fs::read_dir(dir).map_err(HubError::io(dir))?;
    for entry in entries {
        let path = entry.map_err(HubError::io(dir))?.path();
        let retired = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("registry.key.retired-"));
        if retired {
            std::fs::remove_file(&path).map_err(HubError::io(&path))?;
            tracing::info!(file = %path.display(), "removed a retired registry key");
        }
    }
    Ok(())
}

impl Hub {
    /// Rotates the registry key: a new key, signed over by the current
    /// one. Terminals follow at their next sync. Returns the new key's id.
    pub fn rotate_registry_key(&self) -> Result<String, HubError> {
        let old = self.registry_key();
        let seed = keys::random_32()?;
        let new = SigningKey::from_bytes(&seed);
        let pending = self.dir().join(NEW_KEY_FILE);
        if pending.exists() {
            std::fs::remove_file(&pending).map_err(HubError::io(&pending))?;
        }
        keys::write_new(&pending, &seed)?;
        let link = envelope::seal(&old, Purpose::KeyRotation, new.verifying_key().as_bytes());
        let link = String::from_utf8(link).map_err(|e| HubError::Internal(e.to_string()))?;
        let new_hex = xinyi_core::hex::encode(new.verifying_key().as_bytes());
        // For the other processes, which keep their own key files.
        let sealed = crate::seal::seal(
            self.identity(),
            &xinyi_core::hex::encode(&seed),
            &Place::registry_key(&new_hex),
        )?;
        let now = self.now().0;
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO registry_rotations (new_key, envelope, rotated_at, key_sealed)
                 VALUES (?1, ?2, ?3, ?4)",
                params![new_hex, link, now, sealed],
            )?;
            // Only the current key is kept; the links stay signed.
            tx.execute(
                "UPDATE registry_rotations SET key_sealed = NULL
                 WHERE new_key <> ?1 AND key_sealed IS NOT NULL",
                [&new_hex],
            )?;
            Ok(())
        })?;
        finish_pending(self.dir(), self.db())?;
        Ok(xinyi_core::wire::key_id(new.verifying_key().as_bytes()))
    }
}
