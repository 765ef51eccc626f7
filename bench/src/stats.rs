//! What a worker records: per operation kind, latency and time-to-first-byte histograms
//! (hdrhistogram, microseconds), byte and object counts, errors by kind, and per-second
//! counts. Each worker owns its [`Stats`]; they are merged once at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::constants::{ERROR_SAMPLES_MAX, LATENCY_US_MAX};
use crate::workload::OpKind;

/// Why an operation failed, grouped for the report by `kind`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct OpError {
    /// A short stable name: a protocol status (`NoSuchKey`), `http 503 SlowDown`,
    /// `io`, `timeout`, `verify`, `unsupported`.
    pub kind: String,
    pub message: String,
}

impl OpError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> OpError {
        OpError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// The operation is not one the target can perform.
    pub fn unsupported(message: impl Into<String>) -> OpError {
        OpError::new("unsupported", message)
    }
}

/// A successful operation's outcome.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    /// Object bytes moved (body bytes sent or received).
    pub bytes: u64,
    /// Objects the operation covered: 1, or the keys of a LIST page.
    pub objects: u64,
    /// Time from the intended start to the response head (GET only).
    pub ttfb: Option<Duration>,
}

impl Done {
    /// One object and no body: a HEAD or a DELETE.
    pub const ONE_OBJECT: Done = Done {
        bytes: 0,
        objects: 1,
        ttfb: None,
    };
}

/// Counts of one second of the measured phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Second {
    pub ops: u64,
    pub bytes: u64,
    pub objects: u64,
}

/// One operation kind's record.
#[derive(Debug, Clone)]
pub struct OpStats {
    pub latency_us: Histogram<u64>,
    pub ttfb_us: Histogram<u64>,
    pub ok: u64,
    pub bytes: u64,
    pub objects: u64,
    /// Error kind → (count, a few distinct messages).
    pub errors: BTreeMap<String, (u64, Vec<String>)>,
    pub seconds: Vec<Second>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, LATENCY_US_MAX)
}

impl Default for OpStats {
    fn default() -> OpStats {
        OpStats {
            latency_us: histogram(),
            ttfb_us: histogram(),
            ok: 0,
            bytes: 0,
            objects: 0,
            errors: BTreeMap::new(),
            seconds: Vec::new(),
        }
    }
}

impl OpStats {
    fn second(&mut self, index: usize) -> &mut Second {
        if self.seconds.len() <= index {
            self.seconds.resize(index + 1, Second::default());
        }
        &mut self.seconds[index]
    }

    /// Adds `bytes` to the seconds from `start_s` to `end_s`, in proportion to the overlap.
    fn spread_bytes(&mut self, start_s: f64, end_s: f64, bytes: u64) {
        let (first, last) = (start_s as usize, end_s as usize);
        let length = end_s - start_s;
        let mut left = bytes;
        for i in first..last {
            let overlap = ((i + 1) as f64).min(end_s) - (i as f64).max(start_s);
            let share = ((bytes as f64 * overlap / length) as u64).min(left);
            self.second(i).bytes += share;
            left -= share;
        }
        self.second(last).bytes += left;
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.values().map(|(n, _)| n).sum()
    }

    fn merge(&mut self, other: &OpStats) {
        self.latency_us.add(&other.latency_us).expect("same bounds");
        self.ttfb_us.add(&other.ttfb_us).expect("same bounds");
        self.ok += other.ok;
        self.bytes += other.bytes;
        self.objects += other.objects;
        for (kind, (n, samples)) in &other.errors {
            let entry = self.errors.entry(kind.clone()).or_default();
            entry.0 += n;
            for s in samples {
                if entry.1.len() < ERROR_SAMPLES_MAX && !entry.1.contains(s) {
                    entry.1.push(s.clone());
                }
            }
        }
        for (i, s) in other.seconds.iter().enumerate() {
            let mine = self.second(i);
            mine.ops += s.ops;
            mine.bytes += s.bytes;
            mine.objects += s.objects;
        }
    }
}

/// Everything one worker (or, merged, the whole run) recorded.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub ops: BTreeMap<OpKind, OpStats>,
}

impl Stats {
    /// Records a finished operation that ended `end_s` seconds into the measured phase.
    /// The operation counts in the second it ended in; its bytes are spread over the
    /// seconds it lasted, so a 64 MiB transfer over three seconds adds to all three
    /// per-second rates instead of one.
    pub fn record(
        &mut self,
        op: OpKind,
        latency: Duration,
        end_s: f64,
        outcome: Result<Done, OpError>,
    ) {
        let s = self.ops.entry(op).or_default();
        match outcome {
            Ok(done) => {
                s.latency_us.saturating_record(micros(latency));
                if let Some(ttfb) = done.ttfb {
                    s.ttfb_us.saturating_record(micros(ttfb));
                }
                s.ok += 1;
                s.bytes += done.bytes;
                s.objects += done.objects;
                let end_s = end_s.max(0.0);
                let sec = s.second(end_s as usize);
                sec.ops += 1;
                sec.objects += done.objects;
                let start_s = (end_s - latency.as_secs_f64()).max(0.0);
                s.spread_bytes(start_s, end_s, done.bytes);
            }
            Err(e) => {
                let entry = s.errors.entry(e.kind).or_default();
                entry.0 += 1;
                if entry.1.len() < ERROR_SAMPLES_MAX && !entry.1.contains(&e.message) {
                    entry.1.push(e.message);
                }
            }
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        for (op, s) in &other.ops {
            self.ops.entry(*op).or_default().merge(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_merges() {
        let mut a = Stats::default();
        let ok = Done {
            bytes: 10,
            objects: 1,
            ttfb: Some(Duration::from_micros(5)),
        };
        a.record(OpKind::Get, Duration::from_micros(100), 0.5, Ok(ok));
        a.record(OpKind::Get, Duration::from_micros(300), 2.5, Ok(ok));
        let mut b = Stats::default();
        b.record(OpKind::Get, Duration::from_micros(200), 1.5, Ok(ok));
        let e = OpError::new("NoSuchKey", "k");
        b.record(OpKind::Get, Duration::from_micros(1), 1.5, Err(e));
        a.merge(&b);
        let g = &a.ops[&OpKind::Get];
        assert_eq!((g.ok, g.bytes, g.objects, g.errors_total()), (3, 30, 3, 1));
        assert_eq!(
            g.latency_us.len(),
            3,
            "errors are not in the latency histogram"
        );
        assert_eq!(g.latency_us.value_at_quantile(0.5), 200);
        assert_eq!(g.ttfb_us.len(), 3);
        let per_second: Vec<u64> = g.seconds.iter().map(|s| s.ops).collect();
        assert_eq!(per_second, [1, 1, 1]);
    }

    #[test]
    fn bytes_of_a_long_operation_are_spread_over_its_seconds() {
        let mut stats = Stats::default();
        let done = Done {
            bytes: 4000,
            objects: 1,
            ttfb: None,
        };
        // From 0.5 s to 4.5 s: an eighth, a quarter, a quarter, a quarter, an eighth.
        stats.record(OpKind::Put, Duration::from_secs(4), 4.5, Ok(done));
        let put = &stats.ops[&OpKind::Put];
        let bytes: Vec<u64> = put.seconds.iter().map(|s| s.bytes).collect();
        assert_eq!(bytes, [500, 1000, 1000, 1000, 500]);
        let ops: Vec<u64> = put.seconds.iter().map(|s| s.ops).collect();
        assert_eq!(ops, [0, 0, 0, 0, 1]);
    }
}
