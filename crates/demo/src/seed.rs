//! A hub holding the demo world ([`crate::DemoWorld`]): the demo K_pseudo,
//! issuer keys, catalogue, revoked card, lists and a site per counter
//! kind, so a terminal can enroll against a real hub in demos and tests.

use std::path::Path;

use xinyi_core::Date;
use xinyi_core::wire::config::TrustEntry;

use xinyi_hub::admin::{NewIssuerKey, SiteSpec};
use xinyi_hub::error::HubError;
use xinyi_hub::hub::{Hub, InitOptions};

use crate::world::{self as demo, DemoWorld};

/// The demo sites: (id, name, unit, measures).
pub const DEMO_SITES: [(&str, &str, &str, &[&str]); 4] = [
    (
        "demo-bus",
        "江城公交充值点",
        "阳江市公共交通有限公司",
        &["XYX-BUS-TOPUP"],
    ),
    (
        "demo-scenic",
        "大角湾景区售票处",
        "海陵岛大角湾景区",
        &["XYY-SCENIC-ENTRY"],
    ),
    (
        "demo-hospital",
        "人民医院住院处",
        "阳江市人民医院",
        &["XYM-ADMISSION-DEPOSIT", "XYM-HEALTH-CHECK"],
    ),
    (
        "demo-library",
        "市图书馆借阅处",
        "阳江市图书馆",
        &["XYD-LIBRARY-DEPOSIT", "XYD-LIBRARY-LOAN"],
    ),
];

/// Creates a hub in `dir` holding the demo world for `today`.
pub fn demo_hub(dir: &Path, today: Date) -> Result<(Hub, DemoWorld), HubError> {
    let world = DemoWorld::new(today).map_err(|e| HubError::Internal(e.to_string()))?;
    let hub = Hub::init(
        dir,
        InitOptions {
            k_pseudo: Some(*world.k_pseudo.as_bytes()),
        },
    )?;
    hub.publish_catalogue(&demo::catalogue_toml(today))?;
    for k in world.trust_list() {
        let t = TrustEntry::of(&k);
        hub.add_issuer_key(&NewIssuerKey {
            iss: t.iss,
            public_key: t.public_key,
            not_before: k.not_before,
            not_after: k.not_after,
            kid: Some(t.kid),
        })?;
    }
    for cti in &world.revoked_cards {
        hub.revoke_card(&cti.to_hex(), "demo: reported lost")?;
    }
    for (id, name, unit, measures) in DEMO_SITES {
        hub.add_site(&SiteSpec {
            id: id.into(),
            name: name.into(),
            unit: unit.into(),
            measures: measures.iter().map(|m| (*m).to_owned()).collect(),
            max_offline_hours: None,
            ..Default::default()
        })?;
    }
    hub.import_listings(demo::listings_csv(today).as_bytes())?;
    hub.import_exclusions(demo::exclusions_csv(today).as_bytes())?;
    Ok((hub, world))
}
