//! The measures catalogue through the console, over real HTTP: a unit
//! applies to offer a measure, checked as the catalogue file is; the
//! credit office approves it and a new catalogue revision and data
//! version carry it; a unit cannot touch another unit's measure; a unit
//! asks to cancel, the credit office rejects with a note or withdraws
//! directly; who may do what; and the audit log keeps each step.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use xinyi_core::measures::{Benefit, Measure};
use xinyi_hub::Hub;

use crate::console::{Client, World, audit_entries, world};

/// The operator account's unit, and a measure of the sample catalogue it
/// runs and one it does not.
fn units(w: &World) -> (String, Measure, Measure) {
    let unit = w
        .hub
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.name == "unit")
        .unwrap()
        .scope
        .unwrap();
    let c = w.hub.catalogue().unwrap().unwrap();
    let own = c
        .measures()
        .iter()
        .find(|m| m.unit == unit)
        .unwrap()
        .clone();
    let other = c
        .measures()
        .iter()
        .find(|m| m.unit != unit)
        .unwrap()
        .clone();
    (unit, own, other)
}

fn actions(hub: &Hub) -> Vec<(String, String, String)> {
    audit_entries(hub, "measure.")
        .into_iter()
        .map(|e| (e.action, e.target, e.actor))
        .collect()
}

/// The form's fields for a new percent-off measure `id` valid from
/// `from` to `until`.
fn new_measure(csrf: &str, id: &str, unit: &str, from: &str, until: &str) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("id", id),
        ("family", "信易购"),
        ("name_zh", "购书9折"),
        ("name_en", "Books at 90%"),
        ("unit", unit),
        ("person", "1"),
        ("categories", "all"),
        ("valid_from", from),
        ("valid_until", until),
        ("benefit", "percent_off"),
        ("percent", "10"),
        ("max_discount", "20.50"),
        ("limit_per", "month"),
        ("limit_count", "2"),
        ("reason", "书店加入守信激励"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn with(form: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    form.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == key {
                    value.to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

async fn post(c: &mut Client, path: &str, form: &[(String, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    c.post(path, &pairs).await
}

#[tokio::test]
async fn a_unit_applies_for_a_measure_and_the_credit_office_approves_it() {
    let w = world().await;
    let (unit, own, other) = units(&w);
    let today = w.hub.today();
    let from = today.to_string();
    let until = today.add_years(2).to_string();
    let before = w.hub.current_version().unwrap().unwrap().version;
    let revisions = w.hub.catalogue_revisions().unwrap().len();

    let mut op = Client::signed_in(&w, "unit").await;
    assert_eq!(op.get("/measures").await.status(), StatusCode::OK);
    assert_eq!(op.get("/measures/new").await.status(), StatusCode::OK);
    let csrf = op.csrf().await;
    let form = new_measure(&csrf, "XYG-BOOKS", "someone else", &from, &until);

    // Every problem the file's check finds, at once; nothing stored.
    let bad = with(&with(&form, "valid_until", "2020-01-01"), "percent", "0");
    let res = post(&mut op, "/measures/save", &bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("valid_until"), "{page}");
    assert!(page.contains("percent"), "{page}");
    let res = post(
        &mut op,
        "/measures/save",
        &with(&form, "max_discount", "1.234"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("max_discount"));
    // Another unit's measure id: refused.
    let res = post(
        &mut op,
        "/measures/save",
        &with(&form, "id", other.id.as_str()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(&other.unit));
    assert_eq!(
        op.get(&format!("/measures/{}/edit", other.id))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert!(w.hub.measure_requests(None).unwrap().is_empty());

    // A good one: a request, as the unit's whatever the form said.
    let res = post(&mut op, "/measures/save", &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let requests = w.hub.measure_requests(None).unwrap();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(
        (req.unit.as_str(), req.state.as_str()),
        (unit.as_str(), "pending")
    );
    assert!(
        w.hub
            .catalogue()
            .unwrap()
            .unwrap()
            .get("XYG-BOOKS")
            .is_none()
    );
    assert_eq!(w.hub.current_version().unwrap().unwrap().version, before);

    // Only the credit office decides.
    let path = format!("/measures/requests/{}/decide", req.id);
    let res = op
        .post(&path, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut admin = Client::signed_in(&w, "admin").await;
    let acsrf = admin.csrf().await;
    let page = admin.get("/measures").await.text().await.unwrap();
    assert!(page.contains(&format!("id=\"request-{}\"", req.id)));
    let res = admin
        .post(&path, &[("csrf", &acsrf), ("decision", "approve")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let c = w.hub.catalogue().unwrap().unwrap();
    let m = c.get("XYG-BOOKS").unwrap();
    assert_eq!(m.unit, unit);
    assert_eq!(
        m.benefit,
        Benefit::PercentOff {
            percent: 10,
            max_discount: Some(xinyi_core::Fen(2050))
        }
    );
    let now = w.hub.current_version().unwrap().unwrap().version;
    assert!(now > before);
    let revs = w.hub.catalogue_revisions().unwrap();
    assert_eq!(revs.len(), revisions + 1);
    assert_eq!(revs[0].data_version, now);
    assert_eq!(revs[0].measures, c.measures().len());
    let req = &w.hub.measure_requests(Some(&unit)).unwrap()[0];
    assert_eq!(
        (req.state.as_str(), req.data_version),
        ("approved", Some(now))
    );
    // Decided once only.
    let res = admin
        .post(
            &path,
            &[("csrf", &acsrf), ("decision", "reject"), ("note", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // The unit asks to cancel its own measure from tomorrow; a rejection
    // needs a note, and changes nothing.
    let tomorrow = today.add_days(1).to_string();
    let res = op
        .post(
            &format!("/measures/{}/withdraw", own.id),
            &[("csrf", &csrf), ("on", &tomorrow), ("reason", "线路调整")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cancel = w.hub.measure_requests(None).unwrap()[0].clone();
    let path = format!("/measures/requests/{}/decide", cancel.id);
    let res = admin
        .post(&path, &[("csrf", &acsrf), ("decision", "reject")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post(
            &path,
            &[
                ("csrf", &acsrf),
                ("decision", "reject"),
                ("note", "请先公告"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let c = w.hub.catalogue().unwrap().unwrap();
    assert_eq!(c.get(own.id.as_str()).unwrap().withdrawn_on, None);
    // Not another unit's, not in the past.
    let res = op
        .post(
            &format!("/measures/{}/withdraw", other.id),
            &[("csrf", &csrf), ("on", &tomorrow), ("reason", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post(
            &format!("/measures/{}/withdraw", own.id),
            &[("csrf", &acsrf), ("on", &today.add_days(-1).to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The credit office withdraws directly.
    let res = admin
        .post(
            &format!("/measures/{}/withdraw", own.id),
            &[("csrf", &acsrf), ("on", &tomorrow)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let c = w.hub.catalogue().unwrap().unwrap();
    assert_eq!(
        c.get(own.id.as_str()).unwrap().withdrawn_on,
        Some(today.add_days(1))
    );

    let log = actions(&w.hub);
    for (action, target) in [
        ("measure.request", "XYG-BOOKS"),
        ("measure.approve", "XYG-BOOKS"),
        ("measure.request", own.id.as_str()),
        ("measure.reject", own.id.as_str()),
        ("measure.withdraw", own.id.as_str()),
    ] {
        assert!(
            log.iter().any(|(a, t, _)| a == action && t == target),
            "no {action} of {target} in {log:?}"
        );
    }
}

#[tokio::test]
async fn the_credit_office_edits_a_measure_and_is_told_of_a_short_validity() {
    let w = world().await;
    let (_, own, _) = units(&w);
    let today = w.hub.today();
    let mut admin = Client::signed_in(&w, "admin").await;
    let page = admin
        .get(&format!("/measures/{}/edit", own.id))
        .await
        .text()
        .await
        .unwrap();
    // The form holds the measure as it is; sent back unchanged, nothing
    // is published.
    let mut form: Vec<(String, String)> = Vec::new();
    for name in [
        "csrf",
        "editing",
        "id",
        "name_zh",
        "name_en",
        "unit",
        "categories",
        "valid_from",
        "valid_until",
        "percent",
        "max_discount",
        "amount_off",
        "companion_percent",
        "companion_max",
        "what",
        "limit_count",
    ] {
        let v = crate::console::hidden(
            &page.replace(
                &format!("name=\"{name}\" id=\"m-{name}\""),
                &format!("name=\"{name}\""),
            ),
            name,
        );
        form.push((name.to_owned(), v));
    }
    let selected = |name: &str| -> String {
        let at = page.find(&format!("name=\"{name}\"")).unwrap();
        let rest = &page[at..];
        let end = rest.find("</select>").unwrap();
        let sel = &rest[..end];
        let opt = sel.find(" selected>").map(|i| &sel[..i]).unwrap_or("");
        let v = opt.rfind("value=\"").map(|i| &opt[i + 7..]).unwrap_or("");
        v[..v.find('"').unwrap_or(v.len())].to_owned()
    };
    form.push(("benefit".into(), selected("benefit")));
    form.push(("limit_per".into(), selected("limit_per")));
    form.push(("family".into(), own.family.clone()));
    if own.subjects.iter().any(|k| k.as_str() == "person") {
        form.push(("person".into(), "1".into()));
    }
    if own.subjects.iter().any(|k| k.as_str() == "enterprise") {
        form.push(("enterprise".into(), "1".into()));
    }
    let before = w.hub.current_version().unwrap().unwrap().version;
    let res = post(&mut admin, "/measures/save", &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        w.hub.catalogue().unwrap().unwrap().get(own.id.as_str()),
        Some(&own)
    );
    assert_eq!(w.hub.current_version().unwrap().unwrap().version, before);
    // Shortened to a year: published, with the policy's caution.
    let short = with(&form, "valid_until", &today.add_years(1).to_string());
    let short = with(&short, "valid_from", &today.to_string());
    let res = post(&mut admin, "/measures/save", &short).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("two years"), "{page}");
    let c = w.hub.catalogue().unwrap().unwrap();
    assert_eq!(
        c.get(own.id.as_str()).unwrap().valid_until,
        today.add_years(1)
    );
    assert!(w.hub.current_version().unwrap().unwrap().version > before);
    assert!(
        actions(&w.hub)
            .iter()
            .any(|(a, t, who)| a == "measure.put" && t == own.id.as_str() && who == "user:admin")
    );
}

#[tokio::test]
async fn only_the_credit_office_and_units_change_the_catalogue() {
    let w = world().await;
    let mut dept = Client::signed_in(&w, "dept").await;
    assert_eq!(dept.get("/measures").await.status(), StatusCode::FORBIDDEN);
    let mut auditor = Client::signed_in(&w, "auditor").await;
    assert_eq!(auditor.get("/measures").await.status(), StatusCode::OK);
    assert_eq!(
        auditor.get("/measures/new").await.status(),
        StatusCode::FORBIDDEN
    );
    let csrf = auditor.csrf().await;
    let today = w.hub.today();
    let form = new_measure(
        &csrf,
        "XYG-X",
        "u",
        &today.to_string(),
        &today.add_years(2).to_string(),
    );
    let res = post(&mut auditor, "/measures/save", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A form without the session's token.
    let mut admin = Client::signed_in(&w, "admin").await;
    let res = post(&mut admin, "/measures/save", &with(&form, "csrf", "forged")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(w.hub.catalogue().unwrap().unwrap().get("XYG-X").is_none());
}
