//! Finds the access key: flags or environment, else the data directory's root.key.

use anyhow::Result;

use crate::args::Conn;

pub fn client_config(conn: &Conn) -> Result<ringstore_client::ClientConfig> {
    let (id, secret) = ringstore_client::credentials(
        conn.access_key_id.as_deref(),
        conn.secret_access_key.as_deref(),
        &conn.data_dir,
    )?;
    Ok(ringstore_client::ClientConfig::new(
        conn.endpoint.clone(),
        id,
        secret,
    ))
}
