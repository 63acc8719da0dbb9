//! The hub's secrets, as files in the data directory readable by the
//! owner only: `registry.key` (the Ed25519 seed that signs everything the
//! hub publishes) and `pseudonym.key` (K_pseudo, which derives subject
//! pseudonyms). Both hold 32 bytes as 64 hex digits.

use std::io::Write as _;
use std::path::Path;

use ed25519_dalek::SigningKey;
use xinyi_core::PseudonymKey;

use crate::error::HubError;

pub const REGISTRY_KEY_FILE: &str = "registry.key";
pub const PSEUDONYM_KEY_FILE: &str = "pseudonym.key";

/// 32 random bytes from the operating system.
pub fn random_32() -> Result<[u8; 32], HubError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| HubError::Internal(format!("no randomness from the system: {e}")))?;
    Ok(seed)
}

/// Writes a new key file (mode 0600); refuses to replace an existing one.
pub fn write_new(path: &Path, bytes: &[u8; 32]) -> Result<(), HubError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(HubError::io(path))?;
    let text = format!("{}\n", xinyi_core::hex::encode(bytes));
    f.write_all(text.as_bytes()).map_err(HubError::io(path))?;
    f.sync_all().map_err(HubError::io(path))?;
    Ok(())
}

/// Parses 32 bytes given as 64 hex digits (surrounding space ignored).
pub fn parse_32(text: &str) -> Result<[u8; 32], String> {
    xinyi_core::hex::decode_array::<32>(text.trim())
        .map_err(|e| format!("must hold 32 bytes as 64 hex digits: {e}"))
}

/// Reads a key file.
pub fn read(path: &Path) -> Result<[u8; 32], HubError> {
    let text = std::fs::read_to_string(path).map_err(|e| HubError::KeyFile {
        path: path.to_owned(),
        why: format!("cannot read it: {e}"),
    })?;
    parse_32(&text).map_err(|why| HubError::KeyFile {
        path: path.to_owned(),
        why,
    })
}

/// Reads the registry signing key.
pub fn registry_key(dir: &Path) -> Result<SigningKey, HubError> {
    Ok(SigningKey::from_bytes(&read(&dir.join(REGISTRY_KEY_FILE))?))
}

/// Reads K_pseudo.
pub fn pseudonym_key(dir: &Path) -> Result<PseudonymKey, HubError> {
    Ok(PseudonymKey::from_bytes(read(
        &dir.join(PSEUDONYM_KEY_FILE),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_private_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_new(&path, &[7; 32]).unwrap();
        assert_eq!(read(&path).unwrap(), [7; 32]);
        assert!(write_new(&path, &[8; 32]).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "abc").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("64 hex"));
    }
}
