//! The hub as a real process under abuse by clients without credentials:
//! half-open connections do not exhaust its open files, headers and
//! bodies that never finish and idle connections are cut off, and floods
//! of large unauthenticated (or forged) uploads do not grow its memory.
//! No timing is asserted: the timeouts are configured short or long and
//! a generous guard only detects a hang.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::daemon;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use daemon::{Daemon, GUARD, hub_dir, wait_closed};
use xinyi_core::wire::request::RequestAuth;

/// Half-open connections: 1,100 clients that sent part of a header and
/// stopped. The hub starts with a soft open-file limit of 1024, so it
/// holds them only if it raised the limit; the health check must still
/// answer while they are held (the header timeout is set long, so none of
/// them is cut off meanwhile).
#[test]
fn health_answers_while_1100_half_open_connections_are_held() {
    const HELD: usize = 1_100;
    let (_tmp, dir) = hub_dir();
    let hub = Daemon::start(&dir, "header_timeout_s = 120\nidle_timeout_s = 120\n");
    // This process needs the files too.
    let ours = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        ours > HELD as u64 + 200,
        "this machine's hard open-file limit ({ours}) is too low for this test"
    );
    let limit = hub.open_file_limit();
    let before = hub.open_files();
    let mut held = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        let mut s = TcpStream::connect(hub.addr).unwrap();
        s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\n")
            .unwrap();
        held.push(s);
    }
    // Wait (within the guard) until the hub has accepted them all.
    let start = std::time::Instant::now();
    while hub.open_files() < before + HELD {
        assert!(
            start.elapsed() < GUARD,
            "the hub holds only {} files (limit {limit}) with {HELD} connections open",
            hub.open_files()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let answer = daemon::health(hub.addr);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The half-open connections are still held, not dropped to make room.
    for s in held.iter().step_by(50) {
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let r = (&*s).read(&mut b);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a half-open connection was closed: {r:?}"
        );
    }
    eprintln!(
        "open-file limit in the hub: {limit}; files open: {} before, {} with {HELD} half-open connections",
        before,
        hub.open_files()
    );
    drop(held);
    hub.stop();
}

/// Past max_connections a connection is closed as it arrives; once the
/// held ones go, the hub answers again.
#[test]
fn connections_past_the_cap_are_closed_as_they_arrive() {
    let (_tmp, dir) = hub_dir();
    let hub = Daemon::start(
        &dir,
        "max_connections = 16\nheader_timeout_s = 120\nidle_timeout_s = 120\n",
    );
    let before = hub.open_files();
    let held: Vec<_> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(hub.addr).unwrap();
            s.write_all(b"GET /v1/health HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    // Let the hub take them all before the one too many.
    let start = std::time::Instant::now();
    while hub.open_files() < before + 16 {
        assert!(
            start.elapsed() < GUARD,
            "the hub did not take 16 connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut extra = TcpStream::connect(hub.addr).unwrap();
    let _ = extra.write_all(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\n\r\n");
    wait_closed(&mut extra, None);
    drop(held);
    let start = std::time::Instant::now();
    while !daemon::try_health(hub.addr).is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
        assert!(start.elapsed() < GUARD, "the hub did not serve again");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        hub.log()
            .iter()
            .any(|l| l.contains("WARN") && l.contains("max_connections reached")),
        "{:?}",
        hub.log()
    );
    hub.stop();
}

/// A client that trickles a header and never finishes it is cut off by
/// the header timeout, which the trickle does not reset.
#[test]
fn a_connection_that_sends_no_complete_header_is_closed() {
    let (_tmp, dir) = hub_dir();
    let hub = Daemon::start(&dir, "header_timeout_s = 1\nidle_timeout_s = 1\n");
    let mut s = TcpStream::connect(hub.addr).unwrap();
    s.write_all(b"GET /v1/health HTTP/1.1\r\nX-Slow: ").unwrap();
    let took = wait_closed(&mut s, Some(b"slow"));
    eprintln!("a trickled header was cut off after {took:?}");
    // The hub itself is fine.
    assert!(daemon::health(hub.addr).starts_with("HTTP/1.1 200"));
    hub.stop();
}

/// A kept-alive connection that goes quiet after its answer is closed by
/// the idle timeout (the header timeout is long, so it is not the one).
#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let (_tmp, dir) = hub_dir();
    let hub = Daemon::start(&dir, "header_timeout_s = 120\nidle_timeout_s = 1\n");
    let mut s = TcpStream::connect(hub.addr).unwrap();
    s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("\"ok\":true") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    let took = wait_closed(&mut s, None);
    eprintln!("an idle keep-alive connection was closed after {took:?}");
    hub.stop();
}

/// A body that trickles in is cut off by the body timeout, which counts
/// the whole body (a per-chunk timeout would let it trickle forever): the
/// client gets 408 and the connection closes.
#[test]
fn a_body_that_never_finishes_is_cut_off() {
    let (_tmp, dir) = hub_dir();
    let hub = Daemon::start(&dir, "body_timeout_s = 1\n");
    let mut s = TcpStream::connect(hub.addr).unwrap();
    s.write_all(
        b"POST /v1/enroll HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"code\": \"",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        assert!(start.elapsed() < GUARD, "no answer to a trickled body");
        if s.write_all(b"A").is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("\"code\":\"body_timeout\""), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
    hub.stop();
}

/// The headers of an upload signed in the name of `terminal` with a
/// signature that cannot verify, declaring `length` bytes.
fn forged_upload_head(terminal: &str, length: usize) -> Vec<u8> {
    let key = common::random_key();
    let auth = RequestAuth::sign(
        &key,
        terminal,
        "POST",
        "/v1/records",
        common::now(),
        [7; 16],
        b"",
    );
    let mut head = format!(
        "POST /v1/records HTTP/1.1\r\nHost: hub\r\nContent-Type: application/cbor\r\nContent-Length: {length}\r\n"
    );
    for (n, v) in auth.headers() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// `clients` uploads of 8 MiB at once, each as `head`; returns the
/// status lines answered (a client whose connection was reset while it
/// was still sending may have none).
fn flood(addr: SocketAddr, head: &[u8], clients: usize) -> Vec<String> {
    const BODY: usize = 8 * 1024 * 1024;
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let head = head.to_vec();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_write_timeout(Some(GUARD)).unwrap();
                s.set_read_timeout(Some(GUARD)).unwrap();
                s.write_all(&head).unwrap();
                let chunk = vec![0xA5u8; 64 * 1024];
                for _ in 0..BODY / chunk.len() {
                    if s.write_all(&chunk).is_err() {
                        break;
                    }
                }
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out);
                String::from_utf8_lossy(&out)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// 40 clients upload 8 MiB each at once. Unknown to the hub, they are
/// refused from their headers and their bodies are never buffered; naming
/// an enrolled terminal with a forged signature, their bodies are read
/// (the signature covers them) but into at most max_concurrent_uploads
/// (4) buffers of 8 MiB. The hub's peak resident memory (VmHWM) stays
/// within a bound far below the 320 MiB the bodies add up to.
#[test]
fn forty_concurrent_8_mib_uploads_leave_memory_bounded() {
    let (_tmp, dir) = hub_dir();
    // An enrolled terminal whose id the flood borrows.
    let victim = {
        let hub = xinyi_hub::Hub::open(&dir).unwrap();
        let code = hub.create_enrollment_code(common::SITE, None).unwrap();
        let key = common::random_key();
        hub.enroll(&xinyi_core::wire::enroll::EnrollRequest::new(
            &code.code,
            &key.verifying_key(),
            &hub.registry_fingerprint(),
            "victim",
        ))
        .unwrap();
        xinyi_core::wire::key_id(key.verifying_key().as_bytes())
    };
    let hub = Daemon::start(&dir, "");
    assert!(daemon::health(hub.addr).starts_with("HTTP/1.1 200"));
    let base = hub.status_kb("VmHWM");
    let rss0 = hub.status_kb("VmRSS");

    let answers = flood(
        hub.addr,
        &forged_upload_head("0123456789abcdef", 8 << 20),
        40,
    );
    assert!(
        answers
            .iter()
            .all(|a| a.is_empty() || a.starts_with("HTTP/1.1 401")),
        "{answers:?}"
    );
    let after_unknown = hub.status_kb("VmHWM");

    let answers = flood(hub.addr, &forged_upload_head(&victim, 8 << 20), 40);
    let refused = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 401"))
        .count();
    assert!(
        answers
            .iter()
            .all(|a| a.is_empty() || a.starts_with("HTTP/1.1 401")),
        "{answers:?}"
    );
    assert!(refused >= 30, "{answers:?}");
    let after_forged = hub.status_kb("VmHWM");
    eprintln!(
        "hub memory: VmRSS {} MiB at rest, VmHWM {} MiB; peak after 40 unknown 8 MiB uploads {} MiB; after 40 forged ones {} MiB; VmRSS now {} MiB",
        rss0 / 1024,
        base / 1024,
        after_unknown / 1024,
        after_forged / 1024,
        hub.status_kb("VmRSS") / 1024
    );
    assert!(
        after_unknown - base < 16 * 1024,
        "unauthenticated uploads grew the hub's peak memory from {base} kB to {after_unknown} kB"
    );
    // 4 buffers of 8 MiB, and some room for the rest.
    assert!(
        after_forged - base < (4 * 8 + 24) * 1024,
        "forged uploads grew the hub's peak memory from {base} kB to {after_forged} kB"
    );
    // And the hub still serves.
    assert!(daemon::health(hub.addr).starts_with("HTTP/1.1 200"));
    hub.stop();
}

/// SIGTERM as soon as the hub says it serves (a service manager stopping
/// it right after a start) stops it in order: the signal is listened for
/// before the hub says so, and the process exits 0 having logged its
/// shutdown, rather than dying of the signal while still starting.
#[test]
fn a_stop_right_after_the_start_is_orderly() {
    let (_tmp, dir) = hub_dir();
    for _ in 0..5 {
        let log = Daemon::start(&dir, "").stop();
        assert!(
            log.iter().any(|l| l.contains("shutting down")),
            "{}",
            log.join("\n")
        );
    }
}
