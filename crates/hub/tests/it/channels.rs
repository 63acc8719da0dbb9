//! The citizens' channels in the published config: every site's objection
//! and complaint addresses are the registry's pages under `public_url`
//! (or under the address `listen` gives), a site's own where the credit
//! office set one, none when the hub has no public address; a changed
//! `public_url` is published by `serve`'s start-up step; a bad address is
//! refused, naming it, and publishes nothing (`design.md`, "The citizen's
//! side").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::sync::Arc;

use common::{MEASURE, SITE, UNIT};
use xinyi_core::wire::config::{Channel, Config, ParsedConfig, Site};
use xinyi_hub::http::Server;
use xinyi_hub::{Hub, SiteSpec};

const PUBLIC: &str = "https://xyjl.example.gov.cn";
const OWN: &str = "https://12345.example.gov.cn/form?kind=ts";

/// `common::hub` with `settings` as its hub.toml.
fn hub_with(dir: &Path, settings: &str) -> Hub {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("hub.toml"), settings).unwrap();
    common::hub(dir)
}

/// The config a terminal enrolled at [`SITE`] downloads, parsed as the
/// terminal parses it.
async fn downloaded(hub: &Arc<Hub>) -> ParsedConfig {
    let server = Server::start(Arc::clone(hub)).await.unwrap();
    let t = common::Terminal::new(hub, &server.url());
    let code = hub.create_enrollment_code(SITE, None).unwrap().code;
    let (_, registry) = t.enroll(&code).await;
    let meta = t.metadata(0, &registry).await;
    let bytes = t.artefact(meta.config).await;
    server.stop().await.unwrap();
    Config::parse(&bytes).unwrap()
}

/// The config artefact of the latest version, parsed as a terminal
/// parses it.
fn published(hub: &Hub) -> ParsedConfig {
    Config::parse(&hub.current_config().unwrap().unwrap().to_bytes()).unwrap()
}

fn site<'a>(c: &'a ParsedConfig, id: &str) -> &'a Site {
    c.sites.iter().find(|s| s.id == id).unwrap()
}

fn own_site(id: &str, objection: Option<&str>, complaint: Option<&str>) -> SiteSpec {
    SiteSpec {
        id: id.into(),
        name: "大角湾景区售票处".into(),
        unit: UNIT.into(),
        measures: vec![MEASURE.into()],
        objection_url: objection.map(str::to_owned),
        complaint_url: complaint.map(str::to_owned),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_published_config_carries_the_registrys_pages_and_a_sites_own() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_with(
        &tmp.path().join("hub"),
        &format!("public_url = \"{PUBLIC}/\"\n"),
    );
    hub.add_site(&own_site("scenic-1", None, Some(OWN)))
        .unwrap();
    let hub = Arc::new(hub);
    let config = downloaded(&hub).await;

    let bus = site(&config, SITE);
    assert_eq!(
        bus.objection_url,
        Some(format!("{PUBLIC}/c/objection")),
        "{bus:?}"
    );
    assert_eq!(bus.complaint_url, Some(format!("{PUBLIC}/c/complaint")));
    let scenic = site(&config, "scenic-1");
    assert_eq!(scenic.objection_url, Some(format!("{PUBLIC}/c/objection")));
    assert_eq!(scenic.complaint_url.as_deref(), Some(OWN));
    let reference = xinyi_core::hex::encode(&[0xa5; 16]);
    assert_eq!(
        scenic.channel_link(Channel::Complaint, &reference),
        Some(format!("{OWN}&ref={reference}"))
    );

    // What the credit office set is kept apart from what is published:
    // the site list says which address is the site's own.
    let set: Vec<_> = hub.sites().unwrap();
    let set_bus = set.iter().find(|s| s.id == SITE).unwrap();
    assert_eq!(
        (&set_bus.objection_url, &set_bus.complaint_url),
        (&None, &None)
    );

    // Taking the site's own address away publishes the registry's again.
    let before = hub.current_version().unwrap().unwrap().version;
    let p = hub.add_site(&own_site("scenic-1", None, None)).unwrap();
    assert!(p.new_version && p.version > before);
    let config = downloaded(&hub).await;
    assert_eq!(
        site(&config, "scenic-1").complaint_url,
        Some(format!("{PUBLIC}/c/complaint"))
    );
}

#[tokio::test]
async fn without_public_url_the_address_follows_listen_or_there_is_none() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_with(
        &tmp.path().join("a"),
        "listen = \"10.20.30.40:8470\"\ntls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n",
    );
    let config = published(&hub);
    assert_eq!(
        site(&config, SITE).objection_url.as_deref(),
        Some("https://10.20.30.40:8470/c/objection")
    );

    // Listening on every address names no host citizens can reach: no
    // addresses, and the config is the bytes it was before channels.
    let hub = Arc::new(hub_with(
        &tmp.path().join("b"),
        "listen = \"0.0.0.0:8470\"\nplain_http_behind_proxy = true\n",
    ));
    let config = downloaded(&hub).await;
    let bus = site(&config, SITE);
    assert_eq!((&bus.objection_url, &bus.complaint_url), (&None, &None));
    let published = hub.current_config().unwrap().unwrap();
    let text = String::from_utf8(published.to_bytes()).unwrap();
    assert!(!text.contains("objection_url"), "{text}");
    // A site's own address still goes out.
    hub.add_site(&own_site("scenic-1", Some(OWN), None))
        .unwrap();
    let config = downloaded(&hub).await;
    assert_eq!(
        site(&config, "scenic-1").objection_url.as_deref(),
        Some(OWN)
    );
    assert_eq!(site(&config, "scenic-1").complaint_url, None);
}

#[test]
fn a_changed_public_url_is_published_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let hub = hub_with(&dir, &format!("public_url = \"{PUBLIC}\"\n"));
    // Nothing changed since the last publication: nothing to publish.
    let held = hub.current_version().unwrap().unwrap().version;
    let p = hub.publish_settings().unwrap();
    assert_eq!((p.version, p.new_version), (held, false));
    drop(hub);

    let moved = "https://credit.example.gov.cn/xyjl";
    let settings = format!("public_url = \"{moved}\"\n");
    let config = common::settings(&dir, &settings);
    let hub = Hub::open_with_config(&dir, config).unwrap();
    let p = hub.publish_settings().unwrap();
    assert_eq!((p.version, p.new_version), (held + 1, true));
    let published = hub.current_config().unwrap().unwrap();
    assert_eq!(
        published.sites[0].complaint_url,
        Some(format!("{moved}/c/complaint"))
    );
    let p = hub.publish_settings().unwrap();
    assert_eq!((p.version, p.new_version), (held + 1, false));
}

#[test]
fn a_bad_address_is_refused_naming_it_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = hub_with(&tmp.path().join("hub"), "");
    let held = hub.current_version().unwrap().unwrap().version;
    let long = format!("https://a.example/{}", "p".repeat(200));
    for (objection, complaint, says) in [
        (Some("ftp://a.example/c"), None, "objection"),
        (Some("javascript:alert(1)"), None, "objection"),
        (None, Some("https://a.example/c d"), "complaint"),
        (None, Some("https://a.example/c\u{1b}[2J"), "complaint"),
        (None, Some("https://a.example/c#top"), "complaint"),
        (None, Some(long.as_str()), "complaint"),
    ] {
        let e = hub
            .add_site(&own_site("scenic-1", objection, complaint))
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{objection:?} {complaint:?}: {e}");
    }
    assert_eq!(hub.current_version().unwrap().unwrap().version, held);
    assert!(hub.sites().unwrap().iter().all(|s| s.id != "scenic-1"));
}

/// With no public address (TLS at a reverse proxy and no `public_url`),
/// `serve` warns when it starts that sites without addresses of their own
/// get no objection or complaint codes, naming `public_url`; with
/// `public_url` set it says nothing of it.
#[test]
fn serve_without_a_public_address_warns_naming_public_url() {
    use crate::daemon::{Daemon, hub_dir};
    let (_tmp, dir) = hub_dir();
    let log = Daemon::start(&dir, "plain_http_behind_proxy = true\n").stop();
    assert!(
        log.iter().any(|l| l.contains("WARN")
            && l.contains("no objection or complaint codes")
            && l.contains("set public_url")),
        "{}",
        log.join("\n")
    );
    let log = Daemon::start(&dir, &format!("public_url = \"{PUBLIC}\"\n")).stop();
    assert!(
        !log.iter().any(|l| l.contains("no public_url")),
        "{}",
        log.join("\n")
    );
}
