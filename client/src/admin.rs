//! Session and admin operations: ping (0x0003), admin status (0x0F01), scrub
//! (0x0F02..=0x0F04), and users and
//! access keys (0x0F10..=0x0F16, administrators only).

use ringstore_proto::{
    AccessKeyInfo, AdminStatus, DeviceReplace, KeyCreate, KeyDelete, KeyInfo, KeyList, KeyLookup,
    NewAccessKey, Ping, ScrubPause, ScrubStart, ScrubStatus, UserCreate, UserDelete, UserInfo,
    UserList,
};

use crate::{Client, Error};

impl Client {
    /// A round trip to the daemon on a pooled connection.
    pub async fn ping(&self) -> Result<(), Error> {
        self.retried(&Ping).await.map(drop)
    }

    /// The daemon's status as a JSON document: devices, cores, and the state (busy,
    /// throttled, idle) of each background worker.
    pub async fn admin_status(&self) -> Result<String, Error> {
        let response = self.retried(&AdminStatus::default()).await?;
        Ok(response.json)
    }

    /// Starts (or resumes) a scrub pass; `rate_bytes_per_sec` changes the rate cap first.
    /// Returns the scrub state as JSON.
    pub async fn scrub_start(&self, rate_bytes_per_sec: Option<u64>) -> Result<String, Error> {
        let json = match rate_bytes_per_sec {
            Some(r) => format!("{{\"rate_bytes_per_sec\":{r}}}"),
            None => String::new(),
        };
        Ok(self.retried(&ScrubStart { json }).await?.json)
    }

    /// Pauses the scrub; returns its state as JSON.
    pub async fn scrub_pause(&self) -> Result<String, Error> {
        Ok(self.retried(&ScrubPause::default()).await?.json)
    }

    /// The scrub's counters and each partition's state and position, as JSON.
    pub async fn scrub_status(&self) -> Result<String, Error> {
        Ok(self.retried(&ScrubStatus::default()).await?.json)
    }

    /// Replaces device `old` (index or path) with `new` and starts its rebuild. Not
    /// retried: the new device is formatted once.
    pub async fn device_replace(&self, old: &str, new: &str) -> Result<String, Error> {
        let json = serde_json::json!({ "old": old, "new": new }).to_string();
        Ok(self.once(&DeviceReplace { json }).await?.json)
    }

    /// Creates a user (`UserAlreadyExists`, `InvalidUserName`, `TooManyUsers`). Not
    /// retried: a retry after a lost response would report `UserAlreadyExists`.
    pub async fn user_create(&self, display_name: &str) -> Result<UserInfo, Error> {
        let display_name = display_name.to_owned();
        self.once(&UserCreate { display_name }).await
    }

    /// Every user, root first, then by display name.
    pub async fn user_list(&self) -> Result<Vec<UserInfo>, Error> {
        Ok(self.retried(&UserList).await?.users)
    }

    /// Deletes a user and its access keys (`UserOwnsBuckets` while it owns buckets,
    /// `NoSuchUser`). Its keys stop working at once, on open connections too.
    pub async fn user_delete(&self, display_name: &str) -> Result<(), Error> {
        let display_name = display_name.to_owned();
        self.once(&UserDelete { display_name }).await.map(drop)
    }

    /// A new access key for a user (`TooManyAccessKeys` past two). The secret is in the
    /// answer and nowhere else: show it once.
    pub async fn key_create(&self, display_name: &str) -> Result<NewAccessKey, Error> {
        let display_name = display_name.to_owned();
        self.once(&KeyCreate { display_name }).await
    }

    /// Access keys (ids, never secrets) of one user, or of every user.
    pub async fn key_list(&self, display_name: Option<&str>) -> Result<Vec<AccessKeyInfo>, Error> {
        let display_name = display_name.map(str::to_owned);
        Ok(self.retried(&KeyList { display_name }).await?.keys)
    }

    /// Deletes an access key (`NoSuchAccessKey`); connections that use it get
    /// `AccessDenied` at their next request and are closed.
    pub async fn key_delete(&self, access_key_id: &str) -> Result<(), Error> {
        let access_key_id = access_key_id.to_owned();
        self.once(&KeyDelete { access_key_id }).await.map(drop)
    }

    /// The user and secret of an access key, `None` if no such key exists: what an
    /// adapter needs to verify a request signature. Callers may cache the answer for a
    /// few seconds (a deleted key then keeps working for that long through them).
    pub async fn key_lookup(&self, access_key_id: &str) -> Result<Option<KeyInfo>, Error> {
        let access_key_id = access_key_id.to_owned();
        Ok(self.retried(&KeyLookup { access_key_id }).await?.key)
    }
}
