//! Command-line arguments, in the conventions of ossutil and `aws s3`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ringstore",
    version,
    about = "ringstore object store: daemon and client commands"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the daemon is and which key to use. The key defaults to the root key in the
/// data directory.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// Binary-protocol endpoint (host:port).
    #[arg(
        long,
        env = "RINGSTORE_ENDPOINT",
        default_value = "127.0.0.1:9400",
        global = true
    )]
    pub endpoint: String,
    #[arg(long, env = "RINGSTORE_ACCESS_KEY_ID", global = true)]
    pub access_key_id: Option<String>,
    #[arg(
        long,
        env = "RINGSTORE_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,
    /// Data directory whose root.key is used when no key is given.
    #[arg(
        long,
        env = "RINGSTORE_DATA_DIR",
        default_value = "./ringstore-data",
        global = true
    )]
    pub data_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the daemon (creates and formats the data directory on first start).
    Serve(ServeArgs),
    /// Make a bucket: ringstore mb rs://BUCKET
    Mb {
        uri: String,
        /// private, public-read or public-read-write
        #[arg(long, default_value = "private")]
        acl: String,
        /// Standard, IA or Archive
        #[arg(long, default_value = "Standard")]
        storage_class: String,
        #[arg(long, default_value = "local")]
        region: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Remove an empty bucket: ringstore rb rs://BUCKET
    Rb {
        uri: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// List buckets, or objects under rs://BUCKET[/PREFIX]
    Ls {
        uri: Option<String>,
        /// Group keys by this delimiter into common prefixes.
        #[arg(long, short = 'd')]
        delimiter: Option<String>,
        /// Stop after this many entries (default: all).
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Copy LOCAL → rs://BUCKET/KEY or rs://BUCKET/KEY → LOCAL ('-' is stdin / stdout)
    Cp {
        src: String,
        dst: String,
        /// Byte range of a download: FIRST-LAST, FIRST- or -SUFFIX
        #[arg(long)]
        range: Option<String>,
        #[arg(long)]
        content_type: Option<String>,
        /// Fail instead of replacing an existing object.
        #[arg(long)]
        no_overwrite: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Remove an object: ringstore rm rs://BUCKET/KEY
    Rm {
        uri: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Show a bucket's or an object's metadata
    Stat {
        uri: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Administration
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Cores, partitions, devices, capacity, objects and counters (JSON)
    Status,
    /// Background scrub: start, pause, status (JSON)
    Scrub {
        #[command(subcommand)]
        command: ScrubCommand,
    },
    /// Devices: replace a failed or missing device and rebuild it
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Users: create, list, delete (administrators only)
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Access keys: create, list, delete (administrators only)
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// Format NEW into the set in place of OLD (index or path) and rebuild it while serving
    Replace { old: String, new: String },
}

#[derive(Subcommand, Debug)]
pub enum ScrubCommand {
    /// Start a full pass now (or resume a paused one)
    Start {
        /// Rate cap in device bytes per second, across the device set
        #[arg(long)]
        rate_bytes_per_sec: Option<u64>,
    },
    /// Pause the scrub at its next yield point (start resumes it)
    Pause,
    /// Counters, settings and each partition's state and position
    Status,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user: ringstore admin user create NAME (a-z 0-9 . _ -, up to 64)
    Create { name: String },
    /// List every user with its id and access key ids
    List,
    /// Delete a user who owns no bucket, and its access keys
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an access key for a user; prints the secret once, as TOML (like root.key)
    Create { user: String },
    /// List access key ids (never secrets), of one user or of all
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete an access key; connections using it are refused from their next request
    Delete {
        #[arg(value_name = "ACCESS_KEY_ID")]
        key_id: String,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file; flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Size of each device file on first start, e.g. 1GiB, 256MiB.
    #[arg(long)]
    pub device_size: Option<String>,
    /// Binary-protocol listen address.
    #[arg(long)]
    pub listen: Option<String>,
    /// Prometheus metrics endpoint address (GET /metrics); an empty value turns it off.
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// HTTP (OSS / S3) adapter address; an empty value turns it off.
    #[arg(long)]
    pub http_listen: Option<String>,
    /// Engine cores (executors); 0 = all.
    #[arg(long)]
    pub cores: Option<usize>,
    /// Memory for the caches of small objects read, e.g. 256MiB (the default); 0 turns
    /// them off.
    #[arg(long)]
    pub read_cache: Option<String>,
    /// Skip writing zeros over new device files (faster first start, slower first writes).
    #[arg(long)]
    pub no_prefill: bool,
}
