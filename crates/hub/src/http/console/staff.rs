//! A terminal's staff: the roster its own records built (operator ids and
//! roles, never names or PINs), failed sign-ins and lock-outs, and what
//! each operator did in the last 30 days. A unit's operator sees its own
//! terminals; the credit office, reviewers and auditors see all.

use axum::extract::{Path, State};
use axum::response::Response;
use xinyi_core::UnixTime;

use super::pages::{S, SITE_READERS, own_terminal, page, render, unit_of};
use super::view::{self, when};
use super::{Ctx, Fail, blocking};
use crate::staff::Standing;

/// The period the page counts over, days.
pub(super) const STAFF_DAYS: i64 = 30;

pub(super) async fn roster(
    State(st): S,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, Fail> {
    ctx.allow(SITE_READERS)?;
    let unit = unit_of(&ctx);
    let t = ctx.t;
    let (tm, roster) = blocking(&st.hub, move |hub| {
        let tm = own_terminal(hub, unit.as_deref(), &id)?;
        let since = UnixTime(hub.now().0 - STAFF_DAYS * 86_400);
        let roster = hub.roster(&tm.id, since)?;
        Ok((tm, roster))
    })
    .await?;
    let (failed, lockouts) = roster.trouble();
    let rows = roster
        .rows
        .iter()
        .map(|r| view::StaffLine {
            staff: r.staff.clone(),
            standing: match r.standing {
                Standing::Member => "member",
                Standing::Removed => "removed",
                Standing::Unknown => "unknown",
            },
            standing_text: match r.standing {
                Standing::Member => match r.role.as_deref() {
                    Some("supervisor") => t.t("主管", "supervisor"),
                    Some("clerk") => t.t("柜员", "clerk"),
                    _ => t.t("在册", "on the roster"),
                },
                Standing::Removed => t.t("已移除", "removed"),
                Standing::Unknown => t.t("未登记的工号", "not on the roster"),
            }
            .to_owned(),
            changed: r
                .changed_at
                .map(|at| {
                    format!(
                        "{} · {}",
                        when(at),
                        r.changed_by.as_deref().unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
            redemptions: r.redemptions,
            refusals: r.refusals,
            voids: r.voids,
            last_record: r.last_record_at.map(when).unwrap_or_default(),
            failed: r.failed_sign_ins,
            lockouts: r.lockouts,
            last_failed: r.last_failed_at.map(when).unwrap_or_default(),
        })
        .collect();
    Ok(render(&view::Staff {
        page: page(&ctx, "sites"),
        terminal: tm.id,
        label: tm.label,
        site: tm.site,
        revoked: tm.revoked_at.is_some(),
        days: STAFF_DAYS,
        members: roster.members().count(),
        failed,
        lockouts,
        more_strangers: roster.more_strangers,
        rows,
    }))
}
