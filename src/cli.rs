//! The terminal's command line. Until the terminal has its own synced
//! store, `verify` decides against the demo world held in memory.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use xinyi_core::history::{MemoryHistory, Use};
use xinyi_core::verdict::{DEFAULT_MAX_OFFLINE_AGE_S, DEFAULT_SKEW_S};
use xinyi_core::{Approval, Context, Fen, Measure, UnixTime, Verdict, decide};
use xinyi_hub::demo::DemoWorld;

use crate::reasons;

/// Exit code of a refused verdict (0 is OK, 1 an error).
const EXIT_REFUSED: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "xinyi",
    version,
    about = "Offline verification terminal for credit-incentive (守信激励) measures"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a scanned code for a measure (against the demo data).
    Verify {
        /// The QR text, e.g. `XY1:…` (scanner prefixes are removed).
        code: String,
        /// The measure to apply, e.g. XYX-BUS-TOPUP.
        #[arg(long)]
        measure: String,
        /// The amount the clerk typed, in fen (top-up, ticket price, deposit).
        #[arg(long)]
        amount: Option<u64>,
        /// Accompanying family members (free-entry measures).
        #[arg(long, default_value_t = 0)]
        companions: u32,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Demo material: sample codes for every kind of verdict.
    Demo {
        #[command(subcommand)]
        what: DemoCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Print the sample codes, one per line: id, expected verdict, text.
    Codes,
    /// Walk through every sample code at the demo bus top-up counter.
    Tour,
}

fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        None
        | Some(Command::Demo {
            what: DemoCommand::Tour,
        }) => tour(),
        Some(Command::Demo {
            what: DemoCommand::Codes,
        }) => {
            let world = demo_world()?;
            for c in world.sample_codes(now()) {
                println!("{}\t{}\t{}", c.id, c.expect, c.text);
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Verify {
            code,
            measure,
            amount,
            companions,
            json,
        }) => verify(&code, &measure, amount.map(Fen), companions, json),
    }
}

fn demo_world() -> Result<DemoWorld> {
    DemoWorld::new(now().date_utc8()).context("building the demo data")
}

fn verify(
    code: &str,
    measure: &str,
    amount: Option<Fen>,
    companions: u32,
    as_json: bool,
) -> Result<ExitCode> {
    let world = demo_world()?;
    let at = now();
    let measures: Vec<Measure> = world.catalogue.measures().to_vec();
    if !measures.iter().any(|m| m.id.as_str() == measure) {
        let ids: Vec<&str> = measures.iter().map(|m| m.id.as_str()).collect();
        bail!(
            "unknown measure {measure:?}; this site offers: {}",
            ids.join(", ")
        );
    }
    let ctx = Context {
        measures: &measures,
        skew_s: DEFAULT_SKEW_S,
        max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
        data_as_of: Some(at),
    };
    let verdict = decide(
        &ctx,
        &world.verifier_data(),
        &MemoryHistory::new(),
        code,
        measure,
        at,
    )?;
    let amounts = match (&verdict, amount) {
        (Verdict::Ok(a), Some(fen)) => Some(a.amounts(fen, companions)?),
        _ => None,
    };
    if as_json {
        println!("{}", verdict_json(&verdict, amounts.as_ref()));
    } else {
        print_verdict(&verdict, amounts.as_ref());
    }
    Ok(match verdict {
        Verdict::Ok(_) => ExitCode::SUCCESS,
        Verdict::Refused(_) => ExitCode::from(EXIT_REFUSED),
    })
}

fn verdict_json(v: &Verdict, amounts: Option<&xinyi_core::Amounts>) -> serde_json::Value {
    match v {
        Verdict::Ok(a) => json!({
            "verdict": "OK",
            "measure": a.measure.id.as_str(),
            "name": a.claims.name,
            "kind": a.claims.kind.as_str(),
            "categories": a.categories.iter().map(|c| c.code()).collect::<Vec<_>>(),
            "form": a.claims.form.as_str(),
            "amounts": amounts.map(|m| json!({
                "original_fen": m.original.0,
                "discount_fen": m.discount.0,
                "payable_fen": m.payable.0,
                "companions": m.companions,
            })),
        }),
        Verdict::Refused(r) => {
            let w = reasons::words(r.reason);
            json!({
                "verdict": r.reason.code(),
                "detail": r.detail,
                "message_zh": w.title_zh,
                "message_en": w.title_en,
                "advice_zh": w.advice_zh,
                "advice_en": w.advice_en,
            })
        }
    }
}

fn print_approval(a: &Approval, amounts: Option<&xinyi_core::Amounts>) {
    let cats: Vec<String> = a
        .categories
        .iter()
        .map(|c| format!("{c} {}", c.name_zh()))
        .collect();
    println!("OK  {} ({})", a.measure.name_zh, a.measure.id);
    println!(
        "    {} · {} · {}",
        a.claims.name,
        a.claims.kind,
        cats.join(", ")
    );
    if let Some(m) = amounts {
        println!(
            "    original {}  discount {}  payable {}",
            m.original, m.discount, m.payable
        );
    } else if a.measure.benefit.takes_amount() {
        println!("    (give --amount FEN to compute what the citizen pays)");
    }
    if let Some((used, limit)) = a.used {
        println!(
            "    uses this {}: {used} of {}",
            limit.per.as_str(),
            limit.count
        );
    }
}

fn print_verdict(v: &Verdict, amounts: Option<&xinyi_core::Amounts>) {
    match v {
        Verdict::Ok(a) => print_approval(a, amounts),
        Verdict::Refused(r) => {
            let w = reasons::words(r.reason);
            println!("REFUSED  {}  {} / {}", r.reason, w.title_zh, w.title_en);
            println!("    {}", w.advice_zh);
            println!("    detail: {}", r.detail);
        }
    }
}

/// Presents every sample code at the demo bus counter (a ¥100 top-up),
/// confirming OK verdicts, then presents the first code again.
fn tour() -> Result<ExitCode> {
    let world = demo_world()?;
    let at = now();
    let site: Vec<Measure> = world
        .catalogue
        .get("XYX-BUS-TOPUP")
        .into_iter()
        .cloned()
        .collect();
    let ctx = Context {
        measures: &site,
        skew_s: DEFAULT_SKEW_S,
        max_offline_age_s: DEFAULT_MAX_OFFLINE_AGE_S,
        data_as_of: Some(at),
    };
    let data = world.verifier_data();
    let mut history = MemoryHistory::new();
    println!(
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
        println!("▶ {label}");
        let verdict = decide(&ctx, &data, &history, text, "XYX-BUS-TOPUP", at)?;
        let amounts = match &verdict {
            Verdict::Ok(a) => Some(a.amounts(Fen(10_000), 0)?),
            Verdict::Refused(_) => None,
        };
        print_verdict(&verdict, amounts.as_ref());
        if let Verdict::Ok(a) = &verdict {
            history.record(Use {
                sub: a.claims.sub.clone(),
                measure: a.measure.id.clone(),
                at,
                cti: a.claims.cti.clone(),
            });
            println!("    confirmed");
        }
        println!();
    }
    println!(
        "Verify a code yourself:  xinyi verify 'XY1:…' --measure XYX-BUS-TOPUP --amount 10000"
    );
    Ok(ExitCode::SUCCESS)
}
