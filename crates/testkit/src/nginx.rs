//! A real HTTP cache for tests: Debian's nginx as a caching reverse proxy
//! on 127.0.0.1, with its configuration, pid file, logs, temporary files
//! and cache in a folder of the test's, run as a child process in a
//! process group of its own that is killed with it. And [`Door`], a TCP
//! relay in front of a hub that notes every request reaching it.
//!
//! Without nginx on the machine [`Nginx::caching`] says the test did not
//! run and returns `None`, unless `XINYI_REQUIRE_NGINX` is set (as CI
//! sets it): then the test fails.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Set (to anything) to make a missing nginx fail the tests that need it.
pub const REQUIRE: &str = "XINYI_REQUIRE_NGINX";

/// The header nginx adds to every answer: HIT, MISS, EXPIRED … (empty
/// when the request did not go through the cache).
pub const CACHE_STATUS: &str = "x-cache-status";

/// nginx's binary: on the PATH, or where Debian puts it (`/usr/sbin`,
/// often not on a user's PATH).
pub fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nginx"))
            .find(|f| f.is_file())
    });
    on_path.or_else(|| {
        ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|f| f.is_file())
    })
}

/// Whether this process runs as root (nginx's workers then need a user).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// A free port of 127.0.0.1 (free when asked; nginx binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx caching what an upstream serves, killed when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// nginx on a free port of 127.0.0.1 passing every request to
    /// `upstream` (`host:port`, plain HTTP) through a cache under `dir`
    /// (created). The cache keeps GET and HEAD answers for as long as
    /// their `Cache-Control` allows and, when they say nothing, 200s for
    /// ten minutes (what a CDN does by default): only what the upstream
    /// forbids stays out. Every answer carries [`CACHE_STATUS`].
    ///
    /// `None` when nginx is not installed (the test says it did not run),
    /// unless [`REQUIRE`] is set.
    pub fn caching(dir: &Path, upstream: &str, test: &str) -> Option<Nginx> {
        let Some(bin) = binary() else {
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "{REQUIRE} is set but nginx is not installed (Debian: apt-get install nginx-light)"
            );
            eprintln!(
                "{test} did not run: nginx not installed (Debian: apt-get install nginx-light)"
            );
            return None;
        };
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = free_port();
        let d = dir.display();
        let user = if is_root() { "user root;\n" } else { "" };
        let conf = format!(
            "{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format cache '$request_method $request_uri $status $upstream_cache_status $upstream_status';
    access_log {d}/access.log cache;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    proxy_cache_path {d}/cache levels=1:2 keys_zone=xinyi:1m max_size=256m inactive=1d use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_cache xinyi;
            proxy_cache_valid 200 10m;
            proxy_cache_lock on;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let child = Command::new(bin)
            .process_group(0)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut nginx = Nginx {
            child,
            dir: dir.to_owned(),
            port,
        };
        // nginx takes a moment to listen.
        for _ in 0..200 {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited ({status}) at start:\n{}", nginx.errors());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen on {port}:\n{}", nginx.errors());
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What nginx wrote to its error logs.
    pub fn errors(&self) -> String {
        ["stderr.log", "error.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default())
            .collect()
    }

    /// The cache file of the answer to `uri` (a path, as requested), if
    /// nginx keeps one.
    pub fn cache_file(&self, uri: &str) -> Option<PathBuf> {
        let mut dirs = vec![self.dir.join("cache")];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap_or_default();
                // The file's header holds the key: "\nKEY: <scheme><host><uri>\n".
                let key = String::from_utf8_lossy(&bytes)
                    .lines()
                    .find_map(|l| l.strip_prefix("KEY: ").map(str::to_owned));
                if key.is_some_and(|k| k.ends_with(uri)) {
                    return Some(path);
                }
            }
        }
        None
    }

    /// Changes the last byte of the cached answer to `uri` (its body's),
    /// as a damaged disk or a hostile cache would; panics if nothing is
    /// cached for it.
    pub fn damage(&self, uri: &str) {
        let path = self
            .cache_file(uri)
            .unwrap_or_else(|| panic!("nginx keeps nothing for {uri}"));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x5a;
        std::fs::write(&path, bytes).unwrap();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The master and its worker share a process group of their own:
        // all of it goes, also when a test failed midway.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay on 127.0.0.1 in front of a server that notes the request
/// line of each connection before passing it on: what reached the server.
/// nginx opens a connection for each request it passes upstream (HTTP/1.0,
/// its default), so each request is seen.
#[derive(Debug)]
pub struct Door {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    open: Arc<AtomicBool>,
}

/// The most of a request's head the relay reads before passing it on.
const MAX_HEAD: usize = 64 * 1024;

impl Door {
    /// A relay to `upstream`.
    pub fn open(upstream: SocketAddr) -> Door {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicBool::new(true));
        let (s, o) = (Arc::clone(&seen), Arc::clone(&open));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if !o.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let s = Arc::clone(&s);
                    std::thread::spawn(move || relay(c, upstream, &s));
                }
            }
        });
        Door { addr, seen, open }
    }

    /// `host:port` to give a proxy as its upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request lines that came through, in order
    /// (`GET /v1/a/… HTTP/1.0`).
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests came through for `method` and a target starting
    /// with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|l| {
                let mut parts = l.split(' ');
                parts.next() == Some(method) && parts.next().is_some_and(|t| t.starts_with(prefix))
            })
            .count()
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        self.open.store(false, Ordering::SeqCst);
        // Wakes the accepting thread, which then stops.
        let _ = TcpStream::connect(self.addr);
    }
}

fn relay(mut client: TcpStream, upstream: SocketAddr, seen: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(line).into_owned());
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    if server.write_all(&head).is_err() {
        return;
    }
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
}
