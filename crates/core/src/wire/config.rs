//! The config artefact: the trust list, card revocations, the measures
//! catalogue and the sites, as JSON. Small, so every version carries it
//! whole; the metadata pins it by hash.

use serde::{Deserialize, Serialize};

use super::WireError;
use crate::credential::{Cti, Iss, Kid, KidError};
use crate::hex::HexError;
use crate::measures::Catalogue;
use crate::time::UnixTime;
use crate::trust::{TrustError, TrustedKey};
use crate::verdict::DEFAULT_MAX_OFFLINE_AGE_S;

const WHAT: &str = "config artefact";

/// An issuer key as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustEntry {
    pub kid: String,
    pub iss: String,
    pub public_key: String,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked: bool,
}

impl TrustEntry {
    pub fn of(k: &TrustedKey) -> TrustEntry {
        TrustEntry {
            kid: k.kid.to_hex(),
            iss: k.iss.as_str().to_owned(),
            public_key: crate::hex::encode(k.public_key.as_bytes()),
            not_before: k.not_before.0,
            not_after: k.not_after.0,
            revoked: k.revoked,
        }
    }

    pub fn to_key(&self) -> Result<TrustedKey, TrustEntryError> {
        let iss = Iss::parse(&self.iss)
            .ok_or_else(|| TrustEntryError::UnknownIssuer(self.iss.clone()))?;
        let pk = crate::hex::decode_array(&self.public_key).map_err(TrustEntryError::PublicKey)?;
        let kid = Kid::from_hex(&self.kid)?;
        Ok(TrustedKey::new(
            iss,
            pk,
            UnixTime(self.not_before),
            UnixTime(self.not_after),
            self.revoked,
            Some(kid),
        )?)
    }
}

/// Why a published trust-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustEntryError {
    #[error("unknown issuer {0:?}")]
    UnknownIssuer(String),
    #[error("public key: {0}")]
    PublicKey(HexError),
    #[error(transparent)]
    Kid(#[from] KidError),
    #[error(transparent)]
    Key(#[from] TrustError),
}

/// A site (an implementing unit's counter setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// The measures this site applies.
    pub measures: Vec<String>,
    /// Past this age of its data every verdict is STALE_DATA.
    #[serde(default = "default_max_age")]
    pub max_offline_age_s: i64,
    /// How long after a redemption a supervisor may void it. Set by the
    /// registry, not at the counter; the registry checks voids against it.
    #[serde(default = "default_void_window")]
    pub void_window_s: i64,
    /// Whether redemptions may be confirmed with nobody signed in (a
    /// self-service point); they are recorded as [`UNATTENDED`].
    #[serde(default)]
    pub unattended: bool,
    /// How long a scan waits for the registry's online check before it
    /// decides from the terminal's own data (milliseconds).
    #[serde(default = "default_online_deadline")]
    pub online_deadline_ms: u32,
    /// Whether the clerk must tick that the holder of a printed card
    /// matches the masked name on their ID document before confirming.
    #[serde(default = "default_true")]
    pub check_holder: bool,
    /// Where citizens object to the list (名单异议): a base address the
    /// terminal's code appends the refusal's reference to. Absent: the
    /// terminal shows no objection code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection_url: Option<String>,
    /// Where citizens complain or make a suggestion (投诉建议), likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint_url: Option<String>,
}

/// A channel the citizen reaches from a counter's code, with the record's
/// reference (`design.md`, "The citizen's side").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// 名单异议: an objection to the list, after a refusal.
    Objection,
    /// 投诉建议: a complaint or suggestion about the service.
    Complaint,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Objection, Channel::Complaint];

    /// The site field holding the channel's address.
    pub fn field(self) -> &'static str {
        match self {
            Channel::Objection => "objection_url",
            Channel::Complaint => "complaint_url",
        }
    }
}

/// The longest channel address a site may have, in bytes: with the
/// reference appended it still makes a QR code a phone reads at arm's
/// length.
pub const MAX_CHANNEL_URL_BYTES: usize = 200;

/// Why a channel address was refused. Worded to follow the address or
/// the field that holds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelUrlError {
    #[error("is empty")]
    Empty,
    #[error("is {0} bytes long, at most {MAX_CHANNEL_URL_BYTES}")]
    TooLong(usize),
    #[error("holds a space or control character at byte {0}")]
    Control(usize),
    #[error(
        "holds {0:?}, which is not ASCII: write the host in punycode and percent-encode the path"
    )]
    NotAscii(char),
    #[error("holds {0:?}, which an address must percent-encode")]
    Unsafe(char),
    #[error("has a fragment (#…), which would cut the reference off")]
    Fragment,
    #[error("must start with http:// or https://")]
    Scheme,
    #[error("has no host after the scheme")]
    NoHost,
    #[error("names a user before the host (user@host)")]
    UserInfo,
}

/// Checks a channel's base address: `http` or `https`, a host, at most
/// [`MAX_CHANNEL_URL_BYTES`], printable ASCII with nothing a URL must
/// encode, and no fragment. A query is allowed (the reference joins it).
pub fn check_channel_url(url: &str) -> Result<(), ChannelUrlError> {
    if url.is_empty() {
        return Err(ChannelUrlError::Empty);
    }
    if url.len() > MAX_CHANNEL_URL_BYTES {
        return Err(ChannelUrlError::TooLong(url.len()));
    }
    for (i, c) in url.char_indices() {
        if c.is_control() || c.is_whitespace() {
            return Err(ChannelUrlError::Control(i));
        }
        if !c.is_ascii() {
            return Err(ChannelUrlError::NotAscii(c));
        }
        if matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}') {
            return Err(ChannelUrlError::Unsafe(c));
        }
        if c == '#' {
            return Err(ChannelUrlError::Fragment);
        }
    }
    let lower = url.to_ascii_lowercase();
    let rest = ["https://", "http://"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| &url[p.len()..])
        .ok_or(ChannelUrlError::Scheme)?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(ChannelUrlError::UserInfo);
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.is_empty() {
        return Err(ChannelUrlError::NoHost);
    }
    Ok(())
}

/// What a query value leaves as it is: the unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` with every byte but the unreserved ones percent-encoded, so it
/// stays one query value (or one path segment).
pub fn query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

impl Site {
    /// The channel's base address as the registry set it, if any.
    pub fn channel_url(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Objection => self.objection_url.as_deref(),
            Channel::Complaint => self.complaint_url.as_deref(),
        }
    }

    /// The address a counter's code for `channel` carries: the base with
    /// `ref=<reference>` joined to its query. `None` when the site has no
    /// such channel, or its address does not pass [`check_channel_url`]
    /// (no code rather than a wrong one).
    pub fn channel_link(&self, channel: Channel, reference: &str) -> Option<String> {
        let base = self.channel_url(channel)?;
        check_channel_url(base).ok()?;
        let join = match base.find('?') {
            None => "?",
            Some(_) if base.ends_with(['?', '&']) => "",
            Some(_) => "&",
        };
        Some(format!("{base}{join}ref={}", query_value(reference)))
    }
}

/// The operator recorded for a redemption confirmed at an unattended site.
pub const UNATTENDED: &str = "unattended";
/// The void window unless the registry sets another: 30 minutes.
pub const DEFAULT_VOID_WINDOW_S: i64 = 30 * 60;
/// The longest void window a site may have: a day.
pub const MAX_VOID_WINDOW_S: i64 = 86_400;

fn default_max_age() -> i64 {
    DEFAULT_MAX_OFFLINE_AGE_S
}

fn default_void_window() -> i64 {
    DEFAULT_VOID_WINDOW_S
}

/// The online check's deadline unless the registry sets another: short
/// enough that a clerk does not notice the wait when the hub is away.
pub const DEFAULT_ONLINE_DEADLINE_MS: u32 = 300;
/// The longest online deadline a site may have.
pub const MAX_ONLINE_DEADLINE_MS: u32 = 2000;

fn default_online_deadline() -> u32 {
    DEFAULT_ONLINE_DEADLINE_MS
}

fn default_true() -> bool {
    true
}

/// The artefact as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub trust: Vec<TrustEntry>,
    /// Revoked printed cards' cti, hex.
    pub revoked_cards: Vec<String>,
    /// The measures catalogue, as TOML text.
    pub catalogue: String,
    pub sites: Vec<Site>,
}

/// The artefact, checked and parsed.
#[derive(Debug, Clone)]
pub struct ParsedConfig {
    pub trust: Vec<TrustedKey>,
    pub revoked_cards: Vec<Cti>,
    pub catalogue: Catalogue,
    pub sites: Vec<Site>,
}

impl Config {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks everything: keys, ctis, the catalogue, and that
    /// every site's measures are in the catalogue.
    pub fn parse(bytes: &[u8]) -> Result<ParsedConfig, WireError> {
        let c: Config =
            serde_json::from_slice(bytes).map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        let trust = c
            .trust
            .iter()
            .map(|t| {
                t.to_key()
                    .map_err(|e| WireError::malformed(WHAT, format!("trust entry {}: {e}", t.kid)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let revoked_cards = c
            .revoked_cards
            .iter()
            .map(|h| {
                Cti::from_hex(h)
                    .map_err(|e| WireError::malformed(WHAT, format!("revoked card {h:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let catalogue = Catalogue::from_toml(&c.catalogue)
            .map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        for s in &c.sites {
            if let Some(m) = s.measures.iter().find(|m| catalogue.get(m).is_none()) {
                return Err(WireError::malformed(
                    WHAT,
                    format!(
                        "site {} names measure {m}, which is not in the catalogue",
                        s.id
                    ),
                ));
            }
            if !(0..=MAX_VOID_WINDOW_S).contains(&s.void_window_s) {
                return Err(WireError::malformed(
                    WHAT,
                    format!("site {} has void_window_s {}", s.id, s.void_window_s),
                ));
            }
            if s.online_deadline_ms > MAX_ONLINE_DEADLINE_MS {
                return Err(WireError::malformed(
                    WHAT,
                    format!(
                        "site {} has online_deadline_ms {}, at most {MAX_ONLINE_DEADLINE_MS}",
                        s.id, s.online_deadline_ms
                    ),
                ));
            }
            for ch in Channel::ALL {
                if let Some(url) = s.channel_url(ch)
                    && let Err(e) = check_channel_url(url)
                {
                    return Err(WireError::malformed(
                        WHAT,
                        format!("site {}: {} {e}", s.id, ch.field()),
                    ));
                }
            }
            if s.max_offline_age_s <= 0 {
                return Err(WireError::malformed(
                    WHAT,
                    format!(
                        "site {} has max_offline_age_s {}",
                        s.id, s.max_offline_age_s
                    ),
                ));
            }
        }
        Ok(ParsedConfig {
            trust,
            revoked_cards,
            catalogue,
            sites: c.sites,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal's reference as the terminal makes it: a record id, hex.
    const REFERENCE: &str = "9f2c41d07a6b4e1c8d3e5f60718293a4";

    fn site(objection: Option<&str>, complaint: Option<&str>) -> Site {
        Site {
            id: "bus-1".into(),
            name: "江城公交充值点".into(),
            unit: "阳江市公共交通有限公司".into(),
            measures: vec!["XYX-BUS-TOPUP".into()],
            max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
            void_window_s: DEFAULT_VOID_WINDOW_S,
            unattended: false,
            online_deadline_ms: DEFAULT_ONLINE_DEADLINE_MS,
            check_holder: true,
            objection_url: objection.map(str::to_owned),
            complaint_url: complaint.map(str::to_owned),
        }
    }

    #[test]
    fn a_link_appends_the_reference_to_the_base() {
        let s = site(
            Some("https://xyjl.example.gov.cn/c/objection"),
            Some("http://10.0.0.5:8470/c/complaint"),
        );
        assert_eq!(
            s.channel_link(Channel::Objection, REFERENCE).as_deref(),
            Some(format!("https://xyjl.example.gov.cn/c/objection?ref={REFERENCE}").as_str())
        );
        assert_eq!(
            s.channel_link(Channel::Complaint, REFERENCE).as_deref(),
            Some(format!("http://10.0.0.5:8470/c/complaint?ref={REFERENCE}").as_str())
        );
    }

    #[test]
    fn a_link_joins_a_query_the_base_already_has() {
        for (base, link) in [
            (
                "https://12345.gov.cn/form?type=yiyi",
                "https://12345.gov.cn/form?type=yiyi&ref=",
            ),
            (
                "https://12345.gov.cn/form?",
                "https://12345.gov.cn/form?ref=",
            ),
            (
                "https://12345.gov.cn/form?a=1&",
                "https://12345.gov.cn/form?a=1&ref=",
            ),
        ] {
            let s = site(Some(base), None);
            assert_eq!(
                s.channel_link(Channel::Objection, REFERENCE),
                Some(format!("{link}{REFERENCE}")),
                "{base}"
            );
        }
    }

    #[test]
    fn a_reference_stays_one_query_value() {
        let s = site(None, Some("https://a.example/c"));
        assert_eq!(
            s.channel_link(Channel::Complaint, "a b&c=d#e/中")
                .as_deref(),
            Some("https://a.example/c?ref=a%20b%26c%3Dd%23e%2F%E4%B8%AD")
        );
    }

    #[test]
    fn no_address_or_a_bad_one_makes_no_link() {
        let s = site(None, Some("ftp://a.example/c"));
        assert_eq!(s.channel_link(Channel::Objection, REFERENCE), None);
        assert_eq!(s.channel_link(Channel::Complaint, REFERENCE), None);
        assert_eq!(
            s.channel_url(Channel::Complaint),
            Some("ftp://a.example/c"),
            "the address is kept as given; only the link is withheld"
        );
    }

    #[test]
    fn addresses_that_pass() {
        for url in [
            "https://xyjl.example.gov.cn",
            "https://xyjl.example.gov.cn/c/objection",
            "HTTPS://XYJL.EXAMPLE.GOV.CN/c/objection",
            "http://127.0.0.1:8470/c/complaint",
            "http://[::1]:8470/c/complaint",
            "https://12345.gov.cn/form?type=yiyi&x=%E4%B8%AD",
        ] {
            assert_eq!(check_channel_url(url), Ok(()), "{url}");
        }
        let longest = format!("https://a.example/{}", "p".repeat(200 - 18));
        assert_eq!(longest.len(), MAX_CHANNEL_URL_BYTES);
        assert_eq!(check_channel_url(&longest), Ok(()));
    }

    #[test]
    fn addresses_refused_and_why() {
        use ChannelUrlError as E;
        let too_long = format!("https://a.example/{}", "p".repeat(200 - 17));
        for (url, want) in [
            ("", E::Empty),
            (too_long.as_str(), E::TooLong(201)),
            ("ftp://a.example/c", E::Scheme),
            ("javascript:alert(1)", E::Scheme),
            ("file:///etc/passwd", E::Scheme),
            ("xyjl.example.gov.cn/c", E::Scheme),
            ("http:/a.example/c", E::Scheme),
            ("https://", E::NoHost),
            ("https:///c/objection", E::NoHost),
            ("https://:8470/c", E::NoHost),
            ("https://a.example/c d", E::Control(19)),
            ("https://a.example/c\n", E::Control(19)),
            ("https://a.example/c\t", E::Control(19)),
            ("https://a.example/\u{7f}", E::Control(18)),
            ("https://a.example/\u{0}", E::Control(18)),
            ("https://a.example/\u{3000}", E::Control(18)),
            (" https://a.example/c", E::Control(0)),
            ("https://a.example/异议", E::NotAscii('异')),
            ("https://a.example/<c>", E::Unsafe('<')),
            ("https://a.example/\"c", E::Unsafe('"')),
            ("https://a.example/c#top", E::Fragment),
            ("https://a.example/c?x=1#", E::Fragment),
            ("https://user@a.example/c", E::UserInfo),
            ("https://a.example@evil.example/c", E::UserInfo),
        ] {
            assert_eq!(check_channel_url(url), Err(want), "{url:?}");
        }
    }

    #[test]
    fn refusals_read_after_the_field() {
        let e = check_channel_url("ftp://a.example").unwrap_err();
        assert_eq!(
            format!("objection_url {e}"),
            "objection_url must start with http:// or https://"
        );
        let e = check_channel_url(&"h".repeat(300)).unwrap_err();
        assert_eq!(e.to_string(), "is 300 bytes long, at most 200");
    }
}
