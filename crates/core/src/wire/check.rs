//! The online check (`measures.md`, "Limits hold for the subject, not for
//! the counter"; `credential.md`, REPLAYED): after a local `OK`, a terminal
//! asks the registry, in a signed request, for the subject's confirmed uses
//! of the measure in the limit period and for the redemptions of the code's
//! `cti` anywhere in the programme. The registry answers in an envelope
//! signed with its key that names the terminal and echoes the request's
//! nonce and every question, so an answer can be neither forged, nor
//! replayed from an earlier scan, nor borrowed from another terminal.
//!
//! Both are JSON; record ids are 32 hex digits.

use std::collections::BTreeSet;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::WireError;
use super::envelope::{self, Purpose};
use crate::credential::Cti;
use crate::history::{Confirmed, RecordId};
use crate::ids::SubjectId;
use crate::measures::MeasureId;
use crate::time::UnixTime;

/// The path of the online check.
pub const PATH: &str = "/v1/check";
/// The most record ids one answer lists per question: far above any
/// limit a measure sets.
pub const MAX_IDS: usize = 1000;
/// The most bytes of a request the hub reads.
pub const MAX_REQUEST: usize = 1024;
/// The most bytes of an answer the terminal reads.
pub const MAX_ANSWER: u64 = 2 * 1024 + 2 * 40 * MAX_IDS as u64;

const WHAT: &str = "online check";

/// What a terminal asks about one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub sub: String,
    pub measure: String,
    /// The limit period `[from, until)` (Unix seconds), when the measure
    /// has a limit.
    pub period: Option<[i64; 2]>,
    /// The code's id (hex), when the code is dynamic.
    pub cti: Option<String>,
}

impl CheckRequest {
    /// The request for a subject, measure, limit period and code.
    pub fn new(
        sub: &SubjectId,
        measure: &MeasureId,
        period: Option<(UnixTime, UnixTime)>,
        cti: Option<&Cti>,
    ) -> CheckRequest {
        CheckRequest {
            sub: sub.to_string(),
            measure: measure.as_str().to_owned(),
            period: period.map(|(f, u)| [f.0, u.0]),
            cti: cti.map(Cti::to_hex),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads and checks a request as the hub receives it.
    pub fn parse(bytes: &[u8]) -> Result<Question, WireError> {
        if bytes.len() > MAX_REQUEST {
            return Err(WireError::malformed(
                WHAT,
                format!("request of {} bytes, at most {MAX_REQUEST}", bytes.len()),
            ));
        }
        let r: CheckRequest =
            serde_json::from_slice(bytes).map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        r.question()
    }

    /// The question in checked types.
    pub fn question(&self) -> Result<Question, WireError> {
        let bad = |field: &str, e: String| WireError::malformed(WHAT, format!("{field}: {e}"));
        let sub = SubjectId::parse(&self.sub).map_err(|e| bad("sub", e.to_string()))?;
        let measure = MeasureId::parse(&self.measure).map_err(|e| bad("measure", e.to_string()))?;
        let period = match self.period {
            Some([from, until]) if from < until => Some((UnixTime(from), UnixTime(until))),
            Some([from, until]) => {
                return Err(bad(
                    "period",
                    format!("must end after it starts, got {from}..{until}"),
                ));
            }
            None => None,
        };
        let cti = match &self.cti {
            Some(h) => Some(Cti::from_hex(h).map_err(|e| bad("cti", e.to_string()))?),
            None => None,
        };
        Ok(Question {
            sub,
            measure,
            period,
            cti,
        })
    }
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub sub: SubjectId,
    pub measure: MeasureId,
    pub period: Option<(UnixTime, UnixTime)>,
    pub cti: Option<Cti>,
}

/// The registry's answer, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckAnswer {
    /// The terminal that asked.
    pub terminal: String,
    /// The asking request's nonce (hex).
    pub nonce: String,
    /// The request, echoed.
    pub request: CheckRequest,
    /// Confirmed, not voided redemptions of the measure by the subject in
    /// the period, across the programme (empty without a period).
    pub uses: Vec<String>,
    /// Confirmed, not voided redemptions that used the code.
    pub cti_redeemed_by: Vec<String>,
    /// The registry's time when it answered.
    pub issued_at: i64,
}

fn ids(what: &str, list: &[String]) -> Result<BTreeSet<RecordId>, WireError> {
    if list.len() > MAX_IDS {
        return Err(WireError::malformed(
            WHAT,
            format!("{what}: {} record ids, at most {MAX_IDS}", list.len()),
        ));
    }
    list.iter()
        .map(|h| {
            crate::hex::decode_array(h)
                .map_err(|e| WireError::malformed(WHAT, format!("{what}: record id {h:?}: {e}")))
        })
        .collect()
}

impl CheckAnswer {
    /// The answer to `question`, asked by `terminal` with `nonce`.
    pub fn new(
        terminal: &str,
        nonce: &[u8; 16],
        question: &Question,
        uses: &[RecordId],
        cti_redeemed_by: &[RecordId],
        issued_at: UnixTime,
    ) -> CheckAnswer {
        let hex = |l: &[RecordId]| {
            l.iter()
                .take(MAX_IDS)
                .map(|id| crate::hex::encode(id))
                .collect()
        };
        CheckAnswer {
            terminal: terminal.to_owned(),
            nonce: crate::hex::encode(nonce),
            request: CheckRequest::new(
                &question.sub,
                &question.measure,
                question.period,
                question.cti.as_ref(),
            ),
            uses: hex(uses),
            cti_redeemed_by: hex(cti_redeemed_by),
            issued_at: issued_at.0,
        }
    }

    /// Signs the answer with the registry key.
    pub fn seal(&self, key: &SigningKey) -> Vec<u8> {
        envelope::seal(
            key,
            Purpose::Check,
            &serde_json::to_vec(self).unwrap_or_default(),
        )
    }

    /// Opens an answer signed by the pinned registry key and checks that
    /// it answers exactly what this terminal asked with this nonce.
    pub fn open(
        bytes: &[u8],
        pinned: &VerifyingKey,
        terminal: &str,
        nonce: &[u8; 16],
        asked: &CheckRequest,
    ) -> Result<(Confirmed, UnixTime), WireError> {
        let payload = envelope::open(bytes, Purpose::Check, pinned)?;
        let a: CheckAnswer = serde_json::from_slice(&payload)
            .map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        if a.terminal != terminal {
            return Err(WireError::malformed(
                WHAT,
                format!("answer is for terminal {}, not {terminal}", a.terminal),
            ));
        }
        if a.nonce != crate::hex::encode(nonce) {
            return Err(WireError::malformed(
                WHAT,
                "answer is to another request (nonce differs)",
            ));
        }
        if &a.request != asked {
            return Err(WireError::malformed(
                WHAT,
                "answer is to another question than the one asked",
            ));
        }
        let q = a.request.question()?;
        let uses = ids("uses", &a.uses)?;
        let cti_redeemed_by = ids("cti_redeemed_by", &a.cti_redeemed_by)?;
        Ok((
            Confirmed {
                sub: q.sub,
                measure: q.measure,
                period: q.period,
                uses,
                cti: q.cti,
                cti_redeemed_by,
            },
            UnixTime(a.issued_at),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question() -> (CheckRequest, Question) {
        let sub = SubjectId::from_bytes(&[1; 16]);
        let measure = MeasureId::parse("XYX-BUS-TOPUP").unwrap();
        let cti = Cti::new(vec![7; 12]).unwrap();
        let req = CheckRequest::new(
            &sub,
            &measure,
            Some((UnixTime(100), UnixTime(200))),
            Some(&cti),
        );
        let q = CheckRequest::parse(&req.to_bytes()).unwrap();
        (req, q)
    }

    #[test]
    fn an_answer_opens_only_for_its_terminal_nonce_and_question() {
        let hub = SigningKey::from_bytes(&[9; 32]);
        let (req, q) = question();
        let nonce = [4u8; 16];
        let sealed = CheckAnswer::new(
            "t1",
            &nonce,
            &q,
            &[[1; 16], [2; 16]],
            &[[2; 16]],
            UnixTime(150),
        )
        .seal(&hub);
        let pinned = hub.verifying_key();
        let (c, at) = CheckAnswer::open(&sealed, &pinned, "t1", &nonce, &req).unwrap();
        assert_eq!(at, UnixTime(150));
        assert_eq!(c.uses.len(), 2);
        assert!(c.cti_redeemed_by.contains(&[2; 16]));
        assert_eq!(c.period, q.period);

        assert!(CheckAnswer::open(&sealed, &pinned, "t2", &nonce, &req).is_err());
        assert!(CheckAnswer::open(&sealed, &pinned, "t1", &[5; 16], &req).is_err());
        let mut other = req.clone();
        other.period = Some([100, 300]);
        assert!(CheckAnswer::open(&sealed, &pinned, "t1", &nonce, &other).is_err());
        let impostor = SigningKey::from_bytes(&[8; 32]);
        assert!(CheckAnswer::open(&sealed, &impostor.verifying_key(), "t1", &nonce, &req).is_err());
    }

    #[test]
    fn bad_requests_name_the_field() {
        let (mut req, _) = question();
        req.period = Some([200, 100]);
        let e = CheckRequest::parse(&req.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("period"), "{e}");
        let (mut req, _) = question();
        req.cti = Some("zz".into());
        let e = CheckRequest::parse(&req.to_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cti"), "{e}");
        let e = CheckRequest::parse(&vec![b' '; MAX_REQUEST + 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most"), "{e}");
        assert!(CheckRequest::parse(b"{\"sub\":1}").is_err());
    }
}
