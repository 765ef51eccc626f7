//! Session and admin operations: ping (0x0003) and admin status (0x0F01).

use ringstore_proto::{AdminStatus, Ping};

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
}
