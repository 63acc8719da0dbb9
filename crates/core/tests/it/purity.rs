//! The core stays pure (`lib.rs`): no IO crate among its dependencies and
//! no filesystem, network, process, thread or clock access in its source.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

/// Crates that do IO (or wrap a clock) and must never reach the core.
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "rusqlite",
    "libsqlite3-sys",
    "reqwest",
    "hyper",
    "axum",
    "slint",
    "i-slint-core",
    "nokhwa",
    "rqrr",
    "image",
    "chrono",
    "tempfile",
    "walkdir",
    "getrandom",
    "rand",
    "socket2",
    "std-fs",
    "notify",
];

#[test]
fn no_io_crate_in_the_core_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "xinyi-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"ed25519-dalek"),
        "unexpected tree output:\n{tree}"
    );
    for name in &names {
        assert!(
            !FORBIDDEN_CRATES.contains(name),
            "xinyi-core depends on the IO crate {name}:\n{tree}"
        );
    }
}

#[test]
fn no_io_in_the_core_source() {
    const FORBIDDEN_PATHS: &[&str] = &[
        "std::fs",
        "std::net",
        "std::process",
        "std::thread",
        "std::env",
        "std::io::stdin",
        "SystemTime",
        "Instant::now",
        "File::open",
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for f in FORBIDDEN_PATHS {
                assert!(!text.contains(f), "{} uses {f}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} source files found");
}
