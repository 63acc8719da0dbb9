//! Registry key rotation (TUF-style): a new registry key is signed over by
//! the current one, and the chain of such signatures is published with the
//! metadata, so every terminal — whichever earlier key it pinned — follows
//! the new key only because a key it trusts vouched for it.
//!
//! The key file is replaced in steps that survive a crash at any point:
//! the new key is written beside the old one (`registry.key.new`), the
//! rotation is committed in the database, then the new file is renamed
//! over the old one. [`finish_pending`] completes the rename when the hub
//! opens after a crash between the two. The old key is not kept: the
//! chain's links are already signed, and a retired key left on disk could
//! only be stolen (files that older versions kept as
//! `registry.key.retired-N` are removed too).

use std::path::Path;

use crate::db::{OptionalExtension as _, params};
use ed25519_dalek::SigningKey;
use xinyi_core::wire::envelope::{self, Purpose};
use xinyi_core::wire::metadata::Rotation;

use crate::db::Db;
use crate::error::HubError;
use crate::hub::Hub;
use crate::keys::{self, REGISTRY_KEY_FILE};

const NEW_KEY_FILE: &str = "registry.key.new";

/// How many rotations the database holds.
pub(crate) fn count(db: &Db) -> Result<usize, HubError> {
    db.read(|tx| {
        Ok(
            tx.query_row("SELECT count(*) FROM registry_rotations", [], |r| {
                r.get::<_, i64>(0)
            })?,
        )
    })
    .map(|n| usize::try_from(n).unwrap_or(0))
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
        let now = self.now().0;
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO registry_rotations (new_key, envelope, rotated_at) VALUES (?1, ?2, ?3)",
                params![new_hex, link, now],
            )?;
            Ok(())
        })?;
        finish_pending(self.dir(), self.db())?;
        Ok(xinyi_core::wire::key_id(new.verifying_key().as_bytes()))
    }
}
