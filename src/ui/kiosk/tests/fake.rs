//! A counter in memory: the real verdict over the vectors' keys, lists and
//! catalogue; records, operators and settings in vectors.

use std::sync::Arc;

use serde_json::Value;
use xinyi_core::history::{Basis, MemoryHistory, Use};
use xinyi_core::verdict::{DEFAULT_MAX_OFFLINE_AGE_S, MemoryData};
use xinyi_core::wire::journal::{Body, Checked, RecordId};
use xinyi_core::{Approval, Fen, Measure, MeasureId, UnixTime, Verdict, decide};

use crate::counter::{
    Confirmed, Counter, CounterStatus, RecordSummary, Recorded, Scan, Shift, SiteSnapshot,
};
use crate::settings::Settings;
use crate::store::{MeasureTotals, Role};
use crate::terminal::{SignIn, Staff, Supervisor, TerminalError};

pub const CLERK: (&str, &str) = ("1001", "1234");
pub const SUPERVISOR: (&str, &str) = ("9001", "900199");

/// A counter in memory.
pub struct Fake {
    pub site: Arc<SiteSnapshot>,
    skew_s: i64,
    data: MemoryData,
    history: MemoryHistory,
    pub records: Vec<RecordSummary>,
    pub settings: Settings,
    pub refreshed: usize,
}

impl Fake {
    pub fn new(v: &Value, measures: Vec<Measure>, as_of: UnixTime) -> Fake {
        let key = xinyi_testkit::k_pseudo(v);
        let registry = xinyi_testkit::registry(v);
        Fake {
            site: Arc::new(SiteSnapshot {
                terminal_id: "T-1".into(),
                site_id: "S-1".into(),
                site: None,
                measures,
                max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
                data_as_of: Some(as_of),
                published_at: Some(as_of),
                version: Some(1),
                hub_url: Some("https://hub.invalid".into()),
            }),
            skew_s: v["clock_skew_s"].as_i64().unwrap(),
            data: MemoryData::new(
                xinyi_testkit::trust_list(v),
                xinyi_testkit::revoked_cards(v),
                registry.eligibility(&key),
            ),
            history: MemoryHistory::new(),
            records: Vec::new(),
            settings: Settings::default(),
            refreshed: 0,
        }
    }

    fn write(&mut self, at: UnixTime, body: Body) -> Recorded {
        let seq = self.records.len() as u64 + 1;
        let mut id: RecordId = [0; 16];
        id[..8].copy_from_slice(&seq.to_be_bytes());
        self.records.push(RecordSummary {
            id,
            seq,
            at,
            body,
            uploaded: false,
            voided: false,
        });
        Recorded { id, seq }
    }
}

impl Counter for Fake {
    fn snapshot(&self) -> Arc<SiteSnapshot> {
        self.site.clone()
    }

    fn refresh(&mut self) -> Result<bool, TerminalError> {
        self.refreshed += 1;
        Ok(false)
    }

    fn scan(
        &mut self,
        text: &str,
        measure: &MeasureId,
        _operator: &str,
        at: UnixTime,
    ) -> Result<Scan, TerminalError> {
        let site = self.site.clone();
        let ctx = site.context(self.skew_s, None);
        match decide(&ctx, &self.data, &self.history, text, measure, at)? {
            Verdict::Ok(a) => Ok(Scan::Ok(a)),
            Verdict::Refused(refusal) => {
                let record = self.write(
                    at,
                    Body::Refusal {
                        reason: refusal.reason.code().to_owned(),
                        measure: measure.to_string(),
                        sub: None,
                        cti: None,
                        detail: refusal.detail.clone(),
                        basis: Some(Basis::Offline),
                    },
                );
                Ok(Scan::Refused { refusal, record })
            }
        }
    }

    fn authenticate(
        &mut self,
        id: &str,
        pin: &str,
        _at: UnixTime,
    ) -> Result<SignIn, TerminalError> {
        Ok(match (id, pin) {
            (i, p) if (i, p) == CLERK => {
                SignIn::Ok(Staff::admitted(i.into(), "Clerk".into(), Some(Role::Clerk)))
            }
            (i, p) if (i, p) == SUPERVISOR => SignIn::Ok(Staff::admitted(
                i.into(),
                "Supervisor".into(),
                Some(Role::Supervisor),
            )),
            _ => SignIn::Refused { tries_left: 4 },
        })
    }

    fn unattended(&mut self) -> Result<Staff, TerminalError> {
        Err(TerminalError::NotSignedIn)
    }

    fn confirm(
        &mut self,
        approval: &Approval,
        amount: Option<Fen>,
        companions: u32,
        holder_checked: bool,
        by: &Staff,
        at: UnixTime,
    ) -> Result<Confirmed, TerminalError> {
        assert!(!by.id().is_empty());
        if self.site.holder_check_needed(approval) && !holder_checked {
            return Err(TerminalError::HolderNotChecked);
        }
        let amounts = approval.amounts(amount.unwrap_or(Fen::ZERO), companions)?;
        let seq = self.records.len() as u64 + 1;
        let mut id: RecordId = [0; 16];
        id[..8].copy_from_slice(&seq.to_be_bytes());
        self.history.record(Use {
            record: id,
            sub: approval.claims.sub.clone(),
            measure: approval.measure.id.clone(),
            at,
            cti: approval.claims.cti.clone(),
        });
        let record = self.write(
            at,
            Body::Redemption {
                measure: approval.measure.id.to_string(),
                sub: approval.claims.sub.to_string(),
                cti: approval.claims.cti.as_bytes().to_vec(),
                form: 0,
                categories: Vec::new(),
                original: amounts.original.0,
                discount: amounts.discount.0,
                payable: amounts.payable.0,
                companions,
                checked: Some(Checked {
                    basis: approval.basis,
                    holder: holder_checked,
                }),
            },
        );
        Ok(Confirmed { record, amounts })
    }

    fn void(
        &mut self,
        record: &RecordId,
        by: &Supervisor,
        reason: &str,
        at: UnixTime,
    ) -> Result<Recorded, TerminalError> {
        let target = self
            .records
            .iter_mut()
            .find(|r| r.id == *record && matches!(r.body, Body::Redemption { .. }) && !r.voided)
            .ok_or_else(|| TerminalError::BadRecordId(xinyi_core::hex::encode(record)))?;
        target.voided = true;
        Ok(self.write(
            at,
            Body::Void {
                target: *record,
                reason: reason.to_owned(),
                supervisor: by.id().to_owned(),
            },
        ))
    }

    fn records(&self, limit: usize) -> Result<Vec<RecordSummary>, TerminalError> {
        Ok(self.records.iter().rev().take(limit).cloned().collect())
    }

    fn shift(&self, _from: UnixTime, _until: UnixTime) -> Result<Shift, TerminalError> {
        let mut s = Shift::default();
        for r in &self.records {
            match &r.body {
                Body::Redemption {
                    measure, discount, ..
                } if !r.voided => {
                    s.totals.redemptions += 1;
                    s.totals.discount += discount;
                    match s.by_measure.iter_mut().find(|m| &m.measure == measure) {
                        Some(m) => m.count += 1,
                        None => s.by_measure.push(MeasureTotals {
                            measure: measure.clone(),
                            count: 1,
                            discount: *discount,
                            payable: 0,
                        }),
                    }
                }
                Body::Refusal { .. } => s.totals.refusals += 1,
                Body::Void { .. } => s.totals.voids += 1,
                _ => {}
            }
        }
        Ok(s)
    }

    fn status(&self, at: UnixTime) -> Result<CounterStatus, TerminalError> {
        Ok(CounterStatus {
            freshness: self.site.freshness(at),
            age_s: None,
            since_hub_s: None,
            metadata_expired: false,
            unsent: self.records.iter().filter(|r| !r.uploaded).count() as u64,
            oldest_unsent_at: None,
        })
    }

    fn settings(&self) -> Settings {
        self.settings.clone()
    }

    fn save_settings(&mut self, settings: &Settings) -> Result<(), TerminalError> {
        self.settings = settings.clone();
        Ok(())
    }
}
