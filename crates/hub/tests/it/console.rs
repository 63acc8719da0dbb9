//! The web console over real HTTP on 127.0.0.1, without a browser: who
//! may open what, forms without their session's token, sign-in lockout,
//! idle sessions, the headers every page carries, a submitter's file for
//! another department, and the audit log's chain. (The browser tests, in
//! the terminal's test suite, walk the pages as people do.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::process::Stdio;
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use xinyi_core::UnixTime;
use xinyi_core::wire::config::query_value;
use xinyi_core::wire::journal::{Body, StaffEvent};
use xinyi_hub::Clock as _;
use xinyi_hub::accounts::{IDLE_TIMEOUT, LOCKOUT, MAX_FAILURES, NewUser, Role};
use xinyi_hub::audit::{Actor, AuditCheck, AuditQuery};
use xinyi_hub::http::console::Console;
use xinyi_hub::{Hub, ManualClock};
use xinyi_testkit::read as shared;

use crate::common;
use crate::common::{MEASURE, OPERATOR, SUPERVISOR, Terminal, UNIT, cli, hub, ok, served_at};

pub(crate) const PASSWORD: &str = "a long enough password";

/// The departments (`source`) of the vectors' listings, in file order.
fn sources() -> Vec<String> {
    let recs = xinyi_core::csv::records(&shared("vectors/listings.csv")).unwrap();
    let col = recs[0]
        .fields
        .iter()
        .position(|f| f.as_slice() == b"source")
        .unwrap();
    let mut out: Vec<String> = Vec::new();
    for r in &recs[1..] {
        let s = String::from_utf8(r.fields[col].clone()).unwrap();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A department that submitted none of the vectors' listings.
fn other_department() -> String {
    format!("{}（另一部门）", sources()[0])
}

pub(crate) struct World {
    _tmp: tempfile::TempDir,
    pub(crate) hub: Arc<Hub>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) console: Console,
}

fn vectors_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(UnixTime(
        xinyi_testkit::first_at(&xinyi_testkit::vectors()).0,
    )))
}

/// The console of a hub with the test site and no lists, and its users:
/// `admin`, `auditor`, `dept` (a submitter of the vectors' first
/// department), `unit` (the operator of the test site's unit) and
/// `other-unit` (an operator of a unit with no site here).
pub(crate) async fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let clock = vectors_clock();
    let hub = Arc::new(hub(&tmp.path().join("hub")).with_clock(clock.clone()));
    console_of(tmp, hub, clock).await
}

/// [`world`] with the vectors' lists imported and the terminals' API
/// served too.
pub(crate) async fn served_world() -> (World, xinyi_hub::http::Server) {
    let tmp = tempfile::tempdir().unwrap();
    let clock = vectors_clock();
    let (hub, server) = served_at(&tmp.path().join("hub"), clock.clone()).await;
    (console_of(tmp, hub, clock).await, server)
}

async fn console_of(tmp: tempfile::TempDir, hub: Arc<Hub>, clock: Arc<ManualClock>) -> World {
    let by = Actor::Cli("test".into());
    let own = sources()[0].clone();
    let other = format!("{UNIT}（另一单位）");
    for (name, role, scope) in [
        ("admin", Role::Admin, None),
        ("auditor", Role::Auditor, None),
        ("dept", Role::Submitter, Some(own.as_str())),
        ("unit", Role::Operator, Some(UNIT)),
        ("other-unit", Role::Operator, Some(other.as_str())),
    ] {
        hub.add_user(
            &NewUser {
                name,
                role,
                scope,
                password: PASSWORD,
            },
            &by,
        )
        .unwrap();
    }
    let console = Console::start(hub.clone()).await.unwrap();
    World {
        _tmp: tmp,
        hub,
        clock,
        console,
    }
}

/// A client that keeps the console's cookies and follows no redirect.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

/// The audit log's entries whose action starts with `prefix`, newest first.
pub(crate) fn audit_entries(hub: &Hub, prefix: &str) -> Vec<xinyi_hub::audit::AuditEntry> {
    hub.audit_log(&AuditQuery {
        before: None,
        action: None,
        limit: 1000,
    })
    .unwrap()
    .into_iter()
    .filter(|e| e.action.starts_with(prefix))
    .collect()
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

impl Client {
    pub(crate) fn new(w: &World) -> Client {
        Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: w.console.url(),
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> reqwest::Response {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    pub(crate) async fn sign_in(&mut self, name: &str, password: &str) -> reqwest::Response {
        let page = self.get("/signin").await.text().await.unwrap();
        let csrf = hidden(&page, "csrf");
        self.post(
            "/signin",
            &[("csrf", &csrf), ("name", name), ("password", password)],
        )
        .await
    }

    pub(crate) async fn signed_in(w: &World, name: &str) -> Client {
        let mut c = Client::new(w);
        let res = c.sign_in(name, PASSWORD).await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "{name} did not sign in"
        );
        c
    }

    /// The session's CSRF token, from a page's sign-out form.
    pub(crate) async fn csrf(&mut self) -> String {
        let page = self.get("/").await.text().await.unwrap();
        hidden(&page, "csrf")
    }
}

#[tokio::test]
async fn each_role_opens_only_its_part() {
    let w = world().await;
    let own = sources()[0].clone();
    let mut dept = Client::signed_in(&w, "dept").await;
    assert_eq!(dept.get("/lists").await.status(), StatusCode::OK);
    let path = format!("/lists/source/{}", query_value(&own));
    assert_eq!(dept.get(&path).await.status(), StatusCode::OK);
    // Another department's list: forbidden, and it says so.
    let path = format!("/lists/source/{}", query_value(&other_department()));
    let res = dept.get(&path).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains(&own));
    for path in ["/sites", "/reports", "/audit", "/users", "/audit.csv"] {
        assert_eq!(
            dept.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let mut unit = Client::signed_in(&w, "unit").await;
    assert_eq!(unit.get("/sites").await.status(), StatusCode::OK);
    assert_eq!(unit.get("/reports").await.status(), StatusCode::OK);
    assert_eq!(unit.get("/lists").await.status(), StatusCode::FORBIDDEN);
    // An operator's usage is its unit's; the reports spanning units are not its.
    assert_eq!(
        unit.get("/reports/usage.csv").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        unit.get("/reports/overuse.csv").await.status(),
        StatusCode::FORBIDDEN
    );
    let mut auditor = Client::signed_in(&w, "auditor").await;
    assert_eq!(auditor.get("/audit").await.status(), StatusCode::OK);
    let csrf = auditor.csrf().await;
    let res = auditor
        .post(
            "/users",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(w.hub.users().unwrap().iter().all(|u| u.name != "x"));
    // Nobody signed in: every page leads to the sign-in page.
    let mut anon = Client::new(&w);
    for path in ["/", "/lists", "/audit", "/reports/usage.csv"] {
        let res = anon.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.headers()[LOCATION], "/signin");
    }
}

#[tokio::test]
async fn a_form_without_its_session_token_is_refused() {
    let w = world().await;
    let mut admin = Client::signed_in(&w, "admin").await;
    let site = w.hub.sites().unwrap()[0].id.clone();
    let codes_before = w
        .hub
        .audit_log(&AuditQuery {
            action: Some("enroll.code".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .len();
    // No token, and another session's token.
    let other = Client::signed_in(&w, "auditor").await.csrf().await;
    for form in [vec![], vec![("csrf", other.as_str())]] {
        let res = admin.post(&format!("/sites/{site}/enroll"), &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().await.unwrap().contains("id=\"problem\""));
    }
    let res = admin.post("/signout", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Nothing happened: no code issued, still signed in.
    let codes_after = w
        .hub
        .audit_log(&AuditQuery {
            action: Some("enroll.code".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .len();
    assert_eq!(codes_before, codes_after);
    assert_eq!(admin.get("/").await.status(), StatusCode::OK);
    // With the token it works.
    let csrf = admin.csrf().await;
    let res = admin
        .post(&format!("/sites/{site}/enroll"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The sign-in form needs its own double-submit cookie.
    let mut fresh = Client::new(&w);
    let res = fresh
        .post(
            "/signin",
            &[
                ("csrf", "0".repeat(64).as_str()),
                ("name", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn repeated_failures_shut_the_account_for_a_while() {
    let w = world().await;
    let mut c = Client::new(&w);
    for _ in 0..MAX_FAILURES {
        let res = c.sign_in("dept", "not the password at all").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Shut: the right password does not open it.
    let res = c.sign_in("dept", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"error\""), "{body}");
    let failed = |action: &str| {
        w.hub
            .audit_log(&AuditQuery {
                action: Some(action.into()),
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .len()
    };
    assert_eq!(failed("signin.failed") as i64, MAX_FAILURES - 1);
    assert_eq!(failed("signin.lockout"), 1);
    assert_eq!(failed("signin.locked"), 1);
    // An unknown name reads the same as a wrong password.
    let res = c.sign_in("nobody", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    w.clock.advance(LOCKOUT + 1);
    let res = c.sign_in("dept", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_ends_when_idle_and_at_sign_out() {
    let w = world().await;
    let mut c = Client::signed_in(&w, "admin").await;
    let session = c
        .cookies
        .iter()
        .find(|(k, _)| k == "xinyi_session")
        .unwrap()
        .1
        .clone();
    // The database keeps only a hash of the cookie's token.
    for f in common::database_files(w.hub.dir()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            memchr::memmem::find(&bytes, session.as_bytes()).is_none(),
            "{}",
            f.display()
        );
    }
    w.clock.advance(IDLE_TIMEOUT + 1);
    assert_eq!(c.get("/").await.status(), StatusCode::SEE_OTHER);
    let mut c = Client::signed_in(&w, "admin").await;
    let csrf = c.csrf().await;
    assert_eq!(
        c.post("/signout", &[("csrf", &csrf)]).await.status(),
        StatusCode::SEE_OTHER
    );
    // The cookie is cleared, and the old token no longer opens anything.
    c.cookies.push(("xinyi_session".into(), session));
    assert_eq!(c.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn pages_carry_cookies_and_headers_that_keep_them_to_this_console() {
    let w = world().await;
    let mut c = Client::new(&w);
    let page = c.get("/signin").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let res = c
        .post(
            "/signin",
            &[("csrf", &csrf), ("name", "admin"), ("password", PASSWORD)],
        )
        .await;
    let cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("xinyi_session="))
        .unwrap();
    for want in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(want), "{cookie}");
    }
    let res = c.get("/").await;
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    // No script anywhere.
    assert!(!res.text().await.unwrap().contains("<script"));
}

/// The vectors' listings with the first data row's department changed.
fn listings_with_a_foreign_row() -> (Vec<u8>, usize) {
    let recs = xinyi_core::csv::records(&shared("vectors/listings.csv")).unwrap();
    let col = recs[0]
        .fields
        .iter()
        .position(|f| f.as_slice() == b"source")
        .unwrap();
    let own = sources()[0].clone();
    let mut out = Vec::new();
    let mut foreign_line = 0;
    for (i, r) in recs.iter().enumerate() {
        let mut fields: Vec<String> = r
            .fields
            .iter()
            .map(|f| String::from_utf8(f.clone()).unwrap())
            .collect();
        if i > 0 && fields[col] != own {
            continue;
        }
        if i == 1 {
            fields[col] = other_department();
            foreign_line = 2;
        }
        let quoted: Vec<String> = fields
            .iter()
            .map(|f| {
                if f.contains([',', '"']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            })
            .collect();
        out.extend_from_slice(quoted.join(",").as_bytes());
        out.push(b'\n');
    }
    (out, foreign_line)
}

#[tokio::test]
async fn a_submitter_cannot_submit_rows_of_another_department() {
    let w = world().await;
    let mut dept = Client::signed_in(&w, "dept").await;
    let csrf = dept.csrf().await;
    let (file, line) = listings_with_a_foreign_row();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("what", "listings")
        .part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name("listings.csv"),
        );
    let res = dept
        .http
        .post(format!("{}/lists/check", dept.base))
        .header(COOKIE, dept.cookie_header())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("<td class=\"num\">{line}</td><td>source</td>")),
        "{page}"
    );
    assert!(!page.contains("id=\"confirm\""));
    // Nothing imported; the rejected submission is on record.
    assert_eq!(w.hub.current_version().unwrap().unwrap().listings, 0);
    let rejected = w
        .hub
        .audit_log(&AuditQuery {
            action: Some("listings.rejected".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].actor, "user:dept");
}

#[tokio::test]
async fn the_audit_log_shows_an_edit_behind_the_hubs_back() {
    let w = world().await;
    let mut admin = Client::signed_in(&w, "admin").await;
    let csrf = admin.csrf().await;
    let site = w.hub.sites().unwrap()[0].id.clone();
    admin
        .post(&format!("/sites/{site}/enroll"), &[("csrf", &csrf)])
        .await;
    assert!(matches!(w.hub.verify_audit_log().unwrap(), AuditCheck::Intact(n) if n >= 5));
    let dir = w.hub.dir();
    // The schema refuses edits and deletions…
    for sql in [
        "UPDATE audit_log SET detail = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
    ] {
        let err = common::behind_the_back(dir, sql, sql).unwrap_err();
        assert!(err.contains("append-only"), "{err}");
    }
    // …and one who drops the guard still breaks the chain at that entry.
    common::behind_the_back(
        dir,
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'user:someone' WHERE seq = 2;",
        "DROP TRIGGER audit_log_no_update ON audit_log; UPDATE audit_log SET actor = 'user:someone' WHERE seq = 2;",
    )
    .unwrap();
    assert_eq!(
        w.hub.verify_audit_log().unwrap(),
        AuditCheck::BrokenAt {
            seq: 2,
            why: "its content does not match its hash".into()
        }
    );
    let res = admin.get("/audit").await;
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"chain\" class=\"error\""), "{page}");
}

#[test]
fn the_first_administrator_is_made_at_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    ok(&cli(&dir, &["init"]));
    let add = |name: &str, args: &[&str], password: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xinyi-hub"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["user", "add", name])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that refuses its arguments exits before it reads the
        // password, and the write then meets a closed pipe.
        if let Err(e) = writeln!(child.stdin.take().unwrap(), "{password}") {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    };
    ok(&add("root", &["--role", "admin"], PASSWORD));
    // A short password, a submitter without a department, an unknown role.
    for (args, pw, why) in [
        (&["--role", "admin"][..], "short", "at least 12"),
        (&["--role", "submitter"][..], PASSWORD, "department"),
        (&["--role", "king"][..], PASSWORD, "no role"),
    ] {
        let o = add("other", args, pw);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{err}");
    }
    let list = ok(&cli(&dir, &["user", "list"]));
    assert!(list.contains("root,admin,"), "{list}");
    assert!(!list.contains("other"), "{list}");
    let verified = ok(&cli(&dir, &["audit", "verify"]));
    assert!(verified.contains("intact: 1 entries"), "{verified}");
    let out = tmp.path().join("audit.csv");
    ok(&cli(
        &dir,
        &["audit", "export", "--out", out.to_str().unwrap()],
    ));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains("user.add") && l.contains(",root,")),
        "{csv}"
    );
    // The password itself is nowhere in the database.
    let db = std::fs::read(dir.join("hub.db")).unwrap();
    assert!(!db.windows(PASSWORD.len()).any(|x| x == PASSWORD.as_bytes()));
}

/// A look-up by ID number: only the roles that handle people's cases may
/// make one, each states why, the page masks the ID number and the name
/// until a second, audited step reveals them, and the audit log names the
/// masked ID number and the purpose, never the full ID number.
#[tokio::test]
async fn a_look_up_by_id_number_is_masked_audited_and_needs_a_purpose() {
    let w = world().await;
    w.hub
        .import_listings(&shared("vectors/listings.csv"))
        .unwrap();
    let id = xinyi_testkit::first_listed_id_number();
    let held = w.hub.listings().unwrap();
    let listing = held.iter().find(|l| l.id_number == id).unwrap();
    let (kind, name) = (listing.kind.clone(), listing.name.clone());
    let masked = xinyi_hub::audit::mask_id_number(&id);
    assert_ne!(masked, id);

    for who in ["dept", "unit"] {
        let mut c = Client::signed_in(&w, who).await;
        assert_eq!(c.get("/people").await.status(), StatusCode::FORBIDDEN);
        let csrf = c.csrf().await;
        let res = c
            .post(
                "/people",
                &[
                    ("csrf", &csrf),
                    ("kind", &kind),
                    ("id_number", &id),
                    ("purpose", "x"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let looked_up = |hub: &Hub| audit_entries(hub, "subject.");

    let mut admin = Client::signed_in(&w, "admin").await;
    assert_eq!(admin.get("/people").await.status(), StatusCode::OK);
    let csrf = admin.csrf().await;
    // Without its session's token, or without a purpose: refused, not made.
    let res = admin
        .post(
            "/people",
            &[
                ("csrf", "forged"),
                ("kind", &kind),
                ("id_number", &id),
                ("purpose", "objection 1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = admin
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("kind", &kind),
                ("id_number", &id),
                ("purpose", "  "),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"problem\""), "{page}");
    assert!(!page.contains(&name));
    // A malformed ID number: said, not looked up.
    let mut wrong = id.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '1' { '2' } else { '1' });
    let res = admin
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("kind", &kind),
                ("id_number", &wrong),
                ("purpose", "objection 1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("not a valid"));
    assert!(looked_up(&w.hub).is_empty());

    // With a purpose: found, masked.
    let purpose = "异议 2026-0001";
    let res = admin
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("kind", &kind),
                ("id_number", &id),
                ("purpose", purpose),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains(&masked), "{page}");
    assert!(page.contains("id=\"subject-listings\""));
    assert!(page.contains(&listing.category));
    assert!(!page.contains(&name), "the full name before the reveal");
    let shown = page.matches(id.as_str()).count();
    assert_eq!(shown, 1, "the ID number only in the reveal form's field");
    let entries = looked_up(&w.hub);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "subject.lookup");
    assert_eq!(entries[0].actor, "user:admin");
    assert!(entries[0].target.contains(&masked));
    assert!(entries[0].detail.contains(purpose));

    // The reveal: the full name and ID number, in the log as such.
    let res = admin
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("kind", &kind),
                ("id_number", &id),
                ("purpose", purpose),
                ("reveal", "1"),
            ],
        )
        .await;
    let page = res.text().await.unwrap();
    assert!(page.contains(&name));
    assert!(page.contains(&format!("id=\"subject-id\">{id}<")));
    let entries = looked_up(&w.hub);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].action, "subject.reveal");
    for e in &entries {
        for field in [&e.target, &e.detail] {
            assert!(!field.contains(&id), "the full ID number in the log: {e:?}");
            assert!(!field.contains(&name), "the full name in the log: {e:?}");
        }
    }
    // The auditor reads too; the look-up is logged as the auditor's.
    let mut auditor = Client::signed_in(&w, "auditor").await;
    let csrf = auditor.csrf().await;
    let res = auditor
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("kind", &kind),
                ("id_number", &id),
                ("purpose", "spot check"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(looked_up(&w.hub)[0].actor, "user:auditor");
}

async fn send(c: &mut Client, f: Vec<(String, String)>) -> reqwest::Response {
    let p: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    c.post("/sites", &p).await
}

/// The credit office adds a site from the console: published with the
/// catalogue's measures, audited; a measure the catalogue lacks or a
/// malformed number is refused, saying which; a unit's operator cannot.
#[tokio::test]
async fn the_credit_office_adds_a_site() {
    let w = world().await;
    let measure = w.hub.catalogue().unwrap().unwrap().measures()[0]
        .id
        .to_string();
    let mut unit = Client::signed_in(&w, "unit").await;
    let csrf = unit.csrf().await;
    let form = |csrf: &str, measures: &str, hours: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("id".to_owned(), "kiosk-9".to_owned()),
            ("name".to_owned(), "新站点".to_owned()),
            ("unit".to_owned(), "某单位".to_owned()),
            ("measures".to_owned(), measures.to_owned()),
            ("max_offline_hours".to_owned(), hours.to_owned()),
            ("unattended".to_owned(), "1".to_owned()),
        ]
    };
    let res = send(&mut unit, form(&csrf, &measure, "")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut admin = Client::signed_in(&w, "admin").await;
    let csrf = admin.csrf().await;
    let res = send(&mut admin, form(&csrf, "NO-SUCH-MEASURE", "")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("NO-SUCH-MEASURE"));
    let res = send(&mut admin, form(&csrf, &measure, "many")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("max_offline_hours"));
    assert!(w.hub.sites().unwrap().iter().all(|s| s.id != "kiosk-9"));
    let before = w.hub.current_version().unwrap().unwrap().version;
    let res = send(&mut admin, form(&csrf, &measure, "48")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let site = w
        .hub
        .sites()
        .unwrap()
        .into_iter()
        .find(|s| s.id == "kiosk-9")
        .unwrap();
    assert_eq!(site.measures, vec![measure.clone()]);
    assert_eq!(site.max_offline_age_s, 48 * 3600);
    assert!(site.unattended);
    assert!(w.hub.current_version().unwrap().unwrap().version > before);
    let log = w
        .hub
        .audit_log(&AuditQuery {
            before: None,
            action: Some("site.set".into()),
            limit: 10,
        })
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].target.as_str(), log[0].actor.as_str()),
        ("kiosk-9", "user:admin")
    );

    // The site's own complaint address: checked as terminals check it,
    // published in place of the registry's page, audited, shown.
    let mut bad = form(&csrf, &measure, "48");
    bad.push(("objection_url".into(), "ftp://xyjl.example.gov.cn/c".into()));
    let res = send(&mut admin, bad).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("objection") && text.contains("must start with http:// or https://"),
        "{text}"
    );
    let own = "https://12345.example.gov.cn/form?kind=ts";
    let mut f = form(&csrf, &measure, "48");
    f.push(("objection_url".into(), " ".into()));
    f.push(("complaint_url".into(), own.into()));
    assert_eq!(send(&mut admin, f).await.status(), StatusCode::OK);
    let published = w.hub.current_config().unwrap().unwrap();
    let site = published.sites.iter().find(|s| s.id == "kiosk-9").unwrap();
    assert_eq!(site.complaint_url.as_deref(), Some(own));
    let public = w.hub.public_url().unwrap();
    assert_eq!(
        site.objection_url,
        Some(format!("{public}/c/objection")),
        "a blank address takes the registry's page"
    );
    let log = w
        .hub
        .audit_log(&AuditQuery {
            before: None,
            action: Some("site.set".into()),
            limit: 1,
        })
        .unwrap();
    assert!(log[0].detail.contains(own), "{}", log[0].detail);
    let page = admin.get("/sites").await.text().await.unwrap();
    assert!(page.contains(own), "the sites page shows the address");

    // Changing the site starts from what it holds: the form comes filled,
    // so saving it as it is keeps the site's own address.
    let page = admin.get("/sites?edit=kiosk-9").await.text().await.unwrap();
    assert!(page.contains("id=\"add-site\" open>"), "{page}");
    let value = |name: &str| -> String {
        let at = page.find(&format!("name=\"{name}\"")).unwrap();
        let rest = &page[at..];
        let v = &rest[rest.find("value=\"").unwrap() + 7..];
        v[..v.find('"').unwrap()]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
            .replace("&#61;", "=")
    };
    assert_eq!(value("complaint_url"), own);
    assert_eq!(value("objection_url"), "");
    assert_eq!(value("max_offline_hours"), "48");
    let again: Vec<(String, String)> = [
        "id",
        "name",
        "unit",
        "measures",
        "max_offline_hours",
        "online_deadline_ms",
        "void_window_minutes",
        "objection_url",
        "complaint_url",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), value(n)))
    .chain([
        ("csrf".to_owned(), csrf.clone()),
        ("unattended".to_owned(), "1".to_owned()),
    ])
    .collect();
    assert_eq!(send(&mut admin, again).await.status(), StatusCode::OK);
    let site = w
        .hub
        .sites()
        .unwrap()
        .into_iter()
        .find(|s| s.id == "kiosk-9")
        .unwrap();
    assert_eq!(site.complaint_url.as_deref(), Some(own));
    assert_eq!(site.max_offline_age_s, 48 * 3600);
    assert!(site.unattended);
    // Only the credit office gets the form; an unknown site is not found.
    let res = unit.get("/sites?edit=kiosk-9").await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"sites\"") && !page.contains("id=\"add-site\""));
    assert_eq!(
        admin.get("/sites?edit=nowhere").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The charts come as PNG too: a real image of the SVG's size, drawn (not
/// blank), for those who may open the reports; not for a department.
#[tokio::test]
async fn charts_download_as_png() {
    let w = world().await;
    let mut admin = Client::signed_in(&w, "admin").await;
    for (png, svg) in [
        ("/reports/usage.png", "/reports/usage.svg"),
        ("/reports/refusals.png", "/reports/refusals.svg"),
        ("/charts/30d.png", "/charts/30d.svg"),
    ] {
        let res = admin.get(png).await;
        assert_eq!(res.status(), StatusCode::OK, "{png}");
        assert_eq!(res.headers()["content-type"], "image/png");
        let bytes = res.bytes().await.unwrap();
        let image = resvg::tiny_skia::Pixmap::decode_png(&bytes).unwrap();
        let text = admin.get(svg).await.text().await.unwrap();
        let attr = |name: &str| -> u32 {
            let at = text.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            text[at..at + text[at..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        assert_eq!(
            (image.width(), image.height()),
            (attr("width"), attr("height")),
            "{png}"
        );
        let drawn = image
            .pixels()
            .iter()
            .filter(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255))
            .count();
        assert!(drawn > 1000, "{png}: {drawn} pixels drawn");
    }
    let mut dept = Client::signed_in(&w, "dept").await;
    assert_eq!(
        dept.get("/reports/usage.png").await.status(),
        StatusCode::FORBIDDEN
    );
}

/// The table row of `html` whose `data-staff` is `id`.
fn staff_row<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("data-staff=\"{id}\""))
        .unwrap_or_else(|| panic!("no row for {id} in {html}"));
    let row = &html[html[..at].rfind("<tr").unwrap()..];
    &row[..row.find("</tr>").unwrap()]
}

/// The number in the cell of class `class` in `row`.
fn cell(row: &str, class: &str) -> u64 {
    let key = format!("class=\"num {class}\">");
    let at = row
        .find(&key)
        .unwrap_or_else(|| panic!("no {class} cell in {row}"));
    let rest = &row[at + key.len()..];
    let text = rest[..rest.find('<').unwrap()].trim();
    text.parse()
        .unwrap_or_else(|_| panic!("{class} is {text:?} in {row}"))
}

/// A unit's operator sees the staff of its terminals as the terminals'
/// own records built the roster: members and their roles, who changed
/// them, removed ids, ids typed at failed sign-ins, lock-outs, and what
/// each did; the fleet table counts the members and flags lock-outs.
/// Another unit's operator and a department's submitter see nothing.
#[tokio::test]
async fn a_unit_sees_the_staff_its_terminals_reported() {
    let (w, server) = served_world().await;
    let code = w
        .hub
        .create_enrollment_code(crate::common::SITE, None)
        .unwrap();
    let mut t = Terminal::new(&w.hub, &server.url());
    t.clock = Some(w.clock.clone());
    t.enroll(&code.code).await;
    let at = w.clock.now().0;
    w.clock.set(UnixTime(at + 3600));
    let staff = |event, staff: &str, role: Option<&str>| Body::Staff {
        event,
        staff: staff.into(),
        role: role.map(Into::into),
    };
    let citizen = xinyi_testkit::citizen_for(
        &xinyi_testkit::vectors(),
        &xinyi_core::MeasureId::parse(MEASURE).unwrap(),
        UnixTime(at),
        0,
    );
    // Two members, a third set up and removed, a stranger's and a
    // member's failed sign-ins, a lock-out, and one redemption.
    let removed = format!("{OPERATOR}-left");
    let stranger = format!("{SUPERVISOR}-guess");
    let mut batch = t.roster(at + 60);
    batch.push(
        t.record(
            at + 70,
            staff(StaffEvent::OperatorSet, &removed, Some("clerk")),
        )
        .1,
    );
    batch.push(
        t.record(at + 80, staff(StaffEvent::OperatorRemoved, &removed, None))
            .1,
    );
    for n in 0..3 {
        batch.push(
            t.record(
                at + 100 + n,
                staff(StaffEvent::SignInFailed, OPERATOR, None),
            )
            .1,
        );
    }
    batch.push(
        t.record(at + 110, staff(StaffEvent::LockedOut, OPERATOR, None))
            .1,
    );
    batch.push(
        t.record(at + 120, staff(StaffEvent::SignInFailed, &stranger, None))
            .1,
    );
    batch.push(t.redemption(at + 200, citizen.sub.as_str(), 1000).1);
    let receipt = t.upload(&batch).await;
    assert_eq!(receipt.stored, batch.len() as u64);
    let flagged = w.hub.flagged_report().unwrap();
    assert!(flagged.is_empty(), "{flagged:?}");

    let mut unit = Client::signed_in(&w, "unit").await;
    let res = unit.get(&format!("/terminals/{}/staff", t.id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("class=\"members\">2<"), "{html}");
    assert!(html.contains("class=\"failed\">4<"), "{html}");
    assert!(html.contains("class=\"lockouts\">1<"), "{html}");
    let op = staff_row(&html, OPERATOR);
    assert!(op.contains("class=\"member\""), "{op}");
    assert_eq!(cell(op, "failed"), 3);
    assert_eq!(cell(op, "lockouts"), 1);
    assert_eq!(cell(op, "redemptions"), 1);
    assert_eq!(cell(op, "refusals"), 0);
    let sup = staff_row(&html, SUPERVISOR);
    assert!(sup.contains("class=\"member\""), "{sup}");
    assert!(sup.contains(OPERATOR), "who set the supervisor up: {sup}");
    assert_eq!(cell(sup, "redemptions"), 0);
    assert!(staff_row(&html, &removed).contains("class=\"removed\""));
    let guess = staff_row(&html, &stranger);
    assert!(guess.contains("class=\"unknown\""), "{guess}");
    assert_eq!(cell(guess, "failed"), 1);
    // Members first, then removed ids, then strangers.
    let pos = |id: &str| html.find(&format!("data-staff=\"{id}\"")).unwrap();
    assert!(pos(OPERATOR) < pos(&removed) && pos(&removed) < pos(&stranger));

    let sites = unit.get("/sites").await.text().await.unwrap();
    let row = &sites[sites.find(&format!("id=\"terminal-{}\"", t.id)).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(&format!("href=\"/terminals/{}/staff\">2</a>", t.id)),
        "{row}"
    );
    assert!(row.contains("工号锁定 1"), "{row}");

    // Another unit's operator, and a department, are kept out.
    let mut other = Client::signed_in(&w, "other-unit").await;
    let res = other.get(&format!("/terminals/{}/staff", t.id)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains(OPERATOR));
    let other_sites = other.get("/sites").await.text().await.unwrap();
    assert!(!other_sites.contains(&t.id));
    let mut dept = Client::signed_in(&w, "dept").await;
    let res = dept.get(&format!("/terminals/{}/staff", t.id)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The credit office sees it too; an unknown terminal is not found.
    let mut admin = Client::signed_in(&w, "admin").await;
    let res = admin.get(&format!("/terminals/{}/staff", t.id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = admin.get("/terminals/no-such-terminal/staff").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The fleet table flags a terminal whose signed request said its clock
/// was more than a minute off the hub's, and stops flagging it once a
/// request comes on time.
#[tokio::test]
async fn the_fleet_flags_a_terminal_whose_clock_is_off() {
    let (w, server) = served_world().await;
    let code = w
        .hub
        .create_enrollment_code(crate::common::SITE, None)
        .unwrap();
    let mut t = Terminal::new(&w.hub, &server.url());
    t.clock = Some(w.clock.clone());
    t.enroll(&code.code).await;
    let mut admin = Client::signed_in(&w, "admin").await;
    let flags = |html: &str| -> String {
        let row = &html[html.find(&format!("id=\"terminal-{}\"", t.id)).unwrap()..];
        row[..row.find("</tr>").unwrap()].to_owned()
    };
    let metadata_at = |ahead: i64| {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        t.request(
            reqwest::Method::GET,
            "/v1/metadata?have=0",
            Vec::new(),
            w.clock.now().0 + ahead,
            nonce,
        )
    };
    let ahead = 2 * 60;
    let res = metadata_at(ahead).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let row = flags(&admin.get("/sites").await.text().await.unwrap());
    assert!(row.contains(&format!(">+{ahead}<")), "{row}");
    assert!(row.contains("时钟偏差"), "{row}");
    let res = metadata_at(0).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let row = flags(&admin.get("/sites").await.text().await.unwrap());
    assert!(row.contains(">+0<"), "{row}");
    assert!(!row.contains("时钟偏差"), "{row}");
}
