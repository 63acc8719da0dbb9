//! A real PostgreSQL server for tests: made with Debian's `initdb` in a
//! temporary directory and started on a free loopback port the first time
//! a test asks, one per test process; each test gets a database of its
//! own. A watchdog shell stops the server and deletes its directory when
//! the test process ends, however it ends.
//!
//! Which backend the hub's tests use: `XINYI_TEST_DATABASE=postgres`
//! selects PostgreSQL ([`selected`]); without it, SQLite. Tests that need
//! PostgreSQL whatever is selected call [`server`] directly; where the
//! server's programs are missing it panics if `XINYI_REQUIRE_POSTGRES` is
//! set (CI), else [`available`] says no and such tests say they did not
//! run.
//!
//! The server also accepts TLS, with a certificate for `127.0.0.1` and
//! `localhost` signed by a CA made for it ([`Server::ca_file`]); clients
//! that do not ask for TLS connect in clear as before.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The running server of this test process.
#[derive(Debug)]
pub struct Server {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// The shell that outlives this process to stop the server.
    _watchdog: std::process::Child,
}

/// Whether the hub's tests are to run on PostgreSQL.
pub fn selected() -> bool {
    std::env::var("XINYI_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// Whether PostgreSQL's programs are here (or required: then a missing
/// one fails the test that asked).
pub fn available() -> bool {
    std::env::var_os("XINYI_REQUIRE_POSTGRES").is_some() || bin_dir().is_some()
}

/// The directory of `initdb` and `postgres`: on the PATH, or the newest
/// of Debian's `/usr/lib/postgresql/N/bin`.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let initdb = d.join("initdb");
            if initdb.exists() {
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                return real.parent().map(Path::to_owned);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

/// The server, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

/// Whether this process runs as root (PostgreSQL's programs then run as
/// the `postgres` user: [`as_server_user`]).
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…` as the `postgres` user when this process is root
/// (PostgreSQL refuses to run as root), by `setpriv`, which execs.
pub fn as_server_user(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--reset-env",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start() -> Server {
    let bin = bin_dir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's initdb was not found on the PATH nor in /usr/lib/postgresql/*/bin: \
             install Debian's postgresql package"
        )
    });
    let root = running_as_root();
    let dir = std::env::temp_dir().join(format!("xinyi-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the server's directory");
    if root {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot give {} to the postgres user", dir.display());
    }
    let data = dir.join("data");
    let out = as_server_user(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ])
        .output()
        .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (cert, key) = certificates(&dir, root);
    let port = free_port();
    // The server runs under a shell that waits for this process to end,
    // then stops it (fast shutdown) and deletes its files.
    let postgres = bin.join("postgres");
    let launcher = if root {
        format!(
            "setpriv --reuid=postgres --regid=postgres --init-groups --reset-env {}",
            postgres.display()
        )
    } else {
        postgres.display().to_string()
    };
    let script = format!(
        "{launcher} -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c max_connections=200 -c shared_buffers=64MB \
         -c max_wal_size=64MB -c min_wal_size=32MB \
         -c ssl=on -c ssl_cert_file='{cert}' -c ssl_key_file='{key}' >'{dir}/log' 2>&1 & pg=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf '{dir}'",
        data = data.display(),
        dir = dir.display(),
        cert = cert.display(),
        key = key.display(),
        parent = std::process::id(),
    );
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let server = Server {
        port,
        dir,
        bin,
        _watchdog: watchdog,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match server.psql("postgres", "SELECT 1") {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!(
                "PostgreSQL did not start: {e}; its log: {}",
                std::fs::read_to_string(server.dir.join("log")).unwrap_or_default()
            ),
        }
    }
    server
}

/// Makes a CA (`ca.pem` in `dir`) and the server's certificate and key
/// signed by it, for `127.0.0.1` and `localhost`; returns the
/// certificate's and key's paths. The key is the server user's alone, as
/// PostgreSQL requires.
fn certificates(dir: &Path, root: bool) -> (PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "xinyi test PostgreSQL CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA's certificate");
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("the server's names");
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().expect("a server key");
    let server_cert = server
        .signed_by(&server_key, &Issuer::new(ca, ca_key))
        .expect("the server's certificate");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("writing the CA");
    std::fs::write(&cert, server_cert.pem()).expect("writing the certificate");
    std::fs::write(&key, server_key.serialize_pem()).expect("writing the key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .expect("making the key private");
    }
    if root {
        let given = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&cert)
            .arg(&key)
            .status()
            .is_ok_and(|s| s.success());
        assert!(given, "cannot give the server's key to the postgres user");
    }
    (cert, key)
}

impl Server {
    /// The PEM file of the CA that signed the server's TLS certificate
    /// (which names `127.0.0.1` and `localhost`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The address of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory (its files, as a thief of the disk
    /// would read them).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The directory of the server's programs (`psql`, `pg_dump`).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// A new, empty database; its address.
    pub fn fresh_database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}", N.fetch_add(1, Ordering::Relaxed));
        // Copied as files, not through the log: the log stays small.
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} STRATEGY = FILE_COPY"),
        )
        .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        self.url(&name)
    }

    /// Runs `sql` in database `db` with `psql`; what it printed (tuples
    /// only, unaligned), or what went wrong.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .arg("-c")
            .arg(sql)
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}
