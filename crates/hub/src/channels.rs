//! The citizens' channels that the terminals' codes point to — objection
//! to the list (名单异议) and complaint or suggestion (投诉建议) — as each
//! site publishes them: the site's own address if the credit office gave
//! it one, else the registry's page under its public address
//! (`public_url` in hub.toml), else none, and the terminal shows no code.

use xinyi_core::wire::config::{Channel, MAX_CHANNEL_URL_BYTES, Site, check_channel_url};

use crate::error::HubError;

/// Where the hub's public listener serves the objection page.
pub const OBJECTION_PATH: &str = "/c/objection";
/// Where the hub's public listener serves the complaint page.
pub const COMPLAINT_PATH: &str = "/c/complaint";

/// The registry's page for `channel`, under its public address.
pub fn path(channel: Channel) -> &'static str {
    match channel {
        Channel::Objection => OBJECTION_PATH,
        Channel::Complaint => COMPLAINT_PATH,
    }
}

/// `site` as terminals get it: each channel at the site's own address,
/// else at the registry's page under `public`, else none.
pub fn published(mut site: Site, public: Option<&str>) -> Site {
    let default = |channel| public.map(|p| format!("{p}{}", path(channel)));
    site.objection_url = site
        .objection_url
        .take()
        .or_else(|| default(Channel::Objection));
    site.complaint_url = site
        .complaint_url
        .take()
        .or_else(|| default(Channel::Complaint));
    site
}

/// A site's own address for `channel` as given (trimmed; empty: none),
/// checked as terminals check it.
pub fn site_url(channel: Channel, given: Option<&str>) -> Result<Option<String>, HubError> {
    let Some(url) = given.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    check_channel_url(url).map_err(|e| {
        HubError::Invalid(format!("the {} address {} {e}", what(channel), shown(url)))
    })?;
    Ok(Some(url.to_owned()))
}

/// The registry's public address as given in hub.toml, without a trailing
/// slash; refused, with why, if a channel page under it would not pass
/// [`check_channel_url`] or it has a query the pages' paths cannot follow.
pub fn public_url(given: &str) -> Result<String, String> {
    let url = given.trim().trim_end_matches('/');
    let longest = OBJECTION_PATH.len().max(COMPLAINT_PATH.len());
    check_channel_url(url).map_err(|e| format!("{} {e}", shown(url)))?;
    if url.contains('?') {
        return Err(format!(
            "{} has a query (?…): give the address the channel pages ({OBJECTION_PATH}, {COMPLAINT_PATH}) follow",
            shown(url)
        ));
    }
    if url.len() + longest > MAX_CHANNEL_URL_BYTES {
        return Err(format!(
            "{} is {} bytes long: with {OBJECTION_PATH} after it, it must fit in {MAX_CHANNEL_URL_BYTES}",
            shown(url),
            url.len()
        ));
    }
    Ok(url.to_owned())
}

fn what(channel: Channel) -> &'static str {
    match channel {
        Channel::Objection => "objection (名单异议)",
        Channel::Complaint => "complaint (投诉建议)",
    }
}

/// An address for a message: quoted, and cut short when long.
fn shown(url: &str) -> String {
    match url.char_indices().nth(60) {
        Some((i, _)) => format!("{:?}…", &url[..i]),
        None => format!("{url:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(objection: Option<&str>, complaint: Option<&str>) -> Site {
        Site {
            id: "bus-1".into(),
            name: "江城公交充值点".into(),
            unit: "阳江市公共交通有限公司".into(),
            measures: vec!["XYX-BUS-TOPUP".into()],
            max_offline_age_s: 3600,
            void_window_s: 0,
            unattended: false,
            online_deadline_ms: 300,
            check_holder: true,
            objection_url: objection.map(str::to_owned),
            complaint_url: complaint.map(str::to_owned),
        }
    }

    #[test]
    fn a_site_publishes_its_own_address_else_the_registrys_page() {
        let public = Some("https://xyjl.example.gov.cn");
        let s = published(site(None, None), public);
        assert_eq!(
            s.objection_url.as_deref(),
            Some("https://xyjl.example.gov.cn/c/objection")
        );
        assert_eq!(
            s.complaint_url.as_deref(),
            Some("https://xyjl.example.gov.cn/c/complaint")
        );
        let own = "https://12345.gov.cn/form?type=ts";
        let s = published(site(None, Some(own)), public);
        assert_eq!(
            s.objection_url.as_deref(),
            Some("https://xyjl.example.gov.cn/c/objection")
        );
        assert_eq!(s.complaint_url.as_deref(), Some(own));
        let s = published(site(None, Some(own)), None);
        assert_eq!(s.objection_url, None);
        assert_eq!(s.complaint_url.as_deref(), Some(own));
    }

    #[test]
    fn a_sites_address_is_checked_and_blank_is_none() {
        assert_eq!(site_url(Channel::Objection, None).unwrap(), None);
        assert_eq!(site_url(Channel::Objection, Some("  ")).unwrap(), None);
        assert_eq!(
            site_url(Channel::Complaint, Some(" https://a.example/c ")).unwrap(),
            Some("https://a.example/c".to_owned())
        );
        let e = site_url(Channel::Complaint, Some("ftp://a.example/c"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("complaint") && e.contains("http:// or https://"),
            "{e}"
        );
        let e = site_url(Channel::Objection, Some("https://a.example/c#x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("objection") && e.contains("fragment"), "{e}");
    }

    #[test]
    fn the_public_address_leaves_room_for_the_pages() {
        assert_eq!(
            public_url(" https://xyjl.example.gov.cn/ ").unwrap(),
            "https://xyjl.example.gov.cn"
        );
        assert_eq!(
            public_url("https://gov.example/xyjl//").unwrap(),
            "https://gov.example/xyjl"
        );
        let fits = format!("https://a.example/{}", "p".repeat(200 - 18 - 12));
        assert_eq!(public_url(&fits).unwrap(), fits);
        let e = public_url(&format!("{fits}p")).unwrap_err();
        assert!(e.contains("must fit in 200"), "{e}");
        let e = public_url("https://a.example/?x=1").unwrap_err();
        assert!(e.contains("query"), "{e}");
        let e = public_url("xyjl.example.gov.cn").unwrap_err();
        assert!(e.contains("http:// or https://"), "{e}");
        let e = public_url("").unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }
}
