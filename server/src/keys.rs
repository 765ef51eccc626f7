//! Access keys: the root key (from the environment or `<data_dir>/root.key`), key
//! generation, and the handshake proof. The store of users and their keys is `users`.
//!
//! `root.key` is TOML with two lines, `access_key_id = "..."` and
//! `secret_access_key = "..."`, mode 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hmac::{Hmac, Mac};
use rand::Rng;
use ringstore_proto::constants::{AUTH_PROOF_CONTEXT, NONCE_BYTES, PROOF_BYTES};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const ENV_ROOT_ACCESS_KEY_ID: &str = "RINGSTORE_ROOT_ACCESS_KEY_ID";
pub const ENV_ROOT_SECRET_ACCESS_KEY: &str = "RINGSTORE_ROOT_SECRET_ACCESS_KEY";
pub const ROOT_KEY_FILE: &str = "root.key";

const ACCESS_KEY_ID_CHARS: usize = 20;
const SECRET_ACCESS_KEY_CHARS: usize = 40;
const ACCESS_KEY_ID_PREFIX: &str = "RS";

/// An access key id and its secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Never print the secret by accident.
impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    /// A fresh random key: id `RS` + 18 uppercase alphanumerics, secret 40 base62 chars.
    pub fn generate() -> AccessKey {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::thread_rng();
        let mut pick = |set: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| set[rng.gen_range(0..set.len())] as char)
                .collect()
        };
        let tail = pick(UPPER, ACCESS_KEY_ID_CHARS - ACCESS_KEY_ID_PREFIX.len());
        AccessKey {
            access_key_id: format!("{ACCESS_KEY_ID_PREFIX}{tail}"),
            secret_access_key: pick(BASE62, SECRET_ACCESS_KEY_CHARS),
        }
    }
}

/// Where the root key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootKeySource {
    Environment,
    File(PathBuf),
    Created(PathBuf),
}

/// The root key: the environment wins; else `<data_dir>/root.key`, created on first start.
pub fn root_key(data_dir: &Path) -> anyhow::Result<(AccessKey, RootKeySource)> {
    let id = std::env::var(ENV_ROOT_ACCESS_KEY_ID).ok();
    let secret = std::env::var(ENV_ROOT_SECRET_ACCESS_KEY).ok();
    if let (Some(access_key_id), Some(secret_access_key)) = (id, secret) {
        let key = AccessKey {
            access_key_id,
            secret_access_key,
        };
        check_key(&key).context("root key from the environment")?;
        return Ok((key, RootKeySource::Environment));
    }
    let path = data_dir.join(ROOT_KEY_FILE);
    if path.exists() {
        return Ok((load_key_file(&path)?, RootKeySource::File(path)));
    }
    let key = AccessKey::generate();
    write_key_file(&path, &key)?;
    eprintln!(
        "created root access key {} (secret {}), stored in {}",
        key.access_key_id,
        key.secret_access_key,
        path.display()
    );
    Ok((key, RootKeySource::Created(path)))
}

fn check_key(key: &AccessKey) -> anyhow::Result<()> {
    use ringstore_proto::constants::{ACCESS_KEY_ID_BYTES_MAX, ACCESS_KEY_ID_BYTES_MIN};
    let len = key.access_key_id.len();
    anyhow::ensure!(
        (ACCESS_KEY_ID_BYTES_MIN..=ACCESS_KEY_ID_BYTES_MAX).contains(&len),
        "access key id is {len} bytes, allowed {ACCESS_KEY_ID_BYTES_MIN}..={ACCESS_KEY_ID_BYTES_MAX}"
    );
    anyhow::ensure!(
        !key.secret_access_key.is_empty(),
        "the secret access key is empty"
    );
    Ok(())
}

fn load_key_file(path: &Path) -> anyhow::Result<AccessKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let key: AccessKey =
        toml::from_str(&text).with_context(|| format!("invalid key file {}", path.display()))?;
    check_key(&key).with_context(|| format!("invalid key file {}", path.display()))?;
    Ok(key)
}

fn write_key_file(path: &Path, key: &AccessKey) -> anyhow::Result<()> {
    let text = toml::to_string(key).expect("a key serializes");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// `HMAC-SHA256(secret, "ringstore-auth-v1" || client_nonce || server_nonce || id)`.
pub fn proof_for(
    secret: &str,
    access_key_id: &str,
    client_nonce: &[u8; NONCE_BYTES],
    server_nonce: &[u8; NONCE_BYTES],
) -> [u8; PROOF_BYTES] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(AUTH_PROOF_CONTEXT);
    mac.update(client_nonce);
    mac.update(server_nonce);
    mac.update(access_key_id.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let key = AccessKey::generate();
        assert_eq!(key.access_key_id.len(), 20);
        assert!(key.access_key_id.starts_with("RS"));
        assert!(key
            .access_key_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(key.secret_access_key.len(), 40);
        assert!(key
            .secret_access_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()));
        assert!(!format!("{key:?}").contains(&key.secret_access_key));
    }

    #[test]
    fn key_file_round_trips_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ROOT_KEY_FILE);
        let key = AccessKey::generate();
        write_key_file(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_key_file(&path).unwrap(), key);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("access_key_id = \"RS"));
    }
}
