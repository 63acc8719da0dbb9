//! Backups of a registry: one gzip'd tar file holding a consistent
//! snapshot of the database, every other file of the data directory (the
//! registry, pseudonym and identity keys, `hub.toml`, TLS files kept
//! there) with its permissions, and a manifest with each file's SHA-256.
//!
//! The snapshot holds ID numbers and names sealed, as the database does.
//! An identity key kept outside the data directory (`identity_key` in
//! `hub.toml`) is not in the backup: the operator keeps a copy of it
//! apart, and a restore needs it where the settings say.
//!
//! [`Hub::backup`] is safe while `serve` runs: the database is copied with
//! SQLite's `VACUUM INTO`, one read transaction that writers (uploads,
//! imports) do not wait for. A registry on PostgreSQL is copied row by row
//! into a SQLite snapshot, also in one read transaction
//! ([`crate::migrate::copy`]); restoring it into settings that name
//! PostgreSQL puts it back into that database, which must be empty. The key files are read before and after the
//! copy; if a key rotation changed them meanwhile the backup is taken
//! again, so the snapshot and the keys always belong together.
//!
//! [`restore`] unpacks a backup into a new or empty data directory — never
//! over an existing one — checking every entry (only plain files and
//! folders, paths inside the directory, sizes and hashes as the manifest
//! says) before anything becomes visible under the target name. The
//! restored database is opened (which upgrades an older schema) and checked
//! page by page.
//!
//! Terminals notice a restore by themselves: the hub's signed standing says
//! it holds fewer of their records than they sent, and they send the rest
//! again; records the backup holds are not stored twice.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::HubConfig;
use crate::db::{DB_FILE, Db};
use crate::error::HubError;
use crate::health::SOFTWARE_VERSION;
use crate::hub::Hub;

/// The manifest's name, the first entry of every backup.
pub const MANIFEST: &str = "xinyi-hub-backup.json";
/// The backup format this build writes and reads.
pub const FORMAT: u32 = 1;
/// The most entries a backup may hold (a data directory has a handful).
const MAX_ENTRIES: usize = 1_000;
/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// How often a backup is taken again when a key rotation races it.
const ATTEMPTS: usize = 5;

/// What a backup holds, written first in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The xinyi-hub version that wrote it.
    pub software: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The database's schema version.
    pub schema: i64,
    /// The published data version in the snapshot.
    pub data_version: u64,
    /// Records held in the snapshot.
    pub records: u64,
    pub files: Vec<ManifestFile>,
}

/// One file in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative to the data directory, with `/` between folders.
    pub path: String,
    pub bytes: u64,
    /// Hex.
    pub sha256: String,
    /// Unix permission bits.
    pub mode: u32,
}

/// Files in the data directory that are the database itself (the snapshot
/// replaces them) or never belong in a backup.
fn skipped(name: &str) -> bool {
    name == DB_FILE
        || name.starts_with(&format!("{DB_FILE}-"))
        || name.ends_with(".partial")
        || name.starts_with(".xinyi-hub-")
}

impl Hub {
    /// Writes a backup of this registry to `out` (mode 0600: it holds the
    /// signing keys). Refuses to replace an existing file. An interrupted
    /// backup leaves no file under `out`'s name.
    pub fn backup(&self, out: &Path) -> Result<Manifest, HubError> {
        if out.exists() {
            return Err(HubError::Invalid(format!(
                "{} already exists; refusing to overwrite it: give a new file name",
                out.display()
            )));
        }
        let out_dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let work = tempfile::Builder::new()
            .prefix(".xinyi-hub-backup-")
            .tempdir_in(&out_dir)
            .map_err(HubError::io(&out_dir))?;
        let snapshot = work.path().join(DB_FILE);

        let mut attempt = 0;
        let (files, manifest_base) = loop {
            attempt += 1;
            let before = self.side_files()?;
            if snapshot.exists() {
                std::fs::remove_file(&snapshot).map_err(HubError::io(&snapshot))?;
            }
            let base = self.snapshot_into(&snapshot)?;
            let after = self.side_files()?;
            if before == after {
                break (after, base);
            }
            if attempt >= ATTEMPTS {
                return Err(HubError::Internal(
                    "the key files kept changing while the backup was taken (a key rotation?): try again"
                        .into(),
                ));
            }
        };

        let mut entries = vec![(DB_FILE.to_owned(), snapshot.clone(), 0o600)];
        entries.extend(files.into_iter().map(|(rel, f)| (rel, f.path, f.mode)));
        let mut listed = Vec::with_capacity(entries.len());
        for (rel, path, mode) in &entries {
            let (bytes, sha256) = hash_file(path)?;
            listed.push(ManifestFile {
                path: rel.clone(),
                bytes,
                sha256,
                mode: *mode,
            });
        }
        let manifest = Manifest {
            files: listed,
            ..manifest_base
        };

        let partial = out_dir.join(format!(
            "{}.partial",
            out.file_name()
                .map_or_else(|| "backup".into(), |n| n.to_string_lossy().into_owned())
        ));
        let write = || -> Result<(), HubError> {
            let file = private_new(&partial)?;
            let gz = GzEncoder::new(BufWriter::new(file), Compression::default());
            let mut tar = tar::Builder::new(gz);
            tar.mode(tar::HeaderMode::Deterministic);
            let json = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| HubError::Internal(e.to_string()))?;
            append_bytes(&mut tar, MANIFEST, &json, 0o600, manifest.created_at)?;
            for ((rel, path, mode), listed) in entries.iter().zip(&manifest.files) {
                let mut f = File::open(path).map_err(HubError::io(path))?;
                let mut header = tar::Header::new_gnu();
                header.set_size(listed.bytes);
                header.set_mode(*mode);
                header.set_mtime(u64::try_from(manifest.created_at).unwrap_or(0));
                header.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut header, rel, (&mut f).take(listed.bytes))
                    .map_err(HubError::io(&partial))?;
            }
            let gz = tar.into_inner().map_err(HubError::io(&partial))?;
            let file = gz
                .finish()
                .map_err(HubError::io(&partial))?
                .into_inner()
                .map_err(|e| HubError::io(&partial)(e.into_error()))?;
            file.sync_all().map_err(HubError::io(&partial))?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        // Renaming over a file that appeared meanwhile is refused the
        // same way as at the start.
        if out.exists() {
            let _ = std::fs::remove_file(&partial);
            return Err(HubError::Invalid(format!(
                "{} appeared while the backup was written; refusing to overwrite it",
                out.display()
            )));
        }
        std::fs::rename(&partial, out).map_err(HubError::io(out))?;
        Ok(manifest)
    }

    /// Copies the database into a SQLite file at `path` in one read
    /// transaction and says what the copy holds: by SQLite's `VACUUM
    /// INTO`, or row by row from PostgreSQL ([`crate::migrate::copy`]).
    fn snapshot_into(&self, path: &Path) -> Result<Manifest, HubError> {
        if self.db().dialect() == crate::db::Dialect::Postgres {
            let snapshot = Db::open(path)?;
            crate::migrate::copy(self.db(), &snapshot)?;
        } else {
            let target = path
                .to_str()
                .ok_or_else(|| HubError::Invalid(format!("{}: not UTF-8", path.display())))?
                .to_owned();
            self.db().with_sqlite(|conn| {
                conn.execute("VACUUM INTO ?1", [&target])?;
                Ok(())
            })?;
        }
        let copy = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let schema = crate::db::schema_version(&copy)?;
        let data_version: i64 =
            copy.query_row("SELECT COALESCE(MAX(version), 0) FROM versions", [], |r| {
                r.get(0)
            })?;
        let records: i64 = copy.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
        Ok(Manifest {
            format: FORMAT,
            software: SOFTWARE_VERSION.to_owned(),
            created_at: self.now().0,
            schema,
            data_version: u64::try_from(data_version).unwrap_or(0),
            records: u64::try_from(records).unwrap_or(0),
            files: Vec::new(),
        })
    }

    /// Every file of the data directory but the database, with its
    /// contents, by relative path.
    fn side_files(&self) -> Result<BTreeMap<String, SideFile>, HubError> {
        let mut out = BTreeMap::new();
        collect(self.dir(), "", &mut out, 0)?;
        Ok(out)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct SideFile {
    path: PathBuf,
    mode: u32,
    contents: Vec<u8>,
}

/// The largest side file kept (keys, settings and certificates are tiny;
/// anything larger is not the registry's).
const MAX_SIDE_FILE: u64 = 4 * 1024 * 1024;

fn collect(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeMap<String, SideFile>,
    depth: usize,
) -> Result<(), HubError> {
    if depth > 4 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(HubError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(HubError::io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if depth == 0 && skipped(&name) {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        // Not followed: a link could point anywhere.
        let meta = std::fs::symlink_metadata(&path).map_err(HubError::io(&path))?;
        if meta.is_dir() {
            collect(&path, &format!("{rel}/"), out, depth + 1)?;
        } else if meta.is_file() {
            if meta.len() > MAX_SIDE_FILE {
                tracing::warn!(file = %path.display(), "left out of the backup: larger than a registry's own files");
                continue;
            }
            let contents = std::fs::read(&path).map_err(HubError::io(&path))?;
            out.insert(
                rel,
                SideFile {
                    mode: mode_of(&meta),
                    path,
                    contents,
                },
            );
        }
        if out.len() > MAX_ENTRIES {
            return Err(HubError::Invalid(format!(
                "{} holds more than {MAX_ENTRIES} files: is it a registry's data directory?",
                dir.display()
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> u32 {
    0o600
}

fn hash_file(path: &Path) -> Result<(u64, String), HubError> {
    let mut f = BufReader::new(File::open(path).map_err(HubError::io(path))?);
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut HashWriter(&mut hasher)).map_err(HubError::io(path))?;
    Ok((bytes, xinyi_core::hex::encode(hasher.finalize().as_slice())))
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn private_new(path: &Path) -> Result<File, HubError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path).map_err(HubError::io(path))
}

fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
    mode: u32,
    mtime: i64,
) -> Result<(), HubError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_mtime(u64::try_from(mtime).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)
        .map_err(|e| HubError::Internal(format!("writing the backup: {e}")))
}

/// What a restore put in place.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// The schema the database has now (a backup from an older version is
    /// upgraded as the hub opens it).
    pub schema: i64,
}

/// Unpacks the backup `file` into `dir`, which must not exist or be empty.
pub fn restore(file: &Path, dir: &Path) -> Result<Restored, HubError> {
    restore_with_config(file, dir, None)
}

/// [`restore`], checking the restored registry with the given settings
/// (`--config`) instead of the `hub.toml` in the backup: they say where an
/// identity key kept apart from the data directory is.
pub fn restore_with_config(
    file: &Path,
    dir: &Path,
    config: Option<HubConfig>,
) -> Result<Restored, HubError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(HubError::io(dir))?;
        if let Some(first) = entries.next() {
            let first = first.map_err(HubError::io(dir))?;
            return Err(HubError::AlreadyExists {
                dir: dir.to_owned(),
                what: first.file_name().to_string_lossy().into_owned(),
            });
        }
    }
    // Staged beside the target when it does not exist (so it appears
    // whole, under its name, at once), or inside it when it is an empty
    // directory (one the service user owns, in a folder it cannot write).
    let existing = dir.exists();
    let stage_in = if existing {
        dir.to_owned()
    } else {
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(HubError::io(&parent))?;
        parent
    };
    let staging = tempfile::Builder::new()
        .prefix(".xinyi-hub-restore-")
        .tempdir_in(&stage_in)
        .map_err(HubError::io(&stage_in))?;
    let manifest = unpack(file, staging.path())?;

    // The settings the restored hub will run with: where its identity key
    // is, and whether its database is PostgreSQL's.
    let config = match config {
        Some(c) => c,
        None => HubConfig::for_dir(staging.path())?,
    };
    let on_postgres = config.database.is_some();
    // The unpacked database (a SQLite snapshot on either backend) must
    // open and check out before it is put in place.
    let schema = {
        let snapshot = HubConfig {
            database: None,
            ..config.clone()
        };
        let hub = Hub::open_with_config(staging.path(), snapshot).map_err(|e| match e {
            // Named where it will be, not in the staging folder.
            HubError::KeyFile { path, why } => {
                let path = match path.strip_prefix(staging.path()) {
                    Ok(rel) => dir.join(rel),
                    Err(_) => path,
                };
                HubError::KeyFile {
                    path,
                    why: format!("{why} (restoring {}: nothing was restored)", file.display()),
                }
            }
            other => other,
        })?;
        let check = hub.status()?;
        if check.integrity != "ok" {
            return Err(HubError::Corrupt(format!(
                "{}: the database in the backup fails its check: {}",
                file.display(),
                check.integrity
            )));
        }
        // A registry on PostgreSQL goes back into the database its
        // settings name, which must be empty; the data directory keeps
        // the keys and settings only.
        if on_postgres {
            let target = Db::open_at(&config.database_at(dir))?;
            crate::migrate::copy(hub.db(), &target)?;
            drop(hub);
            for f in std::fs::read_dir(staging.path()).map_err(HubError::io(staging.path()))? {
                let f = f.map_err(HubError::io(staging.path()))?;
                if f.file_name().to_string_lossy().starts_with(DB_FILE) {
                    std::fs::remove_file(f.path()).map_err(HubError::io(f.path()))?;
                }
            }
        }
        check.health.schema
    };
    if existing {
        let entries = std::fs::read_dir(staging.path()).map_err(HubError::io(staging.path()))?;
        for entry in entries {
            let entry = entry.map_err(HubError::io(staging.path()))?;
            let to = dir.join(entry.file_name());
            std::fs::rename(entry.path(), &to).map_err(HubError::io(&to))?;
        }
        drop(staging);
    } else {
        let staged = staging.keep();
        set_private_dir(&staged)?;
        if let Err(e) = std::fs::rename(&staged, dir) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(HubError::io(dir)(e));
        }
    }
    Ok(Restored { manifest, schema })
}

#[cfg(unix)]
fn set_private_dir(dir: &Path) -> Result<(), HubError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(HubError::io(dir))
}

#[cfg(not(unix))]
fn set_private_dir(_dir: &Path) -> Result<(), HubError> {
    Ok(())
}

fn bad(file: &Path, why: impl std::fmt::Display) -> HubError {
    HubError::Invalid(format!("{} is not a usable backup: {why}", file.display()))
}

/// Checks and unpacks every entry of `file` into `into`; returns the
/// manifest once every file it lists is there with its hash.
fn unpack(file: &Path, into: &Path) -> Result<Manifest, HubError> {
    let f = File::open(file).map_err(HubError::io(file))?;
    let mut archive = tar::Archive::new(GzDecoder::new(BufReader::new(f)));
    let entries = archive.entries().map_err(|e| bad(file, e))?;
    let mut manifest: Option<Manifest> = None;
    let mut expected: BTreeMap<String, ManifestFile> = BTreeMap::new();
    let mut seen = 0usize;
    for entry in entries {
        seen += 1;
        if seen > MAX_ENTRIES + 1 {
            return Err(bad(file, format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.map_err(|e| bad(file, e))?;
        let name = entry
            .path()
            .map_err(|e| bad(file, e))?
            .to_string_lossy()
            .into_owned();
        if manifest.is_none() {
            if name != MANIFEST {
                return Err(bad(
                    file,
                    format!("it starts with {name:?}, not {MANIFEST}"),
                ));
            }
            let mut text = Vec::new();
            (&mut entry)
                .take(MAX_MANIFEST_BYTES + 1)
                .read_to_end(&mut text)
                .map_err(|e| bad(file, e))?;
            if text.len() as u64 > MAX_MANIFEST_BYTES {
                return Err(bad(file, "its manifest is too large"));
            }
            let parsed: Manifest =
                serde_json::from_slice(&text).map_err(|e| bad(file, format!("manifest: {e}")))?;
            if parsed.format != FORMAT {
                return Err(bad(
                    file,
                    format!(
                        "format {} (this xinyi-hub reads format {FORMAT})",
                        parsed.format
                    ),
                ));
            }
            for listed in &parsed.files {
                safe_relative(&listed.path).map_err(|why| bad(file, why))?;
                if expected
                    .insert(listed.path.clone(), listed.clone())
                    .is_some()
                {
                    return Err(bad(file, format!("{} is listed twice", listed.path)));
                }
            }
            if !expected.contains_key(DB_FILE) {
                return Err(bad(file, format!("it holds no {DB_FILE}")));
            }
            manifest = Some(parsed);
            continue;
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(
                file,
                format!("{name} is not a plain file (links and devices are refused)"),
            ));
        }
        let Some(listed) = expected.remove(&name) else {
            return Err(bad(
                file,
                format!("{name} is not in its manifest (or appears twice)"),
            ));
        };
        let target = into.join(&listed.path);
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).map_err(HubError::io(p))?;
        }
        let out = {
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                opts.mode(listed.mode & 0o777);
            }
            opts.open(&target).map_err(HubError::io(&target))?
        };
        let mut hasher = Sha256::new();
        let mut writer = BufWriter::new(out);
        let mut limited = (&mut entry).take(listed.bytes + 1);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = limited.read(&mut buf).map_err(|e| bad(file, e))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > listed.bytes {
                return Err(bad(
                    file,
                    format!("{name} is longer than its manifest says"),
                ));
            }
            hasher.update(&buf[..n]);
            writer.write_all(&buf[..n]).map_err(HubError::io(&target))?;
        }
        let out = writer
            .into_inner()
            .map_err(|e| HubError::io(&target)(e.into_error()))?;
        out.sync_all().map_err(HubError::io(&target))?;
        if total != listed.bytes {
            return Err(bad(
                file,
                format!(
                    "{name} holds {total} bytes, its manifest says {}",
                    listed.bytes
                ),
            ));
        }
        let sha = xinyi_core::hex::encode(hasher.finalize().as_slice());
        if sha != listed.sha256 {
            return Err(bad(file, format!("{name} does not match its SHA-256")));
        }
    }
    let Some(manifest) = manifest else {
        return Err(bad(file, "it is empty"));
    };
    if let Some(missing) = expected.keys().next() {
        return Err(bad(
            file,
            format!("{missing} is in its manifest but not in the file (cut short?)"),
        ));
    }
    Ok(manifest)
}

/// A path inside the data directory: relative, no `..`, no root.
fn safe_relative(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if path.is_empty() || path.len() > 255 {
        return Err(format!("a file name of {} bytes", path.len()));
    }
    if p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(())
    } else {
        Err(format!("{path:?} would land outside the data directory"))
    }
}
