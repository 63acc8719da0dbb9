//! Each section runs at the quick scale and reports sane rows: the names
//! expected, finite values, positive where they must be, the targets set
//! where the section has them. Speed is never asserted.
//!
//! `full_scale` (ignored) runs every section at full scale and prints the
//! rows: `cargo test --release -p xinyi-bench --test it sections:: --
//! --ignored --nocapture` (one section: add its name as a filter, e.g. `full_store`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_arithmetic
)]

use xinyi_bench::{Row, Scale};

/// Checks the rows of `section` and that each of `expected` names one of
/// them (by prefix); `targeted` rows must carry a target.
fn check(section: &str, rows: &[Row], expected: &[&str], targeted: &[&str]) {
    assert!(!rows.is_empty(), "{section}: no rows");
    for r in rows {
        assert_eq!(r.section, section, "{r:?}");
        assert!(!r.name.is_empty() && !r.unit.is_empty(), "{r:?}");
        assert!(r.value.is_finite() && r.value >= 0.0, "{r:?}");
        if let Some(y) = &r.yardstick {
            assert!(y.value.is_finite() && y.value > 0.0, "{r:?}");
            assert!(!y.name.is_empty(), "{r:?}");
        }
        assert_eq!(r.target.is_some(), r.met.is_some(), "{r:?}");
    }
    let find = |name: &str| {
        rows.iter()
            .find(|r| r.name.starts_with(name))
            .unwrap_or_else(|| panic!("{section}: no row {name:?} in {rows:#?}"))
    };
    for name in expected {
        let r = find(name);
        assert!(r.value > 0.0, "{r:?}");
    }
    for name in targeted {
        let r = find(name);
        assert!(r.target.is_some(), "{section}: {name} has no target");
        assert!(
            r.yardstick.is_some() || r.section == "hub" || r.section == "load",
            "{r:?}"
        );
    }
}

fn print(rows: &[Row]) {
    for r in rows {
        let against = r
            .yardstick
            .as_ref()
            .map(|y| {
                format!(
                    " | vs {} = {:.3} (ratio {:.3})",
                    y.name,
                    y.value,
                    r.value / y.value
                )
            })
            .unwrap_or_default();
        let target = match (&r.target, r.met) {
            (Some(t), Some(m)) => format!(" | target {t}: {}", if m { "met" } else { "NOT met" }),
            _ => String::new(),
        };
        println!(
            "[{}] {} = {:.3} {}{against}{target}\n    {}",
            r.section, r.name, r.value, r.unit, r.note
        );
    }
}

#[test]
fn verdict_quick() {
    let rows = xinyi_bench::verdict::run(Scale::Quick).unwrap();
    print(&rows);
    check(
        "verdict",
        &rows,
        &["decide per credential", "verdicts per second"],
        &["decide per credential"],
    );
}

#[test]
fn store_quick() {
    let rows = xinyi_bench::store::run(Scale::Quick).unwrap();
    print(&rows);
    check(
        "store",
        &rows,
        &[
            "10k listings full apply",
            "10k listings full apply time",
            "point lookup p50",
            "point lookup p99",
            "500-change delta apply on 10k",
        ],
        &[
            "10k listings full apply",
            "point lookup p99",
            "500-change delta apply",
        ],
    );
}

#[test]
fn sync_quick() {
    let rows = xinyi_bench::sync::run(Scale::Quick).unwrap();
    print(&rows);
    check(
        "sync",
        &rows,
        &[
            "10k-listing snapshot sync",
            "snapshot sync rate",
            "snapshot bytes on the wire per listing",
            "500-change delta sync",
            "delta bytes on the wire per changed listing",
        ],
        &[],
    );
}

#[test]
fn hub_quick() {
    let rows = xinyi_bench::hub::run(Scale::Quick).unwrap();
    print(&rows);
    check(
        "hub",
        &rows,
        &[
            "records ingested per second",
            "1k queued records uploaded by a terminal",
            "queued records uploaded per second",
        ],
        &["records ingested per second"],
    );
}

/// The load section at a tiny scale, against the `xinyi-hub` binary of
/// the same build (`cargo test --workspace` builds it) and a PostgreSQL
/// server of its own; it says so and passes when either is missing,
/// unless `XINYI_REQUIRE_POSTGRES` is set.
#[test]
fn load_quick() {
    let hub = std::path::Path::new(env!("CARGO_BIN_EXE_xinyi-bench")).with_file_name("xinyi-hub");
    if !hub.is_file() || xinyi_testkit::pg::bin_dir().is_none() {
        // CI has both: there a missing one is a failure.
        assert!(
            std::env::var_os("XINYI_REQUIRE_POSTGRES").is_none(),
            "load_quick needs {} and PostgreSQL's initdb",
            hub.display()
        );
        println!(
            "load_quick did not run: it needs {} (cargo build -p xinyi-hub) and PostgreSQL's initdb",
            hub.display()
        );
        return;
    }
    let mut o = xinyi_bench::load::Options::new(Scale::Quick, hub);
    o.terminals = vec![60];
    o.window_s = 10;
    o.listings = 500;
    o.changes = 20;
    o.import = 1_000;
    o.ingest = 2_000;
    o.sqlite_ingest = 2_000;
    o.ingest_terminals = 4;
    o.quiet_wait = std::time::Duration::ZERO;
    let (rows, details) = xinyi_bench::load::run(&o).unwrap();
    print(&rows);
    for backend in ["SQLite", "PostgreSQL"] {
        for p in ["1 hub process", "2 hub processes"] {
            let run = format!("60 terminals, {backend}, {p}");
            let errors = rows
                .iter()
                .find(|r| r.name == format!("{run}: errors"))
                .unwrap_or_else(|| panic!("no errors row for {run}: {rows:#?}"));
            assert_eq!(errors.value, 0.0, "{errors:?}");
            assert!(
                rows.iter().any(|r| r.name == format!("{run}: upload p99")),
                "{rows:#?}"
            );
            assert!(details.contains(&format!("| {run} |")), "{details}");
        }
    }
    check(
        "load",
        &rows,
        &[
            "60 terminals, SQLite, 1 hub process: requests/s",
            "60 terminals, PostgreSQL, 2 hub processes: upload p99",
            "60 terminals, PostgreSQL, 2 hub processes: hub RSS peak",
            "1k-listing import, SQLite",
            "1k-listing import, PostgreSQL",
            "2k records ingested, PostgreSQL",
            "2k records ingested, SQLite",
            "usage report over 2k records, PostgreSQL",
        ],
        &[
            "60 terminals, SQLite, 1 hub process: errors",
            "2k records ingested, PostgreSQL",
            "usage report over 2k records, SQLite",
        ],
    );
}

#[test]
#[ignore = "full scale: minutes, run in release"]
fn full_verdict() {
    print(&xinyi_bench::verdict::run(Scale::Full).unwrap());
}

#[test]
#[ignore = "full scale: minutes, run in release"]
fn full_store() {
    print(&xinyi_bench::store::run(Scale::Full).unwrap());
}

#[test]
#[ignore = "full scale: minutes, run in release"]
fn full_sync() {
    print(&xinyi_bench::sync::run(Scale::Full).unwrap());
}

#[test]
#[ignore = "full scale: minutes, run in release"]
fn full_hub() {
    print(&xinyi_bench::hub::run(Scale::Full).unwrap());
}
