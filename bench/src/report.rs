//! The report: built from the merged [`Stats`], printed as text like warp's, or written as
//! JSON (`--json`) for `ringbench compare` and for BENCHMARKS.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::constants::REPORT_VERSION;
use crate::stats::{OpStats, Stats};
use crate::workload::OpKind;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        (!h.is_empty()).then(|| Percentiles {
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

/// Spread of the per-second rates of the measured phase (whole seconds only).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct PerSecond {
    pub seconds: usize,
    pub ops_median: f64,
    pub ops_min: f64,
    pub ops_max: f64,
    pub mib_median: f64,
    pub mib_min: f64,
    pub mib_max: f64,
}

/// The errors of one kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorKind {
    pub count: u64,
    pub samples: Vec<String>,
}

/// One operation kind's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpReport {
    pub op: OpKind,
    /// Operations finished (successful plus failed).
    pub count: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Objects covered (for LIST: keys returned).
    pub objects: u64,
    pub ops_per_s: f64,
    pub objects_per_s: f64,
    pub mib_per_s: f64,
    pub latency_us: Option<Percentiles>,
    /// GET only: from the intended start to the response head.
    pub ttfb_us: Option<Percentiles>,
    pub per_second: Option<PerSecond>,
    pub errors_by_kind: BTreeMap<String, ErrorKind>,
}

/// How the run was set up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    pub workload: String,
    pub target: String,
    pub bucket: String,
    pub size: String,
    pub keys: u64,
    pub concurrency: usize,
    /// `closed` or `open@RATE/s`.
    pub mode: String,
    pub warmup_s: f64,
    pub verify: bool,
    /// Unix time (seconds) of the start of the measured phase.
    pub started_unix_s: u64,
    pub host: String,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub version: u32,
    pub run: RunInfo,
    /// Length of the measured phase.
    pub duration_s: f64,
    pub ops: Vec<OpReport>,
    /// Every GET checked by `--verify`, and how many of them failed.
    pub verified: u64,
    pub verify_failures: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn per_second(s: &OpStats, duration_s: f64) -> Option<PerSecond> {
    // The last second is partial: leave it out.
    let whole = (duration_s.floor() as usize).min(s.seconds.len());
    if whole == 0 {
        return None;
    }
    let seconds = &s.seconds[..whole];
    let ops: Vec<f64> = seconds.iter().map(|x| x.ops as f64).collect();
    let mib: Vec<f64> = seconds.iter().map(|x| x.bytes as f64 / MIB).collect();
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, start| v.iter().copied().fold(start, f);
    Some(PerSecond {
        seconds: whole,
        ops_median: median(ops.clone()),
        ops_min: fold(&ops, f64::min, f64::MAX),
        ops_max: fold(&ops, f64::max, 0.0),
        mib_median: median(mib.clone()),
        mib_min: fold(&mib, f64::min, f64::MAX),
        mib_max: fold(&mib, f64::max, 0.0),
    })
}

const MIB: f64 = (1 << 20) as f64;

impl OpReport {
    fn new(op: OpKind, s: &OpStats, duration_s: f64) -> OpReport {
        let rate = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        let errors = s.errors_total();
        OpReport {
            op,
            count: s.ok + errors,
            errors,
            bytes: s.bytes,
            objects: s.objects,
            ops_per_s: rate(s.ok),
            objects_per_s: rate(s.objects),
            mib_per_s: rate(s.bytes) / MIB,
            latency_us: Percentiles::of(&s.latency_us),
            ttfb_us: Percentiles::of(&s.ttfb_us),
            per_second: per_second(s, duration_s),
            errors_by_kind: s
                .errors
                .iter()
                .map(|(k, (count, samples))| {
                    let samples = samples.clone();
                    (
                        k.clone(),
                        ErrorKind {
                            count: *count,
                            samples,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl Report {
    pub fn new(run: RunInfo, stats: &Stats, duration_s: f64, verify: (u64, u64)) -> Report {
        Report {
            version: REPORT_VERSION,
            run,
            duration_s,
            ops: stats
                .ops
                .iter()
                .map(|(op, s)| OpReport::new(*op, s, duration_s))
                .collect(),
            verified: verify.0,
            verify_failures: verify.1,
        }
    }

    pub fn op(&self, op: OpKind) -> Option<&OpReport> {
        self.ops.iter().find(|r| r.op == op)
    }

    pub fn errors(&self) -> u64 {
        self.ops.iter().map(|o| o.errors).sum()
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let r = &self.run;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "ringbench {} on {} (bucket {}): size {}, {} keys, concurrency {}, {} loop, \
             {:.1} s measured after {:.1} s warm-up",
            r.workload,
            r.target,
            r.bucket,
            r.size,
            r.keys,
            r.concurrency,
            r.mode,
            self.duration_s,
            r.warmup_s
        );
        for o in &self.ops {
            out.push_str(&op_text(o));
        }
        if r.verify {
            let _ = writeln!(
                out,
                "verify: {} GETs checked, {} failed",
                self.verified, self.verify_failures
            );
        }
        out
    }
}

fn latency_line(name: &str, p: &Percentiles) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "  {name:<8} ms: mean {:.3}, p50 {:.3}, p90 {:.3}, p99 {:.3}, p99.9 {:.3}, max {:.3}\n",
        p.mean / 1000.0,
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.p999),
        ms(p.max)
    )
}

fn op_text(o: &OpReport) -> String {
    let mut out = format!(
        "{}: {} ops, {} errors, {:.1} ops/s",
        o.op.name().to_uppercase(),
        o.count,
        o.errors,
        o.ops_per_s
    );
    if o.op == OpKind::List {
        let _ = write!(out, ", {:.1} objects/s", o.objects_per_s);
    }
    if o.op.moves_data() {
        let _ = write!(out, ", {:.2} MiB/s", o.mib_per_s);
    }
    out.push('\n');
    if let Some(p) = &o.latency_us {
        out.push_str(&latency_line("latency", p));
    }
    if let Some(p) = &o.ttfb_us {
        out.push_str(&latency_line("ttfb", p));
    }
    if let Some(s) = &o.per_second {
        let _ = write!(
            out,
            "  per second ({} s): ops median {:.0} (min {:.0}, max {:.0})",
            s.seconds, s.ops_median, s.ops_min, s.ops_max
        );
        if o.op.moves_data() {
            let _ = write!(
                out,
                "; MiB/s median {:.2} (min {:.2}, max {:.2})",
                s.mib_median, s.mib_min, s.mib_max
            );
        }
        out.push('\n');
    }
    for (kind, e) in &o.errors_by_kind {
        let _ = writeln!(
            out,
            "  errors {kind}: {} (e.g. {})",
            e.count,
            e.samples.join("; ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Done;
    use std::time::Duration;

    #[test]
    fn report_round_trips_through_json() {
        let mut stats = Stats::default();
        for i in 0..100u64 {
            let done = Done {
                bytes: 4096,
                objects: 1,
                ttfb: None,
            };
            let latency = Duration::from_micros(100 + i);
            stats.record(OpKind::Put, latency, (i / 50) as f64 + 0.5, Ok(done));
        }
        let run = RunInfo {
            workload: "put".into(),
            target: "ringstore://127.0.0.1:1".into(),
            bucket: "b".into(),
            size: "4KiB".into(),
            keys: 100,
            concurrency: 1,
            mode: "closed".into(),
            warmup_s: 0.0,
            verify: false,
            started_unix_s: 0,
            host: "h".into(),
        };
        let report = Report::new(run, &stats, 2.0, (0, 0));
        let put = report.op(OpKind::Put).unwrap();
        assert_eq!((put.count, put.errors, put.ops_per_s), (100, 0, 50.0));
        assert_eq!(put.per_second.unwrap().ops_median, 50.0);
        assert_eq!(put.latency_us.unwrap().max, 199);
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), report);
        assert!(report.text().contains("PUT: 100 ops, 0 errors"));
    }
}
