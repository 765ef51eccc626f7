//! Finds the access key: flags or environment, else the data directory's root.key.

use anyhow::{bail, Context, Result};

use crate::args::Conn;

pub fn client_config(conn: &Conn) -> Result<ringstore_client::ClientConfig> {
    let (id, secret) = match (&conn.access_key_id, &conn.secret_access_key) {
        (Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (None, None) => read_key_file(conn)?,
        _ => bail!("give both --access-key-id and --secret-access-key, or neither"),
    };
    Ok(ringstore_client::ClientConfig::new(
        conn.endpoint.clone(),
        id,
        secret,
    ))
}

fn read_key_file(conn: &Conn) -> Result<(String, String)> {
    let path = conn.data_dir.join("root.key");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no access key given and {} cannot be read (set RINGSTORE_ACCESS_KEY_ID and \
             RINGSTORE_SECRET_ACCESS_KEY, or --data-dir)",
            path.display()
        )
    })?;
    let field = |name: &str| -> Result<String> {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == name {
                    return Ok(v.trim().trim_matches('"').to_string());
                }
            }
        }
        bail!("{} has no {name}", path.display())
    };
    Ok((field("access_key_id")?, field("secret_access_key")?))
}
