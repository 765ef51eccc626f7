//! The adapter's runtime and accept loop, and the frame around every request: request id,
//! parse, route, authenticate, dispatch, error document, common headers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use ringstore_client::{Client, ClientConfig, Principal};
use tokio::sync::{watch, Semaphore};

use super::auth::{authenticate, KeyResolver, Verified};
use super::constants::{
    CONNECTIONS_MAX, HEADERS_MAX, HEAD_BYTES_MAX, HEAD_TIMEOUT, RUNTIME_THREADS,
};
use super::error::{error_response, ErrorContext, Failure};
use super::ops::{self, Call};
use super::request::{ApiRequest, Dialect};
use super::response::Body;
use super::router::{route, Op};
use super::time::now_ms;
use crate::keys::AccessKey;

/// How long shutdown waits for requests in flight.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the adapter needs to start.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The daemon's binary-protocol address.
    pub daemon: SocketAddr,
    /// The key the adapter connects with (the root key) and verifies signatures against.
    pub root: AccessKey,
    /// The region buckets are created in when a request names none.
    pub region: String,
    /// Base domains for virtual-host addressing (`bucket.DOMAIN`).
    pub domains: Vec<String>,
}

/// Binds the HTTP listener; a busy port is an error that names the fix.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    match std::net::TcpListener::bind(addr) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot listen for HTTP on {addr}: the port is busy (another ringstore or another \
             program listens there); stop it, or set `http_listen` in the configuration \
             (\"\" disables the HTTP adapter)"
        )),
        Err(e) => Err(e).with_context(|| format!("cannot listen for HTTP on {addr}")),
    }
}

/// Shared by every request.
pub struct Ctx {
    pub root: Client,
    pub keys: KeyResolver,
    pub region: String,
    pub domains: Vec<String>,
    pub host_id: String,
}

impl Ctx {
    /// The client a verified request runs through: the daemon authorizes every request
    /// as the key's user, or as anonymous.
    pub fn client_for(&self, verified: &Verified) -> Client {
        match &verified.identity {
            Some(identity) => self
                .root
                .acting_as(Principal::User(identity.user_id.clone())),
            None => self.root.acting_as(Principal::Anonymous),
        }
    }
}

/// The running adapter. Dropping it stops it as `shutdown` does.
pub struct HttpServer {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    stop: watch::Sender<bool>,
}

impl HttpServer {
    /// Starts the runtime, connects to the daemon and serves `listener`.
    pub fn spawn(listener: std::net::TcpListener, cfg: HttpConfig) -> anyhow::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("ringstore-http")
            .enable_all()
            .build()
            .context("cannot start the HTTP runtime")?;
        let client_cfg = ClientConfig::new(
            cfg.daemon.to_string(),
            cfg.root.access_key_id.clone(),
            cfg.root.secret_access_key.clone(),
        );
        let root = runtime
            .block_on(Client::connect(client_cfg))
            .context("the HTTP adapter cannot connect to the daemon")?;
        let ctx = Arc::new(Ctx {
            keys: KeyResolver::new(root.clone()),
            root,
            region: cfg.region.clone(),
            domains: cfg.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            host_id: format!("ringstore-{addr}"),
        });
        listener.set_nonblocking(true)?;
        let (stop, stop_rx) = watch::channel(false);
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(accept_loop(listener, ctx, stop_rx));
        Ok(HttpServer {
            addr,
            runtime: Some(runtime),
            stop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and gives requests in flight `SHUTDOWN_TIMEOUT` to finish.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let slot = tokio::select! {
            _ = stop.changed() => break,
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
        };
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(handle(&ctx, req).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(HEAD_BYTES_MAX)
                .max_headers(HEADERS_MAX)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "HTTP connection ended");
            }
            drop(slot);
        });
    }
    tracing::debug!("HTTP adapter stopped accepting");
}

/// A 24-character request id: milliseconds and a counter, uppercase hex.
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:012X}{:012X}",
        now_ms() & 0xFFFF_FFFF_FFFF,
        (n ^ (std::process::id() as u64 * 0x9E37_79B9)) & 0xFFFF_FFFF_FFFF
    )
}

/// Serves one request; never fails (failures become error documents).
async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let id = request_id();
    let (parts, body) = req.into_parts();
    let dialect = Dialect::detect(&parts.headers, parts.uri.query().unwrap_or(""));
    let has_te = parts.headers.contains_key(http::header::TRANSFER_ENCODING);
    let parsed = ApiRequest::parse(&parts, &ctx.domains);
    let result = match &parsed {
        Ok(api) => serve(ctx, api, has_te, body).await,
        Err(f) => Err(f.clone()),
    };
    let mut response = match result {
        Ok(r) => r,
        Err(failure) => {
            let (bucket, key) = match &parsed {
                Ok(api) => (
                    Some(api.bucket.as_str()).filter(|b| !b.is_empty()),
                    Some(api.key.as_str()),
                ),
                Err(_) => (None, None),
            };
            tracing::debug!(%id, method = %parts.method, uri = %parts.uri, %failure, "request failed");
            let cx = ErrorContext {
                dialect,
                request_id: &id,
                host_id: &ctx.host_id,
                is_head: parts.method == Method::HEAD,
                bucket,
                key,
            };
            error_response(&failure, &cx)
        }
    };
    let headers = response.headers_mut();
    let id = HeaderValue::from_str(&id).expect("hex is a valid header value");
    match dialect {
        Dialect::Oss => {
            headers.insert("x-oss-request-id", id);
            headers.insert("server", HeaderValue::from_static("AliyunOSS"));
        }
        Dialect::S3 => {
            headers.insert("x-amz-id-2", id.clone());
            headers.insert("x-amz-request-id", id);
            headers.insert("server", HeaderValue::from_static("ringstore"));
        }
    }
    if let Ok(date) = HeaderValue::from_str(&super::time::http_date(now_ms())) {
        headers.insert(http::header::DATE, date);
    }
    if has_te {
        // hyper frames a request with both Transfer-Encoding and Content-Length by the
        // former; closing afterwards leaves nothing a confused proxy could smuggle.
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn serve(
    ctx: &Ctx,
    api: &ApiRequest,
    has_te: bool,
    body: Incoming,
) -> Result<Response<Body>, Failure> {
    let op = route(api)?;
    if has_te && op != Op::PutObject {
        return Err(Failure::InvalidRequest(
            "Transfer-Encoding is only accepted on uploads".into(),
        ));
    }
    let verified = authenticate(api, &ctx.keys, now_ms() / 1000).await?;
    let client = ctx.client_for(&verified);
    let call = Call {
        ctx,
        req: api,
        client,
        verified,
    };
    ops::dispatch(&call, op, body).await
}
