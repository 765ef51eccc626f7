//! Command-line arguments (`ringbench --help`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::sign::Scheme;
use crate::size::SizeSpec;
use crate::workload::Mix;

#[derive(Parser, Debug)]
#[command(
    name = "ringbench",
    version,
    about = "Load harness for ringstore (binary protocol) and S3 / OSS HTTP object stores"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Upload objects (keys are reused after --keys uploads).
    Put(RunArgs),
    /// Download objects uploaded by a prepare phase.
    Get(RunArgs),
    /// A mix of get, stat, put and delete (--mix) on prepared objects.
    Mixed(RunArgs),
    /// List prepared objects page by page (objects/s counts keys listed).
    List(RunArgs),
    /// Delete prepared objects, each once.
    Delete(RunArgs),
    /// HEAD prepared objects.
    Stat(RunArgs),
    /// Multipart uploads of --size objects in --part-size parts.
    Multipart(RunArgs),
    /// Appends of --size bytes to appendable objects (OSS dialect).
    Append(RunArgs),
    /// Compare two JSON reports: ringbench compare A.json B.json
    Compare { a: PathBuf, b: PathBuf },
    /// Measure a CPU ceiling on one core: ringbench speed md5
    Speed {
        #[arg(value_enum)]
        what: Speed,
        /// How long to measure.
        #[arg(long, value_parser = parse_duration, default_value = "3s")]
        duration: Duration,
    },
}

/// A CPU ceiling `ringbench speed` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Speed {
    /// MD5 (the md-5 crate, as the engine computes ETags), MiB/s on one core.
    Md5,
}

/// Parses `10s`, `500ms`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (examples: 10s, 500ms, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// ringstore://HOST:PORT (binary protocol) or http://HOST:PORT (S3 / OSS).
    #[arg(
        long,
        env = "RINGBENCH_TARGET",
        default_value = "ringstore://127.0.0.1:9400"
    )]
    pub target: String,
    /// Signature for an http:// target.
    #[arg(long, value_enum, default_value = "s3v4")]
    pub sign: Scheme,
    /// Region for s3v4 / oss4 signatures (default us-east-1, or cn-hangzhou for oss4).
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long, env = "RINGSTORE_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    #[arg(long, env = "RINGSTORE_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    /// Data directory whose root.key is used when no key is given.
    #[arg(long, env = "RINGSTORE_DATA_DIR", default_value = "./ringstore-data")]
    pub data_dir: PathBuf,
    /// Bucket (created when missing).
    #[arg(long, default_value = "ringbench")]
    pub bucket: String,
    /// Key prefix of every object of the run.
    #[arg(long, default_value = "ringbench/")]
    pub prefix: String,
    /// Object size: 4KiB, a log-uniform range 1KiB..1MiB, or weights 4KiB:90,1MiB:10.
    #[arg(long, default_value = "4KiB")]
    pub size: SizeSpec,
    /// Distinct keys (prepared objects for get, stat, list, delete and mixed).
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Concurrent operations (workers).
    #[arg(long, short = 'c', default_value_t = 16)]
    pub concurrency: usize,
    /// Binary-protocol connections (default: the concurrency, at most 32), shared out
    /// over the threads.
    #[arg(long)]
    pub connections: Option<usize>,
    /// Threads that run the measured workers, each a single-threaded runtime with its own
    /// connections, so a request and its response never wake a task on another thread
    /// (default: the CPUs available, at most the concurrency).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Measured time (default 10s, or until --ops operations).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Measured operations (delete defaults to --keys).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Time before measuring starts (operations run but are not recorded).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Open loop: start operations at this many per second, measuring each latency from
    /// its scheduled start (no coordinated omission). Default: closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Operation weights of `mixed`.
    #[arg(long, default_value_t = Mix::default().describe())]
    pub mix: String,
    /// Keys per LIST request.
    #[arg(long, default_value_t = crate::constants::LIST_PAGE_KEYS_DEFAULT)]
    pub list_page: u32,
    /// Part size of `multipart`.
    #[arg(long, default_value = "5MiB")]
    pub part_size: SizeSpec,
    /// Check every GET's bytes against the content that was put.
    #[arg(long)]
    pub verify: bool,
    /// Seed of the object content.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the JSON report to this file (`-` for stdout; the text goes to stderr).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Keep the objects written by the run.
    #[arg(long)]
    pub no_cleanup: bool,
    /// Skip the prepare phase: the keys are taken to exist already, with this run's
    /// --size and --seed (as a `put --no-cleanup` over every key leaves them).
    #[arg(long)]
    pub no_prepare: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
