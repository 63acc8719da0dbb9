//! The UI thread's timings, for the benchmarks (`--ui-timings`).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// Watches the UI thread for the benchmarks: a timer that should fire
/// every [`StallMonitor::EVERY`]; when the thread is busy (handling input,
/// applying a view, rendering) it fires late, and the lateness is the
/// stall. Writes `{"ready_unix_ms": …}` once the event loop runs, then
/// every second `{"t_ms": …, "max_stall_ms": …, "ticks": …}`.
pub struct StallMonitor {
    _timer: slint::Timer,
}

impl StallMonitor {
    const EVERY: Duration = Duration::from_millis(2);

    pub fn start(path: &std::path::Path) -> Result<StallMonitor> {
        use std::io::Write as _;
        let mut out = std::fs::File::create(path)
            .with_context(|| format!("creating the timings file {}", path.display()))?;
        let started = Instant::now();
        let mut last = Instant::now();
        let mut window = Instant::now();
        let mut worst = Duration::ZERO;
        let mut ticks = 0u64;
        let mut ready = false;
        let timer = slint::Timer::default();
        timer.start(slint::TimerMode::Repeated, Self::EVERY, move || {
            let now = Instant::now();
            if !ready {
                ready = true;
                let unix_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let _ = writeln!(out, "{{\"ready_unix_ms\": {unix_ms}}}");
                last = now;
                window = now;
                return;
            }
            worst = worst.max(
                now.saturating_duration_since(last)
                    .saturating_sub(Self::EVERY),
            );
            last = now;
            ticks += 1;
            if now.duration_since(window) >= Duration::from_secs(1) {
                let _ = writeln!(
                    out,
                    "{{\"t_ms\": {}, \"max_stall_us\": {}, \"ticks\": {ticks}}}",
                    now.duration_since(started).as_millis(),
                    worst.as_micros()
                );
                let _ = out.flush();
                window = now;
                worst = Duration::ZERO;
                ticks = 0;
            }
        });
        Ok(StallMonitor { _timer: timer })
    }
}
