//! ringstore daemon: starts the engine and serves the binary protocol on every engine core.
//!
//! Data flow: `run` (or `start`, which tests call) prepares the data directory
//! (`data_dir`: format on first start, root key in `keys`), starts the engine with a hook
//! that binds a SO_REUSEPORT listener on every executor (`listener`). Each accepted
//! connection is served on its executor (`connection`): frames are decoded, the handshake
//! is enforced (the key's user, or the principal an administrator key acts for, is the
//! request's identity), and every request runs in its own task (`dispatch`), which has it
//! authorized (`authz`), calls the engine's `Handle` and maps its errors to statuses (`errors`) and its types to the
//! protocol's (`convert`). One writer task per connection sends every frame. Beside the
//! engine cores, one std thread serves Prometheus scrapes (`metrics_http`), and the HTTP
//! adapter (`http`) serves the OSS and S3 REST dialects on its own tokio runtime, reaching
//! the engine through the client library like any other program.
//!
//! Modules:
//! - `config`: `ServeConfig`, TOML-loadable, every default documented.
//! - `data_dir`: first-start format and later opens of `<data_dir>/devices`.
//! - `keys`: the root access key, key generation, the handshake proof.
//! - `users`: `Users`, the durable store of users and access keys (`users.json`).
//! - `authz`: the authorization policy, called for every request.
//! - `user_ops`: the user and key admin operations.
//! - `listener`: `start`, `Server`, accept loops, shutdown.
//! - `connection`: one connection: read loop, handshake, uploads' chunks, writer.
//! - `dispatch`: one function per operation; `versions`: the versioning and object ACL
//!   operations.
//! - `errors`: engine `Error` → protocol `Status`.
//! - `convert`: engine types ↔ protocol types.
//! - `metrics`: the AdminStatus document and the Prometheus text exposition.
//! - `metrics_http`: the `GET /metrics` endpoint (`metrics_listen`) on its own thread.
//! - `signals`: SIGINT / SIGTERM for `run`.
//! - `http`: the OSS / S3 adapter (`http_listen`); see its module docs.

pub mod authz;
pub mod config;
pub mod connection;
pub mod convert;
pub mod data_dir;
pub mod dispatch;
pub mod errors;
pub mod http;
pub mod keys;
pub mod listener;
pub mod metrics;
pub mod metrics_http;
pub mod scrub_ops;
pub mod signals;
pub mod user_ops;
pub mod users;
pub mod versions;

pub use config::ServeConfig;
pub use keys::AccessKey;
pub use listener::{start, Server};
pub use users::Users;

/// Runs the daemon until SIGINT or SIGTERM, then drains connections, checkpoints and
/// returns. Blocks the calling thread, which must be the process's main thread before it
/// starts any other thread (so the signal mask is inherited).
pub fn run(cfg: ServeConfig) -> anyhow::Result<()> {
    let termination = signals::Termination::block()?;
    let server = start(cfg)?;
    eprintln!("ringstore listening on {}", server.local_addr());
    if let Some(addr) = server.http_addr() {
        eprintln!("ringstore OSS/S3 endpoint at http://{addr}");
    }
    if let Some(addr) = server.metrics_addr() {
        eprintln!("ringstore metrics at http://{addr}/metrics");
    }
    let signal = termination.wait()?;
    tracing::info!(signal, "shutting down");
    server.shutdown();
    Ok(())
}
