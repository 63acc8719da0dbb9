//! The provincial platforms in the console: the credit office registers a
//! platform by the Ed25519 public key it signs requests with and the kinds
//! of subject it may ask about, and revokes it; auditors read the list.
//! The same as `xinyi-hub platform add|list|revoke`, audited the same way.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::Path;
use axum::response::Response;
use serde::Deserialize;
use xinyi_core::ids::Kind;

use super::pages::{S, actor, page, render};
use super::view::{self, T, when};
use super::{Ctx, Fail, blocking};
use crate::accounts::Role;
use crate::platforms::PlatformInfo;

const READERS: &[Role] = &[Role::Admin, Role::Auditor];

fn lines(t: T, list: Vec<PlatformInfo>) -> Vec<view::PlatformLine> {
    list.into_iter()
        .map(|p| view::PlatformLine {
            kinds: p
                .kinds
                .iter()
                .map(|k| match k {
                    Kind::Person => t.t("个人", "persons"),
                    Kind::Enterprise => t.t("企业", "enterprises"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            rate: p.requests_per_minute,
            added: when(p.added_at),
            last_seen: p.last_seen_at.map(when).unwrap_or_default(),
            revoked: p.revoked(),
            id: p.id,
            name: p.name,
        })
        .collect()
}

async fn show(st: S, ctx: &Ctx, flash: Option<String>) -> Result<Response, Fail> {
    let t = ctx.t;
    let list = blocking(&st.0.hub, |hub| hub.platforms()).await?;
    let mut pg = page(ctx, "users");
    pg.flash = flash;
    Ok(render(&view::Platforms {
        may_change: ctx.session.role == Role::Admin,
        platforms: lines(t, list),
        page: pg,
    }))
}

pub(super) async fn list(st: S, ctx: Ctx) -> Result<Response, Fail> {
    ctx.allow(READERS)?;
    show(st, &ctx, None).await
}

#[derive(Deserialize)]
pub(super) struct NewPlatform {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    public_key: String,
    person: Option<String>,
    enterprise: Option<String>,
    #[serde(default)]
    rate: String,
}

pub(super) async fn add(st: S, ctx: Ctx, Form(f): Form<NewPlatform>) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    ctx.csrf(&f.csrf)?;
    let mut kinds = BTreeSet::new();
    if f.person.is_some() {
        kinds.insert(Kind::Person);
    }
    if f.enterprise.is_some() {
        kinds.insert(Kind::Enterprise);
    }
    let rate = match f.rate.trim() {
        "" => None,
        r => Some(
            r.parse::<u32>()
                .map_err(|_| Fail::Bad(format!("requests per minute: {r:?} is not a number")))?,
        ),
    };
    let by = actor(&ctx);
    let p = blocking(&st.0.hub, move |hub| {
        hub.add_platform(&f.name, &f.public_key, &kinds, rate, &by)
    })
    .await?;
    let t = ctx.t;
    show(
        st,
        &ctx,
        Some(format!(
            "{} {} · {}",
            t.t("已登记平台", "Registered"),
            p.name,
            p.id
        )),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn revoke(
    st: S,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, Fail> {
    ctx.allow(&[Role::Admin])?;
    ctx.csrf(&f.csrf)?;
    let by = actor(&ctx);
    let shown = id.clone();
    blocking(&st.0.hub, move |hub| hub.revoke_platform(&id, &by)).await?;
    let t = ctx.t;
    show(
        st,
        &ctx,
        Some(format!("{} {shown}", t.t("已吊销平台", "Revoked platform"))),
    )
    .await
}
