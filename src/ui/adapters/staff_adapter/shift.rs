//! Today's totals, the latest records, and the sync line above them.

use super::super::{Post, model, s, values};
use crate::ui::contract::UiRecordKind;
use crate::ui::kiosk::Msg;
use crate::ui::view::{RecordWhat, StaffView};
use crate::ui::{self, RecordRow, StaffAdapter, TotalRow};

pub fn wire(g: &StaffAdapter<'_>, post: &Post) {
    let p = post.clone();
    g.on_sync_now(move || p(Msg::SyncNow));
}

pub fn apply(g: &StaffAdapter<'_>, v: &StaffView) {
    g.set_totals(model(
        v.totals
            .iter()
            .map(|t| TotalRow {
                measure: s(&t.measure),
                count: s(&t.count),
                discount: s(&t.discount),
                payable: s(&t.payable),
            })
            .collect(),
    ));
    let sum = v.totals_sum.clone().unwrap_or_default();
    g.set_has_sum(v.totals_sum.is_some());
    g.set_sum_redemptions(values::int(sum.redemptions));
    g.set_sum_discount(s(&sum.discount));
    g.set_sum_refusals(values::int(sum.refusals));
    g.set_sum_voids(values::int(sum.voids));
    g.set_records(model(v.records.iter().map(record).collect()));
    g.set_sync(values::sync_line(&v.sync));
}

/// A record as the list (and the void dialog) shows it.
pub fn record(r: &ui::view::RecordRow) -> RecordRow {
    let mut row = RecordRow {
        id: s(&r.id),
        time: s(&r.time),
        uploaded: r.uploaded,
        voided: r.voided,
        can_void: r.can_void,
        ..RecordRow::default()
    };
    match &r.what {
        RecordWhat::Redemption {
            measure,
            discount,
            payable,
        } => {
            row.kind = UiRecordKind::Redemption;
            row.text = s(measure);
            row.discount = s(discount);
            row.payable = s(payable);
        }
        RecordWhat::Refusal(reason) => {
            row.kind = UiRecordKind::Refusal;
            match reason {
                Ok(r) => {
                    row.reason = values::reason(*r);
                    row.known_reason = true;
                }
                // A code this kiosk has no words for.
                Err(code) => row.text = s(code),
            }
        }
        RecordWhat::Void { reason } => {
            row.kind = UiRecordKind::Void;
            row.text = s(reason);
        }
        RecordWhat::Staff { event, staff } => {
            row.kind = UiRecordKind::Staff;
            row.event = values::staff_event(*event);
            row.text = s(staff);
        }
    }
    row
}
