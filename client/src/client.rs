//! [`Client`]: the handle every operation goes through, and the retry policy.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ringstore_proto::{Principal, Request};

use crate::connection::Connection;
use crate::pool::Pool;
use crate::{ClientConfig, Error};

/// The first retry waits this long; each further one twice as long, up to the maximum.
const RETRY_BACKOFF_FIRST: Duration = Duration::from_millis(10);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(1000);

/// A ringstore client: a pool of authenticated connections to one daemon.
///
/// Cheap to clone (an `Arc`), `Send + Sync`: share one per process. Requests from many
/// tasks are pipelined over the pooled connections. Idempotent operations (ping, head,
/// list, get until its response arrives, delete_object, delete_objects, admin_status) are
/// retried up to `retries` times on a broken connection, a timeout or a retryable status;
/// writes that are not idempotent (put, create/delete bucket, ACL) never are.
///
/// A client made by [`acting_as`](Client::acting_as) shares the pool and sends every
/// request on behalf of a principal (the connection's key must be an administrator's).
#[derive(Clone)]
pub struct Client {
    pub(crate) pool: Arc<Pool>,
    pub(crate) cfg: Arc<ClientConfig>,
    pub(crate) principal: Option<Arc<Principal>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("cfg", &self.cfg)
            .field("principal", &self.principal)
            .finish()
    }
}

impl Client {
    /// Opens and authenticates the first connection, so a wrong endpoint or key fails
    /// here ([`Error::Auth`] for a refused key); the pool grows on demand up to
    /// `cfg.connections`.
    pub async fn connect(cfg: ClientConfig) -> Result<Client, Error> {
        let pool = Pool::new(cfg.clone());
        pool.get().await?;
        Ok(Client {
            pool,
            cfg: Arc::new(cfg),
            principal: None,
        })
    }

    /// A client on the same pool whose every request acts as `principal`: the server
    /// authorizes it exactly as if that user's own key had connected (or as an anonymous
    /// caller). Cheap: no new connection. Needs an administrator key; other keys get
    /// `AccessDenied` on every request.
    pub fn acting_as(&self, principal: Principal) -> Client {
        Client {
            pool: self.pool.clone(),
            cfg: self.cfg.clone(),
            principal: Some(Arc::new(principal)),
        }
    }

    /// The principal requests act as, if not the key's own user.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_deref()
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.cfg.request_timeout
    }

    /// Runs `attempt` on a pooled connection, retrying retryable failures.
    pub(crate) async fn idempotent<T, F, Fut>(&self, attempt: F) -> Result<T, Error>
    where
        F: FnMut(Arc<Connection>) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.idempotent_on(None, attempt).await
    }

    /// [`idempotent`](Self::idempotent) on a connection of the core that owns `object`
    /// (bucket, key), when the pool has one.
    pub(crate) async fn idempotent_on<T, F, Fut>(
        &self,
        object: Option<(&str, &str)>,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut(Arc<Connection>) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut retry = 0;
        loop {
            let result = match self.pool.get_for(object).await {
                Ok(conn) => attempt(conn).await,
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.is_retryable() && retry < self.cfg.retries => {
                    let backoff = backoff(retry);
                    tracing::debug!(error = %e, retry, ?backoff, "retrying");
                    tokio::time::sleep(backoff).await;
                    retry += 1;
                }
                result => return result,
            }
        }
    }

    /// Sends a single-response request once (not retried).
    pub(crate) async fn once<R: Request>(&self, request: &R) -> Result<R::Response, Error> {
        let conn = self.pool.get().await?;
        conn.call_as(request, self.principal(), self.timeout())
            .await
    }

    /// [`once`](Self::once) on a connection of the core that owns `object`, when the pool
    /// has one.
    pub(crate) async fn once_on<R: Request>(
        &self,
        object: (&str, &str),
        request: &R,
    ) -> Result<R::Response, Error> {
        let conn = self.pool.get_for(Some(object)).await?;
        conn.call_as(request, self.principal(), self.timeout())
            .await
    }

    /// Sends a single-response idempotent request, with retries.
    pub(crate) async fn retried<R: Request>(&self, request: &R) -> Result<R::Response, Error> {
        let (timeout, principal) = (self.timeout(), self.principal());
        self.idempotent(|conn| async move { conn.call_as(request, principal, timeout).await })
            .await
    }

    /// [`retried`](Self::retried) on a connection of the core that owns `object` (bucket,
    /// key), when the pool has one: the request then needs no hop between server cores.
    pub(crate) async fn retried_on<R: Request>(
        &self,
        object: (&str, &str),
        request: &R,
    ) -> Result<R::Response, Error> {
        let (timeout, principal) = (self.timeout(), self.principal());
        let attempt =
            |conn: Arc<Connection>| async move { conn.call_as(request, principal, timeout).await };
        self.idempotent_on(Some(object), attempt).await
    }
}

/// The wait before retry number `retry` (0-based): exponential with full jitter, so that
/// many clients hit by the same `Busy` do not retry in step.
fn backoff(retry: u32) -> Duration {
    let ceiling = RETRY_BACKOFF_FIRST
        .saturating_mul(1 << retry.min(16))
        .min(RETRY_BACKOFF_MAX);
    let micros = ceiling.as_micros() as u64;
    Duration::from_micros(micros / 2 + rand::random::<u64>() % (micros / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for retry in 0..40 {
            let wait = backoff(retry);
            let ceiling = RETRY_BACKOFF_FIRST * 2u32.pow(retry.min(16));
            assert!(
                wait <= ceiling.min(RETRY_BACKOFF_MAX),
                "retry {retry}: {wait:?}"
            );
            assert!(wait >= ceiling.min(RETRY_BACKOFF_MAX) / 2);
        }
    }

    fn _client_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Client>();
    }
}
