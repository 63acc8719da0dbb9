//! The glue: the counter thread that owns the terminal and the
//! [`KioskState`], runs [`update`] and [`present`], and carries out the
//! effects (sync worker, camera, sounds, pictures, demo sites); and the
//! wiring between it and the window.
//!
//! Threads: the UI thread runs Slint and the scanner parser; callbacks
//! only post [`Msg`]s. The counter thread handles them (SQLite, image
//! decoding, demo enrollment), ticks once a second, and sends back only
//! the parts of the view that changed, with `upgrade_in_event_loop`. The
//! camera and the sync worker have their own threads and report as
//! messages (camera previews go straight to the UI).

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use slint::ComponentHandle as _;

use super::AppWindow;
use super::adapters::{self, Post, scan_adapter};
#[cfg(feature = "demo")]
use super::demo::DemoHub;
use super::kiosk::{
    CameraProblem, Effect, ImageProblem, KioskState, Msg, Source, camera_problem, present, update,
};
use super::sound;
use super::view::{Delta, View};
use crate::camera::{self, CameraConfig, CameraEvent, CameraHandle};
use crate::counter::Counter as _;
use crate::sync::worker::{self, SyncHandle};
use crate::terminal::{Paths, Terminal, now};

mod open;
use open::show_broken;
pub use open::{Opened, open_terminal};

/// The demo hub, when the kiosk runs the demo.
#[cfg(feature = "demo")]
pub type Demo = Option<DemoHub>;
/// Built without the demo: there is none.
#[cfg(not(feature = "demo"))]
pub type Demo = Option<std::convert::Infallible>;

/// How the kiosk starts.
#[derive(Debug, Clone, Default)]
pub struct KioskOptions {
    /// Full screen, for a dedicated counter screen.
    pub fullscreen: bool,
    /// A picture of a QR code to present at start.
    pub image: Option<PathBuf>,
    /// Demo mode even when this machine is enrolled.
    pub demo: bool,
    /// Play the pictures in this folder as the camera's frames.
    pub frames: Option<PathBuf>,
    /// Write the UI thread's timings (ready, longest stall per second) to
    /// this file as JSON lines, for the benchmarks.
    pub measure: Option<PathBuf>,
}

/// Options of the counter (tests turn the hardware off).
#[derive(Debug, Clone, Copy)]
pub struct CounterOptions {
    pub camera: bool,
    pub sound: bool,
    pub sync_worker: bool,
}

impl CounterOptions {
    /// No camera, no sound, no sync worker: the kiosk alone (headless
    /// tests, screenshots, benchmarks).
    pub const HEADLESS: CounterOptions = CounterOptions {
        camera: false,
        sound: false,
        sync_worker: false,
    };
}

impl Default for CounterOptions {
    fn default() -> Self {
        CounterOptions {
            camera: true,
            sound: true,
            sync_worker: true,
        }
    }
}

/// Where camera previews go (the UI thread, in production).
pub type PreviewSink = Box<dyn Fn(slint::SharedPixelBuffer<slint::Rgb8Pixel>) + Send + Sync>;

/// The kiosk and the workers it drives: the terminal (the counter port),
/// the kiosk's state, and the last view sent.
pub struct Runner {
    term: Terminal,
    state: KioskState,
    opts: CounterOptions,
    events: Sender<Msg>,
    sync: Option<SyncHandle>,
    camera: Option<CameraHandle>,
    #[cfg_attr(not(feature = "demo"), allow(dead_code))]
    demo: Demo,
    preview: std::sync::Arc<PreviewSink>,
    last: Option<View>,
    frames: Option<PathBuf>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("state", &self.state)
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over `term`; workers report on `events`.
    pub fn new(
        term: Terminal,
        demo: Demo,
        opts: CounterOptions,
        events: Sender<Msg>,
        preview: PreviewSink,
    ) -> Runner {
        Runner::with_frames(term, demo, opts, events, preview, None)
    }

    /// [`Runner::new`], the camera playing the pictures in `frames`
    /// instead of a device when given.
    #[cfg_attr(not(feature = "demo"), allow(unused_mut))]
    pub fn with_frames(
        mut term: Terminal,
        demo: Demo,
        opts: CounterOptions,
        events: Sender<Msg>,
        preview: PreviewSink,
        frames: Option<PathBuf>,
    ) -> Runner {
        let mut state = KioskState::new(&term);
        #[cfg(feature = "demo")]
        if let Some(d) = &demo {
            state.demo = Some(super::kiosk::demo::DemoState::new(d.world(), DEMO_SITE));
            state.operator = demo_clerk(&mut term);
        }
        let mut r = Runner {
            frames,
            term,
            state,
            opts,
            events,
            sync: None,
            camera: None,
            demo,
            preview: std::sync::Arc::new(preview),
            last: None,
        };
        if opts.camera {
            let devices = camera::devices();
            r.feed(Msg::CameraDevices(devices), now());
        }
        r.start_sync();
        r.feed(Msg::Tick, now());
        for e in r.state.start() {
            r.exec(e);
        }
        r
    }

    pub fn state(&self) -> &KioskState {
        &self.state
    }

    pub fn terminal(&self) -> &Terminal {
        &self.term
    }

    /// Handles a message and returns what changed on screen.
    pub fn handle(&mut self, msg: Msg) -> Delta {
        self.handle_at(msg, now())
    }

    /// Handles a message as if the clock said `at` (screenshots of the
    /// stale page, tests).
    pub fn handle_at(&mut self, msg: Msg, at: xinyi_core::UnixTime) -> Delta {
        self.feed(msg, at);
        self.delta_at(at)
    }

    /// Updates the state and carries out the effects.
    fn feed(&mut self, msg: Msg, at: xinyi_core::UnixTime) {
        let effects = update(&mut self.state, msg, &mut self.term, at);
        for e in effects {
            self.exec(e);
        }
    }

    /// What changed since the last delta.
    pub fn delta(&mut self) -> Delta {
        self.delta_at(now())
    }

    fn delta_at(&mut self, at: xinyi_core::UnixTime) -> Delta {
        let view = present(&self.state, &self.term.snapshot(), at);
        let d = Delta::between(self.last.as_ref(), &view);
        self.last = Some(view);
        d
    }

    fn start_sync(&mut self) {
        self.sync = None;
        if !self.opts.sync_worker {
            return;
        }
        let Some(cfg) = self.term.worker_config() else {
            return;
        };
        let tx = self.events.clone();
        match worker::spawn(
            cfg,
            Box::new(move |s| {
                let _ = tx.send(Msg::Sync(s.clone()));
            }),
        ) {
            Ok(h) => self.sync = Some(h),
            Err(e) => tracing::warn!("cannot start the sync worker: {e}"),
        }
    }

    fn exec(&mut self, e: Effect) {
        match e {
            Effect::Sound(s) => {
                if self.opts.sound {
                    sound::play(s);
                }
            }
            Effect::UploadNow => {
                if let Some(s) = &self.sync {
                    s.upload_now();
                }
            }
            Effect::SyncNow => {
                if let Some(s) = &self.sync {
                    s.sync_now();
                }
            }
            Effect::ReadImage(path) => {
                let msg = match image::open(&path) {
                    Err(e) => Msg::ImageUnread(ImageProblem::Unreadable(e.to_string())),
                    Ok(img) => match camera::decode::decode(&img) {
                        Some(text) => Msg::Scanned {
                            text,
                            source: Source::File,
                        },
                        None => Msg::ImageUnread(ImageProblem::NoCode),
                    },
                };
                let _ = self.events.send(msg);
            }
            Effect::Camera(dev) => {
                // The old worker stops (and releases the device) first.
                self.camera = None;
                let Some(device) = dev else { return };
                if !self.opts.camera && self.frames.is_none() {
                    let _ = self
                        .events
                        .send(Msg::CameraUnavailable(CameraProblem::Disabled));
                    return;
                }
                let tx = self.events.clone();
                let preview = self.preview.clone();
                let devices = self.state.camera_devices.clone();
                self.camera = Some(camera::spawn(
                    CameraConfig {
                        device,
                        frames: self.frames.clone(),
                    },
                    Box::new(move |ev| match ev {
                        CameraEvent::Preview(frame) => preview(frame),
                        CameraEvent::Opened(name) => {
                            let _ = tx.send(Msg::CameraOpened(name));
                        }
                        CameraEvent::Unavailable(why) => {
                            tracing::warn!("camera unavailable: {why}");
                            let _ = tx.send(Msg::CameraUnavailable(camera_problem(&devices, why)));
                        }
                        CameraEvent::Scanned(text) => {
                            let _ = tx.send(Msg::Scanned {
                                text,
                                source: Source::Camera,
                            });
                        }
                    }),
                ));
            }
            Effect::SwitchSite(site) => {
                #[cfg(feature = "demo")]
                self.switch_site(&site);
                #[cfg(not(feature = "demo"))]
                let _ = site;
            }
        }
    }

    /// Demo: the terminal of another site goes on screen.
    #[cfg(feature = "demo")]
    fn switch_site(&mut self, site: &str) {
        let Some(demo) = &mut self.demo else { return };
        match demo.terminal(site) {
            Ok(t) => {
                // The old worker must not keep syncing a terminal no
                // longer on screen.
                self.sync = None;
                self.term = t;
                let s = &mut self.state;
                s.measure = 0;
                s.ok = None;
                s.refused = None;
                s.screen = super::view::Screen::Scan;
                s.sync = None;
                s.staff = Default::default();
                s.operator = demo_clerk(&mut self.term);
                if let Some(d) = &mut s.demo {
                    d.switched(site);
                }
                self.start_sync();
                self.feed(Msg::Tick, now());
            }
            Err(e) => {
                if let Some(d) = &mut self.state.demo {
                    d.switching = Some(Some(format!("{e:#}")));
                }
            }
        }
    }
}

/// The demo's first site.
#[cfg(feature = "demo")]
pub const DEMO_SITE: &str = "demo-bus";

/// The demo opens with its clerk signed in, so sample codes can be
/// confirmed at once (the drawer shows the PINs for the rest).
#[cfg(feature = "demo")]
fn demo_clerk(term: &mut Terminal) -> Option<crate::terminal::Staff> {
    use super::kiosk::DEMO_CLERK;
    match term.authenticate(DEMO_CLERK.0, DEMO_CLERK.2, now()) {
        Ok(crate::terminal::SignIn::Ok(s)) => Some(s),
        _ => None,
    }
}

/// What the start options do to a wired window: full screen (`--kiosk`)
/// and the picture to present first (`--image`).
pub fn apply_start(ui: &AppWindow, opts: &KioskOptions, post: &dyn Fn(Msg)) {
    if opts.fullscreen {
        adapters::app_adapter::set_fullscreen(ui, true);
    }
    if let Some(image) = &opts.image {
        post(Msg::OpenImage(image.display().to_string()));
    }
}

/// Slint's software renderer unless `SLINT_BACKEND` says otherwise. The
/// kiosk's pages are mostly still, and the software renderer redraws only
/// what changed (the camera preview, a countdown); an OpenGL renderer maps
/// the GPU driver into the process (about 100 MB more resident memory
/// under Mesa) for no gain here. `SLINT_BACKEND=winit-femtovg` (or
/// `winit-skia` where built) chooses OpenGL.
fn choose_renderer() {
    if std::env::var_os("SLINT_BACKEND").is_some_and(|v| !v.is_empty()) {
        return;
    }
    if let Err(e) = slint::BackendSelector::new()
        .renderer_name("software".into())
        .select()
    {
        tracing::warn!("software renderer unavailable ({e}); using Slint's default");
    }
}

fn monotonic_ms() -> Rc<dyn Fn() -> u64> {
    let start = Instant::now();
    Rc::new(move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// Runs the kiosk until its window closes.
pub fn run(paths: &Paths, opts: KioskOptions) -> Result<()> {
    let (term, demo) = match open_terminal(paths, &opts)? {
        Opened::Terminal(t, d) => (t, d),
        Opened::Broken(e) => return show_broken(e, &opts),
    };
    choose_renderer();
    let ui = AppWindow::new().context("opening the kiosk window")?;
    let (tx, rx) = mpsc::channel::<Msg>();
    let post_tx = tx.clone();
    let post: Post = Rc::new(move |m| {
        let _ = post_tx.send(m);
    });
    adapters::wire(&ui, &post, monotonic_ms());
    apply_start(&ui, &opts, &*post);

    let weak = ui.as_weak();
    let preview_weak = ui.as_weak();
    let preview: PreviewSink = Box::new(move |frame| {
        let _ = preview_weak.upgrade_in_event_loop(move |ui| scan_adapter::set_preview(&ui, frame));
    });
    // The kiosk moves to the counter thread; the first view is applied
    // before the window shows.
    let mut counter = Runner::with_frames(
        term,
        demo,
        CounterOptions::default(),
        tx.clone(),
        preview,
        opts.frames.clone(),
    );
    adapters::apply(&ui, &counter.delta());
    let _monitor = match &opts.measure {
        Some(path) => Some(super::timings::StallMonitor::start(path)?),
        None => None,
    };
    let thread = std::thread::Builder::new()
        .name("xinyi-counter".into())
        .spawn(move || counter_loop(counter, rx, weak))
        .context("starting the counter thread")?;
    let shown = ui.run().context("running the kiosk window");
    drop(post);
    QUIT.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = tx.send(Msg::Tick);
    drop(tx);
    let _ = thread.join();
    shown
}

static QUIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn counter_loop(mut counter: Runner, rx: Receiver<Msg>, ui: slint::Weak<AppWindow>) {
    let tick = Duration::from_secs(1);
    let mut next_tick = Instant::now() + tick;
    loop {
        if QUIT.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let wait = next_tick.saturating_duration_since(Instant::now());
        let msg = match rx.recv_timeout(wait) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                next_tick = Instant::now() + tick;
                Msg::Tick
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let delta = counter.handle(msg);
        if !delta.is_empty() {
            let _ = ui.upgrade_in_event_loop(move |ui| adapters::apply(&ui, &delta));
        }
    }
}
