//! The terminal's own Ed25519 key, made at enrollment. It signs every
//! journal record and every request to the hub, so it lives in a file only
//! its owner can read: created with mode 0600 from the start (never
//! world-readable, not even between creating and tightening), and refused
//! on load if group or others may read it.
//!
//! The file holds the 32-byte seed as 64 hex digits and a newline.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use xinyi_core::hex;

/// Why the key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "no terminal key at {}: not enrolled: run `xinyi enroll --hub URL --code CODE`",
        .0.display()
    )]
    NotEnrolled(PathBuf),
    #[error(
        "a terminal key already exists at {}; it is not replaced (this terminal is enrolled with it)",
        .0.display()
    )]
    Exists(PathBuf),
    #[error(
        "the terminal key {} may be read by others (mode {mode:o}); run `chmod 600 {}`",
        .path.display(),
        .path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the terminal key {} is damaged: {why}", .path.display())]
    Malformed { path: PathBuf, why: String },
    #[error("terminal key {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
}

/// The terminal's signing key.
pub struct TerminalKey {
    key: SigningKey,
}

impl fmt::Debug for TerminalKey {
    /// Shows the key id only, never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TerminalKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// Longer than any key file: 64 hex digits plus line ends and spaces.
const MAX_FILE_LEN: u64 = 256;

impl TerminalKey {
    /// Makes a new key and writes it to `path` (mode 0600), refusing to
    /// replace an existing file. Missing parent directories are created.
    pub fn generate_at(path: impl AsRef<Path>) -> Result<TerminalKey, KeyError> {
        let path = path.as_ref();
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);

        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut options = OpenOptions::new();
        // create_new is O_EXCL: an existing key (or a symlink planted in
        // its place) is never overwritten or followed.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_owned())
            } else {
                io(e)
            }
        })?;
        let mut text = hex::encode(key.as_bytes());
        text.push('\n');
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            // A half-written key must not look like an enrollment.
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
        // The directory entry too, so the key survives a power cut right
        // after enrollment.
        #[cfg(unix)]
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(TerminalKey { key })
    }

    /// Reads the key at `path`. A missing file means the terminal is not
    /// enrolled; a file group or others may read is refused.
    pub fn load(path: impl AsRef<Path>) -> Result<TerminalKey, KeyError> {
        let path = path.as_ref();
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                KeyError::NotEnrolled(path.to_owned())
            } else {
                io(e)
            }
        })?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(KeyError::Malformed {
                path: path.to_owned(),
                why: "it is not a regular file".into(),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::TooOpen {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let mut text = String::new();
        file.take(MAX_FILE_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| KeyError::Malformed {
                path: path.to_owned(),
                why: format!("not text: {e}"),
            })?;
        if text.len() as u64 > MAX_FILE_LEN {
            return Err(KeyError::Malformed {
                path: path.to_owned(),
                why: "it is far longer than a key".into(),
            });
        }
        let seed: [u8; 32] = hex::decode_array(text.trim()).map_err(|e| KeyError::Malformed {
            path: path.to_owned(),
            why: format!("expected 64 hex digits: {e}"),
        })?;
        Ok(TerminalKey {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key that signs records and requests.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The key id: the first 8 bytes of SHA-256 of the public key, in hex.
    pub fn id(&self) -> String {
        xinyi_core::wire::key_id(self.public_key().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, Verifier};

    #[test]
    fn generate_then_load_gives_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/terminal.key");
        let made = TerminalKey::generate_at(&path).unwrap();
        let loaded = TerminalKey::load(&path).unwrap();
        assert_eq!(made.public_key(), loaded.public_key());
        assert_eq!(made.id(), loaded.id());
        assert_eq!(made.id().len(), 16);
        assert_eq!(
            made.id(),
            xinyi_core::credential::Kid::of_public_key(made.public_key().as_bytes()).to_hex()
        );
        let sig = loaded.signing_key().sign(b"record");
        assert!(made.public_key().verify(b"record", &sig).is_ok());
        // Two generations give different keys.
        let other = TerminalKey::generate_at(dir.path().join("other.key")).unwrap();
        assert_ne!(other.public_key(), made.public_key());
        // Debug never shows the secret.
        let shown = format!("{loaded:?}");
        assert!(shown.contains(&made.id()));
        assert!(!shown.contains(&hex::encode(made.signing_key().as_bytes())));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminal.key");
        TerminalKey::generate_at(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminal.key");
        let first = TerminalKey::generate_at(&path).unwrap();
        assert!(matches!(
            TerminalKey::generate_at(&path),
            Err(KeyError::Exists(_))
        ));
        assert_eq!(
            TerminalKey::load(&path).unwrap().public_key(),
            first.public_key()
        );
    }

    #[test]
    fn missing_key_names_the_enroll_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = TerminalKey::load(dir.path().join("none.key")).unwrap_err();
        assert!(matches!(err, KeyError::NotEnrolled(_)));
        let text = err.to_string();
        assert!(
            text.contains("not enrolled: run `xinyi enroll --hub URL --code CODE`"),
            "{text}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_key_others_may_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terminal.key");
        TerminalKey::generate_at(&path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = TerminalKey::load(&path).unwrap_err();
            assert!(
                matches!(err, KeyError::TooOpen { mode: m, .. } if m == mode),
                "{mode:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"));
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(TerminalKey::load(&path).is_ok());
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        for (i, content) in [
            &b""[..],
            b"zz",
            b"00112233",
            &[0xFF, 0xFE, 0x00],
            &[b'a'; 1000],
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("bad{i}.key"));
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(&path).unwrap().write_all(content).unwrap();
            assert!(
                matches!(TerminalKey::load(&path), Err(KeyError::Malformed { .. })),
                "content {i} accepted"
            );
        }
        // A directory where the key should be.
        assert!(TerminalKey::load(dir.path()).is_err());
    }
}
