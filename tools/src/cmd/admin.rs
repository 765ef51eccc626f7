//! `admin status`.

use anyhow::Result;
use ringstore_client::Client;

use crate::args::AdminCommand;

pub async fn admin(c: &Client, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Status => println!("{}", c.admin_status().await?),
    }
    Ok(())
}
