//! `ringbench compare A.json B.json`: the figures of two runs side by side, with B's change
//! relative to A.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::constants::REPORT_VERSION;
use crate::report::{OpReport, Report};

/// Reads a report written by `--json`.
pub fn load(path: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let report: Report = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a ringbench JSON report", path.display()))?;
    if report.version != REPORT_VERSION {
        bail!(
            "{} is report version {}; this ringbench reads version {REPORT_VERSION}",
            path.display(),
            report.version
        );
    }
    Ok(report)
}

fn change(a: f64, b: f64) -> String {
    if a == 0.0 {
        return "-".into();
    }
    format!("{:+.1}%", (b - a) / a * 100.0)
}

fn row(out: &mut String, name: &str, a: f64, b: f64, unit: &str) {
    let _ = writeln!(
        out,
        "  {name:<16} {a:>14.3} {b:>14.3} {unit:<6} {:>9}",
        change(a, b)
    );
}

fn compare_op(out: &mut String, a: &OpReport, b: &OpReport) {
    let _ = writeln!(out, "{}:", a.op.name().to_uppercase());
    row(out, "ops/s", a.ops_per_s, b.ops_per_s, "");
    if a.op.moves_data() {
        row(out, "MiB/s", a.mib_per_s, b.mib_per_s, "");
    }
    row(out, "errors", a.errors as f64, b.errors as f64, "");
    if let (Some(la), Some(lb)) = (&a.latency_us, &b.latency_us) {
        let ms = |us: u64| us as f64 / 1000.0;
        row(out, "latency p50", ms(la.p50), ms(lb.p50), "ms");
        row(out, "latency p90", ms(la.p90), ms(lb.p90), "ms");
        row(out, "latency p99", ms(la.p99), ms(lb.p99), "ms");
        row(out, "latency p99.9", ms(la.p999), ms(lb.p999), "ms");
        row(out, "latency max", ms(la.max), ms(lb.max), "ms");
    }
    if let (Some(ta), Some(tb)) = (&a.ttfb_us, &b.ttfb_us) {
        row(
            out,
            "ttfb p50",
            ta.p50 as f64 / 1000.0,
            tb.p50 as f64 / 1000.0,
            "ms",
        );
        row(
            out,
            "ttfb p99",
            ta.p99 as f64 / 1000.0,
            tb.p99 as f64 / 1000.0,
            "ms",
        );
    }
}

/// The comparison table; operations present in only one run are listed as such.
pub fn compare(a: &Report, b: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A: {} {} on {}",
        a.run.workload, a.run.size, a.run.target
    );
    let _ = writeln!(
        out,
        "B: {} {} on {}",
        b.run.workload, b.run.size, b.run.target
    );
    let _ = writeln!(
        out,
        "  {:<16} {:>14} {:>14} {:<6} {:>9}",
        "", "A", "B", "", "B vs A"
    );
    for oa in &a.ops {
        match b.op(oa.op) {
            Some(ob) => compare_op(&mut out, oa, ob),
            None => {
                let _ = writeln!(out, "{}: only in A", oa.op.name().to_uppercase());
            }
        }
    }
    for ob in b.ops.iter().filter(|ob| a.op(ob.op).is_none()) {
        let _ = writeln!(out, "{}: only in B", ob.op.name().to_uppercase());
    }
    out
}
