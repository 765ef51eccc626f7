//! Replacing a device: the new device is formatted into the set at the old one's index,
//! every executor opens it in place of the old one, every partition writes its newest
//! root there, and a scrub pass (not rate-capped) rebuilds every block that lived on the old device (its
//! blocks read as invalid on the fresh device and are rewritten from the other shards),
//! while the set keeps serving.

use std::path::{Path, PathBuf};

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
        let layout = self.shared.layout;
        crate::device_set::format_replacement(&layout, index, new, false)
            .map_err(|e| Error::InvalidArgument(format!("cannot format {}: {e}", new.display())))?;
        for p in 0..self.partitions() {
            let path = new.to_path_buf();
            self.call(p, |reply| Request::AttachDevice { index, path, reply })
                .await?;
        }
        self.shared.devices[index].mark_up();
        tracing::info!(device = index, path = %new.display(), "device replaced: rebuilding");
        self.shared.scrub.start_rebuild();
        Ok(index)
    }

    fn device_index(&self, old: &str) -> Result<usize, Error> {
        let devices = &self.shared.devices;
        if let Ok(i) = old.parse::<usize>() {
            if i < devices.len() {
                return Ok(i);
            }
        }
        devices
            .iter()
            .position(|d| !d.path.is_empty() && Path::new(&d.path) == Path::new(old))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{old:?} is neither a device index below {} nor a device path of the set",
                    devices.len()
                ))
            })
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
