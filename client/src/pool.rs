//! The connection pool: up to `connections` authenticated connections, each request sent
//! on the one with the fewest requests in flight.
//!
//! The first connection is opened by `Client::connect`. Another is opened in the
//! background when every open connection is busy and the pool has room, so the request
//! that noticed does not wait for a handshake. A connection that failed is dropped at the
//! next pick; if none is left, the picking request opens one itself.

use std::sync::{Arc, Mutex};

use crate::connection::Connection;
use crate::{ClientConfig, Error};

pub(crate) struct Pool {
    cfg: ClientConfig,
    state: Mutex<PoolState>,
}

struct PoolState {
    connections: Vec<Arc<Connection>>,
    /// Connections being opened, counted against the pool size.
    opening: usize,
}

/// What a pick decided while holding the lock.
enum Pick {
    Use(Arc<Connection>),
    UseAndGrow(Arc<Connection>),
    Open,
}

impl Pool {
    pub(crate) fn new(cfg: ClientConfig) -> Arc<Pool> {
        Arc::new(Pool {
            cfg,
            state: Mutex::new(PoolState {
                connections: Vec::new(),
                opening: 0,
            }),
        })
    }

    fn size_max(&self) -> usize {
        self.cfg.connections.max(1)
    }

    /// The connection for the next request.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Arc<Connection>, Error> {
        self.get_for(None).await
    }

    /// The connection for the next request on `object` (bucket, key): preferably one
    /// served by the core that owns the object, which then needs no hop between cores.
    pub(crate) async fn get_for(
        self: &Arc<Self>,
        object: Option<(&str, &str)>,
    ) -> Result<Arc<Connection>, Error> {
        match self.pick(object) {
            Pick::Use(conn) => Ok(conn),
            Pick::UseAndGrow(conn) => {
                let pool = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = pool.open().await {
                        tracing::warn!(endpoint = %pool.cfg.endpoint, %error,
                            "could not open another pooled connection");
                    }
                });
                Ok(conn)
            }
            Pick::Open => self.open().await,
        }
    }

    /// The least busy connection of the owning core (any connection when the object or its
    /// core is unknown, or no connection of that core is open); grows the pool when that
    /// one is busy or missing.
    fn pick(&self, object: Option<(&str, &str)>) -> Pick {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.connections.retain(|c| !c.is_closed());
        let core = match (object, state.connections.first()) {
            (Some((bucket, key)), Some(c)) => c.route.owner(bucket, key),
            _ => None,
        };
        let on_core = |c: &&Arc<Connection>| core.is_none_or(|core| c.route.executor == core);
        let owner = state
            .connections
            .iter()
            .filter(on_core)
            .min_by_key(|c| c.in_flight())
            .cloned();
        let owner_busy = owner.as_ref().is_none_or(|c| c.in_flight() > 0);
        let least_busy = owner.or_else(|| {
            let least = state.connections.iter().min_by_key(|c| c.in_flight());
            least.cloned()
        });
        let room = state.connections.len() + state.opening < self.size_max();
        match least_busy {
            Some(conn) if owner_busy && room && state.opening == 0 => {
                state.opening += 1;
                Pick::UseAndGrow(conn)
            }
            Some(conn) => Pick::Use(conn),
            None => {
                state.opening += 1;
                Pick::Open
            }
        }
    }

    /// Opens a connection and adds it to the pool; the caller counted it in `opening`.
    async fn open(&self) -> Result<Arc<Connection>, Error> {
        let result = Connection::open(&self.cfg).await.map(Arc::new);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.opening -= 1;
        // Callers that found the pool empty open at once; past the pool size, their
        // extra connections serve this one request and close when it is done.
        if let Ok(conn) = &result {
            if state.connections.len() < self.size_max() {
                state.connections.push(conn.clone());
            }
        }
        result
    }

    /// Open connections (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.connections.len()
    }
}
