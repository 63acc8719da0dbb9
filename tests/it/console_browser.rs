//! The registry's web console in a real browser (headless Chromium driven
//! through chromedriver), as its people use it: the administrator signs in
//! and issues an enrollment code that a real terminal enrolls with; a
//! department's submitter uploads the vectors' bad listings and sees every
//! row's error, then a good file and sees the new data version, and cannot
//! open another department's list; the administrator imports the whole
//! list, the terminal serves a citizen, and the usage report shows a chart
//! whose CSV is the command line's report; the terminal is revoked.
//!
//! Screenshots of the pages go to a temporary folder, or to
//! `docs/screenshots/console/` with `XINYI_SCREENSHOTS=1`. Without
//! chromedriver on the machine the test says so and passes, unless
//! `XINYI_REQUIRE_BROWSER=1` (as CI sets) makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use xinyi::counter::Counter as _;
use xinyi::terminal::{Paths, Scan, Terminal};
use xinyi_core::Fen;
use xinyi_hub::accounts::{NewUser, Role};
use xinyi_hub::audit::Actor;
use xinyi_hub::http::Server;
use xinyi_hub::http::console::Console;
use xinyi_hub::{Hub, ReportKind};
use xinyi_testkit::{catalogue, citizen_for, first_at, read, shared, vectors};

use crate::sync_loop::registry_without_lists;
use crate::terminal_support::{CLERK, CLERK_NAME, clerk};

pub(crate) const PASSWORD: &str = "console test password";

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// chromedriver on a free port of 127.0.0.1, and a headless Chromium
/// session through it at an office screen's size.
pub(crate) struct Browser {
    driver: Child,
    pub(crate) client: Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the browser it started share a process group
        // of their own: all of it goes, also when a test failed midway.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub(crate) async fn browser() -> Option<Browser> {
    let Some(driver) = on_path("chromedriver") else {
        assert!(
            std::env::var_os("XINYI_REQUIRE_BROWSER").is_none(),
            "XINYI_REQUIRE_BROWSER is set but chromedriver is not on PATH (Debian: apt install chromium chromium-driver)"
        );
        eprintln!(
            "console browser test not run: no chromedriver on PATH (Debian: apt install chromium chromium-driver)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,800",
        "--hide-scrollbars",
    ];
    if std::env::var_os("XINYI_BROWSER_LOG").is_some() {
        args.push("--enable-logging=stderr");
    }
    let mut opts = json!({ "args": args });
    if let Some(bin) = on_path("chromium") {
        opts["binary"] = json!(bin);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), opts);
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    // chromedriver takes a moment to listen.
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    driver: child,
                    client,
                });
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start a session: {last:?}");
}

/// Where the screenshots go: `docs/screenshots/<sub>` with
/// `XINYI_SCREENSHOTS=1`, else a temporary folder.
pub(crate) fn shots(sub: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    if std::env::var_os("XINYI_SCREENSHOTS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/screenshots")
            .join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        (None, dir)
    } else {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        (Some(tmp), dir)
    }
}

pub(crate) async fn shot(c: &Client, dir: &Path, name: &str) {
    // This machine has no CJK font: text the page laid out before the
    // bundled font arrived is laid out again once every font has loaded,
    // so the picture shows what a reader's browser shows.
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         document.fonts.ready.then(() => {
             const b = document.body;
             b.style.fontFamily = 'serif';
             void b.offsetHeight;
             b.style.fontFamily = '';
             void b.offsetHeight;
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
         });",
        vec![],
    )
    .await
    .unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The element `loc`, waiting for the page that has it.
pub(crate) async fn find(c: &Client, loc: Locator<'_>) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(loc)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let url = c.current_url().await.map(|u| u.to_string());
            let page = c.source().await;
            panic!("no {loc:?}: {e}\nat {url:?}, the page:\n{page:?}");
        }
    }
}

/// The text of the element `css`, waiting for the page that has it (a
/// click's navigation may still be under way).
pub(crate) async fn text(c: &Client, css: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => match e.text().await {
                Ok(t) => return t,
                // Found on the page a navigation was replacing: again.
                Err(fantoccini::error::CmdError::Standard(w))
                    if w.error == fantoccini::error::ErrorStatus::StaleElementReference
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{css}: {e}"),
            },
            Err(e) => {
                let url = c.current_url().await.map(|u| u.to_string());
                let page = c.source().await;
                panic!("no {css}: {e}\nat {url:?}, the page:\n{page:?}");
            }
        }
    }
}

pub(crate) async fn sign_in(c: &Client, base: &str, name: &str) {
    c.goto(&format!("{base}/signin")).await.unwrap();
    find(c, Locator::Id("name"))
        .await
        .send_keys(name)
        .await
        .unwrap();
    find(c, Locator::Id("password"))
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    find(c, Locator::Id("signin")).await.click().await.unwrap();
    let me = text(c, "#me").await;
    assert!(me.starts_with(name), "{name} is not signed in: {me}");
}

pub(crate) async fn sign_out(c: &Client, base: &str) {
    // From the overview: an error page has no sign-out button.
    c.goto(&format!("{base}/")).await.unwrap();
    find(c, Locator::Id("signout")).await.click().await.unwrap();
    text(c, "#signin").await;
}

/// Uploads `file` as `what` on the lists page and presses Check.
async fn check(c: &Client, base: &str, what: &str, file: &Path) {
    c.goto(&format!("{base}/lists")).await.unwrap();
    text(c, "#what").await;
    find(c, Locator::Id("what"))
        .await
        .select_by_value(what)
        .await
        .unwrap();
    find(c, Locator::Id("file"))
        .await
        // The browser takes only a canonical path.
        .send_keys(std::fs::canonicalize(file).unwrap().to_str().unwrap())
        .await
        .unwrap();
    find(c, Locator::Id("check")).await.click().await.unwrap();
    text(c, "#verdict").await;
}

/// The rows of table `css` as cell texts.
pub(crate) async fn rows(c: &Client, css: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for row in c
        .find_all(Locator::Css(&format!("{css} tbody tr")))
        .await
        .unwrap()
    {
        let mut cells = Vec::new();
        for cell in row.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(cell.text().await.unwrap());
        }
        out.push(cells);
    }
    out
}

/// Console accounts for `hub`, each with the tests' password.
pub(crate) fn add_users(hub: &Hub, users: &[(&str, Role, Option<&str>)]) {
    for &(name, role, scope) in users {
        hub.add_user(
            &NewUser {
                name,
                role,
                scope,
                password: PASSWORD,
            },
            &Actor::Cli("setup".into()),
        )
        .unwrap();
    }
}

/// A citizen served at a synced terminal at `at`: a bus top-up of 10
/// yuan under a limited measure (so it fits again at other counters),
/// confirmed by the clerk.
pub(crate) fn serve_a_citizen(t: &mut Terminal, v: &Value, at: xinyi_core::UnixTime) -> Served {
    let measure = catalogue()
        .measures()
        .iter()
        .find(|m| m.limit.is_some_and(|l| l.count >= 2))
        .expect("the sample catalogue has a limited measure")
        .id
        .clone();
    let mut citizen = citizen_for(v, &measure, at, 0);
    let code = citizen.dynamic_code(at);
    let staff = clerk(t, at);
    let scan = t.scan(&code, &measure, staff.id(), at).unwrap();
    let Scan::Ok(approval) = scan else {
        panic!("refused: {scan:?}")
    };
    let confirmed = t
        .confirm(&approval, Some(Fen(1000)), 0, true, &staff, at)
        .unwrap();
    Served {
        measure,
        citizen,
        code,
        confirmed,
    }
}

/// What [`serve_a_citizen`] did.
pub(crate) struct Served {
    pub(crate) measure: xinyi_core::MeasureId,
    pub(crate) citizen: xinyi_testkit::Citizen,
    /// The code the citizen showed.
    pub(crate) code: String,
    pub(crate) confirmed: xinyi::counter::Confirmed,
}

/// The vectors' listings file restricted to one department's rows.
fn listings_of(source: &str) -> Vec<u8> {
    let bytes = read("vectors/listings.csv");
    let text = String::from_utf8(bytes).unwrap();
    let recs = xinyi_core::csv::records(text.as_bytes()).unwrap();
    let col = recs[0]
        .fields
        .iter()
        .position(|f| f.as_slice() == b"source")
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = format!("{}\n", lines[0]);
    for r in &recs[1..] {
        if r.fields[col] == source.as_bytes() {
            out.push_str(lines[r.line - 1]);
            out.push('\n');
        }
    }
    out.into_bytes()
}

fn first_source() -> String {
    let recs = xinyi_core::csv::records(&read("vectors/listings.csv")).unwrap();
    let col = recs[0]
        .fields
        .iter()
        .position(|f| f.as_slice() == b"source")
        .unwrap();
    String::from_utf8(recs[1].fields[col].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_browser() {
    let Some(b) = browser().await else { return };
    let c = &b.client;
    let (_shots_tmp, shots) = shots("console");
    let v: Value = vectors();
    let tmp = tempfile::tempdir().unwrap();
    let (hub, clock) = registry_without_lists(&tmp.path().join("hub"), &v);
    let at = first_at(&v);
    clock.set(at);
    let source = first_source();
    // A unit that runs a measure of the sample catalogue.
    let unit = catalogue().measures()[0].unit.clone();
    add_users(
        &hub,
        &[
            ("admin", Role::Admin, None),
            ("wenmingban", Role::Submitter, Some(source.as_str())),
            ("unit", Role::Operator, Some(unit.as_str())),
        ],
    );
    let hub: Arc<Hub> = Arc::new(hub);
    let api = Server::start(hub.clone()).await.unwrap();
    let console = Console::start(hub.clone()).await.unwrap();
    let base = console.url();

    // The administrator signs in and issues an enrollment code.
    sign_in(c, &base, "admin").await;
    shot(c, &shots, "overview").await;
    c.goto(&format!("{base}/sites")).await.unwrap();
    find(c, Locator::Css("#site-counter button.enroll"))
        .await
        .click()
        .await
        .unwrap();
    let code = text(c, "#enroll-code").await;
    let fingerprint = text(c, "#fingerprint").await;
    find(c, Locator::Css("figure.qr svg")).await;
    shot(c, &shots, "enrollment-code").await;
    // A real terminal enrolls with what the page shows.
    let mut t = Terminal::enroll(
        &Paths::new(tmp.path().join("terminal")),
        &api.url(),
        &code,
        "柜台一",
        &xinyi_core::wire::Fingerprint::parse(&fingerprint).unwrap(),
        None,
    )
    .await
    .unwrap();
    t.put_operator(
        &xinyi::store::NewOperator {
            id: CLERK.0,
            name: CLERK_NAME,
            role: xinyi::store::Role::Clerk,
            pin: CLERK.1,
        },
        None,
        at,
    )
    .unwrap();
    let terminal_id = t.identity().terminal_id.clone();
    c.goto(&format!("{base}/sites")).await.unwrap();
    let row = text(c, &format!("#terminal-{terminal_id}")).await;
    assert!(row.contains("柜台一"), "{row}");
    sign_out(c, &base).await;

    // The department's submitter: the bad file, every row's error.
    sign_in(c, &base, "wenmingban").await;
    check(c, &base, "listings", &shared("vectors/bad-listings.csv")).await;
    let errors = rows(c, "#errors").await;
    let expected: Value =
        serde_json::from_slice(&read("vectors/bad-listings.expected.json")).unwrap();
    for e in expected["errors"].as_array().unwrap() {
        let line = e["line"].as_u64().unwrap().to_string();
        let column = e["column"].as_str().unwrap_or("");
        assert!(
            errors.iter().any(|r| r[0] == line && r[1] == column),
            "line {line} column {column:?} is not in the page's errors: {errors:?}"
        );
    }
    assert!(c.find(Locator::Id("confirm")).await.is_err());
    shot(c, &shots, "lists-rejected").await;
    assert!(hub.current_version().unwrap().unwrap().listings == 0);

    // Its own good file: checked, confirmed, a new data version.
    let good = tmp.path().join("own.csv");
    std::fs::write(&good, listings_of(&source)).unwrap();
    let before = hub.current_version().unwrap().unwrap().version;
    check(c, &base, "listings", &good).await;
    let added: u64 = text(c, "#added").await.parse().unwrap();
    assert!(added > 0);
    find(c, Locator::Id("confirm")).await.click().await.unwrap();
    let flash = text(c, "#flash").await;
    let now = hub.current_version().unwrap().unwrap();
    assert!(now.version > before);
    assert!(now.listings >= added);
    assert!(flash.contains(&now.version.to_string()), "{flash}");
    c.goto(&format!("{base}/lists")).await.unwrap();
    let history = rows(c, "#history").await;
    assert_eq!(history.len(), 2, "{history:?}");
    shot(c, &shots, "lists").await;
    // Another department's list is not its to see.
    c.goto(&format!("{base}/lists/source/other-department"))
        .await
        .unwrap();
    let problem = text(c, "#problem").await;
    assert!(problem.contains("Forbidden"), "{problem}");
    sign_out(c, &base).await;

    // The administrator imports the whole list and the exclusions.
    sign_in(c, &base, "admin").await;
    check(c, &base, "listings", &shared("vectors/listings.csv")).await;
    find(c, Locator::Id("confirm")).await.click().await.unwrap();
    // The import's answer, before the next page is asked for.
    text(c, "#flash").await;
    check(c, &base, "exclusions", &shared("vectors/exclusions.csv")).await;
    find(c, Locator::Id("confirm")).await.click().await.unwrap();
    text(c, "#flash").await;

    // The terminal serves a citizen and uploads the record.
    let (down, up) = t.sync(at).await.unwrap();
    down.unwrap();
    up.unwrap();
    let Served {
        measure, citizen, ..
    } = serve_a_citizen(&mut t, &v, at);
    let (_, up) = t.sync(at).await.unwrap();
    up.unwrap();

    // The usage report: a chart, and its CSV is the command line's.
    c.goto(&format!("{base}/reports")).await.unwrap();
    find(c, Locator::Css("#usage-chart svg polyline")).await;
    let usage = rows(c, "#usage").await;
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0][1], measure.to_string());
    shot(c, &shots, "reports").await;
    let href = c
        .find(Locator::Id("usage-csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let session = c.get_named_cookie("xinyi_session").await.unwrap();
    let csv = reqwest::Client::new()
        .get(format!("{base}{href}"))
        .header("cookie", format!("xinyi_session={}", session.value()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut cli = Vec::new();
    hub.write_report(ReportKind::Usage, &mut cli).unwrap();
    assert_eq!(csv.as_ref(), cli.as_slice());

    // The citizen looked up by ID number: the use is there, the ID masked.
    let id_number = xinyi_testkit::id_number_of(&v, citizen.sub.as_str());
    c.goto(&format!("{base}/people")).await.unwrap();
    find(c, Locator::Id("kind"))
        .await
        .select_by_value("person")
        .await
        .unwrap();
    for (field, value) in [
        ("id_number", id_number.as_str()),
        ("purpose", "投诉 2026-0007"),
    ] {
        find(c, Locator::Id(field))
            .await
            .send_keys(value)
            .await
            .unwrap();
    }
    find(c, Locator::Id("search")).await.click().await.unwrap();
    let shown = text(c, "#subject-id").await;
    assert_eq!(shown, xinyi_hub::audit::mask_id_number(&id_number));
    let uses = rows(c, "#subject-uses").await;
    assert_eq!(uses.len(), 1, "{uses:?}");
    assert_eq!(
        (uses[0][0].as_str(), uses[0][1].as_str()),
        (measure.as_str(), "1")
    );
    assert_eq!(rows(c, "#subject-records").await.len(), 1);
    shot(c, &shots, "people").await;

    // The fleet table: what the terminal said of itself at its last sync.
    c.goto(&format!("{base}/sites")).await.unwrap();
    let cell = |class: &'static str| {
        let css = format!("#terminal-{terminal_id} td.{class}");
        async move { text(c, &css).await }
    };
    let held: u64 = cell("data-version").await.parse().unwrap();
    assert!(held >= 1 && held <= hub.current_version().unwrap().unwrap().version);
    assert_eq!(t.status(at).unwrap().unsent, 0);
    assert_eq!(cell("not-uploaded").await, "0");
    assert_eq!(cell("clock").await, "+0");
    assert_eq!(cell("app").await, env!("CARGO_PKG_VERSION"));
    // Who works the counter: the clerk's id and role as the terminal's
    // records told the registry, and what the clerk did; the name stays
    // at the terminal.
    assert_eq!(cell("staff").await, "1");
    find(
        c,
        Locator::Css(&format!("#terminal-{terminal_id} td.staff a")),
    )
    .await
    .click()
    .await
    .unwrap();
    let clerk_row = format!("#staff tr[data-staff='{}']", CLERK.0);
    let row = text(c, &clerk_row).await;
    assert!(row.contains("柜员"), "{row}");
    assert_eq!(text(c, &format!("{clerk_row} td.redemptions")).await, "1");
    assert!(!c.source().await.unwrap().contains(CLERK_NAME));
    shot(c, &shots, "staff").await;

    // The terminal is revoked from the console.
    c.goto(&format!("{base}/sites")).await.unwrap();
    find(
        c,
        Locator::Css(&format!("#terminal-{terminal_id} button.revoke")),
    )
    .await
    .click()
    .await
    .unwrap();
    text(c, "#flash").await;
    assert!(hub.terminal(&terminal_id).unwrap().unwrap().revoked());
    c.goto(&format!("{base}/sites")).await.unwrap();
    let row = c
        .find(Locator::Id(&format!("terminal-{terminal_id}")))
        .await
        .unwrap();
    assert_eq!(row.attr("class").await.unwrap().as_deref(), Some("revoked"));
    shot(c, &shots, "sites").await;
    // A unit applies to offer a measure; the credit office approves it.
    sign_out(c, &base).await;
    sign_in(c, &base, "unit").await;
    c.goto(&format!("{base}/measures/new")).await.unwrap();
    let today = hub.today();
    for (field, value) in [
        ("m-id", "XYG-COUNTER-BOOKS"),
        ("m-name_zh", "购书9折"),
        ("m-name_en", "Books at 90%"),
        ("m-percent", "10"),
        ("m-reason", "书店加入守信激励"),
    ] {
        find(c, Locator::Id(field))
            .await
            .send_keys(value)
            .await
            .unwrap();
    }
    // Date fields take their value as the page's own date picker would.
    for (field, value) in [
        ("m-valid_from", today.to_string()),
        ("m-valid_until", today.add_years(2).to_string()),
    ] {
        c.execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![json!(field), json!(value)],
        )
        .await
        .unwrap();
    }
    shot(c, &shots, "measure-application").await;
    find(c, Locator::Id("save")).await.click().await.unwrap();
    let flash = text(c, "#flash").await;
    assert!(flash.contains('#'), "{flash}");
    assert!(
        hub.catalogue()
            .unwrap()
            .unwrap()
            .get("XYG-COUNTER-BOOKS")
            .is_none()
    );
    sign_out(c, &base).await;
    sign_in(c, &base, "admin").await;
    c.goto(&format!("{base}/measures")).await.unwrap();
    find(c, Locator::Css("#requests tr.pending button.approve"))
        .await
        .click()
        .await
        .unwrap();
    text(c, "#flash").await;
    let approved = hub.catalogue().unwrap().unwrap();
    let m = approved.get("XYG-COUNTER-BOOKS").expect("published");
    assert_eq!(m.unit, unit);
    c.goto(&format!("{base}/measures")).await.unwrap();
    text(c, "#measure-XYG-COUNTER-BOOKS").await;
    shot(c, &shots, "measures").await;

    c.goto(&format!("{base}/audit")).await.unwrap();
    let chain = find(c, Locator::Id("chain")).await;
    assert_eq!(chain.attr("class").await.unwrap().as_deref(), Some("ok"));
    let actions: Vec<String> = rows(c, "#audit")
        .await
        .into_iter()
        .map(|r| r[3].clone())
        .collect();
    for want in [
        "terminal.revoke",
        "terminal.enroll",
        "subject.lookup",
        "measure.request",
        "measure.approve",
        "enroll.code",
        "listings.imported",
        "listings.rejected",
        "signin",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "no {want} in {actions:?}"
        );
    }
    shot(c, &shots, "audit").await;
    // English on request.
    c.goto(&format!("{base}/lang/en")).await.unwrap();
    let nav = text(c, "nav").await;
    assert!(nav.contains("Overview"), "{nav}");
    shot(c, &shots, "overview-en").await;
    api.stop().await.unwrap();
    console.stop().await.unwrap();
}
