//! Shared helpers for the tests that run a whole terminal against a real
//! hub: enrolling it (with the registry's fingerprint) and giving it a
//! clerk, as a counter is set up before it serves anyone.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use xinyi::keys::TerminalKey;
use xinyi::store::{NewOperator, Role, Store};
use xinyi::terminal::{Paths, Staff, Terminal};
use xinyi_core::{MeasureId, UnixTime};
use xinyi_hub::Hub;

/// The clerk every test terminal has: id and PIN.
pub const CLERK: (&str, &str) = ("1001", "1234");
/// The clerk's name, which only the terminal holds.
pub const CLERK_NAME: &str = "王丽";

/// A terminal at `site` of `hub`, enrolled through `url` (the hub, or a
/// proxy in front of it) with the registry fingerprint and, when given,
/// the hub's certificate; with the clerk on its roster from `at`.
pub async fn enroll(
    hub: &Hub,
    site: &str,
    url: &str,
    dir: &Path,
    ca: Option<&str>,
    at: UnixTime,
) -> Terminal {
    let code = hub.create_enrollment_code(site, None).unwrap().code;
    let mut t = Terminal::enroll(
        &Paths::new(dir),
        url,
        &code,
        "test counter",
        &hub.registry_fingerprint(),
        ca,
    )
    .await
    .unwrap();
    t.put_operator(
        &NewOperator {
            id: CLERK.0,
            name: CLERK_NAME,
            role: Role::Clerk,
            pin: CLERK.1,
        },
        None,
        at,
    )
    .unwrap();
    t
}

/// The clerk, signed in at `at`.
pub fn clerk(t: &mut Terminal, at: UnixTime) -> Staff {
    t.sign_in(CLERK.0, CLERK.1, at).unwrap()
}

/// A measure id from the catalogue.
pub fn measure(id: &str) -> MeasureId {
    MeasureId::parse(id).unwrap()
}

/// The terminal's database, opened on a connection of its own (as an
/// auditor with the file would): the terminal itself exposes no store.
pub fn held(t: &Terminal) -> Store {
    Store::open(&t.paths().db).unwrap()
}

/// The terminal's signing key, read from its key file.
pub fn signing_key(t: &Terminal) -> ed25519_dalek::SigningKey {
    TerminalKey::load(&t.paths().key)
        .unwrap()
        .signing_key()
        .clone()
}
