//! [`ClientConfig`]: where to connect, as whom, and the client's limits.

use std::time::Duration;

/// Default pool size.
pub const CONNECTIONS_DEFAULT: usize = 4;
/// Default limit for TCP connect plus handshake.
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// Default limit for any single wait of a request (see [`ClientConfig::request_timeout`]).
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// Default number of retries of an idempotent operation after its first attempt.
pub const RETRIES_DEFAULT: u32 = 3;

/// How to reach a ringstore daemon and how hard to try.
#[derive(Clone)]
pub struct ClientConfig {
    /// `"host:port"` for TCP, or `"unix:/path/to/socket"` for a Unix socket.
    pub endpoint: String,
    /// The access key id sent in Hello.
    pub access_key_id: String,
    /// The secret that keys the HMAC proof; it never leaves the process.
    pub secret_access_key: String,
    /// Connections in the pool (at least 1). One is opened by [`Client::connect`], the
    /// others when every open connection is busy.
    ///
    /// [`Client::connect`]: crate::Client::connect
    pub connections: usize,
    /// Limit for opening one connection: TCP connect plus the Hello/Auth handshake.
    pub connect_timeout: Duration,
    /// Limit for any single wait of a request: its response, the next chunk of a
    /// download, or room to send the next chunk of an upload. A stalled transfer fails
    /// with [`Error::Timeout`](crate::Error::Timeout); a slow but moving one does not.
    pub request_timeout: Duration,
    /// Retries of an idempotent operation after its first attempt (puts are never
    /// retried).
    pub retries: u32,
}

impl ClientConfig {
    /// A configuration with the default pool size, timeouts and retries.
    pub fn new(
        endpoint: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            connections: CONNECTIONS_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            retries: RETRIES_DEFAULT,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    /// Prints everything but the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("connections", &self.connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retries", &self.retries)
            .finish()
    }
}
