//! The progress bar (indicatif, drawn only on a terminal) and the counters it shows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::constants::PROGRESS_INTERVAL_MS;

/// Counters the workers bump and the bar reads.
#[derive(Default)]
pub struct Counters {
    pub ops: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    pub fn add(&self, bytes: u64, error: bool) {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the bar's length counts.
pub enum Goal {
    Ops(u64),
    Time(Duration),
}

/// A running progress bar; dropping it clears the line.
pub struct Progress {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts the bar for `phase`, or a hidden one when `hidden`.
    pub fn start(phase: &str, goal: Goal, counters: Arc<Counters>, hidden: bool) -> Progress {
        let target = match hidden {
            true => ProgressDrawTarget::hidden(),
            false => ProgressDrawTarget::stderr(),
        };
        let (len, template) = match goal {
            Goal::Ops(n) => (n, "{prefix} [{bar:30}] {pos}/{len} ops {msg}"),
            Goal::Time(d) => (d.as_millis() as u64, "{prefix} [{bar:30}] {elapsed} {msg}"),
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar.set_prefix(phase.to_owned());
        let by_time = matches!(goal, Goal::Time(_));
        let b = bar.clone();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(PROGRESS_INTERVAL_MS));
            loop {
                tick.tick().await;
                let ops = counters.ops.load(Ordering::Relaxed);
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                let mib = counters.bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64;
                let errors = counters.errors.load(Ordering::Relaxed);
                b.set_position(match by_time {
                    true => start.elapsed().as_millis() as u64,
                    false => ops,
                });
                b.set_message(format!(
                    "{:.0} ops/s {:.1} MiB/s {errors} errors",
                    ops as f64 / secs,
                    mib / secs
                ));
            }
        });
        Progress {
            bar,
            task: Some(task),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}
