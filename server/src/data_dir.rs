//! The data directory: formatted on first start, opened on every later one.
//!
//! ```text
//! <data_dir>/
//!   devices/dev0 … dev{N-1}   the device set (engine format)
//!   root.key                  the root access key (unless given by the environment)
//!   users.json                users and their access keys (`users.rs`)
//! ```
//!
//! Formatting is not atomic across devices, so the first start formats into
//! `devices.formatting/` and renames it to `devices/` only once every device is written
//! (then fsyncs the directory). A start that finds `devices/` opens it; one that finds only
//! a leftover `devices.formatting/` (a first start that was interrupted) formats again.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ringstore_engine::device_set::{format, FormatOptions};

use crate::config::ServeConfig;
use crate::keys::{root_key, RootKeySource};
use crate::users::Users;

const DEVICES_DIR: &str = "devices";
const FORMATTING_DIR: &str = "devices.formatting";

/// What `prepare` found or made.
#[derive(Debug)]
pub struct Prepared {
    pub device_paths: Vec<PathBuf>,
    pub users: Users,
    /// The root key's id (never the secret), for the start-up log line.
    pub root_access_key_id: String,
    pub root_key_source: RootKeySource,
    pub formatted_now: bool,
}

/// Creates and formats the data directory on first start; finds the devices and the root
/// key on every start.
pub fn prepare(cfg: &ServeConfig) -> anyhow::Result<Prepared> {
    let dir = &cfg.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let formatted_now = !dir.join(DEVICES_DIR).exists();
    if formatted_now {
        format_devices(cfg)?;
    }
    let (root, root_key_source) = root_key(dir)?;
    Ok(Prepared {
        device_paths: cfg.device_paths(),
        root_access_key_id: root.access_key_id.clone(),
        users: Users::open(dir, root)?,
        root_key_source,
        formatted_now,
    })
}

fn format_devices(cfg: &ServeConfig) -> anyhow::Result<()> {
    let dir = &cfg.data_dir;
    let staging = dir.join(FORMATTING_DIR);
    if staging.exists() {
        tracing::warn!(path = %staging.display(), "removing an interrupted format");
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot remove {}", staging.display()))?;
    }
    std::fs::create_dir(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let paths: Vec<PathBuf> = (0..cfg.device_count)
        .map(|i| staging.join(format!("dev{i}")))
        .collect();
    let opts = FormatOptions {
        data_shards: cfg.data_shards,
        parity_shards: cfg.parity_shards,
        device_bytes: cfg.device_size_bytes,
        extent_bytes: extent_bytes_for(
            cfg.device_size_bytes,
            cfg.extent_size_bytes,
            cfg.partitions,
        ),
        partitions: cfg.partitions,
        force: false,
        prefill: cfg.prefill,
    };
    tracing::info!(
        devices = cfg.device_count,
        k = cfg.data_shards,
        m = cfg.parity_shards,
        device_size_bytes = cfg.device_size_bytes,
        partitions = cfg.partitions,
        prefill = cfg.prefill,
        "formatting a new device set in {}",
        dir.display()
    );
    let layout = format(&paths, &opts).context("cannot format the device set")?;
    std::fs::rename(&staging, dir.join(DEVICES_DIR))
        .with_context(|| format!("cannot rename {}", staging.display()))?;
    fsync_dir(dir)?;
    tracing::info!(
        set_id = format!("{:016x}", layout.set_id),
        "device set formatted"
    );
    Ok(())
}

fn fsync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_formats_then_later_starts_open() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            data_dir: tmp.path().join("data"),
            device_size_bytes: 64 << 20,
            extent_size_bytes: 4 << 20,
            partitions: 2,
            prefill: false,
            ..ServeConfig::default()
        };
        // A leftover of an interrupted first start is discarded.
        std::fs::create_dir_all(cfg.data_dir.join(FORMATTING_DIR)).unwrap();
        let first = prepare(&cfg).unwrap();
        assert!(first.formatted_now);
        assert!(first.device_paths.iter().all(|p| p.exists()));
        assert!(!cfg.data_dir.join(FORMATTING_DIR).exists());
        let second = prepare(&cfg).unwrap();
        assert!(!second.formatted_now);
        if matches!(first.root_key_source, RootKeySource::Created(_)) {
            assert_eq!(first.root_access_key_id, second.root_access_key_id);
        }
    }
}

/// The configured extent size, shrunk (to a power of two, at least 1 MiB) for small devices
/// so every partition still owns at least eight extents.
pub fn extent_bytes_for(device_bytes: u64, configured: u64, partitions: usize) -> u64 {
    const MIB: u64 = 1 << 20;
    let per_partition = device_bytes.saturating_sub(2 * MIB) / (8 * partitions.max(1) as u64);
    if per_partition >= configured {
        return configured;
    }
    let mut e = MIB;
    while e * 2 <= per_partition {
        e *= 2;
    }
    e
}

#[cfg(test)]
mod extent_tests {
    #[test]
    fn small_devices_get_small_extents() {
        assert_eq!(super::extent_bytes_for(1 << 30, 16 << 20, 2), 16 << 20);
        assert_eq!(super::extent_bytes_for(64 << 20, 16 << 20, 2), 2 << 20);
        assert_eq!(super::extent_bytes_for(16 << 20, 16 << 20, 2), 1 << 20);
    }
}
