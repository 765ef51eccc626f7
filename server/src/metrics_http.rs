//! The Prometheus endpoint: a small HTTP/1.1 server on its own std thread, off the engine
//! cores.
//!
//! One connection at a time: a scrape is one short request, and serving them in turn bounds
//! the endpoint's memory and threads whatever clients do. Every connection is bounded too:
//! `REQUEST_HEAD_BYTES_MAX` of request head, read within `REQUEST_HEAD_TIMEOUT` in total (so
//! a client that trickles bytes cannot hold the endpoint longer), one response, then close.
//!
//! Routes: `GET /metrics` → 200 and the text exposition (`metrics::prometheus_text`); any
//! other method on `/metrics` → 405; any other path → 404; a head that is not HTTP/1.x →
//! 400; too long → 431; too slow → 408. The query string is ignored.
//!
//! Shutdown sets a flag and connects to the listener itself, which wakes the blocking
//! `accept`; the thread sees the flag and returns, and `shutdown` joins it.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use ringstore_engine::Handle;

use crate::metrics::prometheus_text;

/// Longest request head (request line and headers, with the blank line) read.
pub const REQUEST_HEAD_BYTES_MAX: usize = 8 * 1024;
/// Time a client has to send its whole request head.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to take each part of the response.
const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the response, request bytes left unread are drained (at most this many, for at
/// most `LINGER_TIMEOUT`) so closing does not reset the connection under the response.
const LINGER_BYTES_MAX: usize = 64 * 1024;
const LINGER_TIMEOUT: Duration = Duration::from_millis(200);
/// How long `shutdown` tries to connect to the listener to wake it.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// The exposition format's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds the metrics listener; a busy port is an error that names the address and the fix.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr) {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot listen for metrics on {addr}: the port is busy (another ringstore or \
             another program listens there); stop it, or set `metrics_listen` in the \
             configuration (\"\" disables the metrics endpoint)"
        )),
        Err(e) => Err(e).with_context(|| format!("cannot listen for metrics on {addr}")),
    }
}

/// The running endpoint. Dropping it stops it as `shutdown` does.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Serves `listener` on a new thread, reading the engine through `handle`.
    pub fn spawn(listener: TcpListener, handle: Handle) -> anyhow::Result<MetricsServer> {
        let addr = listener.local_addr().context("metrics listener address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("ringstore-metrics".into())
            .spawn({
                let stop = stop.clone();
                move || accept_loop(listener, handle, stop)
            })
            .context("cannot start the metrics thread")?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the endpoint listens on (with the real port when port 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the request being served, if any, to finish.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        match TcpStream::connect_timeout(&wake_addr(self.addr), WAKE_TIMEOUT) {
            Ok(_) => {
                if thread.join().is_err() {
                    tracing::error!("the metrics thread panicked");
                }
            }
            // Joining would wait for a connection that may never come; the thread is left
            // to exit at its next connection or with the process.
            Err(e) => tracing::warn!(error = %e, "cannot wake the metrics thread"),
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// A listener bound to the unspecified address is reached through loopback.
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn accept_loop(listener: TcpListener, handle: Handle, stop: Arc<AtomicBool>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match accepted {
            Ok((stream, _peer)) => serve_connection(stream, &handle),
            Err(e) => {
                // Out of file descriptors, or the peer left before accept: retry shortly.
                tracing::warn!(error = %e, "metrics accept failed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    tracing::debug!("metrics endpoint stopped");
}

/// Why no request head could be read.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// The peer closed, or the connection failed, before sending anything usable.
    Closed,
    /// The peer closed in the middle of the head.
    Truncated,
    /// No blank line within `REQUEST_HEAD_BYTES_MAX`.
    TooLarge,
    /// No blank line within `REQUEST_HEAD_TIMEOUT`.
    Timeout,
}

fn serve_connection(mut stream: TcpStream, handle: &Handle) {
    let response = match read_head(&mut stream) {
        Ok(head) => respond(&head, handle),
        Err(HeadError::Closed) => return,
        Err(HeadError::Truncated) => Response::text(400, "request head ends early\n"),
        Err(HeadError::TooLarge) => Response::text(431, "request head too large\n"),
        Err(HeadError::Timeout) => Response::text(408, "request head not received in time\n"),
    };
    let _ = stream.set_write_timeout(Some(RESPONSE_WRITE_TIMEOUT));
    if stream.write_all(&response.to_bytes()).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    linger(&mut stream);
}

/// Reads until the blank line that ends the head; returns the head without it.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let deadline = Instant::now() + REQUEST_HEAD_TIMEOUT;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() >= REQUEST_HEAD_BYTES_MAX {
            return Err(HeadError::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Timeout);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| HeadError::Closed)?;
        let room = (REQUEST_HEAD_BYTES_MAX - head.len()).min(buf.len());
        match stream.read(&mut buf[..room]) {
            Ok(0) if head.is_empty() => return Err(HeadError::Closed),
            Ok(0) => return Err(HeadError::Truncated),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(HeadError::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(HeadError::Closed),
        }
    }
}

/// Where the head ends: the first `\r\n\r\n`, or `\n\n` from lenient clients.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Discards what the client sent beyond the head, bounded in bytes and time.
fn linger(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(LINGER_TIMEOUT));
    let deadline = Instant::now() + LINGER_TIMEOUT;
    let mut drained = 0;
    let mut buf = [0u8; 4096];
    while drained < LINGER_BYTES_MAX && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// The request line's method and path, if the head is an HTTP/1.x request.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let version_ok = matches!(version, "HTTP/1.0" | "HTTP/1.1");
    if parts.next().is_some() || !method_ok || !version_ok || !target.starts_with('/') {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target);
    Some((method, path))
}

fn respond(head: &[u8], handle: &Handle) -> Response {
    let Some((method, path)) = request_line(head) else {
        return Response::text(400, "not an HTTP/1.x request\n");
    };
    if path != "/metrics" {
        return Response::text(404, "not found; metrics are at /metrics\n");
    }
    if method != "GET" {
        let mut response = Response::text(405, "only GET is allowed\n");
        response.allow_get = true;
        return response;
    }
    match futures::executor::block_on(handle.status()) {
        Ok(partitions) => Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: prometheus_text(handle, &partitions),
            allow_get: false,
        },
        Err(e) => Response::text(503, &format!("engine status unavailable: {e}\n")),
    }
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    /// Adds `Allow: GET` (405 answers must say what is allowed).
    allow_get: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
            allow_get: false,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            status => unreachable!("no reason phrase for status {status}"),
        };
        let allow = if self.allow_get { "Allow: GET\r\n" } else { "" };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}\
             Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            request_line(b"GET /metrics HTTP/1.1\r\nHost: x"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(
            request_line(b"POST /metrics?x=1 HTTP/1.0"),
            Some(("POST", "/metrics"))
        );
        for bad in [
            &b""[..],
            b"GET",
            b"GET /metrics",
            b"GET /metrics HTTP/2.0",
            b"get /metrics HTTP/1.1",
            b"GET metrics HTTP/1.1",
            b"GET  /metrics HTTP/1.1",
            b"GET /metrics HTTP/1.1 extra",
            b"\xff\xfe /metrics HTTP/1.1",
        ] {
            assert_eq!(request_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn head_ends_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn wake_reaches_unspecified_listeners_through_loopback() {
        let addr: SocketAddr = "0.0.0.0:9401".parse().unwrap();
        assert_eq!(wake_addr(addr), "127.0.0.1:9401".parse().unwrap());
        let addr: SocketAddr = "[::]:9401".parse().unwrap();
        assert_eq!(wake_addr(addr), "[::1]:9401".parse().unwrap());
    }
}
