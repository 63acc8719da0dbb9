//! The kiosk's controller: what each message does to the counter and what
//! the screen shows next. It holds the [`Terminal`] and no UI types; it
//! returns [`Effect`]s (sounds, sync requests, camera changes, a demo site
//! switch) for the glue to carry out, and builds the [`View`].

use std::sync::Arc;

use image::GrayImage;
use xinyi_core::measures::Benefit;
use xinyi_core::wire::journal::{Body, StaffEvent};
use xinyi_core::{Approval, Fen, Reason, Refusal, UnixTime};
use xinyi_hub::demo::DemoWorld;

use super::entry::{AmountEntry, DigitEntry};
use super::qr;
use super::sound::Sound;
use super::view::{
    AppView, DemoView, MeasureRow, OkView, RecordRow, RefusedView, SampleRow, Screen, SiteRow,
    StaffView, StaleView, TotalRow, View,
};
use super::words::{self, Lang};
use crate::reasons;
use crate::store::Role;
use crate::sync::worker::SyncStatus;
use crate::terminal::{Scan, SignIn, Staff, Terminal};

/// The operator id recorded on refusals scanned while nobody is signed in.
pub const NO_OPERATOR: &str = "counter";
/// Settings the kiosk keeps in the terminal's store.
pub const SETTING_LANG: &str = "ui.lang";
pub const SETTING_CAMERA: &str = "ui.camera";
pub const SETTING_CAMERA_DEVICE: &str = "ui.camera_device";
/// Fewer hours than this left before the data goes stale: amber dot.
const FRESH_WARN_S: i64 = 12 * 3600;
/// The void reasons offered, as recorded (the record keeps Chinese).
pub const VOID_REASONS: [&str; 3] = ["金额输错", "顾客取消", "重复操作"];
/// The demo drawer's replay button.
pub const REPLAY: &str = "replay";
/// The demo operators.
pub const DEMO_CLERK: (&str, &str, &str) = ("1001", "王丽", "1234");
pub const DEMO_SUPERVISOR: (&str, &str, &str) = ("9001", "李强", "900199");

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
    OpenImage(String),
    SelectMeasure(usize),
    PadKey(String),
    QuickAmount(String),
    Companions(i32),
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
    ToggleDrawer,
    Present(String),
    SwitchSite(String),
    CameraOpened(String),
    CameraUnavailable(String),
    Sync(SyncStatus),
    /// Once a second: the clock and the offline countdown move.
    Tick,
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
    /// Demo: use the terminal enrolled for this site.
    SwitchSite(String),
}

#[derive(Debug)]
struct OkState {
    approval: Approval,
    amount: AmountEntry,
    companions: u32,
    error: String,
    receipt: Option<String>,
}

#[derive(Debug)]
struct RefusedState {
    refusal: Refusal,
    reference: String,
    objection: Arc<GrayImage>,
    complaint: Arc<GrayImage>,
}

#[derive(Debug, Default)]
struct VoidState {
    target: String,
    summary: String,
    sup: DigitEntry,
    pin: DigitEntry,
    field: i32,
    reason: usize,
    error: String,
}

#[derive(Debug, Default)]
struct StaffState {
    id: DigitEntry,
    pin: DigitEntry,
    field: i32,
    error: String,
    note: String,
    void: Option<VoidState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CameraState {
    Starting,
    Live(String),
    None(String),
    Off,
}

#[derive(Debug)]
struct Demo {
    world: Arc<DemoWorld>,
    site: String,
    last_person: Option<String>,
    busy: String,
}

/// The counter's state.
#[derive(Debug)]
pub struct Kiosk {
    term: Terminal,
    lang: Lang,
    screen: Screen,
    measure: usize,
    ok: Option<OkState>,
    refused: Option<RefusedState>,
    stale_clock: bool,
    staff: StaffState,
    operator: Option<Staff>,
    camera: CameraState,
    camera_on: bool,
    camera_device: u32,
    camera_devices: Vec<String>,
    sync: Option<SyncStatus>,
    message: String,
    notice: String,
    drawer: bool,
    demo: Option<Demo>,
}

impl Kiosk {
    /// A kiosk over an enrolled terminal; `demo` adds the demo drawer.
    pub fn new(mut term: Terminal, demo: Option<(Arc<DemoWorld>, String)>) -> Kiosk {
        // The demo opens with its clerk signed in, so sample codes can be
        // confirmed at once (the drawer shows the PINs for the rest).
        let operator = demo.as_ref().and_then(|_| {
            term.sign_in(DEMO_CLERK.0, DEMO_CLERK.2, crate::terminal::now())
                .ok()
        });
        let lang = term
            .store()
            .setting(SETTING_LANG)
            .ok()
            .flatten()
            .map_or(Lang::Zh, |s| Lang::parse(&s));
        let camera_on = term
            .store()
            .setting(SETTING_CAMERA)
            .ok()
            .flatten()
            .is_none_or(|v| v != "off");
        let camera_device = term
            .setting_i64(SETTING_CAMERA_DEVICE, 0)
            .ok()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(0);
        Kiosk {
            term,
            lang,
            screen: Screen::Scan,
            measure: 0,
            ok: None,
            refused: None,
            stale_clock: false,
            staff: StaffState::default(),
            operator,
            camera: if camera_on {
                CameraState::Starting
            } else {
                CameraState::Off
            },
            camera_on,
            camera_device,
            camera_devices: Vec::new(),
            sync: None,
            message: String::new(),
            notice: String::new(),
            drawer: false,
            demo: demo.map(|(world, site)| Demo {
                world,
                site,
                last_person: None,
                busy: String::new(),
            }),
        }
    }

    /// The effects to carry out when the kiosk starts.
    pub fn start(&self) -> Vec<Effect> {
        if self.camera_on {
            vec![Effect::Camera(Some(self.camera_device))]
        } else {
            vec![Effect::Camera(None)]
        }
    }

    pub fn terminal(&self) -> &Terminal {
        &self.term
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The camera devices present (the glue lists them).
    pub fn set_camera_devices(&mut self, devices: Vec<String>) {
        self.camera_devices = devices;
    }

    /// Demo: the terminal of another site is now in use.
    pub fn replace_terminal(&mut self, term: Terminal, site: &str) {
        self.term = term;
        self.measure = 0;
        self.ok = None;
        self.refused = None;
        self.screen = Screen::Scan;
        self.operator = self
            .term
            .sign_in(DEMO_CLERK.0, DEMO_CLERK.2, crate::terminal::now())
            .ok();
        self.sync = None;
        if let Some(d) = &mut self.demo {
            d.site = site.to_owned();
            d.busy.clear();
        }
    }

    /// Demo: switching failed.
    pub fn site_switch_failed(&mut self, why: &str) {
        if let Some(d) = &mut self.demo {
            d.busy = why.to_owned();
        }
    }

    fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    fn operator_id(&self) -> String {
        self.operator
            .as_ref()
            .map_or_else(|| NO_OPERATOR.to_owned(), |o| o.id().to_owned())
    }

    /// Handles one message at `now`.
    pub fn handle(&mut self, msg: Msg, now: UnixTime) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Scanned { text, source } => self.scanned(&text, source, now, &mut fx),
            Msg::OpenImage(path) => self.open_image(&path, now, &mut fx),
            Msg::SelectMeasure(i) => {
                if self.screen == Screen::Scan && i < self.site_measures().len() {
                    self.measure = i;
                }
            }
            Msg::PadKey(k) => {
                if let Some(ok) = self.ok.as_mut().filter(|o| o.receipt.is_none()) {
                    ok.amount.key(&k);
                    ok.error.clear();
                }
            }
            Msg::QuickAmount(y) => {
                if let Some(ok) = self.ok.as_mut().filter(|o| o.receipt.is_none()) {
                    ok.amount.set_yuan(&y);
                    ok.error.clear();
                }
            }
            Msg::Companions(step) => {
                if let Some(ok) = self.ok.as_mut().filter(|o| o.receipt.is_none()) {
                    let max = match ok.approval.measure.benefit {
                        Benefit::FreeEntry { .. } => xinyi_core::money::MAX_COMPANIONS,
                        _ => 0,
                    };
                    let n = i64::from(ok.companions) + i64::from(step);
                    ok.companions = u32::try_from(n.clamp(0, i64::from(max))).unwrap_or(0);
                }
            }
            Msg::Confirm => self.confirm(now, &mut fx),
            Msg::Cancel | Msg::Next | Msg::BackToScan => {
                self.ok = None;
                self.refused = None;
                self.staff.void = None;
                self.screen = Screen::Scan;
            }
            Msg::SyncNow => {
                self.staff.note = self.t("已请求同步…", "Sync requested…").to_owned();
                fx.push(Effect::SyncNow);
            }
            Msg::ToggleLanguage => {
                self.lang = self.lang.other();
                if let Err(e) = self.term.set_setting(SETTING_LANG, self.lang.code()) {
                    self.notice = e.to_string();
                }
            }
            Msg::OpenStaff => {
                self.screen = Screen::Staff;
                self.drawer = false;
                self.staff.error.clear();
            }
            Msg::StaffKey(k) => {
                if self.staff.field == 0 {
                    self.staff.id.key(&k);
                } else {
                    self.staff.pin.key(&k);
                }
            }
            Msg::StaffField(f) => self.staff.field = f.clamp(0, 1),
            Msg::SignIn => self.sign_in(now),
            Msg::SignOut => {
                self.operator = None;
                self.staff = StaffState::default();
            }
            Msg::OpenVoid(id) => self.open_void(&id),
            Msg::VoidKey(k) => {
                if let Some(v) = &mut self.staff.void {
                    if v.field == 0 {
                        v.sup.key(&k);
                    } else {
                        v.pin.key(&k);
                    }
                }
            }
            Msg::VoidField(f) => {
                if let Some(v) = &mut self.staff.void {
                    v.field = f.clamp(0, 1);
                }
            }
            Msg::VoidReason(r) => {
                if let Some(v) = &mut self.staff.void {
                    v.reason = usize::try_from(r).unwrap_or(0).min(VOID_REASONS.len() - 1);
                }
            }
            Msg::VoidConfirm => self.void(now, &mut fx),
            Msg::VoidCancel => self.staff.void = None,
            Msg::ToggleCamera => {
                self.camera_on = !self.camera_on;
                let v = if self.camera_on { "on" } else { "off" };
                if let Err(e) = self.term.set_setting(SETTING_CAMERA, v) {
                    self.notice = e.to_string();
                }
                if self.camera_on {
                    self.camera = CameraState::Starting;
                    fx.push(Effect::Camera(Some(self.camera_device)));
                } else {
                    self.camera = CameraState::Off;
                    fx.push(Effect::Camera(None));
                }
            }
            Msg::NextCamera => {
                let n = u32::try_from(self.camera_devices.len().max(1)).unwrap_or(1);
                self.camera_device = (self.camera_device + 1) % n;
                let _ = self
                    .term
                    .set_setting(SETTING_CAMERA_DEVICE, &self.camera_device.to_string());
                if self.camera_on {
                    self.camera = CameraState::Starting;
                    fx.push(Effect::Camera(Some(self.camera_device)));
                }
            }
            Msg::ToggleDrawer => self.drawer = self.demo.is_some() && !self.drawer,
            Msg::Present(id) => self.present(&id, now, &mut fx),
            Msg::SwitchSite(site) => {
                if let Some(d) = &mut self.demo
                    && d.site != site
                {
                    d.busy = self
                        .lang
                        .pick("正在切换站点…", "Switching site…")
                        .to_owned();
                    fx.push(Effect::SwitchSite(site));
                }
            }
            Msg::CameraOpened(name) => {
                if self.camera_on {
                    self.camera = CameraState::Live(name);
                }
            }
            Msg::CameraUnavailable(why) => {
                if self.camera_on {
                    self.camera = CameraState::None(why);
                }
            }
            Msg::Sync(s) => self.sync = Some(s),
            Msg::Tick => {}
        }
        fx
    }

    fn site_measures(&mut self) -> Vec<xinyi_core::Measure> {
        self.term
            .site_context()
            .map(|s| s.measures)
            .unwrap_or_default()
    }

    fn scanned(&mut self, text: &str, source: Source, now: UnixTime, fx: &mut Vec<Effect>) {
        // The camera keeps seeing codes while the clerk types an amount or
        // signs in: only a deliberate scan replaces a pending verdict.
        let pending_ok = self.ok.as_ref().is_some_and(|o| o.receipt.is_none());
        if source == Source::Camera && (pending_ok || self.screen == Screen::Staff) {
            return;
        }
        if self.screen == Screen::Staff && self.staff.void.is_some() {
            return;
        }
        self.message.clear();
        self.drawer = false;
        let site = match self.term.site_context() {
            Ok(s) => s,
            Err(e) => {
                self.screen = Screen::Scan;
                self.message = e.to_string();
                return;
            }
        };
        let measure = site
            .measures
            .get(self.measure)
            .or_else(|| site.measures.first())
            .map_or_else(|| "NONE".to_owned(), |m| m.id.to_string());
        let operator = self.operator_id();
        match self.term.scan(text, &measure, &operator, now) {
            Ok(Scan::Ok(approval)) => {
                let mut amount = AmountEntry::default();
                if !approval.measure.benefit.takes_amount() {
                    amount.set_yuan("0");
                }
                if let Some(d) = &mut self.demo
                    && approval.claims.form == xinyi_core::Form::Dynamic
                {
                    d.last_person = Some(text.to_owned());
                }
                self.ok = Some(OkState {
                    approval,
                    amount,
                    companions: 0,
                    error: String::new(),
                    receipt: None,
                });
                self.refused = None;
                self.screen = Screen::Ok;
                fx.push(Effect::Sound(Sound::Ok));
            }
            Ok(Scan::Refused { refusal, record }) => {
                self.ok = None;
                fx.push(Effect::Sound(Sound::Refused));
                fx.push(Effect::UploadNow);
                // Amber, not red: the terminal, not the citizen, must act.
                if matches!(refusal.reason, Reason::StaleData | Reason::ClockSuspect) {
                    self.refused = None;
                    self.stale_clock = refusal.reason == Reason::ClockSuspect;
                    self.screen = Screen::Stale;
                    return;
                }
                let reference = xinyi_core::hex::encode(&record.id);
                let qr_of = |url: String| {
                    Arc::new(qr::render(&url, 6).unwrap_or_else(|_| GrayImage::new(1, 1)))
                };
                self.refused = Some(RefusedState {
                    objection: qr_of(qr::objection_url(&reference)),
                    complaint: qr_of(qr::complaint_url(&reference)),
                    refusal,
                    reference,
                });
                self.screen = Screen::Refused;
            }
            Err(e) => {
                self.screen = Screen::Scan;
                self.message = format!("{}{e}", self.t("核验失败：", "Could not verify: "));
            }
        }
    }

    fn open_image(&mut self, path: &str, now: UnixTime, fx: &mut Vec<Effect>) {
        let path = path.trim();
        if path.is_empty() {
            self.message = self
                .t("请先输入图片路径。", "Type the picture's path first.")
                .to_owned();
            return;
        }
        match image::open(path) {
            Err(e) => {
                self.message = format!(
                    "{}{e}",
                    self.t("无法打开图片：", "Cannot open the picture: ")
                );
            }
            Ok(img) => match crate::camera::decode::decode(&img) {
                Some(text) => self.scanned(&text, Source::File, now, fx),
                None => {
                    self.message = self
                        .t(
                            "图片中没有找到二维码。",
                            "No QR code was found in the picture.",
                        )
                        .to_owned();
                }
            },
        }
    }

    fn confirm(&mut self, now: UnixTime, fx: &mut Vec<Effect>) {
        let lang = self.lang;
        // A signed-in operator confirms; nobody only where the registry made
        // the site a self-service point.
        let by = match &self.operator {
            Some(s) => Ok(s.clone()),
            None => self.term.unattended(),
        };
        let Some(ok) = self.ok.as_mut().filter(|o| o.receipt.is_none()) else {
            return;
        };
        let Ok(by) = by else {
            ok.error = lang
                .pick(
                    "请工作人员先在“工作人员”页签到，再确认。",
                    "A staff member must sign in (Staff page) before confirming.",
                )
                .to_owned();
            return;
        };
        let takes = ok.approval.measure.benefit.takes_amount();
        let amount = ok.amount.fen();
        if takes && amount.is_none_or(|a| a == Fen::ZERO) {
            ok.error = lang
                .pick("请先输入金额。", "Enter the amount first.")
                .to_owned();
            return;
        }
        let amount = if takes { amount } else { None };
        match self
            .term
            .confirm(&ok.approval, amount, ok.companions, &by, now)
        {
            Ok((entry, amounts)) => {
                let mut r = match lang {
                    Lang::Zh => format!("已记录 第{}号 · {}", entry.seq, words::time_of_day(now)),
                    Lang::En => format!("Recorded No. {} · {}", entry.seq, words::time_of_day(now)),
                };
                if takes {
                    r.push_str(&match lang {
                        Lang::Zh => {
                            format!(" · 优惠 {} · 应收 {}", amounts.discount, amounts.payable)
                        }
                        Lang::En => format!(
                            " · discount {} · collect {}",
                            amounts.discount, amounts.payable
                        ),
                    });
                }
                ok.receipt = Some(r);
                ok.error.clear();
                fx.push(Effect::UploadNow);
            }
            Err(e) => ok.error = e.to_string(),
        }
    }

    fn sign_in(&mut self, now: UnixTime) {
        let id = self.staff.id.text().to_owned();
        let pin = self.staff.pin.text().to_owned();
        self.staff.pin.clear();
        if id.is_empty() || pin.is_empty() {
            self.staff.error = self
                .t("请输入工号和密码。", "Enter your staff number and PIN.")
                .to_owned();
            return;
        }
        match self.term.authenticate(&id, &pin, now) {
            Ok(SignIn::Ok(op)) => {
                self.operator = Some(op);
                self.staff.error.clear();
                self.staff.field = 0;
            }
            Ok(refused) => self.staff.error = sign_in_words(self.lang, &refused),
            Err(e) => self.staff.error = e.to_string(),
        }
    }

    fn open_void(&mut self, id: &str) {
        if self.operator.is_none() {
            return;
        }
        let summary = self
            .term
            .records(200)
            .ok()
            .and_then(|rs| {
                rs.into_iter()
                    .find(|e| xinyi_core::hex::encode(&e.id) == id)
            })
            .map(|e| self.record_row(&e))
            .map(|r| format!("{} {} {} {}", r.time, r.kind, r.measure, r.amount))
            .unwrap_or_default();
        self.staff.void = Some(VoidState {
            target: id.to_owned(),
            summary,
            ..VoidState::default()
        });
    }

    fn void(&mut self, now: UnixTime, fx: &mut Vec<Effect>) {
        let lang = self.lang;
        let Some(v) = self.staff.void.as_mut() else {
            return;
        };
        let (sup, pin) = (v.sup.text().to_owned(), v.pin.text().to_owned());
        v.pin.clear();
        let outcome = self.term.authenticate(&sup, &pin, now);
        let Some(v) = self.staff.void.as_mut() else {
            return;
        };
        let supervisor = match outcome {
            Ok(SignIn::Ok(op)) => match op.supervisor() {
                Some(s) => s,
                None => {
                    v.error = lang
                        .pick(
                            "只有主管可以作废记录。",
                            "Only a supervisor can void a record.",
                        )
                        .to_owned();
                    return;
                }
            },
            Ok(refused) => {
                v.error = sign_in_words(lang, &refused);
                return;
            }
            Err(e) => {
                v.error = e.to_string();
                return;
            }
        };
        let target = v.target.clone();
        let reason = VOID_REASONS.get(v.reason).copied().unwrap_or("作废");
        match self.term.void(&target, &supervisor, reason, now) {
            Ok(entry) => {
                self.staff.void = None;
                self.staff.note = match lang {
                    Lang::Zh => format!("已作废（作废记录 第{}号）", entry.seq),
                    Lang::En => format!("Voided (void record No. {})", entry.seq),
                };
                fx.push(Effect::UploadNow);
            }
            Err(e) => {
                if let Some(v) = self.staff.void.as_mut() {
                    v.error = e.to_string();
                }
            }
        }
    }

    fn present(&mut self, id: &str, now: UnixTime, fx: &mut Vec<Effect>) {
        let Some(d) = &self.demo else { return };
        let text = if id == REPLAY {
            d.last_person.clone().or_else(|| {
                d.world
                    .sample_codes(now)
                    .into_iter()
                    .find(|c| c.id == "person")
                    .map(|c| c.text)
            })
        } else {
            d.world
                .sample_codes(now)
                .into_iter()
                .find(|c| c.id == id)
                .map(|c| c.text)
        };
        if let Some(text) = text {
            self.scanned(&text, Source::Demo, now, fx);
        }
    }

    // ---- the view ----

    /// What the screen shows at `now`.
    pub fn view(&mut self, now: UnixTime) -> View {
        let site = self.term.site_context().ok();
        let measures: Vec<MeasureRow> = site
            .as_ref()
            .map(|s| {
                s.measures
                    .iter()
                    .map(|m| MeasureRow {
                        id: m.id.to_string(),
                        name: words::measure_name(self.lang, m),
                        detail: words::measure_detail(self.lang, m),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let app = self.app_view(now, site.as_ref());
        let staff = if self.screen == Screen::Staff {
            self.staff_view(now, site.as_ref(), &measures)
        } else {
            StaffView::default()
        };
        View {
            app,
            scan: super::view::ScanView {
                camera_state: match self.camera {
                    CameraState::Starting => 0,
                    CameraState::Live(_) => 1,
                    CameraState::None(_) => 2,
                    CameraState::Off => 3,
                },
                camera_detail: match &self.camera {
                    CameraState::None(why) => why.clone(),
                    _ => String::new(),
                },
                measure_index: i32::try_from(self.measure).unwrap_or(0),
                measures,
                message: self.message.clone(),
            },
            ok: self.ok_view(),
            refused: self.refused_view(),
            stale: self.stale_view(now, site.as_ref()),
            staff,
            demo: self.demo_view(),
        }
    }

    fn app_view(&self, now: UnixTime, site: Option<&crate::store::SiteContext>) -> AppView {
        let lang = self.lang;
        let status = self.term.status(now);
        let (net, net_text) = if self.term.identity().hub_url.is_none() {
            (3, lang.pick("文件同步", "File sync"))
        } else {
            match self.sync.as_ref().and_then(|s| s.online) {
                None => (0, lang.pick("连接中…", "Connecting…")),
                Some(true) => (1, lang.pick("在线", "Online")),
                Some(false) => (2, lang.pick("离线", "Offline")),
            }
        };
        let data_text = match site.and_then(|s| s.version) {
            Some(v) => match lang {
                Lang::Zh => format!("数据版本 {v}"),
                Lang::En => format!("Data version {v}"),
            },
            None => lang.pick("尚无数据", "No data yet").to_owned(),
        };
        let (fresh_text, fresh_level) = match site.and_then(|s| s.data_as_of.map(|d| (s, d))) {
            Some((s, as_of)) => {
                let left = s.max_offline_age_s - (now.0 - as_of.0);
                if left > 0 {
                    let text = match lang {
                        Lang::Zh => format!("可离线核验 {}", words::duration(lang, left)),
                        Lang::En => format!("Offline OK for {}", words::duration(lang, left)),
                    };
                    (text, i32::from(left < FRESH_WARN_S))
                } else {
                    let text = match lang {
                        Lang::Zh => format!("数据已过期 {}", words::duration(lang, -left)),
                        Lang::En => format!("Data stale for {}", words::duration(lang, -left)),
                    };
                    (text, 2)
                }
            }
            None => (lang.pick("请先同步数据", "Sync data first").to_owned(), 2),
        };
        let unsent_text = match &status {
            Ok(s) => match lang {
                Lang::Zh => format!("待上传 {} 条", s.unsent),
                Lang::En => format!("{} to upload", s.unsent),
            },
            Err(e) => e.to_string(),
        };
        let operator = match &self.operator {
            Some(o) => staff_words(lang, o),
            None => lang.pick("工作人员未签到", "No staff signed in").to_owned(),
        };
        let (site_name, unit) = site
            .and_then(|s| s.site.as_ref())
            .map(|s| (s.name.clone(), s.unit.clone()))
            .unwrap_or_else(|| (self.term.identity().site_id.clone(), String::new()));
        let clock = words::time_of_day(now);
        AppView {
            screen: self.screen,
            lang,
            demo: self.demo.is_some(),
            drawer_open: self.drawer,
            site: site_name,
            unit,
            clock: clock.get(..5).unwrap_or(&clock).to_owned(),
            net,
            net_text: net_text.to_owned(),
            data_text,
            fresh_text,
            fresh_level,
            unsent_text,
            operator,
            notice: self.notice.clone(),
        }
    }

    fn ok_view(&self) -> OkView {
        let Some(ok) = &self.ok else {
            return OkView::default();
        };
        let lang = self.lang;
        let a = &ok.approval;
        let takes = a.measure.benefit.takes_amount();
        let cats: Vec<String> = a
            .categories
            .iter()
            .map(|c| {
                let name = match lang {
                    Lang::Zh => c.name_zh(),
                    Lang::En => c.name_en(),
                };
                format!("{} {name}", c.code())
            })
            .collect();
        let mut v = OkView {
            name: a.claims.name.clone(),
            kind: format!("{} · {}", words::kind(lang, a.claims.kind), cats.join("；")),
            measure: words::measure_name(lang, &a.measure),
            benefit: words::benefit(lang, &a.measure.benefit),
            uses: a
                .used
                .map(|(used, limit)| words::uses(lang, used, limit))
                .unwrap_or_default(),
            takes_amount: takes,
            amount_caption: words::amount_caption(lang, &a.measure.benefit).to_owned(),
            amount: ok.amount.text().to_owned(),
            companions_allowed: matches!(a.measure.benefit, Benefit::FreeEntry { .. }),
            companions: i32::try_from(ok.companions).unwrap_or(0),
            original: "—".into(),
            discount: "—".into(),
            payable: "—".into(),
            error: ok.error.clone(),
            confirmed: ok.receipt.is_some(),
            receipt: ok.receipt.clone().unwrap_or_default(),
        };
        if takes && let Some(f) = ok.amount.fen() {
            match a.amounts(f, ok.companions) {
                Ok(m) => {
                    v.original = words::money(m.original);
                    v.discount = words::money(m.discount);
                    v.payable = words::money(m.payable);
                }
                Err(e) => {
                    if v.error.is_empty() {
                        v.error = e.to_string();
                    }
                }
            }
        }
        v
    }

    fn refused_view(&self) -> RefusedView {
        let Some(r) = &self.refused else {
            return RefusedView::default();
        };
        let w = reasons::words(r.refusal.reason);
        RefusedView {
            title: self.t(w.title_zh, w.title_en).to_owned(),
            advice: self.t(w.advice_zh, w.advice_en).to_owned(),
            code: r.refusal.reason.code().to_owned(),
            reference: r.reference.clone(),
            show_objection: matches!(
                r.refusal.reason,
                Reason::NotListed | Reason::ListingNotValid
            ),
            objection_qr: Some(r.objection.clone()),
            complaint_qr: Some(r.complaint.clone()),
        }
    }

    fn stale_view(&self, now: UnixTime, site: Option<&crate::store::SiteContext>) -> StaleView {
        if self.screen != Screen::Stale {
            return StaleView::default();
        }
        let lang = self.lang;
        let detail = if self.stale_clock {
            match lang {
                Lang::Zh => format!(
                    "本机时间 {} 早于本机已确认过的时间，时钟可能被调慢或出错。",
                    now.display_utc8()
                ),
                Lang::En => format!(
                    "This terminal's clock says {}, earlier than a time it has already confirmed: the clock may have been set back.",
                    now.display_utc8()
                ),
            }
        } else {
            match site.and_then(|s| s.data_as_of.map(|d| (s.max_offline_age_s, d))) {
                Some((max, as_of)) => match lang {
                    Lang::Zh => format!(
                        "本机数据已 {} 未与信用平台核对，超过本站点允许的 {}。",
                        words::duration(lang, now.0 - as_of.0),
                        words::duration(lang, max)
                    ),
                    Lang::En => format!(
                        "This terminal last checked its data with the registry {} ago, more than the {} this site allows.",
                        words::duration(lang, now.0 - as_of.0),
                        words::duration(lang, max)
                    ),
                },
                None => lang
                    .pick(
                        "本机还没有同步过名单数据。",
                        "This terminal has not synced any list data yet.",
                    )
                    .to_owned(),
            }
        };
        StaleView {
            clock: self.stale_clock,
            detail,
            sync_state: self.sync_words(),
        }
    }

    fn sync_words(&self) -> String {
        let lang = self.lang;
        match &self.sync {
            None if self.term.identity().hub_url.is_none() => lang
                .pick(
                    "本机只通过数据包同步。",
                    "This terminal syncs by file only.",
                )
                .to_owned(),
            None => self.staff.note.clone(),
            Some(s) => {
                let last = s
                    .last_download
                    .as_ref()
                    .map(|(t, _)| words::time_of_day(*t))
                    .unwrap_or_else(|| "—".into());
                match (&s.last_error, lang) {
                    (Some(e), Lang::Zh) => format!("同步失败：{e}（上次成功 {last}）"),
                    (Some(e), Lang::En) => format!("Sync failed: {e} (last success {last})"),
                    (None, Lang::Zh) => format!("上次同步 {last} · 在线"),
                    (None, Lang::En) => format!("Last sync {last} · online"),
                }
            }
        }
    }

    fn record_row(&self, e: &crate::store::JournalEntry) -> RecordRow {
        let lang = self.lang;
        let name_of = |id: &str| -> String {
            self.term
                .store()
                .catalogue()
                .ok()
                .flatten()
                .and_then(|c| c.get(id).map(|m| words::measure_name(lang, m)))
                .unwrap_or_else(|| id.to_owned())
        };
        let r = &e.record;
        let (kind, measure, amount, can_void) = match &r.body {
            Body::Redemption {
                measure,
                discount,
                payable,
                ..
            } => (
                // The same words as the .slint's @tr("优惠"), which colours the row.
                lang.pick("优惠", "Discount"),
                name_of(measure),
                match lang {
                    Lang::Zh => format!("优惠 {} · 应付 {}", Fen(*discount), Fen(*payable)),
                    Lang::En => format!("discount {} · paid {}", Fen(*discount), Fen(*payable)),
                },
                !e.voided,
            ),
            Body::Refusal { reason, .. } => (
                lang.pick("拒绝", "Refused"),
                Reason::from_code(reason)
                    .map(|r| {
                        let w = reasons::words(r);
                        lang.pick(w.title_zh, w.title_en).to_owned()
                    })
                    .unwrap_or_else(|| reason.clone()),
                String::new(),
                false,
            ),
            Body::Void { reason, .. } => (
                lang.pick("作废", "Void"),
                reason.clone(),
                String::new(),
                false,
            ),
            Body::Staff { event, staff, .. } => (
                lang.pick("人员", "Staff"),
                format!(
                    "{} {staff}",
                    match event {
                        StaffEvent::OperatorSet => lang.pick("设置人员", "operator set"),
                        StaffEvent::OperatorRemoved => lang.pick("删除人员", "operator removed"),
                        StaffEvent::SignInFailed => lang.pick("签到失败", "sign-in failed"),
                        StaffEvent::LockedOut => lang.pick("已锁定", "locked out"),
                    }
                ),
                String::new(),
                false,
            ),
        };
        let mut state = if e.uploaded_at.is_some() {
            lang.pick("已上传", "uploaded").to_owned()
        } else {
            lang.pick("待上传", "to upload").to_owned()
        };
        if e.voided {
            state = format!("{}·{state}", lang.pick("已作废", "voided"));
        }
        RecordRow {
            id: xinyi_core::hex::encode(&e.id),
            time: words::time_of_day(r.at),
            kind: kind.to_owned(),
            measure,
            amount,
            state,
            can_void,
        }
    }

    fn staff_view(
        &self,
        now: UnixTime,
        site: Option<&crate::store::SiteContext>,
        measures: &[MeasureRow],
    ) -> StaffView {
        let lang = self.lang;
        let mut v = StaffView {
            signed_in: self.operator.is_some(),
            id_text: self.staff.id.text().to_owned(),
            pin_dots: self.staff.pin.dots(),
            field: self.staff.field,
            error: self.staff.error.clone(),
            camera_on: self.camera_on,
            camera_device: self.camera_words(),
            language: lang.pick("中文", "English").to_owned(),
            site_measures: measures.to_vec(),
            site_text: site
                .and_then(|s| s.site.as_ref())
                .map(|s| format!("{} · {} · {}", s.name, s.unit, s.id))
                .unwrap_or_default(),
            ..StaffView::default()
        };
        let Some(op) = &self.operator else {
            return v;
        };
        v.operator = staff_words(lang, op);
        let from = now.date_utc8().start_utc8();
        let until = UnixTime(now.0 + 1);
        let store = self.term.store();
        let name_of = |id: &str| {
            site.and_then(|s| s.measures.iter().find(|m| m.id.as_str() == id))
                .map(|m| words::measure_name(lang, m))
                .unwrap_or_else(|| id.to_owned())
        };
        match store.shift_by_measure(None, from, until) {
            Ok(rows) => {
                v.totals = rows
                    .iter()
                    .map(|t| TotalRow {
                        measure: name_of(&t.measure),
                        count: t.count.to_string(),
                        discount: words::money(Fen(t.discount)),
                        payable: words::money(Fen(t.payable)),
                    })
                    .collect();
            }
            Err(e) => v.error = e.to_string(),
        }
        v.totals_caption = lang
            .pick(
                "今日本机（全部工作人员）",
                "Today at this counter (all staff)",
            )
            .to_owned();
        if let Ok(t) = store.shift_totals(None, from, until) {
            v.totals_sum = match lang {
                Lang::Zh => format!(
                    "优惠 {} 笔，共减免 {} · 拒绝 {} 笔 · 作废 {} 笔",
                    t.redemptions,
                    Fen(t.discount),
                    t.refusals,
                    t.voids
                ),
                Lang::En => format!(
                    "{} benefits, {} off in all · {} refused · {} voided",
                    t.redemptions,
                    Fen(t.discount),
                    t.refusals,
                    t.voids
                ),
            };
        }
        v.records = self
            .term
            .records(30)
            .map(|rs| rs.iter().map(|e| self.record_row(e)).collect())
            .unwrap_or_default();
        v.sync_text = if self.staff.note.is_empty() {
            self.sync_words()
        } else {
            format!("{} · {}", self.staff.note, self.sync_words())
        };
        if let Some(vd) = &self.staff.void {
            v.void_open = true;
            v.void_target = vd.summary.clone();
            v.void_id_text = vd.sup.text().to_owned();
            v.void_pin_dots = vd.pin.dots();
            v.void_field = vd.field;
            v.void_reason = i32::try_from(vd.reason).unwrap_or(0);
            v.void_error = vd.error.clone();
        }
        v
    }

    fn camera_words(&self) -> String {
        let lang = self.lang;
        let name = self
            .camera_devices
            .get(self.camera_device as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{}", self.camera_device));
        match &self.camera {
            CameraState::Off => lang.pick("摄像头已关闭", "Camera off").to_owned(),
            CameraState::Starting => format!("{} {name}", lang.pick("正在打开", "Opening")),
            CameraState::Live(n) => format!("{} {n}", lang.pick("使用中：", "In use:")),
            CameraState::None(why) => {
                format!("{}{why}", lang.pick("没有可用的摄像头：", "No camera: "))
            }
        }
    }

    fn demo_view(&self) -> DemoView {
        let Some(d) = &self.demo else {
            return DemoView::default();
        };
        let lang = self.lang;
        let mut samples: Vec<SampleRow> = d
            .world
            .sample_codes(UnixTime(0))
            .iter()
            .map(|c| SampleRow {
                id: c.id.to_owned(),
                label: lang.pick(c.label_zh, c.label_en).to_owned(),
                expect: if c.expect == "OK" {
                    lang.pick("通过", "OK").to_owned()
                } else {
                    lang.pick("拒绝", "refused").to_owned()
                },
            })
            .collect();
        // The replay goes right after the two codes that pass.
        samples.insert(
            2.min(samples.len()),
            SampleRow {
                id: REPLAY.to_owned(),
                label: lang
                    .pick("再次出示刚才的动态码", "The app code again (replay)")
                    .to_owned(),
                expect: lang.pick("拒绝", "refused").to_owned(),
            },
        );
        let sites = xinyi_hub::seed::DEMO_SITES
            .iter()
            .map(|(id, _, _, _)| SiteRow {
                id: (*id).to_owned(),
                name: demo_site_word(lang, id).to_owned(),
                active: d.site == *id,
            })
            .collect();
        DemoView {
            samples,
            sites,
            operators: match lang {
                Lang::Zh => format!(
                    "店员 {} 密码 {} · 主管 {} 密码 {}",
                    DEMO_CLERK.0, DEMO_CLERK.2, DEMO_SUPERVISOR.0, DEMO_SUPERVISOR.2
                ),
                Lang::En => format!(
                    "clerk {} PIN {} · supervisor {} PIN {}",
                    DEMO_CLERK.0, DEMO_CLERK.2, DEMO_SUPERVISOR.0, DEMO_SUPERVISOR.2
                ),
            },
            busy: d.busy.clone(),
        }
    }
}

/// "主管 李强（9001）".
fn staff_words(lang: Lang, s: &Staff) -> String {
    format!(
        "{} {}（{}）",
        role_word(lang, s.role().unwrap_or(Role::Clerk)),
        s.name(),
        s.id()
    )
}

/// A refused sign-in in words: the same for an unknown id as for a wrong
/// PIN.
fn sign_in_words(lang: Lang, outcome: &SignIn) -> String {
    match outcome {
        SignIn::Ok(_) => String::new(),
        SignIn::Refused { tries_left } => match lang {
            Lang::Zh => format!("工号或密码不正确（还可再试 {tries_left} 次）。"),
            Lang::En => format!("Wrong staff number or PIN ({tries_left} tries left)."),
        },
        SignIn::Locked { left_s } => {
            let mins = left_s.div_ceil(60);
            match lang {
                Lang::Zh => format!("密码错误次数过多，请 {mins} 分钟后再试。"),
                Lang::En => format!("Too many wrong PINs: try again in {mins} min."),
            }
        }
    }
}

fn role_word(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Clerk => lang.pick("店员", "Clerk"),
        Role::Supervisor => lang.pick("主管", "Supervisor"),
    }
}

fn demo_site_word(lang: Lang, id: &str) -> &'static str {
    match id {
        "demo-bus" => lang.pick("公交", "Bus"),
        "demo-scenic" => lang.pick("景区", "Scenic"),
        "demo-hospital" => lang.pick("医院", "Hospital"),
        "demo-library" => lang.pick("图书馆", "Library"),
        _ => lang.pick("站点", "Site"),
    }
}
