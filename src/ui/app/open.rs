//! Which terminal the kiosk opens: the enrolled one, the demo's, or none
//! (an error window, never the demo).

use anyhow::{Context as _, Result};
use slint::ComponentHandle as _;

#[cfg(feature = "demo")]
use super::DEMO_SITE;
use super::{Demo, KioskOptions, choose_renderer};
use crate::terminal::{Paths, Terminal};
#[cfg(feature = "demo")]
use crate::ui::demo::DemoHub;

/// What the kiosk opens on (once, at start: the size of the variants
/// does not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Opened {
    /// The enrolled terminal, or the demo's (with its embedded hub).
    Terminal(Terminal, Demo),
    /// This machine holds a terminal that cannot be opened: an error
    /// screen, never the demo.
    Broken(anyhow::Error),
}

/// Opens the terminal to show: the enrolled one; the demo only when this
/// machine holds no enrolled terminal (or with `--demo`). A terminal
/// database that exists but cannot be read is [`Opened::Broken`]: falling
/// back to the demo would accept codes signed with demo keys anyone can
/// derive.
pub fn open_terminal(paths: &Paths, opts: &KioskOptions) -> Result<Opened> {
    if !opts.demo && paths.db.exists() {
        let enrolled = crate::store::Store::open(&paths.db)
            .and_then(|s| s.identity())
            .with_context(|| format!("the terminal database {}", paths.db.display()));
        match enrolled {
            Ok(Some(_)) => {
                return Ok(match Terminal::open(paths) {
                    Ok(t) => Opened::Terminal(t, None),
                    Err(e) => Opened::Broken(
                        anyhow::Error::from(e)
                            .context(format!("the enrolled terminal in {}", paths.dir.display())),
                    ),
                });
            }
            Ok(None) => {}
            Err(e) => return Ok(Opened::Broken(e)),
        }
    }
    #[cfg(feature = "demo")]
    {
        eprintln!(
            "xinyi: {}: starting the demo (an embedded registry hub on 127.0.0.1 with sample data)",
            if opts.demo {
                "--demo"
            } else {
                "this terminal is not enrolled"
            }
        );
        let mut demo = DemoHub::start()?;
        let term = demo.terminal(DEMO_SITE)?;
        Ok(Opened::Terminal(term, Some(demo)))
    }
    #[cfg(not(feature = "demo"))]
    Ok(Opened::Broken(anyhow::anyhow!(
        "{}: this terminal is not enrolled; enroll it with `xinyi enroll` (this build has no demo)",
        paths.dir.display()
    )))
}

/// Shows why the terminal cannot start, until the window is closed; then
/// the error is returned (the program exits with it).
pub(super) fn show_broken(e: anyhow::Error, opts: &KioskOptions) -> Result<()> {
    choose_renderer();
    let detail = format!("{e:#}");
    eprintln!("xinyi: this terminal cannot start: {detail}");
    let w = crate::ui::ErrorWindow::new().context("opening the error window")?;
    w.set_detail(detail.into());
    if opts.fullscreen {
        w.window().set_fullscreen(true);
    }
    w.run().context("showing the error window")?;
    Err(e.context("this terminal cannot start (nothing was verified)"))
}
