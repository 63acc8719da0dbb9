//! The hub's settings, from an optional `hub.toml` in the data directory
//! (or the file given with `--config`). Every setting has a default, so no
//! file is needed; a file with an unknown key or a bad value is refused
//! with an error naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use xinyi_core::wire::request::MAX_REQUEST_SKEW_S;

/// The settings file's name in the data directory.
pub const CONFIG_FILE: &str = "hub.toml";
/// The address `serve` listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";
/// How long signed metadata stays valid by default.
pub const DEFAULT_METADATA_LIFETIME_HOURS: i64 = 24;
/// The largest upload body accepted by default (a full batch fits easily).
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

/// The text `init` writes: every setting, commented out at its default.
pub const SAMPLE: &str = r#"# xinyi-hub settings. Every setting is optional; the defaults are shown.

# Address and port `xinyi-hub serve` listens on.
# listen = "127.0.0.1:8470"

# Hours a terminal may trust signed metadata before it must refresh it.
# metadata_lifetime_hours = 24

# Seconds a terminal's request time may differ from the hub's clock.
# request_skew_s = 300

# Seconds request nonces are kept to refuse replays (at least 2 x request_skew_s).
# nonce_retention_s = 600

# Largest record upload accepted, in bytes.
# max_upload_bytes = 8388608
"#;

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    pub listen: SocketAddr,
    pub metadata_lifetime_s: i64,
    pub request_skew_s: i64,
    pub nonce_retention_s: i64,
    pub max_upload_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> HubConfig {
        HubConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8470)),
            metadata_lifetime_s: DEFAULT_METADATA_LIFETIME_HOURS * 3600,
            request_skew_s: MAX_REQUEST_SKEW_S,
            nonce_retention_s: 2 * MAX_REQUEST_SKEW_S,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}

/// Why a settings file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read settings file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {}: {message}", .path.display())]
    Parse { path: PathBuf, message: String },
    #[error("settings file {}: `{key}`: {why}", .path.display())]
    Value {
        path: PathBuf,
        key: &'static str,
        why: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    metadata_lifetime_hours: Option<i64>,
    request_skew_s: Option<i64>,
    nonce_retention_s: Option<i64>,
    max_upload_bytes: Option<i64>,
}

impl HubConfig {
    /// Parses settings text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<HubConfig, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        let bad = |key: &'static str, why: String| ConfigError::Value {
            path: path.to_owned(),
            key,
            why,
        };
        let mut c = HubConfig::default();
        if let Some(l) = raw.listen {
            c.listen = l.trim().parse().map_err(|_| {
                bad(
                    "listen",
                    format!("{l:?} is not an address and port such as \"{DEFAULT_LISTEN}\""),
                )
            })?;
        }
        if let Some(h) = raw.metadata_lifetime_hours {
            if !(1..=24 * 30).contains(&h) {
                return Err(bad(
                    "metadata_lifetime_hours",
                    format!("must be 1 to 720 hours, got {h}"),
                ));
            }
            c.metadata_lifetime_s = h * 3600;
        }
        if let Some(s) = raw.request_skew_s {
            if !(1..=86_400).contains(&s) {
                return Err(bad(
                    "request_skew_s",
                    format!("must be 1 to 86400 seconds, got {s}"),
                ));
            }
            c.request_skew_s = s;
            c.nonce_retention_s = c.nonce_retention_s.max(2 * s);
        }
        if let Some(r) = raw.nonce_retention_s {
            if r < 2 * c.request_skew_s || r > 30 * 86_400 {
                return Err(bad(
                    "nonce_retention_s",
                    format!(
                        "must be at least 2 x request_skew_s ({}) and at most 2592000 seconds, got {r}",
                        2 * c.request_skew_s
                    ),
                ));
            }
            c.nonce_retention_s = r;
        }
        if let Some(b) = raw.max_upload_bytes {
            c.max_upload_bytes = usize::try_from(b)
                .ok()
                .filter(|b| (64 * 1024..=256 * 1024 * 1024).contains(b))
                .ok_or_else(|| {
                    bad(
                        "max_upload_bytes",
                        format!("must be 65536 to 268435456 bytes, got {b}"),
                    )
                })?;
        }
        Ok(c)
    }

    /// Reads a settings file.
    pub fn load(path: &Path) -> Result<HubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        HubConfig::parse(&text, path)
    }

    /// The settings of a data directory: its `hub.toml` if there is one,
    /// else the defaults.
    pub fn for_dir(dir: &Path) -> Result<HubConfig, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        if path.exists() {
            HubConfig::load(&path)
        } else {
            Ok(HubConfig::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HubConfig, ConfigError> {
        HubConfig::parse(text, Path::new("hub.toml"))
    }

    #[test]
    fn defaults_and_sample() {
        assert_eq!(parse("").unwrap(), HubConfig::default());
        assert_eq!(parse(SAMPLE).unwrap(), HubConfig::default());
        let c = parse("listen = \"0.0.0.0:9000\"\nrequest_skew_s = 600\n").unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.nonce_retention_s, 1200);
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse("lisen = \"x\"").unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        let e = parse("listen = \"nowhere\"").unwrap_err().to_string();
        assert!(e.contains("`listen`"), "{e}");
        let e = parse("metadata_lifetime_hours = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata_lifetime_hours"), "{e}");
        let e = parse("request_skew_s = \"five\"").unwrap_err().to_string();
        assert!(e.contains("request_skew_s"), "{e}");
        let e = parse("nonce_retention_s = 10").unwrap_err().to_string();
        assert!(e.contains("nonce_retention_s"), "{e}");
    }
}
