//! Replacing a device: the new device is formatted into the set at the old one's index
//! (a regular file is allocated and written full of zeros first, on a thread of its own so
//! the executor keeps serving, so that the rebuild's O_DIRECT writes land in written
//! blocks and need no filesystem metadata change), every executor opens it in place of the
//! old one, every partition writes its newest root there, and a rebuild pass (a scrub pass
//! that is not rate-capped and writes the new device's shards from k others, `rebuild`)
//! restores every block that lived on the old device, while the set keeps serving. Writes
//! after the attach write every shard; stripes written while the device was down are
//! healed first.
//!
//! The superblocks say which device of the set a path holds, so opening the set with the
//! new path in the list (in any position) finds it again after a restart.

use std::path::{Path, PathBuf};

use crate::device_set::Layout;
use crate::error::Error;
use crate::partition::Partition;
use crate::runtime::{Handle, Request};

impl Handle {
    /// Formats `new` as device `old` (an index, or the path it was opened from), attaches
    /// it everywhere and starts the rebuild pass; returns the device index. Progress is
    /// the scrub's (`scrub_status`); the rebuild is done when every partition finished
    /// the pass.
    pub async fn replace_device(&self, old: &str, new: &Path) -> Result<usize, Error> {
        let index = self.device_index(old)?;
        format_in_background(self.shared.layout, index, new).await?;
        for p in 0..self.partitions() {
            let path = new.to_path_buf();
            self.call(p, |reply| Request::AttachDevice { index, path, reply })
                .await?;
        }
        self.shared.devices[index].replaced_by(new);
        tracing::info!(device = index, path = %new.display(), "device replaced: rebuilding");
        self.shared.scrub.start_rebuild(index);
        Ok(index)
    }

    fn device_index(&self, old: &str) -> Result<usize, Error> {
        let paths: Vec<String> = self.shared.devices.iter().map(|d| d.path()).collect();
        let devices = &self.shared.devices;
        if let Ok(i) = old.parse::<usize>() {
            if i < devices.len() {
                return Ok(i);
            }
        }
        paths
            .iter()
            .position(|p| !p.is_empty() && Path::new(p) == Path::new(old))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{old:?} is neither a device index below {} nor a device path of the set",
                    devices.len()
                ))
            })
    }
}

/// Formats the replacement on a thread of its own: prefilling a large file takes seconds.
async fn format_in_background(layout: Layout, index: usize, new: &Path) -> Result<(), Error> {
    let (tx, rx) = futures::channel::oneshot::channel();
    let path = new.to_path_buf();
    std::thread::Builder::new()
        .name("ringstore-format".into())
        .spawn(move || {
            let _ = tx.send(crate::device_set::format_replacement(
                &layout, index, &path, true,
            ));
        })
        .map_err(|e| Error::Io(format!("cannot start the format thread: {e}")))?;
    match rx.await {
        Ok(Ok(_device_id)) => Ok(()),
        Ok(Err(e)) => Err(Error::InvalidArgument(format!(
            "cannot format {}: {e}",
            new.display()
        ))),
        Err(_) => Err(Error::Io(
            "the format thread ended without an answer".into(),
        )),
    }
}

impl Partition {
    /// Opens the replacement device on this executor and writes the newest root to it.
    pub(crate) async fn attach_device(&self, index: usize, path: PathBuf) -> Result<(), Error> {
        self.dev
            .attach(index, &path)
            .await
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
        if let Some(root) = self.read_root().await {
            self.write_root(&root).await?;
        }
        Ok(())
    }
}
