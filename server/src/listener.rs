//! Starting and stopping the server: the engine, a listener on every executor, the accept
//! loops and the bounded drain at shutdown.
//!
//! Every executor binds its own glommio `TcpListener` on the same address (glommio sets
//! SO_REUSEPORT), so the kernel spreads connections over the cores and a connection is
//! served, start to end, by the executor that accepted it. With port 0, executor 0 binds
//! first and publishes the port the kernel chose; the others bind that port.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::channel::oneshot;
use futures::future::{FutureExt as _, Shared};
use futures_lite::FutureExt;
use glommio::net::TcpListener;
use ringstore_engine::runtime::ExecutorHook;
use ringstore_engine::{Engine, EngineConfig, Handle};

use crate::config::ServeConfig;
use crate::connection;
use crate::data_dir::prepare;
use crate::http::{HttpConfig, HttpServer};
use crate::metrics_http::{self, MetricsServer};
use crate::users::Users;

/// How long shutdown waits for connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `start` waits for every executor to bind its listener.
const BIND_TIMEOUT: Duration = Duration::from_secs(30);
/// io_uring and glommio's buffers need locked memory; below this they fail obscurely.
const MEMLOCK_BYTES_MIN: u64 = 512 * 1024;

/// Resolves when the server stops accepting.
pub type StopSignal = Shared<oneshot::Receiver<()>>;

/// The server's limits, as every connection sees them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub requests_in_flight_max: u32,
    pub idle_timeout_secs: u64,
    /// This executor's share of `connections_max`.
    pub connections_max: usize,
}

/// Counters every executor updates.
#[derive(Debug, Default)]
pub struct ServerState {
    connections: AtomicUsize,
}

impl ServerState {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

/// What one executor's connections share.
pub struct ExecutorCtx {
    pub handle: Handle,
    pub users: Arc<Users>,
    pub limits: Limits,
    pub executor: usize,
    pub executors: usize,
    pub stop: StopSignal,
    pub state: Arc<ServerState>,
    pub started: Instant,
    /// `<data_dir>/devices/dev{i}`: where a start looks for device `i`.
    pub device_paths: Arc<Vec<std::path::PathBuf>>,
    /// Connections open on this executor.
    open: Cell<usize>,
}

type BindResult = Result<SocketAddr, String>;

/// What the hook on every executor shares.
struct HookShared {
    cfg: ServeConfig,
    users: Arc<Users>,
    state: Arc<ServerState>,
    stop: StopSignal,
    started: Instant,
    /// Executor 0 sends the bound address (or its bind error) to the others.
    addr_tx: Mutex<Option<oneshot::Sender<BindResult>>>,
    addr_rx: Shared<oneshot::Receiver<BindResult>>,
    /// Every executor reports its bind to `start`.
    bound: Mutex<std::sync::mpsc::Sender<BindResult>>,
    /// Executors the engine runs, counted on the starting thread: an executor thread is
    /// pinned to one CPU, so counting cores there would say 1.
    executors: std::sync::OnceLock<usize>,
}

/// A running server. Dropping it shuts it down as `shutdown` does.
pub struct Server {
    engine: Option<Engine>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    state: Arc<ServerState>,
    /// The Prometheus endpoint, unless `metrics_listen` disabled it.
    metrics: Option<MetricsServer>,
    /// The HTTP adapter, unless `http_listen` disabled it.
    http: Option<HttpServer>,
}

impl Server {
    /// The address the binary protocol listens on (with the real port when the
    /// configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the Prometheus endpoint (with the real port when the configuration
    /// asked for port 0), or `None` when `metrics_listen` disabled it.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsServer::local_addr)
    }

    /// The address of the HTTP adapter (with the real port when the configuration asked
    /// for port 0), or `None` when `http_listen` disabled it.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// The engine's handle, for in-process tools and tests.
    pub fn handle(&self) -> Handle {
        self.engine.as_ref().expect("running").handle()
    }

    /// Stops the metrics endpoint and stops accepting, lets requests in flight finish (at
    /// most `DRAIN_TIMEOUT`), then checkpoints and stops the engine.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        // The adapter is a client of the binary protocol: it goes first.
        if let Some(http) = self.http.take() {
            http.shutdown();
        }
        // First, while the engine still answers the scrape being served, if any.
        if let Some(metrics) = self.metrics.take() {
            metrics.shutdown();
        }
        let Some(engine) = self.engine.take() else {
            return;
        };
        drop(self.stop.take());
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while self.state.connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = self.state.connections();
        if left > 0 {
            tracing::warn!(
                connections = left,
                "shutting down with connections still open"
            );
        }
        engine.shutdown();
        tracing::info!("server stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Formats or opens the data directory, starts the engine and a listener on every
/// executor, and returns once every listener is bound.
pub fn start(mut cfg: ServeConfig) -> anyhow::Result<Server> {
    cfg.check()?;
    check_memlock()?;
    check_port_free(cfg.listen)?;
    cfg.listen = concrete_port(cfg.listen)?;
    // Bound before the engine starts, so a busy port fails the start before any work.
    let metrics_listener = cfg.metrics_listen.map(metrics_http::bind).transpose()?;
    let http_listener = cfg.http_listen.map(crate::http::bind).transpose()?;
    let prepared = prepare(&cfg)?;
    tracing::info!(
        access_key_id = %prepared.root_access_key_id,
        source = ?prepared.root_key_source,
        "root access key"
    );
    let (stop_tx, stop_rx) = oneshot::channel();
    let (addr_tx, addr_rx) = oneshot::channel();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let state = Arc::new(ServerState::default());
    let shared = Arc::new(HookShared {
        cfg: cfg.clone(),
        users: Arc::new(prepared.users),
        state: state.clone(),
        stop: stop_rx.shared(),
        started: Instant::now(),
        addr_tx: Mutex::new(Some(addr_tx)),
        addr_rx: addr_rx.shared(),
        bound: Mutex::new(bound_tx),
        executors: std::sync::OnceLock::new(),
    });
    let partitions = ringstore_engine::device_set::identify(&prepared.device_paths)
        .map(|id| id.layout.partitions)
        .unwrap_or(cfg.partitions);
    let _ = shared.executors.set(cfg.executors(partitions));
    let engine_cfg = EngineConfig {
        executors: cfg.cores,
        hook: Some(make_hook(shared)),
        scrub: ringstore_engine::ScrubConfig {
            enabled: cfg.scrub_enabled,
            rate_bytes_per_sec: cfg.scrub_rate_bytes_per_sec,
            interval_secs: cfg.scrub_interval_secs,
            rebuild_rate_bytes_per_sec: cfg.rebuild_rate_bytes_per_sec,
        },
        read_cache_bytes: usize::try_from(cfg.read_cache_bytes).unwrap_or(usize::MAX),
        ..EngineConfig::new(prepared.device_paths)
    };
    let engine = Engine::start(engine_cfg).map_err(|e| engine_start_error(&cfg, e))?;
    let executors = cfg.executors(engine.handle().partitions());
    let mut server = Server {
        engine: Some(engine),
        local_addr: cfg.listen,
        stop: Some(stop_tx),
        state,
        metrics: None,
        http: None,
    };
    for _ in 0..executors {
        let bound = bound_rx
            .recv_timeout(BIND_TIMEOUT)
            .map_err(|_| anyhow::anyhow!("an executor did not report its listener"))?;
        server.local_addr = bound.map_err(|e| anyhow::anyhow!(e))?;
    }
    tracing::info!(
        addr = %server.local_addr,
        executors,
        "serving the binary protocol"
    );
    if let Some(listener) = metrics_listener {
        let metrics = MetricsServer::spawn(listener, server.handle())?;
        tracing::info!(addr = %metrics.local_addr(), "serving metrics at /metrics");
        server.metrics = Some(metrics);
    }
    if let Some(listener) = http_listener {
        let (root, _) = crate::keys::root_key(&cfg.data_dir)?;
        let http_cfg = HttpConfig {
            daemon: server.local_addr,
            root,
            region: cfg.http_region.clone(),
            domains: cfg.http_domains.clone(),
        };
        let http = HttpServer::spawn(listener, http_cfg)?;
        tracing::info!(addr = %http.local_addr(), "serving the OSS and S3 dialects over HTTP");
        server.http = Some(http);
    }
    Ok(server)
}

fn engine_start_error(cfg: &ServeConfig, e: ringstore_engine::Error) -> anyhow::Error {
    let text = e.to_string();
    let hint = if text.contains("cannot start executor") {
        "; glommio needs io_uring (Linux 5.8 or later, not disabled by \
         sysctl kernel.io_uring_disabled or a seccomp profile such as Docker's default)"
    } else {
        ""
    };
    anyhow::anyhow!(
        "cannot start the engine on {}: {text}{hint}",
        cfg.data_dir.join("devices").display()
    )
}

/// Fails early, with the fix, when locked memory is too small for io_uring.
fn check_memlock() -> anyhow::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a valid, exclusively borrowed pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_MEMLOCK)");
    }
    let current = limit.rlim_cur;
    anyhow::ensure!(
        limit.rlim_cur == libc::RLIM_INFINITY || current >= MEMLOCK_BYTES_MIN,
        "the locked-memory limit (RLIMIT_MEMLOCK) is {current} bytes; io_uring needs at \
         least {MEMLOCK_BYTES_MIN}. Raise it with `ulimit -l 8192` (or unlimited), \
         `LimitMEMLOCK=infinity` in a systemd unit, `--ulimit memlock=-1` for Docker, or a \
         `memlock` line in /etc/security/limits.conf"
    );
    Ok(())
}

/// Port 0 is resolved here, by a plain bind, not by the executors' SO_REUSEPORT binds: the
/// kernel may hand a reuseport bind to port 0 a port another reuseport group (another
/// server in the same process, as in tests) already listens on, and the two would then
/// share connections.
fn concrete_port(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let probe = bind_without_listening(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = probe.local_addr()?.as_socket();
    local.ok_or_else(|| anyhow::anyhow!("cannot listen on {addr}: not an IP address"))
}

/// Binds a TCP socket to `addr` (with SO_REUSEADDR, as `std`'s listeners) but does not
/// listen on it: a probe that listened would, in the moment before it is closed, accept
/// clients' connections into its backlog and then reset them.
fn bind_without_listening(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// A clear error when the port is taken. Binding without SO_REUSEPORT also catches
/// another ringstore on the same port, which glommio's reuseport bind would silently
/// share connections with.
fn check_port_free(addr: SocketAddr) -> anyhow::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    match bind_without_listening(addr) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot listen on {addr}: the port is busy (another ringstore or another \
             program listens there); stop it or set `listen` in the configuration"
        )),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr}")),
    }
}

fn make_hook(shared: Arc<HookShared>) -> ExecutorHook {
    Arc::new(move |index, handle| {
        let shared = shared.clone();
        Box::pin(async move { serve_executor(index, handle, shared).await })
    })
}

async fn serve_executor(index: usize, handle: Handle, shared: Arc<HookShared>) {
    let listener = bind(index, &shared).await;
    let report = listener
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|l| l.local_addr().map_err(|e| e.to_string()));
    let _ = shared.bound.lock().expect("not poisoned").send(report);
    let Ok(listener) = listener else { return };
    let executors = *shared
        .executors
        .get()
        .expect("set before the engine starts");
    let ctx = Rc::new(ExecutorCtx {
        handle,
        users: shared.users.clone(),
        limits: Limits {
            requests_in_flight_max: shared.cfg.requests_in_flight_max,
            idle_timeout_secs: shared.cfg.idle_timeout_secs,
            connections_max: shared.cfg.connections_max.div_ceil(executors),
        },
        executor: index,
        executors,
        stop: shared.stop.clone(),
        state: shared.state.clone(),
        started: shared.started,
        device_paths: Arc::new(shared.cfg.device_paths()),
        open: Cell::new(0),
    });
    drop(shared);
    accept_loop(ctx, listener).await;
}

async fn bind(index: usize, shared: &HookShared) -> Result<TcpListener, String> {
    let listen = shared.cfg.listen;
    let bind_at = |addr: SocketAddr| {
        TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    if index == 0 {
        let listener = bind_at(listen);
        let addr = match &listener {
            Ok(l) => l.local_addr().map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        if let Some(tx) = shared.addr_tx.lock().expect("not poisoned").take() {
            let _ = tx.send(addr);
        }
        return listener;
    }
    match shared.addr_rx.clone().await {
        Ok(Ok(addr)) => bind_at(addr),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("executor 0 stopped before binding".into()),
    }
}

async fn accept_loop(ctx: Rc<ExecutorCtx>, listener: TcpListener) {
    loop {
        let stop = ctx.stop.clone();
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                let _ = stop.await;
                None
            })
            .await;
        let Some(accepted) = accepted else { break };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, or the peer left before accept: retry shortly.
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if ctx.open.get() >= ctx.limits.connections_max {
            glommio::spawn_local(connection::refuse_busy(stream)).detach();
            continue;
        }
        ctx.open.set(ctx.open.get() + 1);
        ctx.state.connections.fetch_add(1, Ordering::Relaxed);
        let ctx = ctx.clone();
        glommio::spawn_local(async move {
            connection::serve(ctx.clone(), stream).await;
            ctx.open.set(ctx.open.get() - 1);
            ctx.state.connections.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
    tracing::debug!(executor = ctx.executor, "stopped accepting");
}
