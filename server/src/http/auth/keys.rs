//! Resolving access keys to secrets and identities.
//!
//! The adapter verifies signatures itself, so it needs each key's secret. Today it knows
//! the daemon's root key only; per-user keys arrive through the client's `key_lookup`
//! (cached for `KEY_CACHE_TTL`) and requests then run as the key's user.

use crate::http::error::Failure;
use crate::keys::AccessKey;

/// Whose key signed a request.
#[derive(Clone)]
pub struct Identity {
    pub access_key_id: String,
    pub secret: String,
    /// The owner id the daemon knows the key's user by; `None` for the root key.
    pub user_id: Option<String>,
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

/// Maps access key ids to identities.
pub struct KeyResolver {
    root: AccessKey,
}

impl KeyResolver {
    /// A resolver that knows the root key only.
    pub fn root_only(root: AccessKey) -> KeyResolver {
        KeyResolver { root }
    }

    /// The identity of `access_key_id`, or `InvalidAccessKeyId`.
    pub async fn resolve(&self, access_key_id: &str) -> Result<Identity, Failure> {
        if access_key_id == self.root.access_key_id {
            return Ok(Identity {
                access_key_id: access_key_id.to_owned(),
                secret: self.root.secret_access_key.clone(),
                user_id: None,
                display_name: "root".into(),
            });
        }
        Err(Failure::InvalidAccessKeyId)
    }
}
