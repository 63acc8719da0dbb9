//! The `xinyi-hub` command line end to end: init, catalogue, imports (a
//! rejected file exits 2 with its report), sites, enrollment codes,
//! reports, and errors that name the fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{cli as hub, ok};

use std::path::PathBuf;
use std::process::Command;

fn vector(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel);
    assert!(p.exists(), "shared file {} is missing", p.display());
    p
}

#[test]
fn registry_workflow_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");

    let o = hub(&dir, &["terminal", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("xinyi-hub init --data-dir"), "{err}");

    let kfile = tmp.path().join("k_pseudo.hex");
    std::fs::write(&kfile, xinyi_core::hex::encode(&common::k_pseudo())).unwrap();
    let out = ok(&hub(
        &dir,
        &["init", "--k-pseudo-file", kfile.to_str().unwrap()],
    ));
    assert!(out.contains("registry key fingerprint"), "{out}");
    // The fingerprint people read aloud: all of it, 132 bits in digits.
    let shown = xinyi_hub::Hub::open(&dir)
        .unwrap()
        .registry_fingerprint()
        .to_string();
    assert!(out.contains(&shown), "{out}");
    assert_eq!(
        shown.chars().filter(char::is_ascii_digit).count(),
        xinyi_core::wire::Fingerprint::DIGITS
    );
    assert_eq!(hub(&dir, &["init"]).status.code(), Some(1));

    let cat = vector("data/measures.toml");
    let out = ok(&hub(&dir, &["catalogue", "publish", cat.to_str().unwrap()]));
    assert!(out.contains("published version 1"), "{out}");

    let listings = vector("vectors/listings.csv");
    let out = ok(&hub(
        &dir,
        &["import", "listings", listings.to_str().unwrap()],
    ));
    assert!(out.contains("16 added"), "{out}");
    let out = ok(&hub(
        &dir,
        &["import", "listings", listings.to_str().unwrap()],
    ));
    assert!(out.contains("nothing changed"), "{out}");

    let bad = vector("vectors/bad-listings.csv");
    let o = hub(&dir, &["import", "listings", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let report = String::from_utf8_lossy(&o.stderr);
    assert!(report.contains("nothing was imported"), "{report}");
    assert!(report.contains("line 3, column id_number"), "{report}");

    let o = hub(
        &dir,
        &[
            "site",
            "add",
            "bus-1",
            "--name",
            "江城公交",
            "--unit",
            "公交公司",
            "--measures",
            "XYX-BUS-TOPUP,NOPE",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("NOPE"));
    ok(&hub(
        &dir,
        &[
            "site",
            "add",
            "bus-1",
            "--name",
            "江城公交",
            "--unit",
            "公交公司",
            "--measures",
            "XYX-BUS-TOPUP",
        ],
    ));
    let out = ok(&hub(&dir, &["site", "list"]));
    assert!(
        out.contains("bus-1,江城公交,公交公司,XYX-BUS-TOPUP,72"),
        "{out}"
    );
    // The channels: the registry's pages under the address `listen`
    // gives (no public_url in this hub.toml), or the site's own.
    assert!(
        out.contains(",http://127.0.0.1:8470/c/objection,http://127.0.0.1:8470/c/complaint"),
        "{out}"
    );
    let site_with = |flag: &str, url: &str| {
        hub(
            &dir,
            &[
                "site",
                "add",
                "bus-1",
                "--name",
                "江城公交",
                "--unit",
                "公交公司",
                "--measures",
                "XYX-BUS-TOPUP",
                flag,
                url,
            ],
        )
    };
    let o = site_with("--objection-url", "ftp://xyjl.example.gov.cn/c");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("objection") && err.contains("http:// or https://"),
        "{err}"
    );
    ok(&site_with(
        "--complaint-url",
        "https://12345.example.gov.cn/form?kind=ts",
    ));
    let out = ok(&hub(&dir, &["site", "list"]));
    assert!(
        out.contains(
            ",http://127.0.0.1:8470/c/objection,https://12345.example.gov.cn/form?kind=ts"
        ),
        "{out}"
    );

    let code = ok(&hub(&dir, &["enroll-code", "--site", "bus-1"]));
    let code = code.trim();
    assert_eq!(code.len(), 19, "{code}");
    assert_eq!(code.matches('-').count(), 3);
    let o = hub(&dir, &["enroll-code", "--site", "nowhere"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("site add"));

    let out = ok(&hub(
        &dir,
        &[
            "cards",
            "revoke",
            "6ca87de7e7db9d4c748e7224",
            "--reason",
            "lost",
        ],
    ));
    assert!(out.contains("published version"), "{out}");
    let out = ok(&hub(&dir, &["report", "usage"]));
    assert!(out.starts_with("day,measure,unit,redemptions"), "{out}");
    let file = tmp.path().join("integrity.csv");
    ok(&hub(
        &dir,
        &["report", "integrity", "--out", file.to_str().unwrap()],
    ));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("terminal,site")
    );

    let out = ok(&hub(&dir, &["publish"]));
    assert!(out.contains("nothing changed"), "{out}");

    // A reader that goes away early (`| head`) ends the command quietly.
    for args in [&["issuer", "list"][..], &["report", "usage"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xinyi-hub"))
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
    }

    // Sites without a network: a bundle out, a records file in (a file
    // that is not a records file is refused by name).
    let bundle = dir.join("data.xyb");
    let out = ok(&hub(
        &dir,
        &["bundle", "export", "--out", bundle.to_str().unwrap()],
    ));
    assert!(out.contains("xinyi sync --from-file"), "{out}");
    let parsed = xinyi_core::wire::bundle::Bundle::parse(&std::fs::read(&bundle).unwrap()).unwrap();
    assert!(!parsed.eligibility.is_empty());
    let o = hub(&dir, &["ingest", bundle.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a xinyi records file"));

    // A terminal whose label tries to forge log lines and a CSV cell: the
    // terminal list shows it escaped, on one line, as text.
    let h = xinyi_hub::Hub::open(&dir).unwrap();
    let code = h.create_enrollment_code("bus-1", None).unwrap().code;
    let key = ed25519_dalek::SigningKey::from_bytes(&[0x31; 32]);
    let label = "=cmd\n2026-11-30 INFO terminal enrolled\u{1b}[2J";
    let req = xinyi_core::wire::enroll::EnrollRequest::new(
        &code,
        &key.verifying_key(),
        &h.registry_fingerprint(),
        label,
    );
    h.enroll(&req).unwrap();
    let out = ok(&hub(&dir, &["terminal", "list"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(out.contains("'=cmd\\n2026-11-30"), "{out}");

    // Key rotation: the fingerprint changes, the old key signs the new,
    // and no retired key is left on disk.
    let before = xinyi_hub::Hub::open(&dir).unwrap().registry_key_id();
    let out = ok(&hub(&dir, &["rotate-key"]));
    let after = xinyi_hub::Hub::open(&dir).unwrap().registry_key_id();
    assert_ne!(before, after);
    assert!(out.contains(&after), "{out}");
    let keys: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("registry.key"))
        .collect();
    assert_eq!(keys, ["registry.key"], "{keys:?}");

    std::fs::write(dir.join("hub.toml"), "metadata_lifetime_hours = -3\n").unwrap();
    let o = hub(&dir, &["publish"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("metadata_lifetime_hours"));
}

#[test]
fn check_commands_still_work() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hub(
        tmp.path(),
        &[
            "check",
            "listings",
            vector("vectors/listings.csv").to_str().unwrap(),
        ],
    );
    assert!(ok(&o).contains("rows are valid"));
    let o = hub(
        tmp.path(),
        &[
            "check",
            "listings",
            vector("vectors/bad-listings.csv").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// `catalogue publish` accepts the 信易购 family, warns about a measure in
/// force for less than two years, and, for a measure it withdraws, says how
/// many listed subjects lose the eligibility through it.
#[test]
fn catalogue_publish_warns_about_short_and_withdrawn_measures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    ok(&hub(&dir, &["init"]));
    let measure = |id: &str, family: &str, until: &str, extra: &str| {
        format!(
            "[[measure]]\nid = \"{id}\"\nfamily = \"{family}\"\nname_zh = \"{id}\"\nname_en = \"{id}\"\n\
             unit = \"单位\"\nsubjects = [\"person\", \"enterprise\"]\ncategories = \"all\"\n\
             valid_from = \"2024-01-01\"\nvalid_until = \"{until}\"\n{extra}\
             benefit = {{ kind = \"percent_off\", percent = 50 }}\n\n"
        )
    };
    let long = measure("M-LONG", "信易行", "2035-12-31", "");
    let short = measure("M-SHORT", "信易购", "2025-06-30", "");
    let first = tmp.path().join("first.toml");
    std::fs::write(&first, format!("{long}{short}")).unwrap();
    // `check catalogue` says the same without publishing.
    let out = ok(&hub(&dir, &["check", "catalogue", first.to_str().unwrap()]));
    assert!(out.contains("2 measures are valid"), "{out}");
    assert!(out.contains("warning: measure M-SHORT"), "{out}");
    let out = ok(&hub(
        &dir,
        &["catalogue", "publish", first.to_str().unwrap()],
    ));
    assert!(out.contains("warning: measure M-SHORT"), "{out}");
    assert!(out.contains("原则上有效期不少于2年"), "{out}");
    assert!(!out.contains("measure M-LONG"), "{out}");

    let listings = vector("vectors/listings.csv");
    ok(&hub(
        &dir,
        &["import", "listings", listings.to_str().unwrap()],
    ));
    let tomorrow = xinyi_hub::Clock::now(&xinyi_hub::SystemClock)
        .date_utc8()
        .add_days(1);
    let withdrawn = measure(
        "M-LONG",
        "信易行",
        "2035-12-31",
        &format!("withdrawn_on = \"{tomorrow}\"\n"),
    );
    let text = format!("{withdrawn}{short}");
    let expected = xinyi_hub::Hub::open(&dir)
        .unwrap()
        .withdrawals_in(&xinyi_core::Catalogue::from_toml(&text).unwrap())
        .unwrap();
    assert_eq!(expected.len(), 1, "{expected:?}");
    let second = tmp.path().join("second.toml");
    std::fs::write(&second, text).unwrap();
    let out = ok(&hub(
        &dir,
        &["catalogue", "publish", second.to_str().unwrap()],
    ));
    assert!(
        out.contains(&format!(
            "measure M-LONG is withdrawn from {tomorrow}: it ends the eligibility through it of {} listed",
            expected[0].holders
        )),
        "{out}"
    );
}
