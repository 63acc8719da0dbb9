//! TLS for the hub: the rustls server settings from PEM files (with the
//! aws-lc-rs provider the rest of the tree uses), and self-signed
//! certificates for small deployments (`xinyi-hub tls self-signed`),
//! whose SHA-256 fingerprint the operator compares on the terminals.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer};

use crate::clock::{Clock as _, SystemClock};
use crate::config::TlsFiles;
use crate::error::HubError;

/// The server settings for a certificate chain and its key, both PEM.
/// `cert_what` and `key_what` name them in errors.
fn server_config_named(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_what: &str,
    key_what: &str,
) -> Result<Arc<ServerConfig>, HubError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HubError::Invalid(format!("{cert_what}: not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(HubError::Invalid(format!(
            "{cert_what}: no certificate in it (expected -----BEGIN CERTIFICATE-----)"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        HubError::Invalid(format!(
            "{key_what}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1): {e}"
        ))
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| HubError::Internal(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            HubError::Invalid(format!(
                "{cert_what} and {key_what} cannot be used together: {e}"
            ))
        })?;
    // Terminals speak HTTP/1.1; saying so lets clients that offer h2 fall back.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server settings for a PEM certificate chain and private key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, HubError> {
    server_config_named(cert_pem, key_pem, "the TLS certificate", "the TLS key")
}

/// The server settings from the files `tls_cert` and `tls_key` name.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, HubError> {
    let read = |p: &Path| std::fs::read(p).map_err(HubError::io(p));
    server_config_named(
        &read(&files.cert)?,
        &read(&files.key)?,
        &format!("tls_cert {}", files.cert.display()),
        &format!("tls_key {}", files.key.display()),
    )
}

/// A self-signed certificate and its key.
#[derive(Clone)]
pub struct SelfSigned {
    pub cert_pem: String,
    /// PKCS#8 PEM: keep it secret.
    pub key_pem: String,
    /// The certificate's SHA-256, as `AB:CD:…` (what browsers and
    /// `openssl x509 -fingerprint -sha256` show).
    pub sha256: String,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 of a DER certificate as `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    let mut s = String::with_capacity(95);
    for (i, b) in Sha256::digest(der).iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Makes a self-signed certificate (ECDSA P-256) for the DNS `names` and
/// IP addresses `ips`, valid from a day ago for `days` days.
pub fn self_signed(names: &[String], ips: &[IpAddr], days: u32) -> Result<SelfSigned, HubError> {
    if names.is_empty() && ips.is_empty() {
        return Err(HubError::Invalid(
            "a certificate needs at least one --name or --ip that terminals use to reach the hub"
                .into(),
        ));
    }
    if !(1..=36_500).contains(&days) {
        return Err(HubError::Invalid(format!(
            "--days must be 1 to 36500, got {days}"
        )));
    }
    for n in names {
        if n.trim().parse::<IpAddr>().is_ok() {
            return Err(HubError::Invalid(format!(
                "{n:?} is an IP address: give it with --ip"
            )));
        }
        if DnsName::try_from(n.trim()).is_err() {
            return Err(HubError::Invalid(format!(
                "{n:?} is not a DNS name such as credit.example.gov.cn"
            )));
        }
    }
    let sans: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_owned())
        .chain(ips.iter().map(IpAddr::to_string))
        .collect();
    let mut params = rcgen::CertificateParams::new(sans)
        .map_err(|e| HubError::Invalid(format!("bad certificate name: {e}")))?;
    let cn = names
        .first()
        .cloned()
        .or_else(|| ips.first().map(IpAddr::to_string))
        .unwrap_or_default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "xinyi-hub");
    let now = SystemClock.now().0;
    let day = 86_400;
    let at = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map_err(|e| HubError::Internal(format!("certificate validity: {e}")))
    };
    params.not_before = at(now - day)?;
    params.not_after = at(now + i64::from(days) * day)?;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate()
        .map_err(|e| HubError::Internal(format!("cannot make a key: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| HubError::Invalid(format!("cannot make the certificate: {e}")))?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        sha256: fingerprint(cert.der()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_makes_server_settings() {
        let s = self_signed(&["hub.example".into()], &["127.0.0.1".parse().unwrap()], 30).unwrap();
        assert!(s.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(s.key_pem.contains("PRIVATE KEY"));
        assert_eq!(s.sha256.len(), 95);
        let der = CertificateDer::from_pem_slice(s.cert_pem.as_bytes()).unwrap();
        assert_eq!(fingerprint(&der), s.sha256);
        let config = server_config(s.cert_pem.as_bytes(), s.key_pem.as_bytes()).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn bad_input_is_named() {
        let a = self_signed(&["a.example".into()], &[], 1).unwrap();
        let b = self_signed(&["b.example".into()], &[], 1).unwrap();
        let e = server_config(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("cannot be used together"), "{e}");
        let e = server_config(b"hello", a.key_pem.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        let e = server_config(a.cert_pem.as_bytes(), a.cert_pem.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("private key"), "{e}");
        assert!(self_signed(&[], &[], 1).is_err());
        assert!(self_signed(&["10.0.0.5".into()], &[], 1).is_err());
        assert!(self_signed(&["a.example".into()], &[], 0).is_err());
        assert!(self_signed(&["bad name!".into()], &[], 1).is_err());
    }
}
