//! One function per command; `run` picks it. Client commands run on a small tokio runtime.

use anyhow::Result;
use ringstore_client::{Client, Error as ClientError, Status};

use crate::args::{Cli, Command, Conn};
use crate::creds::client_config;

mod admin;
mod bucket;
mod cp;
mod ls;
mod object;
mod serve;

/// Exit codes scripts can rely on.
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_NOT_FOUND: u8 = 3;
pub const EXIT_ACCESS_DENIED: u8 = 4;
pub const EXIT_UNREACHABLE: u8 = 5;

pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::Status {
            status:
                Status::NoSuchKey | Status::NoSuchBucket | Status::NoSuchUser | Status::NoSuchAccessKey,
            ..
        }) => EXIT_NOT_FOUND,
        Some(ClientError::Status {
            status: Status::AccessDenied | Status::NotAuthenticated,
            ..
        })
        | Some(ClientError::Auth(_)) => EXIT_ACCESS_DENIED,
        Some(ClientError::Io(_) | ClientError::Closed | ClientError::Timeout) => EXIT_UNREACHABLE,
        _ => EXIT_ERROR,
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        command => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(client_command(command))
        }
    }
}

async fn connect(conn: &Conn) -> Result<Client> {
    Ok(Client::connect(client_config(conn)?).await?)
}

async fn client_command(command: Command) -> Result<()> {
    match command {
        Command::Serve(_) => unreachable!("handled in run"),
        Command::Mb {
            uri,
            acl,
            storage_class,
            region,
            conn,
        } => bucket::mb(&connect(&conn).await?, &uri, &acl, &storage_class, &region).await,
        Command::Rb { uri, conn } => bucket::rb(&connect(&conn).await?, &uri).await,
        Command::Ls {
            uri,
            delimiter,
            limit,
            conn,
        } => {
            ls::ls(
                &connect(&conn).await?,
                uri.as_deref(),
                delimiter.as_deref(),
                limit,
            )
            .await
        }
        Command::Cp {
            src,
            dst,
            range,
            content_type,
            no_overwrite,
            conn,
        } => {
            let opts = cp::CpOptions {
                range,
                content_type,
                no_overwrite,
            };
            cp::cp(&connect(&conn).await?, &src, &dst, &opts).await
        }
        Command::Rm { uri, conn } => object::rm(&connect(&conn).await?, &uri).await,
        Command::Stat { uri, conn } => object::stat(&connect(&conn).await?, &uri).await,
        Command::Admin { command, conn } => admin::admin(&connect(&conn).await?, command).await,
    }
}

/// Formats milliseconds since the epoch as UTC `YYYY-MM-DD HH:MM:SS`.
pub fn format_ms(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_ms(1_700_000_000_000), "2023-11-14 22:13:20");
    }
}
