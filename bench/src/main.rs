//! `ringbench`: see the crate docs of `ringstore_bench` and `ringbench --help`.

use clap::Parser;

/// The load generator should cost as little as it can on the cores it shares with the
/// store it measures: mimalloc's thread-local free lists are cheaper than glibc malloc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = ringstore_bench::args::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    let code = match runtime.block_on(ringstore_bench::main_with(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ringbench: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
