//! The README's two commands need only the Rust toolchain and a C compiler:
//! no libclang, no system headers, no pkg-config. This guards the build
//! graph of the default features: no bindgen or clang-sys (which need
//! libclang), and every `-sys` crate one that builds from bundled source,
//! binds to the system at run time (dlopen) or ships its bindings — each
//! checked for what makes it so, so a new one fails here with what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// `cargo tree` of the terminal package, build and normal edges, for the
/// host, with `extra` arguments.
fn tree(extra: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "xinyi",
            "-e",
            "build,normal",
        ])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Why each `-sys` crate of the default build needs no system headers.
const SYS_CRATES: &[(&str, &str)] = &[
    (
        "aws-lc-sys",
        "builds its bundled C with the C compiler (TLS)",
    ),
    ("libsqlite3-sys", "the `bundled` SQLite"),
    ("linux-raw-sys", "pure Rust"),
    (
        "mozjpeg-sys",
        "builds its bundled C (JPEG, for camera frames)",
    ),
    (
        "v4l2-sys-mit",
        "pregenerated bindings in vendor/v4l2-sys-mit",
    ),
    (
        "wayland-sys",
        "loaded at run time: feature dlopen (checked below)",
    ),
    (
        "yeslogic-fontconfig-sys",
        "loaded at run time: feature dlopen, through fontique's fontconfig-dlopen (checked below)",
    ),
];

#[test]
fn the_default_build_needs_no_libclang_and_no_system_headers() {
    let names = tree(&["--prefix", "none", "--format", "{p}"]);
    let crates: Vec<&str> = names
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"slint"), "unexpected tree:\n{names}");
    for banned in ["bindgen", "clang-sys"] {
        assert!(
            !crates.contains(&banned),
            "{banned} is in the build graph: it needs libclang, which a fresh machine lacks:\n{}",
            tree(&["-i", banned])
        );
    }
    for name in crates.iter().filter(|n| n.ends_with("-sys")) {
        assert!(
            SYS_CRATES.iter().any(|(s, _)| s == name),
            "{name} is a -sys crate new to the build: check that it needs no system headers or pkg-config at build time, and add it to SYS_CRATES with why:\n{}",
            tree(&["-i", name])
        );
    }
    // The camera's bindings are the vendored ones, not the published crate
    // (which runs bindgen).
    let v4l2 = names
        .lines()
        .find(|l| l.starts_with("v4l2-sys-mit "))
        .unwrap();
    assert!(v4l2.contains("vendor/v4l2-sys-mit"), "{v4l2}");
}

#[test]
fn fontconfig_and_wayland_are_loaded_at_run_time() {
    for sys in ["yeslogic-fontconfig-sys", "wayland-sys"] {
        let features = tree(&["-e", "features", "-i", sys]);
        assert!(
            features.contains(&format!("{sys} feature \"dlopen\"")),
            "{sys} is linked at build time (it would need its headers and pkg-config):\n{features}"
        );
    }
}

/// A counter built without the demo carries no registry and no demo world:
/// no hub code and no demo people, ID numbers or keys in the binary.
#[test]
fn a_counter_without_the_demo_links_no_registry_code() {
    let names = tree(&[
        "--no-default-features",
        "--features",
        "camera",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let crates: Vec<&str> = names
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"xinyi-core"), "unexpected tree:\n{names}");
    assert!(
        crates.contains(&"nokhwa"),
        "the camera is missing:\n{names}"
    );
    for demo_only in ["xinyi-hub", "xinyi-demo"] {
        assert!(
            !crates.contains(&demo_only),
            "{demo_only} is linked into a counter built without the demo:\n{}",
            tree(&[
                "--no-default-features",
                "--features",
                "camera",
                "-i",
                demo_only
            ])
        );
    }
    // And with the defaults, the demo brings them.
    let all = tree(&["--prefix", "none", "--format", "{p}"]);
    for demo_only in ["xinyi-hub ", "xinyi-demo "] {
        assert!(all.lines().any(|l| l.starts_with(demo_only)), "{all}");
    }
}
