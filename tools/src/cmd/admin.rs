//! `admin status`, `admin scrub start|pause|status`, `admin device replace OLD NEW`, `admin user create|list|delete`, `admin key create|list|delete`.

use anyhow::Result;
use ringstore_client::Client;

use crate::args::{AdminCommand, DeviceCommand, KeyCommand, ScrubCommand, UserCommand};
use crate::cmd::format_ms;

pub async fn admin(c: &Client, command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Status => println!("{}", c.admin_status().await?),
        AdminCommand::Scrub { command } => scrub(c, command).await?,
        AdminCommand::Device {
            command: DeviceCommand::Replace { old, new },
        } => println!("{}", c.device_replace(&old, &new).await?),
        AdminCommand::User { command } => user(c, command).await?,
        AdminCommand::Key { command } => key(c, command).await?,
    }
    Ok(())
}

async fn scrub(c: &Client, command: ScrubCommand) -> Result<()> {
    let json = match command {
        ScrubCommand::Start { rate_bytes_per_sec } => c.scrub_start(rate_bytes_per_sec).await?,
        ScrubCommand::Pause => c.scrub_pause().await?,
        ScrubCommand::Status => c.scrub_status().await?,
    };
    println!("{json}");
    Ok(())
}

async fn user(c: &Client, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Create { name } => {
            let u = c.user_create(&name).await?;
            println!("created user {} (user id {})", u.display_name, u.user_id);
        }
        UserCommand::List => {
            println!(
                "{:<16}  {:<24}  {:<19}  ACCESS KEYS",
                "USER ID", "NAME", "CREATED"
            );
            for u in c.user_list().await? {
                let name = match u.admin {
                    true => format!("{} (admin)", u.display_name),
                    false => u.display_name,
                };
                let keys = u.access_key_ids.join(",");
                let created = format_ms(u.created_ms);
                println!("{:<16}  {name:<24}  {created}  {keys}", u.user_id);
            }
        }
        UserCommand::Delete { name } => {
            c.user_delete(&name).await?;
            println!("deleted user {name} and its access keys");
        }
    }
    Ok(())
}

async fn key(c: &Client, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Create { user } => {
            let k = c.key_create(&user).await?;
            // TOML, like root.key, so the output can be saved as a key file.
            println!("access_key_id = \"{}\"", k.access_key_id);
            println!("secret_access_key = \"{}\"", k.secret_access_key);
            println!("user = \"{}\"", k.display_name);
            println!("user_id = \"{}\"", k.user_id);
            eprintln!("the secret is shown only now: store it");
        }
        KeyCommand::List { user } => {
            println!(
                "{:<20}  {:<24}  {:<16}  CREATED",
                "ACCESS KEY ID", "USER", "USER ID"
            );
            for k in c.key_list(user.as_deref()).await? {
                let created = format_ms(k.created_ms);
                let (id, name, uid) = (&k.access_key_id, &k.display_name, &k.user_id);
                println!("{id:<20}  {name:<24}  {uid:<16}  {created}");
            }
        }
        KeyCommand::Delete { key_id } => {
            c.key_delete(&key_id).await?;
            println!("deleted access key {key_id}");
        }
    }
    Ok(())
}
