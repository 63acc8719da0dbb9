//! What the screen shows, as plain data: the controller builds a [`View`],
//! the adapters copy it into the Slint globals. Everything here is `Send`,
//! so views travel from the counter thread to the UI thread.
//!
//! A view holds values — enums, numbers, ids, names, amounts — never a
//! sentence: the pages word them (`@tr` in `ui/`). Text that reaches the
//! screen as it is comes from data (the catalogue's names in the clerk's
//! language, money) or is a system's own words (a file or sync error)
//! that a page sets into its sentence.

use xinyi_core::measures::{Benefit, Period};
use xinyi_core::wire::journal::StaffEvent;
use xinyi_core::{Kind, Reason};

use super::kiosk::{CameraProblem, OkProblem, ScanMessage, StaffNote};
use super::words::Lang;

/// Which page is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Scan,
    Ok,
    Refused,
    /// Stale data or a suspect clock (amber).
    Stale,
    Staff,
}

/// The link to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetState {
    /// Not yet known (the worker has not reported).
    #[default]
    Connecting,
    Online,
    Offline,
    /// Enrolled without a hub: data comes in bundles.
    FileOnly,
}

/// How long offline verdicts stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FreshLevel {
    #[default]
    Fresh,
    /// Less than 12 hours left.
    Expiring,
    Stale,
    /// Nothing synced yet.
    Never,
}

/// The camera as the scan page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CameraLight {
    #[default]
    Starting,
    Live,
    Unavailable,
    Off,
}

/// Header and status bar.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppView {
    pub screen: Screen,
    pub lang: Lang,
    pub demo: bool,
    pub drawer_open: bool,
    pub site: String,
    pub unit: String,
    pub clock: String,
    pub net: NetState,
    /// The data version held; `None` before the first sync.
    pub data_version: Option<u64>,
    pub freshness: FreshLevel,
    /// Minutes of offline verdicts left, or (stale) past the limit.
    pub fresh_minutes: i64,
    /// Records the hub has not confirmed; `None` while unknown.
    pub unsent: Option<u64>,
    /// Who is signed in: id, name, and whether a supervisor.
    pub operator: Option<(String, String, bool)>,
    pub notice: String,
}

/// A measure in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureRow {
    pub id: String,
    /// The catalogue's name in the clerk's language.
    pub name: String,
    pub family: String,
    pub benefit: Benefit,
    /// The use limit: how many per period.
    pub limit: Option<(u32, Period)>,
}

/// The scan page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanView {
    pub camera_state: CameraLight,
    /// Why there is no camera picture (camera unavailable).
    pub camera_problem: Option<CameraProblem>,
    pub measures: Vec<MeasureRow>,
    pub measure_index: i32,
    pub message: Option<ScanMessage>,
}

/// The OK page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OkView {
    pub name: String,
    pub kind: Option<Kind>,
    /// The holder's categories, code and name, as one line.
    pub categories: String,
    pub measure: String,
    pub benefit: Option<Benefit>,
    /// Uses so far, the limit and its period, when the measure has one.
    pub uses: Option<(u32, u32, Period)>,
    pub takes_amount: bool,
    pub amount: String,
    pub companions_allowed: bool,
    pub companions: i32,
    pub original: String,
    pub discount: String,
    pub payable: String,
    /// The uses and redeemed codes were confirmed online by the registry
    /// (else: from this terminal's own data).
    pub online: bool,
    /// For a printed card where the site checks holders: whether the clerk
    /// ticked that the holder matches the masked name.
    pub holder_check: Option<bool>,
    /// Why the confirm did not go through; `Failed` also when the amounts
    /// cannot be worked out.
    pub problem: Option<OkProblem>,
    pub confirmed: bool,
    /// Once confirmed: the record's number and time, and for a measure
    /// that takes an amount, the discount and what to collect.
    pub receipt: Option<ReceiptView>,
}

/// A confirmed redemption on the OK page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiptView {
    pub seq: u64,
    pub time: String,
    pub discount: String,
    pub payable: String,
    /// The redemption record's id, 32 hex digits.
    pub reference: String,
    /// The complaint channel's address with the reference, when the site
    /// has one; the adapter draws it as a small QR code.
    pub complaint_url: Option<String>,
}

/// The refused page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefusedView {
    /// The reason; the page words it.
    pub reason: Option<Reason>,
    pub code: String,
    /// The refusal record's id, 32 hex digits.
    pub reference: String,
    /// The reason is one the citizen may object to the list about.
    pub show_objection: bool,
    /// The channels' addresses with the reference, from the site's synced
    /// config; the adapter draws them as QR codes. `None`: the site has no
    /// such channel, and the page says what to do without a code.
    pub objection_url: Option<String>,
    pub complaint_url: Option<String>,
}

/// Why the amber page is up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StaleKind {
    /// The clock reads earlier than a time already confirmed: the time
    /// it reads, UTC+8.
    Clock(String),
    /// The data was last checked with the registry this many minutes
    /// ago, more than the site's limit (minutes).
    DataOld { age_minutes: i64, max_minutes: i64 },
    #[default]
    NeverSynced,
}

/// The amber page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaleView {
    pub kind: StaleKind,
    pub sync: SyncLine,
}

/// The sync worker's last report, as the amber and staff pages say it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SyncState {
    /// No report yet.
    #[default]
    None,
    /// Enrolled without a hub: data comes in bundles.
    FileOnly,
    /// The last sync failed, in the worker's words; the time of the last
    /// download (`—` if none).
    Failed { error: String, last: String },
    /// Online; the time of the last download.
    Online { last: String },
}

/// The link to the registry, and what the staff page last did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncLine {
    pub state: SyncState,
    pub note: Option<StaffNote>,
}

/// A row of shift totals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TotalRow {
    pub measure: String,
    pub count: String,
    pub discount: String,
    pub payable: String,
}

/// What a journal record says, in the staff list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordWhat {
    /// The measure's name (or its id, when the site no longer has it),
    /// the discount and what was paid.
    Redemption {
        measure: String,
        discount: String,
        payable: String,
    },
    /// The reason, or its code when this kiosk has no words for it.
    Refusal(Result<Reason, String>),
    /// The reason recorded.
    Void { reason: String },
    /// What happened, to which staff id.
    Staff { event: StaffEvent, staff: String },
}

/// A journal record in the staff list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub id: String,
    pub time: String,
    pub what: RecordWhat,
    /// The hub confirmed it holds the record.
    pub uploaded: bool,
    pub voided: bool,
    pub can_void: bool,
}

/// Why a sign-in or a void did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffError {
    EnterIdAndPin,
    /// A wrong id or PIN (the same words for both).
    WrongPin {
        tries_left: u32,
    },
    /// Locked out for this many more minutes.
    Locked {
        minutes: u64,
    },
    NotSupervisor,
    /// A failure, in the counter's words.
    Failed(String),
}

/// Today's counts at this counter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShiftSum {
    pub redemptions: u64,
    pub discount: String,
    pub refusals: u64,
    pub voids: u64,
}

/// The camera on the settings tab: its state, the device's name while
/// starting or live, and why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CameraLine {
    pub state: CameraLight,
    pub name: String,
    pub problem: Option<CameraProblem>,
}

/// The staff page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaffView {
    pub signed_in: bool,
    /// Who is signed in: id, name, and whether a supervisor.
    pub operator: Option<(String, String, bool)>,
    pub id_text: String,
    pub pin_dots: String,
    pub field: i32,
    pub error: Option<StaffError>,
    pub totals: Vec<TotalRow>,
    pub totals_sum: Option<ShiftSum>,
    pub records: Vec<RecordRow>,
    pub sync: SyncLine,
    pub void_open: bool,
    /// The record the void dialog is for, when it is listed.
    pub void_target: Option<RecordRow>,
    pub void_id_text: String,
    pub void_pin_dots: String,
    pub void_field: i32,
    pub void_reason: i32,
    pub void_error: Option<StaffError>,
    pub camera_on: bool,
    pub camera: CameraLine,
    pub site_text: String,
    pub site_measures: Vec<MeasureRow>,
}

/// A sample code button in the demo drawer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SampleRow {
    pub id: String,
    /// The demo world's label in the clerk's language; empty for the
    /// replay, which the drawer labels.
    pub label: String,
    /// A fresh terminal passes it.
    pub passes: bool,
    pub replay: bool,
}

/// The demo's sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemoSite {
    Bus,
    Scenic,
    Hospital,
    Library,
    #[default]
    Other,
}

/// A site button in the demo drawer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteRow {
    pub id: String,
    pub site: DemoSite,
    pub active: bool,
}

/// The demo drawer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemoView {
    pub samples: Vec<SampleRow>,
    pub sites: Vec<SiteRow>,
    /// The demo operators: (id, PIN) of the clerk and of the supervisor.
    pub clerk: (String, String),
    pub supervisor: (String, String),
    /// A site switch under way.
    pub switching: bool,
    /// Why the last site switch failed.
    pub switch_error: String,
}

/// Everything on screen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub app: AppView,
    pub scan: ScanView,
    pub ok: OkView,
    pub refused: RefusedView,
    pub stale: StaleView,
    pub staff: StaffView,
    pub demo: DemoView,
}

/// The parts of a view that changed since the last one sent, so a
/// once-a-second clock tick does not rebuild lists (and reset scrolling).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delta {
    pub app: Option<AppView>,
    pub scan: Option<ScanView>,
    pub ok: Option<OkView>,
    pub refused: Option<RefusedView>,
    pub stale: Option<StaleView>,
    pub staff: Option<StaffView>,
    pub demo: Option<DemoView>,
}

impl Delta {
    /// What differs between `old` (None: nothing shown yet) and `new`.
    pub fn between(old: Option<&View>, new: &View) -> Delta {
        fn part<T: PartialEq + Clone>(old: Option<&T>, new: &T) -> Option<T> {
            (old != Some(new)).then(|| new.clone())
        }
        Delta {
            app: part(old.map(|v| &v.app), &new.app),
            scan: part(old.map(|v| &v.scan), &new.scan),
            ok: part(old.map(|v| &v.ok), &new.ok),
            refused: part(old.map(|v| &v.refused), &new.refused),
            stale: part(old.map(|v| &v.stale), &new.stale),
            staff: part(old.map(|v| &v.staff), &new.staff),
            demo: part(old.map(|v| &v.demo), &new.demo),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Delta::default()
    }
}
