//! The benchmark harness: every figure is measured beside its yardstick in
//! the same run, on the same machine, and reported as [`Row`]s that
//! [`report`] turns into `BENCHMARKS.md` (a Markdown table and the same
//! rows as JSON).
//!
//! Speed is never asserted in tests; the harness's own test only checks
//! that each section runs at a small scale and reports sane rows.

#![allow(clippy::float_arithmetic)]

pub mod decode;
pub mod hub;
pub mod kiosk;
pub mod load;
pub mod report;
pub mod stats;
pub mod store;
pub mod sync;
pub mod verdict;

use serde::{Deserialize, Serialize};

/// How big a run is: `full` for the published numbers, `quick` for a smoke
/// run that checks the harness still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scale {
    Full,
    Quick,
}

impl Scale {
    /// `full` at full scale, `quick` otherwise.
    pub fn pick(self, full: usize, quick: usize) -> usize {
        match self {
            Scale::Full => full,
            Scale::Quick => quick,
        }
    }
}

/// One measured figure, beside its yardstick when it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The section: `decode`, `verdict`, `store`, `sync`, `hub`, `kiosk`, `load`.
    pub section: String,
    /// What was measured, e.g. "1M listings full apply".
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// Its unit, e.g. "ms", "listings/s", "MB".
    pub unit: String,
    /// The yardstick measured in the same run, when there is one.
    pub yardstick: Option<Yardstick>,
    /// The target, in words ("≥ 50% of raw", "< 1 s"), when there is one.
    pub target: Option<String>,
    /// Whether the target was met; `None` when there is no target.
    pub met: Option<bool>,
    /// Anything a reader needs to interpret the figure.
    pub note: String,
}

/// The figure a measurement is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Yardstick {
    /// What it is, e.g. "raw rusqlite sorted insert, WITHOUT ROWID".
    pub name: String,
    /// Its value, in the row's unit.
    pub value: f64,
}

impl Row {
    /// A row without yardstick or target.
    pub fn new(section: &str, name: &str, value: f64, unit: &str) -> Row {
        Row {
            section: section.into(),
            name: name.into(),
            value,
            unit: unit.into(),
            yardstick: None,
            target: None,
            met: None,
            note: String::new(),
        }
    }

    /// Adds the yardstick.
    pub fn against(mut self, name: &str, value: f64) -> Row {
        self.yardstick = Some(Yardstick {
            name: name.into(),
            value,
        });
        self
    }

    /// Adds a target and whether it was met.
    pub fn target(mut self, words: &str, met: bool) -> Row {
        self.target = Some(words.into());
        self.met = Some(met);
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }

    /// value / yardstick, when there is a yardstick with a non-zero value.
    pub fn ratio(&self) -> Option<f64> {
        self.yardstick
            .as_ref()
            .filter(|y| y.value != 0.0)
            .map(|y| self.value / y.value)
    }
}
