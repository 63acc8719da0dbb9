//! The kiosk GUI (Slint). The .slint files under `ui/` are compiled by
//! `build.rs`; each page talks to Rust only through its `*Adapter` global.
//!
//! - [`kiosk`]: the controller as state → update → view, over the
//!   [`crate::counter::Counter`] port; no Slint types, unit-tested against
//!   a counter in memory;
//! - [`view`]: what the screen shows, as plain data;
//! - [`adapters`]: one module per global, the only code touching Slint
//!   properties and callbacks;
//! - [`app`]: threads and wiring (counter thread, sync worker, camera,
//!   pictures);
//! - `demo` (the `demo` feature): the embedded demo hub and its enrolled
//!   terminals;
//! - [`entry`], [`words`], [`qr`], [`sound`]: keypads, the text taken
//!   from data (money, times, the catalogue's names), QR codes out, the
//!   two sounds.
//!
//! One translation system: every sentence on screen is an `@tr` in the
//! `.slint` files (Chinese is the source language; the English is
//! `assets/translations`, written by its `make_po.py`). Rust sends values.

pub mod adapters;
pub mod app;
#[cfg(feature = "demo")]
pub mod demo;
pub mod entry;
pub mod inline;
pub mod kiosk;
pub mod qr;
pub mod sound;
mod timings;
pub mod view;
pub mod words;

#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_arithmetic,
    clippy::todo,
    clippy::unimplemented
)]
mod generated {
    slint::include_modules!();
}

pub use generated::{
    AppAdapter, AppWindow, DemoAdapter, ErrorWindow, MeasureItem, OkAdapter, RecordRow,
    RefusedAdapter, SampleItem, ScanAdapter, SiteItem, StaffAdapter, StaleAdapter, TotalRow, Words,
};

/// The values of the UI contract (`ui/types.slint`), as Slint generates
/// them; the adapters map [`view`]'s plain values onto these.
pub mod contract {
    pub use super::generated::{
        Benefit as UiBenefit, BenefitKind as UiBenefitKind, CameraProblem as UiCameraProblem,
        CameraState as UiCamera, DemoSite as UiDemoSite, Freshness as UiFreshness,
        HolderKind as UiHolderKind, Net as UiNet, OkProblem as UiOkProblem, Period as UiPeriod,
        Reason as UiReason, RecordKind as UiRecordKind, ScanNote as UiScanNote, Screen as UiScreen,
        StaffError as UiStaffError, StaffEvent as UiStaffEvent, StaffNote as UiStaffNote,
        StaffProblem as UiStaffProblem, StaleKind as UiStaleKind, SyncLine as UiSyncLine,
        SyncState as UiSyncState,
    };
}

pub use app::{KioskOptions, Opened, run};
