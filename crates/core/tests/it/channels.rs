//! The sites' channel addresses in the config artefact: optional, so a
//! config without them parses as before and one that has none is the same
//! bytes as before; an address that does not pass the check refuses the
//! artefact, naming the site and the field (`design.md`, "The citizen's
//! side").

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use xinyi_core::wire::WireError;
use xinyi_core::wire::config::{Channel, Config, Site, TrustEntry};
use xinyi_testkit::{catalogue, catalogue_text, trust_list, vectors};

fn config(objection: Option<&str>, complaint: Option<&str>) -> Config {
    let measure = catalogue().measures()[0].id.to_string();
    Config {
        trust: trust_list(&vectors()).iter().map(TrustEntry::of).collect(),
        revoked_cards: Vec::new(),
        catalogue: catalogue_text(),
        sites: vec![Site {
            id: "counter".into(),
            name: "综合服务窗口".into(),
            unit: "阳江市".into(),
            measures: vec![measure],
            max_offline_age_s: 86_400,
            void_window_s: 1800,
            unattended: false,
            online_deadline_ms: 300,
            check_holder: true,
            objection_url: objection.map(str::to_owned),
            complaint_url: complaint.map(str::to_owned),
        }],
    }
}

#[test]
fn a_config_without_addresses_is_the_bytes_it_was() {
    let bytes = config(None, None).to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains("objection_url"), "{text}");
    assert!(!text.contains("complaint_url"), "{text}");
    let parsed = Config::parse(&bytes).unwrap();
    assert_eq!(parsed.sites[0].objection_url, None);
    assert_eq!(parsed.sites[0].channel_link(Channel::Complaint, "ab"), None);
}

#[test]
fn addresses_travel_and_make_links() {
    let base = "https://xyjl.example.gov.cn/c/objection";
    let bytes = config(Some(base), Some("https://12345.gov.cn/form?type=ts")).to_bytes();
    let parsed = Config::parse(&bytes).unwrap();
    let site = &parsed.sites[0];
    assert_eq!(site.objection_url.as_deref(), Some(base));
    let reference = xinyi_core::hex::encode(&[0x5a; 16]);
    assert_eq!(
        site.channel_link(Channel::Objection, &reference),
        Some(format!("{base}?ref={reference}"))
    );
    assert_eq!(
        site.channel_link(Channel::Complaint, &reference),
        Some(format!("https://12345.gov.cn/form?type=ts&ref={reference}"))
    );
}

#[test]
fn a_bad_address_refuses_the_config_naming_site_and_field() {
    for (objection, complaint, field) in [
        (Some("ftp://a.example/c"), None, "objection_url"),
        (None, Some("https://a.example/c\u{0}"), "complaint_url"),
        (None, Some("https://a.example/c#x"), "complaint_url"),
    ] {
        let bytes = config(objection, complaint).to_bytes();
        let e = Config::parse(&bytes).unwrap_err();
        assert!(matches!(e, WireError::Malformed { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("site counter") && e.contains(field), "{e}");
    }
    let long = format!("https://a.example/{}", "x".repeat(400));
    let e = Config::parse(&config(Some(&long), None).to_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("objection_url is 418 bytes long"), "{e}");
}
