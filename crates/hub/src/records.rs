//! Ingesting terminals' journals (`wire::journal`): every record's
//! signature is checked with the terminal's key and the run of new records
//! must continue the chain the hub holds. Records already held are counted
//! as duplicates; a record with a held seq but another hash is a conflict.
//! New records are stored exactly once, as signed, in one transaction;
//! refused uploads are counted for the integrity report.

use ed25519_dalek::VerifyingKey;
use rusqlite::{OptionalExtension as _, Transaction, params};
use xinyi_core::wire::Digest32;
use xinyi_core::wire::WireError;
use xinyi_core::wire::enroll::UploadReceipt;
use xinyi_core::wire::journal::{
    Body, ChainError, Record, SignedRecord, check_chain, decode_batch,
};

use crate::admin::TerminalInfo;
use crate::error::{HubError, UploadError};
use crate::hub::Hub;
use crate::publish::{to_i64, to_u64};

/// The last record held for a terminal: (seq, hash).
fn last_held(tx: &Transaction<'_>, terminal: &str) -> Result<Option<(u64, Digest32)>, HubError> {
    let row = tx
        .query_row(
            "SELECT seq, hash FROM records WHERE terminal = ?1 ORDER BY seq DESC LIMIT 1",
            [terminal],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    row.map(|(seq, hash)| {
        Ok((
            to_u64(seq)?,
            Digest32::from_hex(&hash).map_err(HubError::corrupt)?,
        ))
    })
    .transpose()
}

/// The highest seq held with no gap before it.
fn held_through(tx: &Transaction<'_>, terminal: &str) -> Result<u64, HubError> {
    // Records are only ever stored as a continuation of the chain, so the
    // held seqs are 1..=n; counting guards against a damaged database.
    let (max, count): (i64, i64) = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM records WHERE terminal = ?1",
        [terminal],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if max == count {
        return to_u64(max);
    }
    let mut stmt = tx.prepare_cached("SELECT seq FROM records WHERE terminal = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([terminal])?;
    let mut through = 0i64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        if seq != through + 1 {
            break;
        }
        through = seq;
    }
    to_u64(through)
}

fn insert(
    tx: &Transaction<'_>,
    terminal: &TerminalInfo,
    unit: &str,
    signed: &SignedRecord,
    r: &Record,
    hash: Digest32,
    now: i64,
) -> Result<(), HubError> {
    let hex = xinyi_core::hex::encode;
    let body = &r.body;
    let measure = body.measure();
    let sub = body.sub();
    let cti = body.cti().map(hex);
    let reason = body.reason();
    let target = body.target().map(|t| hex(t));
    let (original, discount, payable) = match body.amounts() {
        Some((o, d, p)) => (
            Some(to_i64(o, "amount")?),
            Some(to_i64(d, "amount")?),
            Some(to_i64(p, "amount")?),
        ),
        None => (None, None, None),
    };
    let (form, categories, companions) = match body {
        Body::Redemption {
            form,
            categories,
            companions,
            ..
        } => (
            Some(i64::from(*form)),
            Some(categories.join(",")),
            Some(i64::from(*companions)),
        ),
        _ => (None, None, None),
    };
    let id = hex(&r.id);
    tx.prepare_cached(
        "INSERT INTO records (terminal, seq, id, hash, prev, at, kind, measure, sub, cti, form,
            categories, original, discount, payable, companions, reason, target, site, unit,
            data_version, operator, bytes, sig, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    )?
    .execute(params![
        terminal.id,
        to_i64(r.seq, "seq")?,
        id,
        hash.to_hex(),
        r.prev.to_hex(),
        r.at.0,
        r.body.kind(),
        measure,
        sub,
        cti,
        form,
        categories,
        original,
        discount,
        payable,
        companions,
        reason,
        target,
        terminal.site,
        unit,
        to_i64(r.data_version, "data_version")?,
        r.operator,
        signed.bytes,
        signed.sig.as_slice(),
        now,
    ])?;
    if let Some(target) = target {
        // A void cancels a redemption of the same terminal for reports.
        tx.execute(
            "UPDATE records SET voided_by = ?3
             WHERE terminal = ?1 AND id = ?2 AND kind = 'redemption' AND voided_by IS NULL",
            params![terminal.id, target, id],
        )?;
    }
    Ok(())
}

impl Hub {
    /// Ingests an upload (`encode_batch` bytes) from an authenticated
    /// terminal. All or nothing: a bad signature, a broken chain or a
    /// conflict stores nothing (and is counted for the integrity report).
    pub fn upload(&self, terminal: &TerminalInfo, batch: &[u8]) -> Result<UploadReceipt, HubError> {
        match self.try_upload(terminal, batch) {
            Err(HubError::Upload(e)) => {
                let now = self.now();
                let detail = e.to_string();
                tracing::warn!(terminal = %terminal.id, %detail, "upload refused");
                self.db().write(|tx| {
                    tx.execute(
                        "INSERT INTO upload_rejections (terminal, at, reason, detail)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![terminal.id, now.0, e.reason(), detail],
                    )?;
                    Ok(())
                })?;
                Err(HubError::Upload(e))
            }
            other => other,
        }
    }

    fn try_upload(&self, terminal: &TerminalInfo, batch: &[u8]) -> Result<UploadReceipt, HubError> {
        let signed = decode_batch(batch).map_err(|e| match e {
            WireError::TooLarge { limit, found, .. } => UploadError::TooLarge { limit, found },
            other => UploadError::Malformed(other),
        })?;
        let key = xinyi_core::hex::decode_array::<32>(&terminal.public_key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| HubError::corrupt(format!("terminal {} key", terminal.id)))?;
        // Signatures first, outside the transaction: CPU work only.
        let mut opened = Vec::with_capacity(signed.len());
        for (index, s) in signed.iter().enumerate() {
            let record = s.open(&key).map_err(|e| match e {
                WireError::BadSignature { .. } => UploadError::BadSignature {
                    index,
                    seq: Record::decode(&s.bytes).ok().map(|r| r.seq),
                },
                other => UploadError::Malformed(other),
            })?;
            if record.terminal != terminal.id {
                return Err(UploadError::BrokenChain(ChainError::WrongTerminal {
                    seq: record.seq,
                    expected: terminal.id.clone(),
                    found: record.terminal,
                })
                .into());
            }
            opened.push((record, s.hash()));
        }
        let now = self.now();
        self.db().write(|tx| {
            let unit: String = tx
                .query_row(
                    "SELECT unit FROM sites WHERE id = ?1",
                    [&terminal.site],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or_default();
            let mut duplicates = 0u64;
            let mut fresh: Vec<(Record, Digest32, &SignedRecord)> = Vec::new();
            for ((record, hash), s) in opened.into_iter().zip(&signed) {
                let held: Option<String> = tx
                    .prepare_cached("SELECT hash FROM records WHERE terminal = ?1 AND seq = ?2")?
                    .query_row(params![terminal.id, to_i64(record.seq, "seq")?], |r| {
                        r.get(0)
                    })
                    .optional()?;
                match held {
                    Some(h) if h == hash.to_hex() => duplicates += 1,
                    Some(h) => {
                        return Err(UploadError::Conflict {
                            seq: record.seq,
                            held: h,
                            uploaded: hash.to_hex(),
                        }
                        .into());
                    }
                    None => fresh.push((record, hash, s)),
                }
            }
            let chain: Vec<(Record, Digest32)> =
                fresh.iter().map(|(r, h, _)| (r.clone(), *h)).collect();
            check_chain(&terminal.id, last_held(tx, &terminal.id)?, &chain)
                .map_err(UploadError::BrokenChain)?;
            for (record, hash, s) in &fresh {
                insert(tx, terminal, &unit, s, record, *hash, now.0)?;
            }
            Ok(UploadReceipt {
                stored: fresh.len() as u64,
                duplicates,
                held_through: held_through(tx, &terminal.id)?,
            })
        })
    }

    /// What the hub holds for a terminal.
    pub fn upload_status(&self, terminal_id: &str) -> Result<UploadReceipt, HubError> {
        self.db().read(|tx| {
            Ok(UploadReceipt {
                stored: 0,
                duplicates: 0,
                held_through: held_through(tx, terminal_id)?,
            })
        })
    }
}
