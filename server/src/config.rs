//! `ServeConfig`: everything the daemon reads at start, loadable from a TOML file.
//!
//! Every field has a default, so an empty file (or no file) is a valid configuration.
//! Device geometry (`device_count`, shards, sizes, `partitions`, `prefill`) is used only
//! when the data directory is formatted on first start; later starts read it from the
//! devices' superblocks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;

/// The daemon's configuration. Unknown keys in the TOML file are errors, so a typo does not
/// silently fall back to a default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Directory holding `devices/dev0..devN-1` and `root.key`. Default `./ringstore-data`.
    pub data_dir: PathBuf,
    /// Devices (files) in the set; must equal `data_shards + parity_shards`. Default 6.
    pub device_count: usize,
    /// k: data shards per stripe. Default 4.
    pub data_shards: usize,
    /// m: parity shards per stripe; the set survives m lost devices. Default 2.
    pub parity_shards: usize,
    /// Size of every device file, a multiple of 4096. Default 1 GiB.
    pub device_size_bytes: u64,
    /// Extent size, a multiple of 1 MiB. Default 16 MiB.
    pub extent_size_bytes: u64,
    /// Partitions of the key space (fixed at format). Default: the available cores.
    pub partitions: usize,
    /// Engine executors (threads, one per core); 0 = one per available core, never more
    /// than `partitions`. Default 0.
    pub cores: usize,
    /// Address of the binary protocol listener, bound on every executor (SO_REUSEPORT).
    /// Port 0 picks a free port. Default `127.0.0.1:9400`.
    pub listen: SocketAddr,
    /// Address of the HTTP adapter (the OSS and S3 REST dialects, on its own runtime).
    /// Port 0 picks a free port; in TOML `http_listen = ""` disables it. Default
    /// `127.0.0.1:9000`.
    #[serde(with = "optional_addr")]
    pub http_listen: Option<SocketAddr>,
    /// The region of buckets created over HTTP without a location (S3
    /// `LocationConstraint`); OSS shows it as `oss-<region>`. Default `us-east-1`.
    pub http_region: String,
    /// Base domains for virtual-host addressing: `bucket.<domain>` in the Host header
    /// names the bucket. Default `["localhost"]`.
    pub http_domains: Vec<String>,
    /// Address of the Prometheus metrics endpoint (`GET /metrics`, plain HTTP/1.1, served
    /// on its own thread). Port 0 picks a free port. In TOML an address string enables it
    /// and the empty string `metrics_listen = ""` disables it (TOML has no null); leaving
    /// the key out keeps the default. Default `127.0.0.1:9401`.
    #[serde(with = "optional_addr")]
    pub metrics_listen: Option<SocketAddr>,
    /// Open binary-protocol connections, shared evenly among the executors; beyond it a
    /// connection is answered `Busy` and closed. Default 1024.
    pub connections_max: usize,
    /// Requests one connection may have in flight (announced in the Challenge); more are
    /// answered `Busy`. Default 64.
    pub requests_in_flight_max: u32,
    /// A connection with nothing in flight that sends nothing for this long is closed.
    /// Default 300.
    pub idle_timeout_secs: u64,
    /// Write zeros over the device files once at format so later O_DIRECT writes need no
    /// filesystem allocation. Default true.
    pub prefill: bool,
    /// Run the background scrub on its schedule. Default true.
    pub scrub_enabled: bool,
    /// Device bytes per second the scrub reads at most, across the set. Default 64 MiB/s.
    pub scrub_rate_bytes_per_sec: u64,
    /// A full scrub pass starts this long after the previous one started. Default 3 days.
    pub scrub_interval_secs: u64,
    /// Bytes per second the rebuild after a device replacement writes at most, across the
    /// set; 0: as fast as the devices allow. Default 0.
    pub rebuild_rate_bytes_per_sec: u64,
    /// Memory for the engine's caches of small objects read (verified bytes of objects
    /// up to 64 KiB, by location), split among the partitions; 0 turns them off. Default
    /// 256 MiB.
    pub read_cache_bytes: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            data_dir: PathBuf::from("./ringstore-data"),
            device_count: 6,
            data_shards: 4,
            parity_shards: 2,
            device_size_bytes: 1024 * MIB,
            extent_size_bytes: 16 * MIB,
            partitions: available_cores(),
            cores: 0,
            listen: "127.0.0.1:9400".parse().expect("valid address"),
            http_listen: Some("127.0.0.1:9000".parse().expect("valid address")),
            http_region: "us-east-1".into(),
            http_domains: vec!["localhost".into()],
            metrics_listen: Some("127.0.0.1:9401".parse().expect("valid address")),
            connections_max: 1024,
            requests_in_flight_max: 64,
            idle_timeout_secs: 300,
            prefill: true,
            scrub_enabled: true,
            scrub_rate_bytes_per_sec: ringstore_engine::constants::SCRUB_RATE_BYTES_PER_SEC_DEFAULT,
            scrub_interval_secs: ringstore_engine::constants::SCRUB_INTERVAL_SECS_DEFAULT,
            rebuild_rate_bytes_per_sec:
                ringstore_engine::constants::REBUILD_RATE_BYTES_PER_SEC_DEFAULT,
            read_cache_bytes: ringstore_engine::constants::READ_CACHE_BYTES_DEFAULT as u64,
        }
    }
}

impl ServeConfig {
    /// Reads a TOML file, or returns the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<ServeConfig> {
        let Some(path) = path else {
            return Ok(ServeConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let cfg: ServeConfig = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks what the engine does not: the server's own limits.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.device_count == self.data_shards + self.parity_shards,
            "device_count = {} but data_shards + parity_shards = {}",
            self.device_count,
            self.data_shards + self.parity_shards
        );
        anyhow::ensure!(self.connections_max >= 1, "connections_max must be ≥ 1");
        anyhow::ensure!(
            self.requests_in_flight_max >= 1,
            "requests_in_flight_max must be ≥ 1"
        );
        anyhow::ensure!(self.idle_timeout_secs >= 1, "idle_timeout_secs must be ≥ 1");
        anyhow::ensure!(
            !self.http_region.is_empty() && self.http_region.len() <= 64,
            "http_region must be 1 to 64 characters"
        );
        anyhow::ensure!(
            self.scrub_rate_bytes_per_sec >= 4096,
            "scrub_rate_bytes_per_sec must be ≥ 4096"
        );
        anyhow::ensure!(
            self.scrub_interval_secs >= 1,
            "scrub_interval_secs must be ≥ 1"
        );
        Ok(())
    }

    /// `<data_dir>/devices/dev{i}` for every device.
    pub fn device_paths(&self) -> Vec<PathBuf> {
        let dir = self.data_dir.join("devices");
        (0..self.device_count)
            .map(|i| dir.join(format!("dev{i}")))
            .collect()
    }

    /// Executors the engine will run for a set of `partitions` (the engine's own rule).
    pub fn executors(&self, partitions: usize) -> usize {
        let wanted = if self.cores == 0 {
            available_cores()
        } else {
            self.cores
        };
        wanted.clamp(1, partitions.max(1))
    }
}

/// `Option<SocketAddr>` as a TOML string: `""` is `None`, anything else must parse as an
/// address. Serializing writes `""` for `None`, so a written file reads back the same.
mod optional_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid address {text:?} ({e}); use \"\" to disable"
            ))
        })
    }
}

/// Online CPUs. Not `available_parallelism`, which answers 1 on an executor thread
/// pinned to one CPU.
pub fn available_cores() -> usize {
    // SAFETY: sysconf only reads a system setting.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults_and_typos_are_errors() {
        let cfg: ServeConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, ServeConfig::default());
        let cfg: ServeConfig = toml::from_str("listen = \"0.0.0.0:1\"\nprefill = false").unwrap();
        assert_eq!(cfg.listen.port(), 1);
        assert!(!cfg.prefill);
        assert!(toml::from_str::<ServeConfig>("lisen = \"0.0.0.0:1\"").is_err());
        assert_eq!(ServeConfig::load(None).unwrap(), ServeConfig::default());
    }

    #[test]
    fn metrics_listen_is_an_address_or_empty_to_disable() {
        let cfg: ServeConfig = toml::from_str("").unwrap();
        assert_eq!(cfg.metrics_listen, Some("127.0.0.1:9401".parse().unwrap()));
        let cfg: ServeConfig = toml::from_str("metrics_listen = \"0.0.0.0:9500\"").unwrap();
        assert_eq!(cfg.metrics_listen, Some("0.0.0.0:9500".parse().unwrap()));
        let cfg: ServeConfig = toml::from_str("metrics_listen = \"\"").unwrap();
        assert_eq!(cfg.metrics_listen, None);
        assert!(toml::from_str::<ServeConfig>("metrics_listen = \"nope\"").is_err());
        // A written configuration reads back the same, disabled or not.
        for metrics_listen in [None, Some("127.0.0.1:1".parse().unwrap())] {
            let cfg = ServeConfig {
                metrics_listen,
                ..ServeConfig::default()
            };
            let text = toml::to_string(&cfg).unwrap();
            assert_eq!(toml::from_str::<ServeConfig>(&text).unwrap(), cfg);
        }
    }

    #[test]
    fn device_count_must_match_the_scheme() {
        let cfg = ServeConfig {
            device_count: 5,
            ..ServeConfig::default()
        };
        assert!(cfg.check().is_err());
        assert!(ServeConfig::default().check().is_ok());
    }
}
