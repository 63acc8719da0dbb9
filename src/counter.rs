//! The application port: everything a counter does, as one trait. The
//! kiosk and the command line drive a counter only through [`Counter`];
//! [`crate::terminal::Terminal`] implements it over the SQLite store, the
//! terminal key and the hub, and the kiosk's unit tests implement it in
//! memory. The rules a counter follows (who may confirm or void, how fresh
//! the data is) are decided once, here and in the terminal, never in a UI.

use std::sync::Arc;

use xinyi_core::wire::config::{Channel, DEFAULT_ONLINE_DEADLINE_MS, DEFAULT_VOID_WINDOW_S, Site};
use xinyi_core::wire::journal::{Body, RecordId};
use xinyi_core::{Amounts, Approval, Context, Fen, Form, Measure, MeasureId, Refusal, UnixTime};

use crate::settings::Settings;
use crate::store::{MeasureTotals, ShiftTotals};
use crate::terminal::{SignIn, Staff, Supervisor, TerminalError};

/// Fewer seconds than this left before the data goes stale: the counter
/// warns (amber) before it refuses.
pub const FRESH_WARN_S: i64 = 12 * 3600;

/// The site as the data in use describes it. One value per data version
/// and signed hub time: it is made when the counter opens and again only
/// when new data was applied ([`Counter::refresh`]), never per scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSnapshot {
    /// The registry's id for this terminal and its site (from enrollment).
    pub terminal_id: String,
    pub site_id: String,
    /// The site as the registry configured it; `None` before the first sync.
    pub site: Option<Site>,
    /// The measures the site applies, in the site's order.
    pub measures: Vec<Measure>,
    pub max_offline_age_s: i64,
    /// How current the data is known to be (the hub's signed time of the
    /// latest metadata naming the held version); `None` before a sync.
    pub data_as_of: Option<UnixTime>,
    pub published_at: Option<UnixTime>,
    pub version: Option<u64>,
    /// The hub this terminal syncs with; `None`: by file only.
    pub hub_url: Option<String>,
}

impl SiteSnapshot {
    /// A measure of this site by its id.
    pub fn measure(&self, id: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.id.as_str() == id)
    }

    /// The verdict's context: this site's measures and offline age, the
    /// allowed clock skew and the latest time already trusted.
    pub fn context(&self, skew_s: i64, clock_floor: Option<UnixTime>) -> Context<'_> {
        Context {
            measures: &self.measures,
            skew_s,
            max_offline_age_s: self.max_offline_age_s,
            data_as_of: self.data_as_of,
            clock_floor,
        }
    }

    /// How long a supervisor may void a redemption, as the registry set it.
    pub fn void_window_s(&self) -> i64 {
        self.site
            .as_ref()
            .map_or(DEFAULT_VOID_WINDOW_S, |s| s.void_window_s)
    }

    /// How long a scan waits for the registry's online check.
    pub fn online_deadline(&self) -> std::time::Duration {
        let ms = self
            .site
            .as_ref()
            .map_or(DEFAULT_ONLINE_DEADLINE_MS, |s| s.online_deadline_ms);
        std::time::Duration::from_millis(u64::from(ms))
    }

    /// Whether confirming `approval` needs the clerk's tick that the
    /// holder matches the masked name: a printed card, at a site that
    /// checks holders (the default).
    pub fn holder_check_needed(&self, approval: &Approval) -> bool {
        approval.claims.form == Form::PrintedCard
            && self.site.as_ref().is_none_or(|s| s.check_holder)
    }

    /// The address a code for `channel` carries for the record
    /// `reference`, from the site's synced config; `None` before the
    /// first sync or when the site has no such channel.
    pub fn channel_link(&self, channel: Channel, reference: &str) -> Option<String> {
        self.site.as_ref()?.channel_link(channel, reference)
    }

    /// Whether the registry made this site a self-service point.
    pub fn unattended(&self) -> bool {
        self.site.as_ref().is_some_and(|s| s.unattended)
    }

    /// The site's name and unit, or its id before the first sync.
    pub fn names(&self) -> (String, String) {
        self.site.as_ref().map_or_else(
            || (self.site_id.clone(), String::new()),
            |s| (s.name.clone(), s.unit.clone()),
        )
    }

    /// How fresh the data is at `at`: the one place the offline age is
    /// counted, for the status bar, the amber page and `xinyi status`.
    pub fn freshness(&self, at: UnixTime) -> Freshness {
        let Some(as_of) = self.data_as_of else {
            return Freshness::NoData;
        };
        let left = self
            .max_offline_age_s
            .saturating_sub(at.0.saturating_sub(as_of.0));
        if left <= 0 {
            Freshness::Stale {
                for_s: left.saturating_neg(),
            }
        } else if left < FRESH_WARN_S {
            Freshness::Expiring { left_s: left }
        } else {
            Freshness::Fresh { left_s: left }
        }
    }
}

/// Whether verdicts can be given offline, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Nothing synced yet: every verdict is STALE_DATA.
    NoData,
    /// Verdicts stay valid for this long.
    Fresh { left_s: i64 },
    /// Less than [`FRESH_WARN_S`] left.
    Expiring { left_s: i64 },
    /// Past the site's max offline age by this long.
    Stale { for_s: i64 },
}

impl Freshness {
    /// Seconds left (negative once stale); `None` with no data.
    pub fn left_s(self) -> Option<i64> {
        match self {
            Freshness::NoData => None,
            Freshness::Fresh { left_s } | Freshness::Expiring { left_s } => Some(left_s),
            Freshness::Stale { for_s } => Some(-for_s),
        }
    }
}

/// The state of the journal and the data, at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterStatus {
    pub freshness: Freshness,
    /// Age of the held version (now − published).
    pub age_s: Option<i64>,
    /// Time since the hub last confirmed the held version.
    pub since_hub_s: Option<i64>,
    /// The hub's signed metadata has expired: it must be reached.
    pub metadata_expired: bool,
    /// Records the hub has not yet confirmed.
    pub unsent: u64,
    pub oldest_unsent_at: Option<UnixTime>,
}

/// A record the counter wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub id: RecordId,
    pub seq: u64,
}

/// The result of a scan.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Scan {
    /// Eligible: waits for the clerk to confirm with the amount.
    Ok(Approval),
    /// Refused: already recorded (the record is the citizen's reference).
    Refused { refusal: Refusal, record: Recorded },
}

/// A confirmed redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub record: Recorded,
    pub amounts: Amounts,
}

/// A journal record as the staff list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    pub id: RecordId,
    pub seq: u64,
    pub at: UnixTime,
    pub body: Body,
    /// The hub confirmed it holds the record.
    pub uploaded: bool,
    /// For a redemption: a later void record voided it.
    pub voided: bool,
}

/// What a counter did between two times.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shift {
    pub by_measure: Vec<MeasureTotals>,
    pub totals: ShiftTotals,
}

/// Everything a counter does. Staff and supervisors come only from
/// [`Counter::authenticate`] and [`Counter::unattended`].
pub trait Counter {
    /// The site snapshot in use (cheap: shared until [`Counter::refresh`]
    /// finds new data).
    fn snapshot(&self) -> Arc<SiteSnapshot>;

    /// Re-reads the site when data was applied since (by a sync worker on
    /// its own connection); whether it changed.
    fn refresh(&mut self) -> Result<bool, TerminalError>;

    /// Decides on a scanned text for one of the site's measures. A refusal
    /// is recorded before this returns.
    fn scan(
        &mut self,
        text: &str,
        measure: &MeasureId,
        operator: &str,
        at: UnixTime,
    ) -> Result<Scan, TerminalError>;

    /// Checks an operator's PIN (wrong PINs count towards a lockout).
    fn authenticate(&mut self, id: &str, pin: &str, at: UnixTime) -> Result<SignIn, TerminalError>;

    /// Nobody signed in, where the registry made the site self-service.
    fn unattended(&mut self) -> Result<Staff, TerminalError>;

    /// Records a redemption confirmed by `by`. `holder_checked`: the clerk
    /// ticked that a printed card's holder matches the masked name, which
    /// [`SiteSnapshot::holder_check_needed`] says when it must.
    fn confirm(
        &mut self,
        approval: &Approval,
        amount: Option<Fen>,
        companions: u32,
        holder_checked: bool,
        by: &Staff,
        at: UnixTime,
    ) -> Result<Confirmed, TerminalError>;

    /// Voids a redemption within the site's void window.
    fn void(
        &mut self,
        record: &RecordId,
        by: &Supervisor,
        reason: &str,
        at: UnixTime,
    ) -> Result<Recorded, TerminalError>;

    /// The latest records, newest first.
    fn records(&self, limit: usize) -> Result<Vec<RecordSummary>, TerminalError>;

    /// Totals of every operator between two times.
    fn shift(&self, from: UnixTime, until: UnixTime) -> Result<Shift, TerminalError>;

    /// The journal's and the data's state at `at`.
    fn status(&self, at: UnixTime) -> Result<CounterStatus, TerminalError>;

    fn settings(&self) -> Settings;

    fn save_settings(&mut self, settings: &Settings) -> Result<(), TerminalError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(as_of: Option<i64>, max: i64) -> SiteSnapshot {
        SiteSnapshot {
            terminal_id: "t".into(),
            site_id: "s".into(),
            site: None,
            measures: Vec::new(),
            max_offline_age_s: max,
            data_as_of: as_of.map(UnixTime),
            published_at: None,
            version: None,
            hub_url: None,
        }
    }

    #[test]
    fn freshness_is_counted_from_the_hubs_signed_time() {
        let day = 86_400;
        let s = snapshot(Some(1_000_000), 3 * day);
        assert_eq!(
            s.freshness(UnixTime(1_000_000 + day)),
            Freshness::Fresh { left_s: 2 * day }
        );
        assert_eq!(
            s.freshness(UnixTime(1_000_000 + 3 * day - 60)),
            Freshness::Expiring { left_s: 60 }
        );
        assert_eq!(
            s.freshness(UnixTime(1_000_000 + 3 * day)),
            Freshness::Stale { for_s: 0 }
        );
        assert_eq!(
            s.freshness(UnixTime(1_000_000 + 4 * day)).left_s(),
            Some(-day)
        );
        assert_eq!(
            snapshot(None, day).freshness(UnixTime(0)),
            Freshness::NoData
        );
    }
}
