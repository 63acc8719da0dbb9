//! How the hub reaches PostgreSQL: in clear on this machine, over TLS
//! whose server certificate is checked otherwise.
//!
//! The rules, from the address and `database_ca` in `hub.toml`:
//! - `database_ca` names a PEM file of CA certificates: TLS is required,
//!   and the server's certificate must chain to one of them and name the
//!   host of the address (libpq's `verify-full`).
//! - `sslmode=require` in the address, without `database_ca`: the same,
//!   against the system's CAs.
//! - Otherwise the connection is in clear, which is allowed only to this
//!   machine (a Unix socket, `localhost`, a loopback address) or when the
//!   address says `sslmode=disable` outright: a hub whose PostgreSQL is
//!   on another machine does not send its password and the registry's
//!   records over the network in clear by default.
//!
//! The TLS is rustls with the aws-lc-rs provider the rest of the hub
//! uses; tokio-postgres offers SCRAM channel binding over it (not
//! tested here: the test server trusts its local connections).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls_improved::MakeRustlsConnect;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::error::HubError;

/// Whose certificates the server's must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The CA certificates in this PEM file (`database_ca`).
    CaFile(PathBuf),
    /// The system's CAs.
    System,
}

/// How connections are made, decided from the settings alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// In clear.
    Plain,
    /// TLS, required, the server's certificate checked against `Trust`.
    Tls(Trust),
}

impl std::fmt::Display for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trust::CaFile(ca) => write!(f, "a CA in database_ca {}", ca.display()),
            Trust::System => f.write_str("a CA the system trusts (sslmode=require)"),
        }
    }
}

/// The transport a pool's connections use.
pub enum Transport {
    Plain,
    Tls(MakeRustlsConnect, Trust),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Plain => f.write_str("in clear"),
            Transport::Tls(_, trust) => write!(f, "over TLS, checked against {trust}"),
        }
    }
}

/// Whether every host the address names is this machine.
fn local_only(config: &tokio_postgres::Config) -> bool {
    let loopback = |s: &str| {
        s.eq_ignore_ascii_case("localhost")
            || s.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    // With `hostaddr`, the addresses are what is connected to.
    if !config.get_hostaddrs().is_empty() {
        return config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    }
    config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => loopback(name),
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

/// The first host that is not this machine, for messages.
fn first_remote(config: &tokio_postgres::Config) -> String {
    if let Some(ip) = config.get_hostaddrs().iter().find(|ip| !ip.is_loopback()) {
        return ip.to_string();
    }
    config
        .get_hosts()
        .iter()
        .find_map(|h| match h {
            Host::Tcp(name) => Some(name.clone()),
            #[cfg(unix)]
            Host::Unix(_) => None,
        })
        .unwrap_or_default()
}

/// Decides how to connect to the database `config` names (`shown` is
/// its address without a password, for messages), with `ca` the file
/// `database_ca` names, if any. Reads no file.
pub fn plan(
    config: &tokio_postgres::Config,
    shown: &str,
    ca: Option<&Path>,
) -> Result<Plan, String> {
    match (config.get_ssl_mode(), ca) {
        (SslMode::Disable, Some(ca)) => Err(format!(
            "database_ca is set ({}), but the address {shown} says sslmode=disable: \
             remove one of the two",
            ca.display()
        )),
        (_, Some(ca)) => Ok(Plan::Tls(Trust::CaFile(ca.to_owned()))),
        (SslMode::Require, None) => Ok(Plan::Tls(Trust::System)),
        (SslMode::Disable, None) => Ok(Plan::Plain),
        (_, None) if local_only(config) => Ok(Plan::Plain),
        (_, None) => Err(format!(
            "the PostgreSQL server of {shown} ({}) is not on this machine, and nothing \
             asks for TLS: set database_ca in hub.toml to the PEM file of the CA that \
             signed the server's certificate (or add sslmode=require to the address to \
             check it against the system's CAs); or add sslmode=disable to the address \
             to send the password and the registry's data in clear",
            first_remote(config)
        )),
    }
}

/// The CA certificates in the PEM file at `path`.
fn roots_from(path: &Path) -> Result<RootCertStore, HubError> {
    let pem = std::fs::read(path).map_err(HubError::io(path))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            HubError::Invalid(format!(
                "database_ca {}: not a PEM certificate file: {e}",
                path.display()
            ))
        })?;
        roots.add(cert).map_err(|e| {
            HubError::Invalid(format!(
                "database_ca {}: a certificate in it cannot be a CA: {e}",
                path.display()
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(HubError::Invalid(format!(
            "database_ca {}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(roots)
}

/// The transport for `plan`; for TLS, sets `config` to require it.
pub fn transport(config: &mut tokio_postgres::Config, plan: Plan) -> Result<Transport, HubError> {
    let trust = match plan {
        Plan::Plain => {
            // Not even offered: the server could otherwise pick it with
            // nothing checked.
            config.ssl_mode(SslMode::Disable);
            return Ok(Transport::Plain);
        }
        Plan::Tls(trust) => trust,
    };
    config.ssl_mode(SslMode::Require);
    let builder = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| HubError::Internal(format!("TLS protocol versions: {e}")))?;
    let tls = match &trust {
        Trust::CaFile(path) => builder
            .with_root_certificates(roots_from(path)?)
            .with_no_client_auth(),
        Trust::System => {
            use rustls_platform_verifier::BuilderVerifierExt as _;
            builder
                .with_platform_verifier()
                .map_err(|e| {
                    HubError::Invalid(format!(
                        "database: sslmode=require checks the server's certificate against the \
                         system's CAs, which cannot be read ({e}): set database_ca in hub.toml"
                    ))
                })?
                .with_no_client_auth()
        }
    };
    Ok(Transport::Tls(MakeRustlsConnect::new(tls), trust))
}

/// Whether a connection failed in its TLS handshake: rustls's own error
/// is in the chain of causes (as the handshake's I/O error carries it),
/// whatever the words of the messages around it.
fn failed_in_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        let rustls = e.is::<tokio_rustls::rustls::Error>()
            || e.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>());
        if rustls {
            return true;
        }
        next = e.source();
    }
    false
}

/// Words added to a connection's `error` when its TLS handshake failed
/// (`failed_in_tls`; a refusal by the server itself never did): what
/// the server's certificate must be.
pub fn hint(transport: &Transport, error: &(dyn std::error::Error + 'static)) -> String {
    match transport {
        Transport::Tls(_, trust) if failed_in_tls(error) => format!(
            " (over TLS: the server's certificate must be signed by {trust} and name the \
             address's host{})",
            if *trust == Trust::System {
                "; set database_ca in hub.toml to trust a CA of your own"
            } else {
                ""
            }
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS failure is told by rustls's error among the causes, not by
    /// the words of a message: a refused certificate inside the
    /// handshake's I/O error is one; a refused connection, or a message
    /// that merely mentions a certificate, is not.
    #[test]
    fn a_tls_failure_is_told_by_rustls_error_among_the_causes() {
        use tokio_rustls::rustls::{CertificateError, Error as TlsError};
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error performing TLS handshake")
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let refused = || TlsError::InvalidCertificate(CertificateError::UnknownIssuer);
        let in_io = std::io::Error::new(std::io::ErrorKind::InvalidData, refused());
        assert!(failed_in_tls(&refused()));
        assert!(failed_in_tls(&in_io));
        assert!(failed_in_tls(&Wrapped(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            refused()
        ))));
        let closed = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!failed_in_tls(&closed));
        let words = std::io::Error::other("the certificate of the TLS handshake");
        assert!(!failed_in_tls(&Wrapped(words)));
        // In clear there is no certificate to speak of.
        assert_eq!(hint(&Transport::Plain, &in_io), "");
    }

    fn plan_of(url: &str, ca: Option<&Path>) -> Result<Plan, String> {
        let config: tokio_postgres::Config = url.parse().unwrap();
        plan(&config, url, ca)
    }

    #[test]
    fn this_machine_is_reached_in_clear_unless_tls_is_asked_for() {
        for url in [
            "postgres://x@127.0.0.1/db",
            "postgres://x@localhost:5433/db",
            "postgres://x@[::1]/db",
            "host=/run/postgresql user=x dbname=db",
            "host=db.example hostaddr=127.0.0.1 user=x dbname=db",
        ] {
            assert_eq!(plan_of(url, None), Ok(Plan::Plain), "{url}");
        }
        let ca = Path::new("/etc/xinyi/db-ca.pem");
        assert_eq!(
            plan_of("postgres://x@127.0.0.1/db", Some(ca)),
            Ok(Plan::Tls(Trust::CaFile(ca.to_owned())))
        );
        assert_eq!(
            plan_of("postgres://x@localhost/db?sslmode=require", None),
            Ok(Plan::Tls(Trust::System))
        );
    }

    #[test]
    fn another_machine_is_reached_over_checked_tls_or_in_clear_only_when_the_address_says_so() {
        let err = plan_of("postgres://x@db.example/db", None).unwrap_err();
        assert!(
            err.contains("db.example") && err.contains("database_ca"),
            "{err}"
        );
        let err = plan_of("postgres://x@10.0.0.5/db?sslmode=prefer", None).unwrap_err();
        assert!(err.contains("10.0.0.5"), "{err}");
        let err = plan_of("host=db.example hostaddr=10.1.2.3 user=x", None).unwrap_err();
        assert!(err.contains("10.1.2.3"), "{err}");
        assert_eq!(
            plan_of("postgres://x@127.0.0.1,db.example/db?sslmode=require", None),
            Ok(Plan::Tls(Trust::System))
        );
        assert_eq!(
            plan_of("postgres://x@db.example/db?sslmode=disable", None),
            Ok(Plan::Plain)
        );
        let ca = Path::new("ca.pem");
        assert_eq!(
            plan_of("postgres://x@db.example/db", Some(ca)),
            Ok(Plan::Tls(Trust::CaFile(ca.to_owned())))
        );
        let err = plan_of("postgres://x@db.example/db?sslmode=disable", Some(ca)).unwrap_err();
        assert!(
            err.contains("sslmode=disable") && err.contains("ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let mut config: tokio_postgres::Config = "postgres://x@127.0.0.1/db".parse().unwrap();
        let Err(err) = transport(&mut config, Plan::Tls(Trust::CaFile(path.clone()))) else {
            panic!("a CA file without a certificate was accepted");
        };
        let err = err.to_string();
        assert!(
            err.contains("no certificate") && err.contains("ca.pem"),
            "{err}"
        );
        let Err(err) = transport(
            &mut config,
            Plan::Tls(Trust::CaFile(dir.path().join("missing.pem"))),
        ) else {
            panic!("a missing CA file was accepted");
        };
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
