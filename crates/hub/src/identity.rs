//! Identities sealed at rest: the ID numbers and full names the registry
//! keeps are stored only as AEAD ciphertexts under the identity key
//! (`identity.key`, 32 random bytes kept apart from the database if the
//! operator wishes), so a copied `hub.db` reveals no identity.
//!
//! The AEAD is AES-256-GCM-SIV from aws-lc-rs (the library rustls already
//! builds on here), with a fresh random 96-bit nonce per value; GCM-SIV
//! stays safe even if two random nonces ever collided. The associated data
//! binds each ciphertext to its place — table, field, kind and pseudonym —
//! so a value moved to another row or field does not open.
//!
//! A sealed value is `version (1 byte) || nonce (12) || ciphertext || tag (16)`.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};

use crate::error::HubError;

/// The identity key's file name in the data directory (its default place).
pub const IDENTITY_KEY_FILE: &str = "identity.key";

/// The format of sealed values this build writes and reads.
const VERSION: u8 = 1;
/// The AEAD tag's length.
const TAG_LEN: usize = 16;
/// The shortest sealed value: version, nonce and tag around empty text.
pub const MIN_SEALED_LEN: usize = 1 + NONCE_LEN + TAG_LEN;
/// The longest text sealed (an ID number or a name is far shorter); a
/// longer value read back is refused before it is decrypted.
const MAX_TEXT_LEN: usize = 64 * 1024;
/// What the key check value holds, sealed at [`Place::KeyCheck`].
const KEY_CHECK_TEXT: &str = "xinyi-hub identity key";
/// The prefix of every associated data.
const AAD_LABEL: &[u8] = b"xinyi-hub sealed identity v1";

/// Where a sealed value belongs: its table and field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `listings.id_sealed`.
    ListingId,
    /// `listings.name_sealed`.
    ListingName,
    /// `exclusions.id_sealed`.
    ExclusionId,
    /// `identity_seal.key_check`: proves which key sealed the database.
    KeyCheck,
    /// `cases.phone_sealed`: a citizen's contact phone.
    CasePhone,
    /// `cases.id_sealed`: the ID number or credit code a citizen gave.
    CaseId,
    /// `cases.text_sealed`: what the citizen wrote.
    CaseText,
    /// `registry_rotations.key_sealed`: the registry's current signing
    /// key, for the other hub processes to take up after a rotation.
    RegistryKey,
}

impl Field {
    /// The table and column, as the associated data names them.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::ListingId => "listings.id_number",
            Field::ListingName => "listings.name",
            Field::ExclusionId => "exclusions.id_number",
            Field::KeyCheck => "identity_seal.key_check",
            Field::CasePhone => "cases.phone",
            Field::CaseId => "cases.id_number",
            Field::CaseText => "cases.text",
            Field::RegistryKey => "registry_rotations.key",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::ListingId => "ID number of a listing",
            Field::ListingName => "name of a listing",
            Field::ExclusionId => "ID number of an exclusion",
            Field::KeyCheck => "identity key check",
            Field::CasePhone => "phone of a case",
            Field::CaseId => "ID number of a case",
            Field::CaseText => "text of a case",
            Field::RegistryKey => "rotated registry key",
        })
    }
}

/// The row and field a sealed value is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub field: Field,
    /// `person` or `enterprise`.
    pub kind: &'a str,
    /// The subject's pseudonym.
    pub sub: &'a str,
}

impl<'a> Place<'a> {
    pub fn new(field: Field, kind: &'a str, sub: &'a str) -> Place<'a> {
        Place { field, kind, sub }
    }

    /// The place of the key check value.
    pub fn key_check() -> Place<'static> {
        Place {
            field: Field::KeyCheck,
            kind: "",
            sub: "",
        }
    }

    /// The place of a rotated registry key: bound to its public key, so
    /// a sealed key cannot stand in for another rotation's.
    pub fn registry_key(public_hex: &'a str) -> Place<'a> {
        Place {
            field: Field::RegistryKey,
            kind: "registry",
            sub: public_hex,
        }
    }

    /// The associated data: a label, then each part length-prefixed so
    /// that no two places give the same bytes.
    fn aad(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(AAD_LABEL.len() + 64);
        out.extend_from_slice(AAD_LABEL);
        for part in [self.field.as_str(), self.kind, self.sub] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "the sealed value is {len} bytes, shorter than the {MIN_SEALED_LEN} any sealed value has (cut short?)"
    )]
    Truncated { len: usize },
    #[error("the sealed value is {len} bytes, longer than any this registry writes")]
    TooLong { len: usize },
    #[error("the sealed value has format version {0}, which this xinyi-hub does not know")]
    UnknownVersion(u8),
    #[error(
        "the sealed value does not open: it was sealed with another identity key, belongs to another row or field, or was altered"
    )]
    DoesNotOpen,
    #[error("the opened value is not UTF-8 text")]
    NotText,
    #[error("the text to seal is {len} bytes, more than the {MAX_TEXT_LEN} allowed")]
    TextTooLong { len: usize },
    #[error("the AEAD failed to seal (no randomness from the system?)")]
    SealFailed,
}

/// The identity key, ready to seal and open. Its bytes are never shown.
pub struct IdentityKey {
    aead: RandomizedNonceKey,
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(..)")
    }
}

impl IdentityKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<IdentityKey, HubError> {
        let aead = RandomizedNonceKey::new(&AES_256_GCM_SIV, bytes)
            .map_err(|_| HubError::Internal("the AEAD refused a 32-byte key".into()))?;
        Ok(IdentityKey { aead })
    }

    /// Seals `text` for `place`.
    pub fn seal(&self, text: &str, place: &Place<'_>) -> Result<Vec<u8>, SealError> {
        if text.len() > MAX_TEXT_LEN {
            return Err(SealError::TextTooLong { len: text.len() });
        }
        let mut body = Vec::with_capacity(text.len() + TAG_LEN);
        body.extend_from_slice(text.as_bytes());
        let nonce = self
            .aead
            .seal_in_place_append_tag(Aad::from(place.aad()), &mut body)
            .map_err(|_| SealError::SealFailed)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(VERSION);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value sealed for `place`.
    pub fn open(&self, sealed: &[u8], place: &Place<'_>) -> Result<String, SealError> {
        let len = sealed.len();
        if len < MIN_SEALED_LEN {
            return Err(SealError::Truncated { len });
        }
        if len > MIN_SEALED_LEN + MAX_TEXT_LEN {
            return Err(SealError::TooLong { len });
        }
        let (version, rest) = sealed.split_at(1);
        if version[0] != VERSION {
            return Err(SealError::UnknownVersion(version[0]));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::DoesNotOpen)?;
        let mut body = body.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(place.aad()), &mut body)
            .map_err(|_| SealError::DoesNotOpen)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::NotText)
    }

    /// The key check value a database sealed with this key holds.
    pub fn key_check(&self) -> Result<Vec<u8>, SealError> {
        self.seal(KEY_CHECK_TEXT, &Place::key_check())
    }

    /// Whether `check` was made by [`IdentityKey::key_check`] with this key.
    pub fn matches(&self, check: &[u8]) -> bool {
        self.open(check, &Place::key_check())
            .is_ok_and(|t| t == KEY_CHECK_TEXT)
    }
}

/// What reading the identity key file found.
#[derive(Debug)]
pub enum KeyFile {
    Found([u8; 32]),
    Missing,
}

/// Reads the identity key file at `path`: its 32 bytes, or that there is
/// no such file. Any other problem is an error naming the file.
pub fn read_key(path: &Path) -> Result<KeyFile, HubError> {
    match std::fs::read_to_string(path) {
        Ok(text) => crate::keys::parse_32(&text)
            .map(KeyFile::Found)
            .map_err(|why| HubError::KeyFile {
                path: path.to_owned(),
                why,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile::Missing),
        Err(e) => Err(HubError::KeyFile {
            path: path.to_owned(),
            why: format!("cannot read it: {e}"),
        }),
    }
}

/// Creates a new random identity key at `path` (mode 0600), whole or not
/// at all: it is written to a temporary file beside it, then linked under
/// its name, which fails if a key is already there. Returns the key that
/// is at `path` afterwards — this one, or the one another process made
/// at the same moment.
pub fn create_key(path: &Path) -> Result<[u8; 32], HubError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(HubError::KeyFile {
            path: path.to_owned(),
            why: format!(
                "cannot create it: the folder {} does not exist (identity_key in hub.toml names where the key is kept)",
                dir.display()
            ),
        });
    }
    let bytes = crate::keys::random_32()?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".xinyi-hub-identity-")
        .tempfile_in(&dir)
        .map_err(HubError::io(&dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))
            .map_err(HubError::io(tmp.path()))?;
    }
    let text = format!("{}\n", xinyi_core::hex::encode(&bytes));
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(HubError::io(tmp.path()))?;
    match std::fs::hard_link(tmp.path(), path) {
        Ok(()) => {
            tracing::info!(key = %path.display(), "created the identity key");
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_key(path)? {
            KeyFile::Found(k) => Ok(k),
            KeyFile::Missing => Err(HubError::KeyFile {
                path: path.to_owned(),
                why: "it vanished while it was created".into(),
            }),
        },
        Err(e) => Err(HubError::io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> IdentityKey {
        IdentityKey::from_bytes(&[b; 32]).unwrap()
    }

    const ID: Place<'static> = Place {
        field: Field::ListingId,
        kind: "person",
        sub: "BBBBBBBBBBBBBBBBBBBBBBBBBB",
    };

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let k = key(1);
        let (id_number, name) = (
            xinyi_testkit::first_listed_id_number(),
            xinyi_testkit::first_listed_name(),
        );
        for text in ["", id_number.as_str(), name.as_str(), "阳江市某某有限公司"] {
            let a = k.seal(text, &ID).unwrap();
            let b = k.seal(text, &ID).unwrap();
            assert_ne!(a, b, "two seals of the same text must differ");
            assert_eq!(a.len(), MIN_SEALED_LEN + text.len());
            assert_eq!(k.open(&a, &ID).unwrap(), text);
            assert_eq!(k.open(&b, &ID).unwrap(), text);
            if !text.is_empty() {
                let found = a.windows(text.len()).any(|w| w == text.as_bytes());
                assert!(!found, "the text is in the sealed value in clear");
            }
        }
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = key(1)
            .seal(&xinyi_testkit::first_listed_id_number(), &ID)
            .unwrap();
        assert_eq!(key(2).open(&sealed, &ID), Err(SealError::DoesNotOpen));
        let check = key(1).key_check().unwrap();
        assert!(key(1).matches(&check));
        assert!(!key(2).matches(&check));
    }

    #[test]
    fn a_value_moved_to_another_place_does_not_open() {
        let k = key(1);
        let sealed = k
            .seal(&xinyi_testkit::first_listed_id_number(), &ID)
            .unwrap();
        for other in [
            Place::new(Field::ListingName, ID.kind, ID.sub),
            Place::new(Field::ExclusionId, ID.kind, ID.sub),
            Place::new(Field::ListingId, "enterprise", ID.sub),
            Place::new(Field::ListingId, ID.kind, "AAAAAAAAAAAAAAAAAAAAAAAAAA"),
            // Parts are length-prefixed: moving a byte across the
            // boundary between kind and pseudonym is another place.
            Place::new(Field::ListingId, "person U", "LFSD7FU7NCRAGFGXIBIBG2UUU"),
            Place::key_check(),
        ] {
            assert_eq!(
                k.open(&sealed, &other),
                Err(SealError::DoesNotOpen),
                "{other:?}"
            );
        }
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let k = key(1);
        let sealed = k.seal(&xinyi_testkit::first_listed_name(), &ID).unwrap();
        for len in 0..sealed.len() {
            let err = k.open(&sealed[..len], &ID).unwrap_err();
            if len < MIN_SEALED_LEN {
                assert_eq!(err, SealError::Truncated { len });
                assert!(err.to_string().contains("cut short"), "{err}");
            } else {
                assert_eq!(err, SealError::DoesNotOpen, "{len}");
            }
        }
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(k.open(&bad, &ID), Err(SealError::DoesNotOpen), "byte {i}");
        }
        let mut bad = sealed.clone();
        bad[0] = 9;
        assert_eq!(k.open(&bad, &ID), Err(SealError::UnknownVersion(9)));
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(k.open(&longer, &ID), Err(SealError::DoesNotOpen));
        let huge = vec![VERSION; MIN_SEALED_LEN + MAX_TEXT_LEN + 1];
        assert!(matches!(k.open(&huge, &ID), Err(SealError::TooLong { .. })));
        assert!(matches!(
            k.seal(&"x".repeat(MAX_TEXT_LEN + 1), &ID),
            Err(SealError::TextTooLong { .. })
        ));
        assert_eq!(k.open(&[], &ID), Err(SealError::Truncated { len: 0 }));
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        // Sealed through the AEAD directly: the registry never seals such
        // bytes, but a value that opens to them must be an error.
        let k = key(1);
        let mut body = vec![0xff, 0xfe];
        let nonce = k
            .aead
            .seal_in_place_append_tag(Aad::from(ID.aad()), &mut body)
            .unwrap();
        let mut sealed = vec![VERSION];
        sealed.extend_from_slice(nonce.as_ref());
        sealed.extend_from_slice(&body);
        assert_eq!(k.open(&sealed, &ID), Err(SealError::NotText));
    }

    #[test]
    fn key_files_are_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(IDENTITY_KEY_FILE);
        assert!(matches!(read_key(&path).unwrap(), KeyFile::Missing));
        let made = create_key(&path).unwrap();
        let KeyFile::Found(read) = read_key(&path).unwrap() else {
            panic!("no key after creating it");
        };
        assert_eq!(made, read);
        // A second creation finds the first key and keeps it.
        assert_eq!(create_key(&path).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [IDENTITY_KEY_FILE]);
        std::fs::write(&path, "not hex").unwrap();
        let err = read_key(&path).unwrap_err().to_string();
        assert!(
            err.contains(IDENTITY_KEY_FILE) && err.contains("64 hex"),
            "{err}"
        );
        let err = create_key(&dir.path().join("no/such/folder/identity.key"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
