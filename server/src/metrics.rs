//! What the server reports about itself: the AdminStatus document (executors, partitions,
//! devices and the engine's counters) and the same counters and partition gauges in the
//! Prometheus text exposition format (served by `metrics_http`).

use std::fmt::Write as _;

use ringstore_engine::shared::DeviceState;
use ringstore_engine::{Handle, PartitionStatus};
use serde_json::json;

use crate::listener::ExecutorCtx;

/// The JSON answer to AdminStatus. Scrub and other background workers report here once
/// they exist; for now the only background work is checkpointing and compaction, which the
/// partitions run on their low-share task queue.
pub fn status_json(ctx: &ExecutorCtx, parts: &[PartitionStatus]) -> String {
    let shared = &ctx.handle.shared;
    let layout = &shared.layout;
    let s = &shared.stats;
    let partitions: Vec<_> = parts
        .iter()
        .map(|p| {
            json!({
                "partition": p.partition,
                "objects": p.objects,
                "object_bytes": p.object_bytes,
                "extents_total": p.extents_total,
                "extents_free": p.extents_free,
                "log_seq": p.log_seq,
                "background": p.background,
            })
        })
        .collect();
    let health: Vec<_> = shared
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let state = match d.state() {
                DeviceState::Up => "up",
                DeviceState::Missing => "missing",
                DeviceState::Failed => "failed",
            };
            json!({ "index": i, "path": d.path(), "state": state, "io_errors": d.errors.get() })
        })
        .collect();
    // User bytes an extent holds: one extent on each of the k data devices.
    let extent_user_bytes = layout.extent_bytes * layout.data_shards as u64;
    let extents_total: u64 = parts.iter().map(|p| p.extents_total as u64).sum();
    let extents_free: u64 = parts.iter().map(|p| p.extents_free as u64).sum();
    let partitions_objects: u64 = parts.iter().map(|p| p.objects).sum();
    let partitions_object_bytes: u64 = parts.iter().map(|p| p.object_bytes).sum();
    let doc = json!({
        "server": {
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_secs": ctx.started.elapsed().as_secs(),
            "executors": ctx.executors,
            "cores_available": crate::config::available_cores(),
            "answered_by_executor": ctx.executor,
            "connections_open": ctx.state.connections(),
        },
        "devices": {
            "count": layout.device_count(),
            "data_shards": layout.data_shards,
            "parity_shards": layout.parity_shards,
            "set_id": format!("{:016x}", layout.set_id),
            "device_bytes": layout.device_bytes,
            "extent_bytes": layout.extent_bytes,
            "extents_per_device": layout.extent_count,
            "health": health,
            // Stripes written while a device was down, not healed yet: they lack redundancy.
            "degraded_stripes": shared.scrub.degraded_stripes(),
            "degraded_stripes_untracked": s.degraded_stripes_untracked.get(),
        },
        "capacity": {
            "bytes": extent_user_bytes * extents_total,
            "free_bytes": extent_user_bytes * extents_free,
            "objects": partitions_objects,
            "object_bytes": partitions_object_bytes,
        },
        "partitions": partitions,
        "counters": {
            "puts": s.puts.get(),
            "gets": s.gets.get(),
            "deletes": s.deletes.get(),
            "lists": s.lists.get(),
            "bytes_in": s.bytes_in.get(),
            "bytes_out": s.bytes_out.get(),
            "corrupt_blocks": s.corrupt_blocks.get(),
            "rebuilt_blocks": s.rebuilt_blocks.get(),
            "unrecoverable_blocks": s.unrecoverable_blocks.get(),
            "log_bytes_written": s.log_bytes_written.get(),
            "data_bytes_written": s.data_bytes_written.get(),
            "checkpoint_bytes_written": s.checkpoint_bytes_written.get(),
            "checkpoints": s.checkpoints.get(),
            "device_flushes": s.device_flushes.get(),
            "read_cache_hits": s.read_cache_hits.get(),
            "read_cache_misses": s.read_cache_misses.get(),
            "compaction_objects_moved": s.compaction_objects_moved.get(),
            "puts_throttled": s.puts_throttled.get(),
            "puts_refused_full": s.puts_refused_full.get(),
            "degraded_stripes_written": s.degraded_stripes_written.get(),
            "rebuild_blocks_written": s.rebuild_blocks_written.get(),
        },
        "background": {
            "queue": "low-share glommio task queue on every executor",
            "workers": {
                "checkpoint_and_compaction": parts.iter().map(|p| p.background).collect::<Vec<_>>(),
                "scrub": crate::scrub_ops::scrub_json(&ctx.handle),
            },
            "checkpoints": s.checkpoints.get(),
            "compaction_objects_moved": s.compaction_objects_moved.get(),
        },
    });
    doc.to_string()
}

/// The Prometheus text exposition (format 0.0.4) of the engine's counters, the partitions'
/// gauges and the device set.
pub fn prometheus_text(handle: &Handle, partitions: &[PartitionStatus]) -> String {
    let s = &handle.shared.stats;
    let mut out = Exposition::default();
    let counters = [
        ("ringstore_puts_total", "Objects put.", s.puts.get()),
        ("ringstore_gets_total", "Objects read.", s.gets.get()),
        (
            "ringstore_deletes_total",
            "Objects deleted.",
            s.deletes.get(),
        ),
        (
            "ringstore_lists_total",
            "Object listings served.",
            s.lists.get(),
        ),
        (
            "ringstore_bytes_in_total",
            "Object bytes received.",
            s.bytes_in.get(),
        ),
        (
            "ringstore_bytes_out_total",
            "Object bytes sent.",
            s.bytes_out.get(),
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help, "", &[("", value)]);
    }
    out.family(
        "ringstore_device_bytes_written_total",
        "counter",
        "Bytes written to the devices (all shards, headers and padding), by what they hold.",
        "kind",
        &[
            ("data", s.data_bytes_written.get()),
            ("log", s.log_bytes_written.get()),
            ("checkpoint", s.checkpoint_bytes_written.get()),
        ],
    );
    let counters = [
        (
            "ringstore_checkpoints_total",
            "Checkpoints written.",
            s.checkpoints.get(),
        ),
        (
            "ringstore_device_flushes_total",
            "fdatasync calls issued to the devices (one per flush domain per flush).",
            s.device_flushes.get(),
        ),
        (
            "ringstore_read_cache_hits_total",
            "Gets of small objects answered from the read cache.",
            s.read_cache_hits.get(),
        ),
        (
            "ringstore_read_cache_misses_total",
            "Gets of small objects that read the devices (the cache on, the object not in it).",
            s.read_cache_misses.get(),
        ),
        (
            "ringstore_compaction_objects_moved_total",
            "Objects compaction moved or rewrote to free extents.",
            s.compaction_objects_moved.get(),
        ),
        (
            "ringstore_puts_throttled_total",
            "Puts that found free space low and reclaimed space before writing.",
            s.puts_throttled.get(),
        ),
        (
            "ringstore_puts_refused_full_total",
            "Puts refused because live data fills the device set.",
            s.puts_refused_full.get(),
        ),
        (
            "ringstore_blocks_corrupt_total",
            "Blocks that failed verification when read.",
            s.corrupt_blocks.get(),
        ),
        (
            "ringstore_blocks_rebuilt_total",
            "Blocks rebuilt from parity.",
            s.rebuilt_blocks.get(),
        ),
        (
            "ringstore_blocks_unrecoverable_total",
            "Blocks that could not be rebuilt (more shards lost than parity).",
            s.unrecoverable_blocks.get(),
        ),
        (
            "ringstore_scrub_blocks_total",
            "Blocks the scrub verified.",
            s.scrub_blocks.get(),
        ),
        (
            "ringstore_scrub_bytes_total",
            "Device bytes the scrub verified.",
            s.scrub_bytes.get(),
        ),
        (
            "ringstore_scrub_corrupt_total",
            "Blocks the scrub found bad.",
            s.scrub_corrupt.get(),
        ),
        (
            "ringstore_scrub_repaired_total",
            "Blocks the scrub rewrote from parity.",
            s.scrub_repaired.get(),
        ),
        (
            "ringstore_scrub_unrecoverable_total",
            "Blocks the scrub could not rebuild.",
            s.scrub_unrecoverable.get(),
        ),
        (
            "ringstore_scrub_passes_total",
            "Full scrub passes finished (one per partition per pass).",
            s.scrub_passes.get(),
        ),
        (
            "ringstore_rebuild_blocks_written_total",
            "Blocks the rebuild of replaced devices (and healing of degraded writes) wrote.",
            s.rebuild_blocks_written.get(),
        ),
        (
            "ringstore_degraded_stripes_written_total",
            "Stripes written while a device was down (without its shard).",
            s.degraded_stripes_written.get(),
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help, "", &[("", value)]);
    }
    partition_gauges(&mut out, partitions);
    let devices = handle.shared.layout.device_count() as u64;
    let count = |s: DeviceState| {
        handle
            .shared
            .devices
            .iter()
            .filter(|d| d.state() == s)
            .count() as u64
    };
    out.family(
        "ringstore_devices",
        "gauge",
        "Devices in the set, by state.",
        "state",
        &[
            ("configured", devices),
            ("up", count(DeviceState::Up)),
            ("missing", count(DeviceState::Missing)),
            ("failed", count(DeviceState::Failed)),
        ],
    );
    out.family(
        "ringstore_degraded_stripes",
        "gauge",
        "Stripes written while a device was down and not healed yet (lacking redundancy).",
        "",
        &[("", handle.shared.scrub.degraded_stripes())],
    );
    out.text
}

fn partition_gauges(out: &mut Exposition, partitions: &[PartitionStatus]) {
    type Field = fn(&PartitionStatus) -> u64;
    let gauges: [(&str, &str, Field); 4] = [
        ("ringstore_partition_objects", "Objects stored.", |p| {
            p.objects
        }),
        (
            "ringstore_partition_object_bytes",
            "Object bytes stored.",
            |p| p.object_bytes,
        ),
        (
            "ringstore_partition_extents_free",
            "Extents free for new data.",
            |p| p.extents_free as u64,
        ),
        (
            "ringstore_partition_extents_total",
            "Extents the partition owns.",
            |p| p.extents_total as u64,
        ),
    ];
    for (name, help, field) in gauges {
        let labels: Vec<String> = partitions.iter().map(|p| p.partition.to_string()).collect();
        let samples: Vec<(&str, u64)> = labels
            .iter()
            .zip(partitions)
            .map(|(label, p)| (label.as_str(), field(p)))
            .collect();
        out.family(name, "gauge", help, "partition", &samples);
    }
}

/// A text exposition being written: every family once, its samples together.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// Writes one family. With `label` empty, `samples` holds one unlabelled sample (its
    /// label value ignored); otherwise each sample is `name{label="value"}`.
    fn family(&mut self, name: &str, kind: &str, help: &str, label: &str, samples: &[(&str, u64)]) {
        assert!(!help.contains(['\\', '\n']), "HELP text needs no escaping");
        assert!(
            !label.is_empty() || samples.len() == 1,
            "an unlabelled family has one sample"
        );
        let t = &mut self.text;
        // Writing to a String cannot fail.
        let _ = writeln!(t, "# HELP {name} {help}");
        let _ = writeln!(t, "# TYPE {name} {kind}");
        for (value_label, value) in samples {
            if label.is_empty() {
                let _ = writeln!(t, "{name} {value}");
            } else {
                let escaped = escape_label_value(value_label);
                let _ = writeln!(t, "{name}{{{label}=\"{escaped}\"}} {value}");
            }
        }
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_samples() {
        let mut out = Exposition::default();
        out.family("a_total", "counter", "A.", "", &[("", 3)]);
        out.family("b", "gauge", "B.", "partition", &[("0", 1), ("1", 2)]);
        assert_eq!(
            out.text,
            "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\
             # HELP b B.\n# TYPE b gauge\nb{partition=\"0\"} 1\nb{partition=\"1\"} 2\n"
        );
        assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
