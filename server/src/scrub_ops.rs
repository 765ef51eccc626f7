//! ScrubStart, ScrubPause, ScrubStatus and DeviceReplace: commands to the engine's
//! background scrub and device replacement, answered with the scrub's state as JSON
//! (PROTOCOL.md, admin bodies).
//!
//! ScrubStart takes optional JSON options: `{"rate_bytes_per_sec": N}` changes the rate
//! cap before the pass starts.

use ringstore_engine::Handle;
use ringstore_proto::{
    AdminJson, Body, DeviceReplace, ScrubPause, ScrubStart, ScrubStatus, Status,
};
use serde_json::{json, Value};

use crate::dispatch::Failure;
use crate::listener::ExecutorCtx;

fn bad(message: String) -> Failure {
    Failure {
        status: Status::BadRequest,
        message,
    }
}

pub fn scrub_start(h: &Handle, body: &[u8]) -> Result<AdminJson, Failure> {
    let m = ScrubStart::decode(body)?;
    if !m.json.trim().is_empty() {
        let v: Value = serde_json::from_str(&m.json)
            .map_err(|e| bad(format!("ScrubStart options are not JSON: {e}")))?;
        let Value::Object(opts) = v else {
            return Err(bad("ScrubStart options must be a JSON object".into()));
        };
        for (k, v) in opts {
            match (k.as_str(), v.as_u64()) {
                ("rate_bytes_per_sec", Some(r)) if r > 0 => h
                    .shared
                    .scrub
                    .rate_bytes_per_sec
                    .store(r, std::sync::atomic::Ordering::Relaxed),
                _ => return Err(bad(format!("unknown or invalid ScrubStart option {k:?}"))),
            }
        }
    }
    h.scrub_start();
    Ok(AdminJson {
        json: scrub_json(h).to_string(),
    })
}

pub fn scrub_pause(h: &Handle, body: &[u8]) -> Result<AdminJson, Failure> {
    ScrubPause::decode(body)?;
    h.scrub_pause();
    Ok(AdminJson {
        json: scrub_json(h).to_string(),
    })
}

pub fn scrub_status(h: &Handle, body: &[u8]) -> Result<AdminJson, Failure> {
    ScrubStatus::decode(body)?;
    Ok(AdminJson {
        json: scrub_json(h).to_string(),
    })
}

/// Formats `new` into the set as device `old` and starts its rebuild; the rebuild's
/// progress is the scrub's. A start opens `<data_dir>/devices/dev{i}`, so unless `new` is
/// that path, it is pointed at `new` with a symbolic link (replacing the entry of the old
/// device, which left the set: kept, its superblock would clash with the new one's).
pub async fn device_replace(ctx: &ExecutorCtx, body: &[u8]) -> Result<AdminJson, Failure> {
    let h = &ctx.handle;
    let m = DeviceReplace::decode(body)?;
    let v: Value = serde_json::from_str(&m.json).map_err(|e| {
        bad(format!(
            "DeviceReplace needs JSON {{\"old\", \"new\"}}: {e}"
        ))
    })?;
    let (Some(old), Some(new)) = (v["old"].as_str(), v["new"].as_str()) else {
        return Err(bad(
            "DeviceReplace needs string fields \"old\" and \"new\"".into()
        ));
    };
    let index = h.replace_device(old, std::path::Path::new(new)).await?;
    link_device(&ctx.device_paths[index], std::path::Path::new(new)).map_err(|e| Failure {
        status: Status::InternalError,
        message: format!("device {index} was replaced, but a restart will not find {new}: {e}"),
    })?;
    let mut doc = scrub_json(h);
    doc["replaced_device"] = json!(index);
    Ok(AdminJson {
        json: doc.to_string(),
    })
}

/// Makes `slot` (where a start looks for a device) lead to `new`: a symbolic link to its
/// absolute path, renamed into place so the slot is never absent, and the directory
/// fsynced.
fn link_device(slot: &std::path::Path, new: &std::path::Path) -> std::io::Result<()> {
    let target = std::fs::canonicalize(new)?;
    if std::fs::canonicalize(slot).is_ok_and(|s| s == target) {
        return Ok(());
    }
    let dir = slot
        .parent()
        .expect("a device slot lives in the devices directory");
    let tmp = slot.with_extension("link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp)?;
    std::fs::rename(&tmp, slot)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The scrub's settings, counters and each partition's state and position.
pub fn scrub_json(h: &Handle) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let c = &h.shared.scrub;
    let s = &h.shared.stats;
    let partitions: Vec<Value> = h
        .scrub_status()
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "partition": i,
                "state": p.state,
                "phase": p.phase,
                "pass": p.pass,
                "pass_started_ms": p.pass_started_ms,
                "pass_finished_ms": p.pass_finished_ms,
                "position": p.position,
            })
        })
        .collect();
    json!({
        "enabled": c.enabled.load(Relaxed),
        "paused": c.paused.load(Relaxed),
        "rate_bytes_per_sec": c.rate_bytes_per_sec.load(Relaxed),
        "interval_secs": c.interval_secs.load(Relaxed),
        "passes": s.scrub_passes.get(),
        "scanned_blocks": s.scrub_blocks.get(),
        "scanned_bytes": s.scrub_bytes.get(),
        "corrupt_blocks": s.scrub_corrupt.get(),
        "repaired_blocks": s.scrub_repaired.get(),
        "unrecoverable_blocks": s.scrub_unrecoverable.get(),
        "rebuild_blocks_written": s.rebuild_blocks_written.get(),
        "degraded_stripes": c.degraded_stripes(),
        "partitions": partitions,
    })
}
