//! What one durable commit costs on this machine, alone: the floor under
//! every write a hub makes. Each is a single-row INSERT in a transaction
//! of its own, one after another, timed from the statement to the end of
//! its commit.

use std::path::Path;
use std::time::Instant;

use super::postgres::Postgres;

/// Milliseconds of `n` commits to a new SQLite file in `dir`, with the
/// hub's pragmas (WAL, `synchronous=FULL`: the WAL is flushed at every
/// commit).
pub fn sqlite(dir: &Path, n: usize) -> anyhow::Result<Vec<f64>> {
    let path = dir.join("commit-probe.db");
    let result = (|| {
        let conn = rusqlite::Connection::open(&path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("SQLite refused WAL mode here (got {mode})");
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")?;
        let mut stmt = conn.prepare("INSERT INTO t (v) VALUES (?1)")?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            stmt.execute([vec![i as u8; 200]])?;
            out.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(out)
    })();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    result
}

/// Milliseconds of `n` commits to a new table on the server, over a
/// connection on 127.0.0.1 (a round trip included, as the hub has).
pub async fn postgres(pg: &Postgres, n: usize) -> anyhow::Result<Vec<f64>> {
    let name = "commit_probe";
    let url = pg.create_database(name)?;
    let result = async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        let conn = tokio::spawn(async move {
            let _ = connection.await;
        });
        client
            .batch_execute("CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v BYTEA NOT NULL)")
            .await?;
        let stmt = client.prepare("INSERT INTO t (v) VALUES ($1)").await?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let v = vec![i as u8; 200];
            let t = Instant::now();
            client.execute(&stmt, &[&v]).await?;
            out.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        drop(client);
        let _ = conn.await;
        anyhow::Ok(out)
    }
    .await;
    pg.drop_database(name)?;
    result
}
