//! The AdminStatus document: executors, partitions, devices and the engine's counters.

use ringstore_engine::shared::DeviceState;
use ringstore_engine::PartitionStatus;
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
            json!({ "index": i, "path": d.path, "state": state, "io_errors": d.errors.get() })
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
            "cores_available": std::thread::available_parallelism().map_or(1, |n| n.get()),
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
        },
        "background": {
            "scrub": "not implemented",
        },
    });
    doc.to_string()
}
