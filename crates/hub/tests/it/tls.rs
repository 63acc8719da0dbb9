//! TLS: `xinyi-hub tls self-signed` writes a certificate and a private
//! key (mode 0600) and prints the certificate's SHA-256; a hub serving
//! with them answers a client that trusts the certificate and fails the
//! handshake of one that does not; `serve` reads them from hub.toml; and
//! plain HTTP on an address other machines reach is refused at start.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::daemon;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::*;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use xinyi_hub::http::Server;

fn run(args: &[&str]) -> Output {
    Command::new(daemon::bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Makes cert.pem and key.pem in `out` for localhost and 127.0.0.1;
/// returns the fingerprint printed.
fn make_pair(out: &Path) -> String {
    let o = run(&[
        "tls",
        "self-signed",
        "--name",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("SHA-256 fingerprint: "))
        .unwrap_or_else(|| panic!("no fingerprint in {stdout}"))
        .to_owned()
}

fn trusting(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem).unwrap()])
        .build()
        .unwrap()
}

#[test]
fn self_signed_writes_a_secret_key_and_prints_the_fingerprint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tls");
    let fp = make_pair(&out);
    let cert = std::fs::read(out.join("cert.pem")).unwrap();
    let der = CertificateDer::from_pem_slice(&cert).unwrap();
    assert_eq!(fp, xinyi_hub::http::tls::fingerprint(&der));
    assert_eq!(fp.len(), 32 * 3 - 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "key.pem mode {mode:o}");
    }
    // Never overwritten.
    let o = run(&[
        "tls",
        "self-signed",
        "--name",
        "localhost",
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(std::fs::read(out.join("cert.pem")).unwrap(), cert);
    // A bad name is refused with the reason.
    let o = run(&[
        "tls",
        "self-signed",
        "--name",
        "not a name",
        "--out-dir",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a DNS name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_the_certificate_syncs_and_others_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tls");
    make_pair(&out);
    let cert = std::fs::read(out.join("cert.pem")).unwrap();
    let key = std::fs::read(out.join("key.pem")).unwrap();
    let hub = common::hub(&tmp.path().join("hub"));
    hub.import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let hub = Arc::new(hub);
    let server = Server::start_tls(Arc::clone(&hub), &cert, &key)
        .await
        .unwrap();
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let v: serde_json::Value = trusting(&cert)
        .get(format!("{url}/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true);

    // A terminal over TLS: enrollment, signed metadata.
    let code = hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&hub, &url);
    t.http = trusting(&cert);
    let (_, registry) = t.enroll(&code.code).await;
    let m = t.metadata(0, &registry).await;
    assert_eq!(m.terminal.unwrap().id, t.id);

    // A client that does not trust the certificate fails the handshake.
    let e = reqwest::Client::new()
        .get(format!("{url}/v1/health"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e:?}");
    // Nor does another self-signed certificate vouch for it.
    let other = xinyi_hub::http::tls::self_signed(&[], &["127.0.0.1".parse().unwrap()], 1).unwrap();
    assert!(
        trusting(other.cert_pem.as_bytes())
            .get(format!("{url}/v1/health"))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = url.replace("https://", "http://");
    assert!(
        reqwest::get(format!("{plain}/v1/health"))
            .await
            .and_then(|r| r.error_for_status())
            .is_err()
    );
    server.stop().await.unwrap();
}

#[test]
fn serve_uses_the_certificate_named_in_hub_toml() {
    let (_tmp, dir) = daemon::hub_dir();
    make_pair(&dir.join("tls"));
    let cert = std::fs::read(dir.join("tls/cert.pem")).unwrap();
    let hub = daemon::Daemon::start(
        &dir,
        "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n",
    );
    let url = format!("https://{}/v1/health", hub.addr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let v: serde_json::Value = rt.block_on(async {
        trusting(&cert)
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(v["ok"], true);
    hub.stop();
}

/// Start-up refusals name what to fix, before anything listens.
#[test]
fn plain_http_to_the_network_and_bad_tls_settings_are_refused_at_start() {
    let (_tmp, dir) = daemon::hub_dir();
    let serve = |listen: &str| {
        run(&[
            "--data-dir",
            dir.to_str().unwrap(),
            "serve",
            "--listen",
            listen,
        ])
    };
    let o = serve("0.0.0.0:8470");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refusing to serve plain HTTP on 0.0.0.0:8470"),
        "{err}"
    );
    assert!(err.contains("plain_http_behind_proxy"), "{err}");
    assert!(err.contains("tls_cert"), "{err}");

    daemon::configure(&dir, "tls_cert = \"tls/cert.pem\"\n");
    let o = serve("127.0.0.1:0");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`tls_key`"), "{err}");

    daemon::configure(&dir, "tls_key = \"tls/key.pem\"\n");
    let o = serve("0.0.0.0:8470");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cert.pem"), "{err}");
}
