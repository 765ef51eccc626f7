//! Resolving access keys to secrets and identities.
//!
//! The adapter verifies signatures itself, so it needs each key's secret: it asks the
//! daemon (`key_lookup`, an admin-only request the adapter's root connection may make) and
//! keeps the answer for `KEY_CACHE_TTL`, so a deleted key stops working within seconds
//! while a busy client costs one lookup per key per TTL. Unknown keys are not cached: a
//! key created a moment ago works at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use ringstore_client::Client;

use crate::http::constants::{KEY_CACHE_ENTRIES_MAX, KEY_CACHE_TTL};
use crate::http::error::Failure;

/// Whose key signed a request.
#[derive(Clone)]
pub struct Identity {
    pub access_key_id: String,
    pub secret: String,
    /// The user id the daemon knows the key's user by (a bucket's owner).
    pub user_id: String,
    pub display_name: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("access_key_id", &self.access_key_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Maps access key ids to identities, through the daemon.
pub struct KeyResolver {
    client: Client,
    cache: Mutex<HashMap<String, (Instant, Identity)>>,
}

impl KeyResolver {
    /// A resolver asking the daemon through `client` (connected with an admin key).
    pub fn new(client: Client) -> KeyResolver {
        KeyResolver {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The identity of `access_key_id`, or `InvalidAccessKeyId`.
    pub async fn resolve(&self, access_key_id: &str) -> Result<Identity, Failure> {
        if let Some((at, identity)) = self.cache.lock().expect("not poisoned").get(access_key_id) {
            if at.elapsed() < KEY_CACHE_TTL {
                return Ok(identity.clone());
            }
        }
        let found = self.client.key_lookup(access_key_id).await?;
        let Some(info) = found else {
            self.cache
                .lock()
                .expect("not poisoned")
                .remove(access_key_id);
            return Err(Failure::InvalidAccessKeyId);
        };
        let identity = Identity {
            access_key_id: access_key_id.to_owned(),
            secret: info.secret_access_key,
            user_id: info.user_id,
            display_name: info.display_name,
        };
        let mut cache = self.cache.lock().expect("not poisoned");
        if cache.len() >= KEY_CACHE_ENTRIES_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < KEY_CACHE_TTL);
            if cache.len() >= KEY_CACHE_ENTRIES_MAX {
                cache.clear();
            }
        }
        cache.insert(access_key_id.to_owned(), (Instant::now(), identity.clone()));
        Ok(identity)
    }
}
