//! The citizens' side over real HTTP on 127.0.0.1: a refusal's objection
//! page, a case filed from it, the reviewer's queue and answer, the
//! citizen's status page (and nothing for a wrong phone); a complaint
//! from a redemption routed to the site's unit; overdue cases; the public
//! list of measures as it stood on a day; the limits on filing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::StatusCode;
use xinyi_core::UnixTime;
use xinyi_core::wire::journal::{Body, SignedRecord};
use xinyi_hub::Clock as _;
use xinyi_hub::accounts::{NewUser, Role};
use xinyi_hub::audit::Actor;
use xinyi_hub::cases::{MAX_STATUS_FAILURES, mask_phone};

use crate::common::{MEASURE, SITE, Terminal};
use crate::console::{Client, PASSWORD, World, audit_entries, hidden, served_world};

/// A phone number for the tests' citizens (no real person's).
const PHONE: &str = "13800138000";

fn citizen(w: &World, nth: usize) -> xinyi_testkit::Citizen {
    xinyi_testkit::citizen_for(
        &xinyi_testkit::vectors(),
        &xinyi_core::MeasureId::parse(MEASURE).unwrap(),
        w.clock.now(),
        nth,
    )
}

/// An enrolled terminal at the test site that has uploaded `bodies` and
/// its roster; returns the records' references (hex ids).
async fn counter(w: &World, api: &str, bodies: Vec<Body>) -> (Terminal, Vec<String>) {
    let code = w.hub.create_enrollment_code(SITE, None).unwrap();
    let mut t = Terminal::new(&w.hub, api);
    t.clock = Some(w.clock.clone());
    t.enroll(&code.code).await;
    let at = w.clock.now().0;
    let mut batch: Vec<SignedRecord> = t.roster(at);
    let mut refs = Vec::new();
    for b in bodies {
        let (r, s) = t.record(at + 60, b);
        refs.push(xinyi_core::hex::encode(&r.id));
        batch.push(s);
    }
    t.upload(&batch).await;
    (t, refs)
}

fn refusal(sub: &str) -> Body {
    Body::Refusal {
        reason: "NOT_LISTED".into(),
        measure: MEASURE.into(),
        sub: Some(sub.into()),
        cti: Some(vec![9; 12]),
        detail: String::new(),
        basis: None,
    }
}

/// A client of the citizens' pages (no cookies, no redirects).
fn phone_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn status(
    http: &reqwest::Client,
    api: &str,
    number: &str,
    tail: &str,
) -> (StatusCode, String) {
    let res = http
        .post(format!("{api}/c/case"))
        .form(&[("number", number), ("phone_tail", tail)])
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// The text of the element with `id` in `html`.
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].trim()
}

/// The queue's row of case `number`.
fn case_row<'a>(queue: &'a str, number: &str) -> &'a str {
    let at = queue
        .find(&format!("<tr id=\"case-{number}\""))
        .unwrap_or_else(|| panic!("no case {number} in {queue}"));
    let row = &queue[at..];
    &row[..row.find("</tr>").unwrap()]
}

/// A refusal at a counter → its objection page → a case → the reviewer
/// sees the refusal it points to and answers → the citizen reads the
/// answer; a wrong phone shows nothing, and enough of them shut the case.
#[tokio::test]
async fn an_objection_from_a_refusal_is_answered_and_read_back() {
    let (w, server) = served_world().await;
    let api = server.url();
    let person = citizen(&w, 0);
    let (_t, refs) = counter(&w, &api, vec![refusal(person.sub.as_str())]).await;
    let reference = &refs[0];
    let http = phone_client();

    // The page shows what was refused, in plain words, and no person.
    let res = http
        .get(format!("{api}/c/objection?ref={reference}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = res.text().await.unwrap();
    let site = w
        .hub
        .sites()
        .unwrap()
        .into_iter()
        .find(|s| s.id == SITE)
        .unwrap();
    assert_eq!(by_id(&page, "record-site"), site.name);
    assert!(!by_id(&page, "record-reason").is_empty());
    assert!(
        !page.contains(person.sub.as_str()),
        "the pseudonym is not shown"
    );
    assert!(!page.contains(&person.name));

    // Filed with a phone, words and the ID number.
    let id_number = xinyi_testkit::id_number_of(&xinyi_testkit::vectors(), person.sub.as_str());
    let words = "我在名单上，但柜台说不在名单中。";
    let res = http
        .post(format!("{api}/c/objection"))
        .form(&[
            ("ref", reference.as_str()),
            ("phone", PHONE),
            ("text", words),
            ("id_kind", "person"),
            ("id_number", id_number.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let number = by_id(&page, "case-number").to_owned();
    let due = by_id(&page, "due").to_owned();
    assert_eq!(due, w.hub.case_due(w.clock.now()).date_utc8().to_string());
    assert!(due > w.hub.today().to_string());

    // Before an answer the citizen sees it received; a wrong phone, nothing.
    let tail = &PHONE[PHONE.len() - 4..];
    let (code, page) = status(&http, &api, &number, tail).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(by_id(&page, "state"), "已受理，等待处理");
    assert!(!page.contains("id=\"answer\""));
    let wrong = if tail == "0000" { "1111" } else { "0000" };
    let (code, page) = status(&http, &api, &number, wrong).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(
        !page.contains(&site.name) && !page.contains("id=\"state\""),
        "{page}"
    );

    // The reviewer's queue and the case, linked to the refusal.
    w.hub
        .add_user(
            &NewUser {
                name: "reviewer",
                role: Role::Reviewer,
                scope: None,
                password: PASSWORD,
            },
            &Actor::Cli("test".into()),
        )
        .unwrap();
    let mut rev = Client::signed_in(&w, "reviewer").await;
    let queue = rev.get("/cases").await.text().await.unwrap();
    assert!(queue.contains(&format!("id=\"case-{number}\"")), "{queue}");
    let res = rev.get(&format!("/cases/{number}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let case = res.text().await.unwrap();
    assert_eq!(by_id(&case, "record-sub"), person.sub.as_str());
    assert_eq!(by_id(&case, "record-kind"), "refusal");
    assert!(by_id(&case, "record-reason").starts_with("NOT_LISTED"));
    assert_eq!(by_id(&case, "case-text"), words);
    assert_eq!(by_id(&case, "case-phone"), mask_phone(PHONE));
    assert_eq!(
        by_id(&case, "case-id"),
        xinyi_hub::audit::mask_id_number(&id_number)
    );
    assert!(!case.contains(&id_number) && !case.contains(PHONE));
    let csrf = hidden(&case, "csrf");
    let res = rev
        .post(&format!("/cases/{number}/take"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Closing before an answer is refused.
    let res = rev
        .post(&format!("/cases/{number}/close"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let answer = "经核实，您的名单记录有效，已通知柜台更新数据。";
    let res = rev
        .post(
            &format!("/cases/{number}/answer"),
            &[("csrf", &csrf), ("outcome", "upheld"), ("answer", answer)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Without the session's token nothing happens.
    let res = rev
        .post(&format!("/cases/{number}/close"), &[("csrf", "forged")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (code, page) = status(&http, &api, &number, tail).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(by_id(&page, "answer"), answer);
    // The reviewer's own queue holds it; the administrator's own does not.
    let mine = rev.get("/cases?mine=1").await.text().await.unwrap();
    assert!(mine.contains(&format!("id=\"case-{number}\"")));
    let mut admin = Client::signed_in(&w, "admin").await;
    let theirs = admin.get("/cases?mine=1").await.text().await.unwrap();
    assert!(!theirs.contains(&format!("id=\"case-{number}\"")));
    assert_eq!(by_id(&page, "record-site"), site.name);

    // Every step is in the audit log; the citizen is the filer.
    for action in ["case.file", "case.open", "case.take", "case.answer"] {
        let e = audit_entries(&w.hub, action);
        assert!(e.iter().any(|e| e.target == number), "no {action}");
    }
    assert_eq!(audit_entries(&w.hub, "case.file")[0].actor, "citizen:web");

    // Guessing the phone's digits shuts the case's page for a while.
    let mut shut = false;
    for n in 0..MAX_STATUS_FAILURES {
        let guess = format!("{:04}", (n + 1) * 1111 % 10_000);
        if guess == tail {
            continue;
        }
        let (code, page) = status(&http, &api, &number, &guess).await;
        assert!(!page.contains(answer));
        shut |= code == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(
        shut,
        "the case shuts after {MAX_STATUS_FAILURES} wrong tries"
    );
    let (code, page) = status(&http, &api, &number, tail).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    assert!(!page.contains(answer));
    w.clock.set(UnixTime(
        w.clock.now().0 + xinyi_hub::cases::STATUS_LOCK_S + 1,
    ));
    let (code, _) = status(&http, &api, &number, tail).await;
    assert_eq!(code, StatusCode::OK);
}

/// A complaint from a redemption's code goes to the site's unit, which
/// answers it; another unit does not see it; a case past its day is
/// flagged overdue.
#[tokio::test]
async fn a_complaint_reaches_the_units_queue_and_goes_overdue() {
    let (w, server) = served_world().await;
    let api = server.url();
    let person = citizen(&w, 0);
    let (mut t, _) = counter(&w, &api, vec![]).await;
    let (r, s) = t.redemption(w.clock.now().0 + 120, person.sub.as_str(), 1000);
    t.upload(&[s]).await;
    let reference = xinyi_core::hex::encode(&r.id);
    let http = phone_client();
    let page = http
        .get(format!("{api}/c/complaint?ref={reference}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"record-site\""), "{page}");
    let res = http
        .post(format!("{api}/c/complaint"))
        .form(&[
            ("ref", reference.as_str()),
            ("phone", PHONE),
            ("text", "窗口排队太久。"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let number = by_id(&res.text().await.unwrap(), "case-number").to_owned();

    let mut unit = Client::signed_in(&w, "unit").await;
    let res = unit.get("/cases").await;
    assert_eq!(res.status(), StatusCode::OK);
    let queue = res.text().await.unwrap();
    assert!(!case_row(&queue, &number).contains("overdue"));
    let mut other = Client::signed_in(&w, "other-unit").await;
    assert!(
        !other
            .get("/cases")
            .await
            .text()
            .await
            .unwrap()
            .contains(&number)
    );
    assert_eq!(
        other.get(&format!("/cases/{number}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let mut admin = Client::signed_in(&w, "admin").await;
    assert!(
        admin
            .get("/cases")
            .await
            .text()
            .await
            .unwrap()
            .contains(&number)
    );
    // A department's submitter has no queue.
    let mut dept = Client::signed_in(&w, "dept").await;
    assert_eq!(dept.get("/cases").await.status(), StatusCode::FORBIDDEN);

    // Past its day it is overdue, in the unit's queue and the filter.
    let due = w.hub.case_due(w.clock.now());
    w.clock.set(UnixTime(due.0 + 1));
    // (Sessions end when idle; that long is idle.)
    let mut unit = Client::signed_in(&w, "unit").await;
    let queue = unit.get("/cases?overdue=1").await.text().await.unwrap();
    assert!(case_row(&queue, &number).contains("overdue"));
    assert!(queue.contains("id=\"overdue-count\""));
    let overview = unit.get("/").await.text().await.unwrap();
    assert_eq!(by_id(&overview, "cases-overdue"), "1 件已超期");
    // The unit answers; it is no longer overdue, and the citizen reads it.
    let case = unit
        .get(&format!("/cases/{number}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(case.contains("id=\"overdue\""));
    let csrf = hidden(&case, "csrf");
    let answer = "已增加高峰时段窗口。";
    let res = unit
        .post(
            &format!("/cases/{number}/answer"),
            &[("csrf", &csrf), ("outcome", "noted"), ("answer", answer)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        !unit
            .get("/cases?overdue=1")
            .await
            .text()
            .await
            .unwrap()
            .contains(&number)
    );
    let (_, page) = status(&http, &api, &number, &PHONE[PHONE.len() - 4..]).await;
    assert_eq!(by_id(&page, "answer"), answer);
}

/// A bad field comes back with what is wrong and everything typed kept;
/// a flood of filings from one address is refused with Retry-After.
#[tokio::test]
async fn bad_fields_keep_what_was_typed_and_floods_are_refused() {
    let (w, server) = served_world().await;
    let api = server.url();
    let http = phone_client();
    let words = "请增加周末开放时间";
    let res = http
        .post(format!("{api}/c/complaint"))
        .form(&[("site", SITE), ("phone", "12ab"), ("text", words)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(by_id(&page, "error").contains("phone"), "{page}");
    assert_eq!(by_id(&page, "text"), words);
    assert!(page.contains("value=\"12ab\""));
    // A reference that is not one, and a site that does not exist.
    let res = http
        .get(format!("{api}/c/objection?ref=not-a-reference"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = http
        .post(format!("{api}/c/complaint"))
        .form(&[("site", "no-such-site"), ("phone", PHONE), ("text", words)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // A reference the hub does not hold yet is still filed.
    let unknown = "00112233445566778899aabbccddeeff";
    let page = http
        .get(format!("{api}/c/objection?ref={unknown}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"unknown-reference\""));
    let mut codes = Vec::new();
    // From behind the proxy on this machine, each claiming another
    // address before the one the proxy adds: counted as one client.
    for n in 0..8 {
        let res = http
            .post(format!("{api}/c/objection"))
            .header("x-forwarded-for", format!("10.0.0.{n}, 198.51.100.7"))
            .form(&[("ref", unknown), ("phone", PHONE), ("text", words)])
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
        }
        codes.push(res.status());
    }
    assert!(codes.contains(&StatusCode::OK), "{codes:?}");
    assert!(codes.contains(&StatusCode::TOO_MANY_REQUESTS), "{codes:?}");
    let filed = codes.iter().filter(|c| **c == StatusCode::OK).count();
    let held = w
        .hub
        .cases(&xinyi_hub::cases::CaseQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(held.len(), filed, "every refused filing stored nothing");
}

/// The public list is exactly the catalogue in force on the day asked,
/// withdrawn measures marked; as a page, JSON and CSV.
#[tokio::test]
async fn the_public_list_is_the_catalogue_in_force_on_the_day() {
    let (w, server) = served_world().await;
    // The hub published its catalogue when it was made, on the system's
    // clock: the list is asked for from then on.
    w.clock.set(UnixTime(crate::common::now() + 60));
    let api = server.url();
    let http = phone_client();
    let today = w.hub.today();
    let catalogue = w.hub.catalogue().unwrap().unwrap();
    let in_force = |day| -> Vec<String> {
        let mut v: Vec<String> = catalogue
            .measures()
            .iter()
            .filter(|m| m.in_force(day))
            .map(|m| m.id.to_string())
            .collect();
        v.sort();
        v
    };
    let withdrawn_by = |day| -> Vec<String> {
        let mut v: Vec<String> = catalogue
            .measures()
            .iter()
            .filter(|m| m.withdrawn_on.is_some_and(|w| w <= day))
            .map(|m| m.id.to_string())
            .collect();
        v.sort();
        v
    };
    let listed = |doc: &serde_json::Value, key: &str| -> Vec<String> {
        let mut v: Vec<String> = doc[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    let get_json = |date: String| {
        let http = http.clone();
        let api = api.clone();
        async move {
            let res = http
                .get(format!("{api}/c/measures.json?date={date}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let doc = get_json(today.to_string()).await;
    assert!(!in_force(today).is_empty());
    assert_eq!(listed(&doc, "in_force"), in_force(today));
    assert_eq!(listed(&doc, "withdrawn"), withdrawn_by(today));
    // Sites are named for the measures they apply.
    let bus = doc["in_force"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == MEASURE)
        .unwrap();
    assert!(!bus["sites"].as_array().unwrap().is_empty());

    // A measure withdrawn from a day: in force before, marked after.
    let gone = in_force(today)[0].clone();
    let from = today.add_days(3);
    w.hub
        .withdraw_measure(&Actor::Cli("test".into()), &gone, from)
        .unwrap();
    let before = get_json(from.add_days(-1).to_string()).await;
    assert!(listed(&before, "in_force").contains(&gone));
    let after = get_json(from.to_string()).await;
    assert!(!listed(&after, "in_force").contains(&gone));
    let mut marked = withdrawn_by(from);
    marked.push(gone.clone());
    marked.sort();
    assert_eq!(listed(&after, "withdrawn"), marked);
    let mut expected = in_force(from);
    expected.retain(|m| *m != gone);
    assert_eq!(listed(&after, "in_force"), expected);
    // A day before any catalogue was published lists nothing.
    let early = get_json("2000-01-01".into()).await;
    assert!(listed(&early, "in_force").is_empty());

    // The page and the CSV agree with the JSON.
    let page = http
        .get(format!("{api}/c/measures?date={from}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for id in listed(&after, "in_force") {
        assert!(page.contains(&format!("id=\"measure-{id}\"")), "{id}");
    }
    assert!(page.contains(&format!("id=\"measure-{gone}\"")));
    let csv = http
        .get(format!("{api}/c/measures.csv?date={from}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = xinyi_core::csv::records(csv.as_bytes()).unwrap();
    assert_eq!(rows.len() - 1, expected.len() + marked.len());
    let res = http
        .get(format!("{api}/c/measures.json?date=2026-02-30"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Retention empties a case's phone, ID number and words a number of days
/// after its answer; the case, its state and answer stay, its status page
/// finds nothing, and an unanswered case keeps everything.
#[tokio::test]
async fn retention_erases_an_answered_cases_contact() {
    let (w, _server) = served_world().await;
    let id = xinyi_testkit::first_listed_id_number();
    let file = |text: &str| {
        w.hub
            .file_case(&xinyi_hub::cases::NewCase {
                kind: Some(xinyi_hub::cases::CaseKind::Objection),
                channel: "web".into(),
                phone: PHONE.into(),
                text: text.into(),
                id_number: Some(("person".into(), id.clone())),
                ..Default::default()
            })
            .unwrap()
            .number
    };
    let answered = file("已答复的异议");
    let open = file("尚未答复的异议");
    let by = Actor::Cli("test".into());
    w.hub
        .act_on_case(
            &answered,
            None,
            &by,
            &xinyi_hub::cases::CaseAction::Answer {
                text: "答复".into(),
                outcome: xinyi_hub::cases::Outcome::NotUpheld,
                submission: None,
            },
        )
        .unwrap();
    let days = i64::from(w.hub.config().case_retention_days);
    w.clock.set(UnixTime(w.clock.now().0 + days * 86_400 - 60));
    assert_eq!(w.hub.apply_retention().unwrap().case_contacts_erased, 0);
    w.clock.set(UnixTime(w.clock.now().0 + 120));
    let r = w.hub.apply_retention().unwrap();
    assert_eq!(r.case_contacts_erased, 1);
    assert!(r.to_string().contains("1 citizens' cases"), "{r}");
    let tail = &PHONE[PHONE.len() - 4..];
    assert_eq!(
        w.hub.case_status(&answered, tail).unwrap(),
        xinyi_hub::cases::StatusAnswer::NotFound
    );
    let d = w.hub.open_case(&answered, None, &by).unwrap();
    assert!(d.text.is_empty() && d.phone.is_empty() && d.id_number.is_none());
    assert_eq!(d.answer.as_deref(), Some("答复"));
    let d = w.hub.open_case(&open, None, &by).unwrap();
    assert_eq!(d.text, "尚未答复的异议");
    assert_eq!(d.phone, mask_phone(PHONE));
    assert!(matches!(
        w.hub.case_status(&open, tail).unwrap(),
        xinyi_hub::cases::StatusAnswer::Shown(_)
    ));
    // A second run finds nothing more.
    assert_eq!(w.hub.apply_retention().unwrap().case_contacts_erased, 0);
}

/// A complaint filed before the terminal uploaded its record reaches the
/// site's unit once the record is in.
#[tokio::test]
async fn a_complaint_filed_before_its_record_arrives_reaches_the_unit_after() {
    let (w, server) = served_world().await;
    let api = server.url();
    let person = citizen(&w, 0);
    let (mut t, _) = counter(&w, &api, vec![]).await;
    let (r, s) = t.redemption(w.clock.now().0 + 120, person.sub.as_str(), 1000);
    let reference = xinyi_core::hex::encode(&r.id);
    let number = w
        .hub
        .file_case(&xinyi_hub::cases::NewCase {
            kind: Some(xinyi_hub::cases::CaseKind::Complaint),
            channel: "web".into(),
            reference: Some(reference),
            phone: PHONE.into(),
            text: "服务很慢".into(),
            ..Default::default()
        })
        .unwrap()
        .number;
    let mut unit = Client::signed_in(&w, "unit").await;
    assert!(
        !unit
            .get("/cases")
            .await
            .text()
            .await
            .unwrap()
            .contains(&number)
    );
    t.upload(&[s]).await;
    let queue = unit.get("/cases").await.text().await.unwrap();
    assert!(case_row(&queue, &number).contains(SITE), "{queue}");
}

/// Status checks from one address are limited (with Retry-After), apart
/// from any one case's own shutting; the pages switch to English and keep
/// it in their links; a hub without the demo world has no demo page.
#[tokio::test]
async fn status_checks_are_limited_pages_speak_english_and_demo_is_demo_only() {
    let (_w, server) = served_world().await;
    let api = server.url();
    let http = phone_client();
    let mut codes = Vec::new();
    for n in 0..40 {
        // Cases that do not exist: each answer is "nothing found" until
        // the address is over its limit.
        let res = http
            .post(format!("{api}/c/case"))
            .form(&[
                ("number", format!("000000-{n:08}")),
                ("phone_tail", "1234".into()),
            ])
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key("retry-after"));
        }
        codes.push(res.status());
    }
    assert_eq!(codes[0], StatusCode::NOT_FOUND);
    assert!(codes.contains(&StatusCode::TOO_MANY_REQUESTS), "{codes:?}");

    let page = http
        .get(format!("{api}/c/measures?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(
        page.contains("href=\"/c?lang=en\""),
        "links keep the language"
    );
    // The switch leads back to Chinese.
    assert!(page.contains("id=\"lang\" href=\"/c/measures\""), "{page}");
    let page = http
        .get(format!("{api}/c/measures"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"zh-CN\">"));
    assert!(
        page.contains("id=\"lang\" href=\"/c/measures?lang=en\""),
        "{page}"
    );

    let res = http.get(format!("{api}/c/demo")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
