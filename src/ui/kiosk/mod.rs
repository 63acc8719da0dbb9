//! The kiosk's controller, as state → update → view:
//!
//! - [`KioskState`]: plain data — which page, what the clerk typed, the
//!   pending verdict, who is signed in, what the workers last reported.
//!   Nothing in it is a sentence: the pages word the view's values
//!   (`@tr`), so switching the language re-renders the same state.
//! - [`update`]: one message, the counter port, the time → the new state
//!   and the [`Effect`]s for the glue (sounds, sync requests, the camera,
//!   reading a picture, a demo site switch). All the counter's rules are
//!   behind [`Counter`]; this only decides what the clerk sees next.
//! - [`present`]: state and the site snapshot → the [`View`] of values,
//!   pure: no database, no clock but the one given, no signing.

mod present;
mod update;

#[cfg(feature = "demo")]
pub mod demo;
#[cfg(test)]
mod tests;

use xinyi_core::{Approval, Refusal, UnixTime};

use super::entry::{AmountEntry, DigitEntry};
use super::sound::Sound;
use super::view::Screen;
use crate::counter::{Counter, CounterStatus, RecordSummary, Shift};
use crate::settings::Lang;
use crate::sync::worker::SyncStatus;
use crate::terminal::{SignIn, Staff};

#[cfg(feature = "demo")]
pub use demo::{DEMO_CLERK, DEMO_SUPERVISOR, REPLAY};
pub use present::present;
pub use update::{camera_problem, update};

/// The operator id recorded on refusals scanned while nobody is signed in.
pub const NO_OPERATOR: &str = "counter";
/// The void reasons offered, as recorded (the record keeps Chinese).
pub const VOID_REASONS: [&str; 3] = ["金额输错", "顾客取消", "重复操作"];
/// Records listed on the staff page.
pub const STAFF_RECORDS: usize = 30;

/// Where a scanned text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Camera,
    Scanner,
    File,
    Demo,
}

/// What the UI, the camera, the sync worker and the clock tell the kiosk.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Scanned {
        text: String,
        source: Source,
    },
    /// The clerk asked for a picture to be read (the glue reads it).
    OpenImage(String),
    /// The picture could not be read, or held no code.
    ImageUnread(ImageProblem),
    SelectMeasure(usize),
    PadKey(String),
    QuickAmount(String),
    Companions(i32),
    /// The clerk ticked (or unticked) that a printed card's holder matches
    /// the masked name on their ID document.
    ToggleHolderChecked,
    Confirm,
    Cancel,
    Next,
    SyncNow,
    ToggleLanguage,
    OpenStaff,
    BackToScan,
    StaffKey(String),
    StaffField(i32),
    SignIn,
    SignOut,
    OpenVoid(String),
    VoidKey(String),
    VoidField(i32),
    VoidReason(i32),
    VoidConfirm,
    VoidCancel,
    ToggleCamera,
    NextCamera,
    /// The camera devices present (the glue lists them).
    CameraDevices(Vec<String>),
    ToggleDrawer,
    Present(String),
    SwitchSite(String),
    CameraOpened(String),
    CameraUnavailable(CameraProblem),
    Sync(SyncStatus),
    /// Once a second: the clock and the offline countdown move.
    Tick,
}

/// Why a picture gave no code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageProblem {
    NoPath,
    /// The file could not be opened or decoded as a picture.
    Unreadable(String),
    NoCode,
}

/// Why there is no camera picture. The device's own words are kept for
/// the log and the staff page's detail line, never shown as the headline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraProblem {
    /// No camera device was found.
    NoDevice,
    /// A device is there but could not be opened.
    CannotOpen(String),
    /// The camera is turned off for this run (tests, benchmarks).
    Disabled,
}

/// What the glue must do after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Sound(Sound),
    /// Ask the sync worker to upload now (a record was written).
    UploadNow,
    /// Ask the sync worker to download and upload now.
    SyncNow,
    /// Start the camera on this device, or stop it.
    Camera(Option<u32>),
    /// Read the picture at this path and post what it holds.
    ReadImage(String),
    /// Demo: use the terminal enrolled for this site.
    SwitchSite(String),
}

/// A failure the counter reported, kept in its own words.
pub type Failure = String;

/// The pending approval on the OK page.
#[derive(Debug, Clone)]
pub struct OkState {
    pub approval: Approval,
    pub amount: AmountEntry,
    pub companions: u32,
    /// The clerk ticked that the holder matches the masked name.
    pub holder_checked: bool,
    pub problem: Option<OkProblem>,
    /// Set once confirmed.
    pub receipt: Option<Receipt>,
}

/// Why a confirm did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OkProblem {
    SignInFirst,
    EnterAmount,
    /// A printed card: tick that the holder matches the name first.
    CheckHolder,
    Failed(Failure),
}

/// A confirmed redemption, as the OK page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The redemption record's id in hex: the citizen's reference for a
    /// complaint or suggestion about the service.
    pub reference: String,
    pub seq: u64,
    pub at: UnixTime,
    pub amounts: xinyi_core::Amounts,
    pub takes_amount: bool,
}

/// The refused page.
#[derive(Debug, Clone)]
pub struct RefusedState {
    pub refusal: Refusal,
    /// The refusal record's id in hex: the citizen's reference.
    pub reference: String,
}

/// The supervisor's void dialog.
#[derive(Debug, Clone, Default)]
pub struct VoidState {
    pub target: String,
    pub sup: DigitEntry,
    pub pin: DigitEntry,
    pub field: i32,
    pub reason: usize,
    pub problem: Option<StaffProblem>,
}

/// Why a sign-in or a void did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffProblem {
    EnterIdAndPin,
    SignIn(SignIn),
    NotSupervisor,
    Failed(Failure),
}

/// What the staff page last did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffNote {
    SyncRequested,
    Voided { seq: u64 },
}

/// The staff page.
#[derive(Debug, Clone, Default)]
pub struct StaffState {
    pub id: DigitEntry,
    pub pin: DigitEntry,
    pub field: i32,
    pub problem: Option<StaffProblem>,
    pub note: Option<StaffNote>,
    pub void: Option<VoidState>,
    /// Today's totals and the latest records, read when the page opens
    /// and after each change, not on every tick.
    pub shift: Option<Result<Shift, Failure>>,
    pub records: Vec<RecordSummary>,
}

/// The camera as the kiosk knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraState {
    Starting,
    Live(String),
    Unavailable(CameraProblem),
    Off,
}

/// A message for the scan page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanMessage {
    Image(ImageProblem),
    /// The site offers no measure (nothing to verify against).
    NoMeasure,
    /// The counter failed (not a refusal).
    Failed(Failure),
}

/// The counter's state: what the screen is made from.
#[derive(Debug, Clone)]
pub struct KioskState {
    pub lang: Lang,
    pub screen: Screen,
    /// The chosen measure, an index into the snapshot's measures.
    pub measure: usize,
    pub ok: Option<OkState>,
    pub refused: Option<RefusedState>,
    /// On the amber page: the clock, not the data, is the problem.
    pub stale_clock: bool,
    pub staff: StaffState,
    pub operator: Option<Staff>,
    pub camera: CameraState,
    pub camera_on: bool,
    pub camera_device: u32,
    pub camera_devices: Vec<String>,
    pub sync: Option<SyncStatus>,
    /// The journal and data as of the last tick.
    pub status: Option<Result<CounterStatus, Failure>>,
    pub message: Option<ScanMessage>,
    /// A failure outside any page (a setting not saved).
    pub notice: Option<Failure>,
    pub drawer: bool,
    #[cfg(feature = "demo")]
    pub demo: Option<demo::DemoState>,
}

impl KioskState {
    /// The state a counter opens on, from its saved settings.
    pub fn new(counter: &dyn Counter) -> KioskState {
        let settings = counter.settings();
        KioskState {
            lang: settings.lang,
            screen: Screen::Scan,
            measure: 0,
            ok: None,
            refused: None,
            stale_clock: false,
            staff: StaffState::default(),
            operator: None,
            camera: if settings.camera {
                CameraState::Starting
            } else {
                CameraState::Off
            },
            camera_on: settings.camera,
            camera_device: settings.camera_device,
            camera_devices: Vec::new(),
            sync: None,
            status: None,
            message: None,
            notice: None,
            drawer: false,
            #[cfg(feature = "demo")]
            demo: None,
        }
    }

    /// The effects to carry out when the kiosk starts.
    pub fn start(&self) -> Vec<Effect> {
        vec![Effect::Camera(self.camera_on.then_some(self.camera_device))]
    }

    /// Whether the demo drawer exists.
    pub fn is_demo(&self) -> bool {
        #[cfg(feature = "demo")]
        {
            self.demo.is_some()
        }
        #[cfg(not(feature = "demo"))]
        {
            false
        }
    }

    fn operator_id(&self) -> String {
        self.operator
            .as_ref()
            .map_or_else(|| NO_OPERATOR.to_owned(), |o| o.id().to_owned())
    }
}
