//! The `ringstore` command: `serve` starts the daemon; the object commands (`mb`, `rb`,
//! `ls`, `cp`, `rm`, `stat`) and `admin` talk to it through the client library.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod cmd;
mod creds;
mod uri;

/// The daemon allocates and frees small buffers and index nodes at a high rate on every
/// executor; mimalloc's thread-local free lists cost a fraction of glibc malloc's arenas.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RINGSTORE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringstore: error: {e:#}");
            ExitCode::from(cmd::exit_code(&e))
        }
    }
}
