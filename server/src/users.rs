//! Users and their access keys: the durable store every executor shares.
//!
//! A user has a user id (an OSS-style owner id: 16 decimal digits, generated; the `owner`
//! of the buckets it creates), a unique display name (`[a-z0-9._-]{1,64}`), a creation
//! time and up to `ACCESS_KEYS_PER_USER_MAX` access keys. The built-in user `root` is the
//! administrator: it owns the root key (environment or `root.key`, never stored here) and
//! may do everything.
//!
//! `<data_dir>/users.json` (mode 0600) holds every user and key, secrets included (the
//! handshake and the HTTP signatures are HMACs, so the server needs the secrets):
//!
//! ```text
//! { "version": 1,
//!   "users": [ { "user_id": "4821…", "display_name": "root", "created_ms": 1764…,
//!                "keys": [ { "access_key_id": "RS…", "secret_access_key": "…",
//!                            "created_ms": 1764… } ] }, … ] }
//! ```
//!
//! Every change is written to `users.json.tmp`, fsynced, renamed over `users.json` and the
//! directory fsynced, and only then published to the executors (one `RwLock` swap): a
//! change is durable and visible everywhere before it is acknowledged. A file that does
//! not parse stops the start (users are never silently reset). Writes are rare admin
//! operations, so they run on the calling executor (a few milliseconds of fsync) rather
//! than on a blocking pool.
//!
//! Connections cache the identity they authenticated as together with the store's
//! `generation`; a request on a connection whose generation is stale re-resolves its key,
//! so a deleted key (or a deleted user's keys) stops working on open connections too.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use rand::Rng;
use ringstore_proto::constants::{
    ACCESS_KEYS_PER_USER_MAX, DISPLAY_NAME_BYTES_MAX, NONCE_BYTES, PROOF_BYTES, USERS_MAX,
};
use ringstore_proto::{AccessKeyInfo, KeyInfo, NewAccessKey, Status, UserInfo};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::keys::{proof_for, AccessKey};

pub const USERS_FILE: &str = "users.json";
const USERS_FILE_TMP: &str = "users.json.tmp";
const USERS_FILE_VERSION: u32 = 1;
/// The built-in administrator's display name.
pub const ROOT_USER: &str = "root";
const USER_ID_DIGITS: usize = 16;

/// Why a user or key operation failed. Messages name the user or key the administrator
/// asked about; only administrators can call these operations.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid user name {0:?}: 1..=64 characters of a-z, 0-9, '.', '_' and '-'")]
    InvalidName(String),
    #[error("user {0:?} already exists")]
    AlreadyExists(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("user {name:?} still owns {buckets} bucket(s); delete them first")]
    OwnsBuckets { name: String, buckets: usize },
    #[error("the built-in user root cannot be deleted")]
    RootUser,
    #[error("no access key {0:?}")]
    NoSuchAccessKey(String),
    #[error("the root key comes from the environment or root.key; change it there")]
    RootKey,
    #[error("the user limit ({USERS_MAX}) is reached")]
    TooManyUsers,
    #[error("user {0:?} already has {ACCESS_KEYS_PER_USER_MAX} access keys; delete one first")]
    TooManyKeys(String),
    #[error("cannot store the users file: {0}")]
    Io(String),
}

impl UserError {
    /// The response status.
    pub fn status(&self) -> Status {
        match self {
            UserError::InvalidName(_) => Status::InvalidUserName,
            UserError::AlreadyExists(_) => Status::UserAlreadyExists,
            UserError::NoSuchUser(_) => Status::NoSuchUser,
            UserError::OwnsBuckets { .. } => Status::UserOwnsBuckets,
            UserError::RootUser | UserError::RootKey => Status::BadRequest,
            UserError::NoSuchAccessKey(_) => Status::NoSuchAccessKey,
            UserError::TooManyUsers => Status::TooManyUsers,
            UserError::TooManyKeys(_) => Status::TooManyAccessKeys,
            UserError::Io(_) => Status::InternalError,
        }
    }
}

/// Who a connection or a request is, once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub display_name: String,
    pub admin: bool,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    access_key_id: String,
    secret_access_key: String,
    created_ms: u64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredUser {
    user_id: String,
    display_name: String,
    created_ms: u64,
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    version: u32,
    users: Vec<StoredUser>,
}

/// One consistent view: users by display name and the indexes derived from them.
#[derive(Clone, Default)]
struct State {
    users: BTreeMap<String, StoredUser>,
    /// Access key id → (secret, display name). Includes the root key.
    keys: HashMap<String, (String, String)>,
    /// User id → display name.
    ids: HashMap<String, String>,
}

impl State {
    fn build(users: Vec<StoredUser>, root: &AccessKey) -> State {
        let mut state = State::default();
        for user in users {
            state.users.insert(user.display_name.clone(), user);
        }
        state.reindex(root);
        state
    }

    fn reindex(&mut self, root: &AccessKey) {
        self.keys.clear();
        self.ids.clear();
        for (name, user) in &self.users {
            self.ids.insert(user.user_id.clone(), name.clone());
            for key in &user.keys {
                let entry = (key.secret_access_key.clone(), name.clone());
                self.keys.insert(key.access_key_id.clone(), entry);
            }
        }
        let root_entry = (root.secret_access_key.clone(), ROOT_USER.to_string());
        self.keys.insert(root.access_key_id.clone(), root_entry);
    }

    fn identity(&self, display_name: &str) -> Option<Identity> {
        self.users.get(display_name).map(|u| Identity {
            user_id: u.user_id.clone(),
            display_name: u.display_name.clone(),
            admin: u.display_name == ROOT_USER,
        })
    }

    fn user_info(&self, user: &StoredUser, root: &AccessKey) -> UserInfo {
        let mut access_key_ids: Vec<String> =
            user.keys.iter().map(|k| k.access_key_id.clone()).collect();
        if user.display_name == ROOT_USER {
            access_key_ids.insert(0, root.access_key_id.clone());
        }
        UserInfo {
            user_id: user.user_id.clone(),
            display_name: user.display_name.clone(),
            created_ms: user.created_ms,
            admin: user.display_name == ROOT_USER,
            access_key_ids,
        }
    }

    fn new_user_id(&self) -> String {
        let mut rng = rand::thread_rng();
        loop {
            let first = rng.gen_range(1..=9u8);
            let rest: String = (1..USER_ID_DIGITS)
                .map(|_| char::from(b'0' + rng.gen_range(0..=9u8)))
                .collect();
            let id = format!("{first}{rest}");
            if !self.ids.contains_key(&id) {
                return id;
            }
        }
    }
}

/// The users and keys every executor shares; see the module documentation.
pub struct Users {
    path: PathBuf,
    root: AccessKey,
    state: RwLock<State>,
    /// Serializes changes: clone, change, write the file, publish.
    write: Mutex<()>,
    /// Bumped after every published change.
    generation: AtomicU64,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("path", &self.path)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether `name` is a valid display name.
pub fn valid_name(name: &str) -> bool {
    (1..=DISPLAY_NAME_BYTES_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

impl Users {
    /// Loads `<data_dir>/users.json`, creating it (with the root user) on first start.
    pub fn open(data_dir: &Path, root: AccessKey) -> anyhow::Result<Users> {
        use anyhow::Context;
        let path = data_dir.join(USERS_FILE);
        let users = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let file: UsersFile = serde_json::from_str(&text)
                .with_context(|| format!("invalid users file {}", path.display()))?;
            check_file(&file).with_context(|| format!("invalid users file {}", path.display()))?;
            file.users
        } else {
            Vec::new()
        };
        let store = Users {
            state: RwLock::new(State::build(users, &root)),
            path,
            root,
            write: Mutex::new(()),
            generation: AtomicU64::new(0),
        };
        if store.read().identity(ROOT_USER).is_none() {
            store
                .change(|state| {
                    let user = StoredUser {
                        user_id: state.new_user_id(),
                        display_name: ROOT_USER.into(),
                        created_ms: now_ms(),
                        keys: Vec::new(),
                    };
                    state.users.insert(ROOT_USER.into(), user);
                    Ok(())
                })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(store)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Every update is one assignment of a fully built state: a poisoned lock still
        // holds a consistent value.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Bumped after every change; connections compare it to re-resolve their key.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Applies `f` to a copy of the state, stores the copy durably, then publishes it.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        let _guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = self.read().clone();
        let out = f(&mut next)?;
        next.reindex(&self.root);
        self.store(&next)?;
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = next;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(out)
    }

    /// tmp + fsync + rename + fsync of the directory.
    fn store(&self, state: &State) -> Result<(), UserError> {
        let file = UsersFile {
            version: USERS_FILE_VERSION,
            users: state.users.values().cloned().collect(),
        };
        let text = serde_json::to_string_pretty(&file).expect("users serialize");
        let dir = self
            .path
            .parent()
            .expect("the users file is in the data dir");
        let tmp = dir.join(USERS_FILE_TMP);
        let io = |e: std::io::Error| UserError::Io(e.to_string());
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        out.write_all(text.as_bytes()).map_err(io)?;
        out.sync_all().map_err(io)?;
        drop(out);
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }

    /// Whether `proof` is the handshake HMAC under `access_key_id`'s secret. An unknown key
    /// is checked against a dummy secret, so both failures cost the same, and the proof is
    /// compared in constant time.
    pub fn verify(
        &self,
        access_key_id: &str,
        client_nonce: &[u8; NONCE_BYTES],
        server_nonce: &[u8; NONCE_BYTES],
        proof: &[u8; PROOF_BYTES],
    ) -> bool {
        let secret = self.read().keys.get(access_key_id).map(|(s, _)| s.clone());
        let known = secret.is_some();
        let secret = secret.unwrap_or_default();
        let expected = proof_for(&secret, access_key_id, client_nonce, server_nonce);
        let equal: bool = expected.ct_eq(proof).into();
        equal && known
    }

    /// The identity an access key belongs to, if the key exists.
    pub fn identity_of_key(&self, access_key_id: &str) -> Option<Identity> {
        let state = self.read();
        let (_, name) = state.keys.get(access_key_id)?;
        state.identity(name)
    }

    /// The identity of a user id (a principal), if the user exists.
    pub fn identity_of_user(&self, user_id: &str) -> Option<Identity> {
        let state = self.read();
        state.identity(state.ids.get(user_id)?)
    }

    /// KeyLookup: the key's user and secret.
    pub fn lookup(&self, access_key_id: &str) -> Option<KeyInfo> {
        let state = self.read();
        let (secret, name) = state.keys.get(access_key_id)?;
        let user = state.users.get(name)?;
        Some(KeyInfo {
            user_id: user.user_id.clone(),
            display_name: user.display_name.clone(),
            secret_access_key: secret.clone(),
        })
    }

    pub fn create_user(&self, name: &str) -> Result<UserInfo, UserError> {
        if !valid_name(name) {
            return Err(UserError::InvalidName(name.into()));
        }
        self.change(|state| {
            if state.users.contains_key(name) {
                return Err(UserError::AlreadyExists(name.into()));
            }
            if state.users.len() > USERS_MAX {
                return Err(UserError::TooManyUsers);
            }
            let user = StoredUser {
                user_id: state.new_user_id(),
                display_name: name.into(),
                created_ms: now_ms(),
                keys: Vec::new(),
            };
            let info = state.user_info(&user, &self.root);
            state.users.insert(name.into(), user);
            Ok(info)
        })
    }

    /// Every user, root first then by display name.
    pub fn list_users(&self) -> Vec<UserInfo> {
        let state = self.read();
        let mut users: Vec<UserInfo> = state
            .users
            .values()
            .map(|u| state.user_info(u, &self.root))
            .collect();
        users.sort_by_key(|u| (!u.admin, u.display_name.clone()));
        users
    }

    /// Deletes a user and its keys. `buckets_of(user_id)` counts the buckets it owns;
    /// the user is kept while that is not zero.
    pub fn delete_user(
        &self,
        name: &str,
        buckets_of: impl FnOnce(&str) -> usize,
    ) -> Result<(), UserError> {
        if name == ROOT_USER {
            return Err(UserError::RootUser);
        }
        self.change(|state| {
            let user = state
                .users
                .get(name)
                .ok_or_else(|| UserError::NoSuchUser(name.into()))?;
            let buckets = buckets_of(&user.user_id);
            if buckets > 0 {
                let name = name.into();
                return Err(UserError::OwnsBuckets { name, buckets });
            }
            state.users.remove(name);
            Ok(())
        })
    }

    pub fn create_key(&self, name: &str) -> Result<NewAccessKey, UserError> {
        self.change(|state| {
            let taken: Vec<String> = state.keys.keys().cloned().collect();
            let user = state
                .users
                .get_mut(name)
                .ok_or_else(|| UserError::NoSuchUser(name.into()))?;
            if user.keys.len() >= ACCESS_KEYS_PER_USER_MAX {
                return Err(UserError::TooManyKeys(name.into()));
            }
            let key = loop {
                let key = AccessKey::generate();
                if !taken.contains(&key.access_key_id) {
                    break key;
                }
            };
            user.keys.push(StoredKey {
                access_key_id: key.access_key_id.clone(),
                secret_access_key: key.secret_access_key.clone(),
                created_ms: now_ms(),
            });
            Ok(NewAccessKey {
                access_key_id: key.access_key_id,
                secret_access_key: key.secret_access_key,
                user_id: user.user_id.clone(),
                display_name: user.display_name.clone(),
            })
        })
    }

    /// Keys without secrets, of one user or all, in access key id order.
    pub fn list_keys(&self, name: Option<&str>) -> Result<Vec<AccessKeyInfo>, UserError> {
        let state = self.read();
        if let Some(name) = name {
            if !state.users.contains_key(name) {
                return Err(UserError::NoSuchUser(name.into()));
            }
        }
        let mut keys = Vec::new();
        for user in state.users.values() {
            if name.is_some_and(|n| n != user.display_name) {
                continue;
            }
            let info = |access_key_id: &str, created_ms| AccessKeyInfo {
                access_key_id: access_key_id.into(),
                user_id: user.user_id.clone(),
                display_name: user.display_name.clone(),
                created_ms,
            };
            if user.display_name == ROOT_USER {
                keys.push(info(&self.root.access_key_id, user.created_ms));
            }
            keys.extend(
                user.keys
                    .iter()
                    .map(|k| info(&k.access_key_id, k.created_ms)),
            );
        }
        keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        Ok(keys)
    }

    pub fn delete_key(&self, access_key_id: &str) -> Result<(), UserError> {
        if access_key_id == self.root.access_key_id {
            return Err(UserError::RootKey);
        }
        self.change(|state| {
            for user in state.users.values_mut() {
                if let Some(i) = user
                    .keys
                    .iter()
                    .position(|k| k.access_key_id == access_key_id)
                {
                    user.keys.remove(i);
                    return Ok(());
                }
            }
            Err(UserError::NoSuchAccessKey(access_key_id.into()))
        })
    }
}

fn check_file(file: &UsersFile) -> anyhow::Result<()> {
    anyhow::ensure!(
        file.version == USERS_FILE_VERSION,
        "version {} (this build reads version {USERS_FILE_VERSION})",
        file.version
    );
    let mut names = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    for user in &file.users {
        anyhow::ensure!(valid_name(&user.display_name), "bad user name");
        anyhow::ensure!(names.insert(&user.display_name), "duplicate user name");
        anyhow::ensure!(ids.insert(&user.user_id), "duplicate user id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Users, AccessKey) {
        let root = AccessKey::generate();
        (Users::open(dir, root.clone()).unwrap(), root)
    }

    #[test]
    fn users_and_keys_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (users, root) = open(dir.path());
        let alice = users.create_user("alice").unwrap();
        assert_eq!(alice.user_id.len(), USER_ID_DIGITS);
        assert!(alice.user_id.bytes().all(|b| b.is_ascii_digit()));
        let key = users.create_key("alice").unwrap();
        assert_eq!(key.user_id, alice.user_id);
        let root_id = users.identity_of_key(&root.access_key_id).unwrap();
        assert!(root_id.admin);
        drop(users);
        let reopened = Users::open(dir.path(), root.clone()).unwrap();
        let found = reopened.lookup(&key.access_key_id).unwrap();
        assert_eq!(found.secret_access_key, key.secret_access_key);
        assert_eq!(found.display_name, "alice");
        let again = reopened.identity_of_key(&root.access_key_id).unwrap();
        assert_eq!(again.user_id, root_id.user_id, "the root user id is stable");
        let names: Vec<String> = reopened
            .list_users()
            .into_iter()
            .map(|u| u.display_name)
            .collect();
        assert_eq!(names, ["root", "alice"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(USERS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn rules_and_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (users, root) = open(dir.path());
        for bad in ["", "Alice", "a b", &"a".repeat(65)] {
            let e = users.create_user(bad).unwrap_err();
            assert_eq!(e.status(), Status::InvalidUserName, "{bad:?}");
        }
        users.create_user("bob").unwrap();
        let e = users.create_user("bob").unwrap_err();
        assert_eq!(e.status(), Status::UserAlreadyExists);
        assert_eq!(
            users.create_user("root").unwrap_err().status(),
            Status::UserAlreadyExists
        );
        users.create_key("bob").unwrap();
        users.create_key("bob").unwrap();
        let e = users.create_key("bob").unwrap_err();
        assert_eq!(e.status(), Status::TooManyAccessKeys);
        assert_eq!(
            users.create_key("nobody").unwrap_err().status(),
            Status::NoSuchUser
        );
        let e = users.delete_user("bob", |_| 2).unwrap_err();
        assert_eq!(e.status(), Status::UserOwnsBuckets);
        assert!(users
            .identity_of_user(&users.list_users()[1].user_id)
            .is_some());
        assert!(matches!(
            users.delete_user("root", |_| 0),
            Err(UserError::RootUser)
        ));
        assert!(matches!(
            users.delete_key(&root.access_key_id),
            Err(UserError::RootKey)
        ));
        let e = users.delete_key("RSNOSUCHKEY").unwrap_err();
        assert_eq!(e.status(), Status::NoSuchAccessKey);
        assert_eq!(users.list_keys(Some("bob")).unwrap().len(), 2);
        assert_eq!(users.list_keys(None).unwrap().len(), 3);
        assert!(users.list_keys(Some("carol")).is_err());
    }

    #[test]
    fn deleting_a_user_removes_its_keys_and_bumps_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let (users, _) = open(dir.path());
        let bob = users.create_user("bob").unwrap();
        let key = users.create_key("bob").unwrap();
        let before = users.generation();
        users.delete_user("bob", |_| 0).unwrap();
        assert!(users.generation() > before);
        assert!(users.identity_of_key(&key.access_key_id).is_none());
        assert!(users.identity_of_user(&bob.user_id).is_none());
        assert!(users.lookup(&key.access_key_id).is_none());
        let (c, s) = ([1u8; 32], [2u8; 32]);
        let proof = proof_for(&key.secret_access_key, &key.access_key_id, &c, &s);
        assert!(!users.verify(&key.access_key_id, &c, &s, &proof));
    }

    #[test]
    fn proofs_verify_only_with_the_right_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (users, root) = open(dir.path());
        let key = users.create_key("root").unwrap();
        let (c, s) = ([1u8; 32], [2u8; 32]);
        for k in [
            &root,
            &AccessKey {
                access_key_id: key.access_key_id.clone(),
                secret_access_key: key.secret_access_key.clone(),
            },
        ] {
            let proof = proof_for(&k.secret_access_key, &k.access_key_id, &c, &s);
            assert!(users.verify(&k.access_key_id, &c, &s, &proof));
            assert!(!users.verify(&k.access_key_id, &s, &c, &proof));
        }
        assert!(users.identity_of_key(&key.access_key_id).unwrap().admin);
        let proof = proof_for("", "RSUNKNOWN", &c, &s);
        assert!(!users.verify("RSUNKNOWN", &c, &s, &proof));
    }

    #[test]
    fn a_damaged_users_file_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(USERS_FILE), "{ not json").unwrap();
        let err = Users::open(dir.path(), AccessKey::generate()).unwrap_err();
        assert!(format!("{err:#}").contains("invalid users file"), "{err:#}");
    }
}
