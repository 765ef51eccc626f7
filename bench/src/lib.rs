//! ringbench: a load harness for object stores, speaking ringstore's binary protocol and
//! HTTP (S3 SigV4, OSS V1 / V4), with reports like warp's.
//!
//! # Data flow
//!
//! `args` (the command line) → `driver::run`: `setup` opens the [`target`] and checks that
//! it supports the workload's operations; a prepare phase uploads the objects a read
//! workload needs; the workers (closed or open loop) pick operations from the `workload`
//! mix and keys from `keys`, send them through their `target::Session` with bodies from
//! `content`, and record into `stats`; the merged stats become a `report` (text or JSON),
//! which `compare` reads back.
//!
//! # Modules
//!
//! - `args`: the command line; `constants`: every limit.
//! - `driver`: the phases and the worker loop; `progress`: the progress bar.
//! - `workload`: operation kinds and mixes; `size`: object size distributions.
//! - `keys`: the key space and per-key state; `content`: deterministic object bytes.
//! - `target`: ringstore binary protocol and HTTP targets; `sign`: S3 / OSS signatures.
//! - `stats`, `report`, `compare`: recording, reporting, comparing.
//! - `speed`: CPU ceilings (`ringbench speed md5`).

#![forbid(unsafe_code)]

pub mod args;
pub mod compare;
pub mod constants;
pub mod content;
pub mod driver;
pub mod keys;
pub mod progress;
pub mod report;
pub mod setup;
pub mod sign;
pub mod size;
pub mod speed;
pub mod stats;
pub mod target;
pub mod workload;

use anyhow::Result;

use args::{Cli, Command};
use driver::Workload;

/// Runs one command line; returns the process exit code.
pub async fn main_with(cli: Cli) -> Result<i32> {
    let (workload, args) = match cli.command {
        Command::Compare { a, b } => {
            let (a, b) = (compare::load(&a)?, compare::load(&b)?);
            print!("{}", compare::compare(&a, &b));
            return Ok(0);
        }
        Command::Speed { what, duration } => {
            let args::Speed::Md5 = what;
            println!("md5 {:.1} MiB/s", speed::md5_mib_per_s(duration));
            return Ok(0);
        }
        Command::Put(a) => (Workload::Put, a),
        Command::Get(a) => (Workload::Get, a),
        Command::Mixed(a) => (Workload::Mixed, a),
        Command::List(a) => (Workload::List, a),
        Command::Delete(a) => (Workload::Delete, a),
        Command::Stat(a) => (Workload::Stat, a),
        Command::Multipart(a) => (Workload::Multipart, a),
        Command::Append(a) => (Workload::Append, a),
    };
    let report = driver::run(workload, &args).await?;
    let text = report.text();
    let json = serde_json::to_string_pretty(&report)?;
    match args.json.as_deref() {
        Some(p) if p.as_os_str() == "-" => {
            eprint!("{text}");
            println!("{json}");
        }
        Some(p) => {
            std::fs::write(p, json + "\n")?;
            print!("{text}");
        }
        None => print!("{text}"),
    }
    Ok(if report.verify_failures > 0 { 1 } else { 0 })
}
