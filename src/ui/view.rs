//! What the screen shows, as plain data: the controller builds a [`View`],
//! the adapters copy it into the Slint globals. Everything here is `Send`,
//! so views travel from the counter thread to the UI thread.

use xinyi_core::measures::Period;

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

/// A journal record's kind, in the staff list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordKind {
    #[default]
    Redemption,
    Refusal,
    Void,
    Staff,
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeasureRow {
    pub id: String,
    pub name: String,
    pub detail: String,
}

/// The scan page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanView {
    pub camera_state: CameraLight,
    pub camera_detail: String,
    pub measures: Vec<MeasureRow>,
    pub measure_index: i32,
    pub message: String,
}

/// The OK page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OkView {
    pub name: String,
    pub kind: String,
    pub measure: String,
    pub benefit: String,
    /// Uses so far, the limit and its period, when the measure has one.
    pub uses: Option<(u32, u32, Period)>,
    pub takes_amount: bool,
    pub amount_caption: String,
    pub amount: String,
    pub companions_allowed: bool,
    pub companions: i32,
    pub original: String,
    pub discount: String,
    pub payable: String,
    pub error: String,
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
}

/// The refused page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefusedView {
    pub title: String,
    pub advice: String,
    pub code: String,
    /// The refusal record's id, 32 hex digits.
    pub reference: String,
    pub show_objection: bool,
    /// The channels' addresses; the adapter draws them as QR codes.
    pub objection_url: String,
    pub complaint_url: String,
}

/// The amber page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaleView {
    pub clock: bool,
    pub detail: String,
    pub sync_state: String,
}

/// A row of shift totals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TotalRow {
    pub measure: String,
    pub count: String,
    pub discount: String,
    pub payable: String,
}

/// A journal record in the staff list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordRow {
    pub id: String,
    pub time: String,
    pub kind: RecordKind,
    pub measure: String,
    pub amount: String,
    /// The hub confirmed it holds the record.
    pub uploaded: bool,
    pub voided: bool,
    pub can_void: bool,
}

/// The staff page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaffView {
    pub signed_in: bool,
    pub operator: String,
    pub id_text: String,
    pub pin_dots: String,
    pub field: i32,
    pub error: String,
    pub totals_caption: String,
    pub totals: Vec<TotalRow>,
    pub totals_sum: String,
    pub records: Vec<RecordRow>,
    pub sync_text: String,
    pub void_open: bool,
    pub void_target: String,
    pub void_id_text: String,
    pub void_pin_dots: String,
    pub void_field: i32,
    pub void_reason: i32,
    pub void_error: String,
    pub camera_on: bool,
    pub camera_device: String,
    pub language: String,
    pub site_text: String,
    pub site_measures: Vec<MeasureRow>,
}

/// A sample code button in the demo drawer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SampleRow {
    pub id: String,
    pub label: String,
    pub expect: String,
}

/// A site button in the demo drawer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteRow {
    pub id: String,
    pub name: String,
    pub active: bool,
}

/// The demo drawer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemoView {
    pub samples: Vec<SampleRow>,
    pub sites: Vec<SiteRow>,
    pub operators: String,
    pub busy: String,
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
