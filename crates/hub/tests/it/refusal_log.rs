//! Failed authentication and enrollment attempts are logged as warnings
//! naming the peer, the claimed terminal (escaped: a control character in
//! it never reaches the log raw) and the reason, a few lines a minute per
//! reason; the rest of a flood is summed up in one "suppressed N" line.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::daemon;

use daemon::{Daemon, exchange, hub_dir};

/// The most lines per reason per minute (the hub's own constant).
const PER_WINDOW: usize = 5;

#[test]
fn refusals_are_logged_escaped_and_rate_limited() {
    const FLOOD: usize = 40;
    let (_tmp, dir) = hub_dir();
    let hub = Daemon::start(&dir, "");
    for _ in 0..FLOOD {
        // A terminal id with a tab in it, the one control character an
        // HTTP header value may carry.
        let answer = exchange(
            hub.addr,
            b"GET /v1/records/status HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\
              x-xinyi-terminal: evil\tid\r\nx-xinyi-time: 1\r\n\
              x-xinyi-nonce: 00000000000000000000000000000000\r\n\
              x-xinyi-signature: 00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        // A code the hub never made (proved for some key and fingerprint:
        // the code is looked up first).
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
        let req = xinyi_core::wire::enroll::EnrollRequest::new(
            "AAAA-BBBB-CCCC-DDDD",
            &key,
            &xinyi_core::wire::Fingerprint::of(&[1; 32]),
            "x",
        );
        let body = serde_json::to_vec(&req).unwrap();
        let body = body.as_slice();
        let mut req = format!(
            "POST /v1/enroll HTTP/1.1\r\nHost: hub\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let answer = exchange(hub.addr, &req);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    }
    // Stopping writes the summaries of the minute in progress.
    let log = hub.stop();
    let text = log.join("\n");
    assert!(!text.contains('\t'), "a raw tab reached the log:\n{text}");

    let auth: Vec<_> = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("signed request refused"))
        .collect();
    assert_eq!(auth.len(), PER_WINDOW, "{text}");
    for l in &auth {
        assert!(l.contains("unknown_terminal"), "{l}");
        assert!(l.contains(r#"terminal="evil\tid""#), "{l}");
        assert!(l.contains("peer=127.0.0.1:"), "{l}");
    }
    let enroll: Vec<_> = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("enrollment refused"))
        .collect();
    assert_eq!(enroll.len(), PER_WINDOW, "{text}");
    for l in &enroll {
        assert!(l.contains("unknown_code"), "{l}");
        assert!(l.contains("peer=127.0.0.1:"), "{l}");
    }
    let left_out = FLOOD - PER_WINDOW;
    for reason in ["unknown_terminal", "unknown_code"] {
        assert!(
            log.iter()
                .any(|l| l.contains(&format!("suppressed {left_out} more `{reason}` warnings"))),
            "no summary for {reason}:\n{text}"
        );
    }
}
