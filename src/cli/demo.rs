//! `xinyi demo`: the demo world's sample codes, and a text tour of every
//! verdict at the demo bus counter. Built with the `demo` feature.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use xinyi_core::history::{MemoryHistory, Use};
use xinyi_core::verdict::{DEFAULT_MAX_OFFLINE_AGE_S, DEFAULT_SKEW_S};
use xinyi_core::{Context, Fen, Measure, UnixTime, Verdict, decide};
use xinyi_demo::DemoWorld;

use super::{DemoCommand, print_approval, print_refusal};
use crate::terminal::now;

pub(super) fn run(what: DemoCommand) -> Result<ExitCode> {
    match what {
        DemoCommand::Tour => tour(),
        DemoCommand::Codes { out } => demo_codes(out.as_deref()),
    }
}

/// Prints the demo's sample codes; with `out`, writes each as a PNG.
fn demo_codes(out: Option<&std::path::Path>) -> Result<ExitCode> {
    let world = demo_world()?;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for c in world.sample_codes(now()) {
        say!("{}\t{}\t{}", c.id, c.expect, c.text);
        if let Some(dir) = out {
            let path = dir.join(format!("{}.png", c.id));
            crate::ui::qr::write_png(&c.text, &path).map_err(anyhow::Error::msg)?;
        }
    }
    if let Some(dir) = out {
        eprintln!(
            "wrote {}/*.png (app codes expire 2 minutes after they are made)",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn demo_world() -> Result<DemoWorld> {
    DemoWorld::new(now().date_utc8()).context("building the demo data")
}

/// Presents every sample code at the demo bus counter (a ¥100 top-up),
/// confirming OK verdicts, then presents the first code again.
pub(super) fn tour() -> Result<ExitCode> {
    let world = demo_world()?;
    let at: UnixTime = now();
    let site: Vec<Measure> = world
        .catalogue
        .get("XYX-BUS-TOPUP")
        .into_iter()
        .cloned()
        .collect();
    let bus = site
        .first()
        .map(|m| m.id.clone())
        .context("the demo catalogue has no bus top-up")?;
    let ctx = Context {
        measures: &site,
        skew_s: DEFAULT_SKEW_S,
        max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
        data_as_of: Some(at),
        clock_floor: None,
    };
    let data = world.verifier_data();
    let mut history = MemoryHistory::new();
    say!(
        "xinyi demo: bus top-up counter, a ¥100.00 top-up, {}\n",
        at.display_utc8()
    );
    let codes = world.sample_codes(at);
    let replay = codes.first().map(|c| c.text.clone());
    let presented = codes
        .iter()
        .map(|c| (c.label_en, c.text.as_str()))
        .chain(replay.as_deref().map(|t| ("The first code again", t)));
    for (label, text) in presented {
        say!("▶ {label}");
        match decide(&ctx, &data, &history, text, &bus, at)? {
            Verdict::Ok(a) => {
                let amounts = a.amounts(Fen(10_000), 0)?;
                print_approval(&a, Some(&amounts));
                history.record(Use {
                    record: [u8::try_from(history.uses().len()).unwrap_or(u8::MAX); 16],
                    sub: a.claims.sub.clone(),
                    measure: a.measure.id.clone(),
                    at,
                    cti: a.claims.cti.clone(),
                });
                say!("    confirmed");
            }
            Verdict::Refused(r) => print_refusal(&r),
        }
        say!();
    }
    say!(
        "Enroll a terminal with a hub to verify codes yourself:  xinyi enroll --hub URL --code CODE"
    );
    Ok(ExitCode::SUCCESS)
}
