//! The device set as one executor sees it: one O_DIRECT `DmaFile` per device, opened by
//! this executor (glommio files belong to the thread that opened them), every I/O 4 KiB
//! aligned and submitted through io_uring. A device that is missing or has returned an I/O
//! error is treated as absent: reads rebuild its shards from the others.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use futures::future::join_all;
use glommio::io::{DmaBuffer, DmaFile, OpenOptions, ReadResult};

use crate::constants::{BLOCK_BYTES, EXTENTS_OFFSET_BYTES};
use crate::device_set::{Identified, Layout};
use crate::stripe::Geometry;

pub struct Devices {
    /// One per device index; replaced when a device is (`attach`).
    files: RefCell<Vec<Option<Rc<DmaFile>>>>,
    failed: RefCell<Vec<bool>>,
    pub layout: Layout,
    pub geometry: Geometry,
    shared: std::sync::Arc<crate::shared::Shared>,
}

impl Devices {
    pub async fn open(
        id: &Identified,
        shared: std::sync::Arc<crate::shared::Shared>,
    ) -> io::Result<Devices> {
        let mut files = Vec::with_capacity(id.devices.len());
        for d in &id.devices {
            match d {
                Some(info) => {
                    let f = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .dma_open(&info.path)
                        .await?;
                    files.push(Some(Rc::new(f)));
                }
                None => files.push(None),
            }
        }
        let geometry = Geometry {
            data_shards: id.layout.data_shards,
            parity_shards: id.layout.parity_shards,
        };
        Ok(Devices {
            failed: RefCell::new(vec![false; files.len()]),
            files: RefCell::new(files),
            layout: id.layout,
            geometry,
            shared,
        })
    }

    pub fn count(&self) -> usize {
        self.files.borrow().len()
    }

    /// Devices that can be read and written now.
    pub fn healthy(&self) -> usize {
        (0..self.count()).filter(|&d| self.is_up(d)).count()
    }

    pub fn is_up(&self, dev: usize) -> bool {
        self.files.borrow()[dev].is_some() && !self.failed.borrow()[dev]
    }

    /// Opens `path` (a device just formatted into the set as index `dev`) in place of
    /// what was there, on this executor, and counts it up.
    pub async fn attach(&self, dev: usize, path: &std::path::Path) -> io::Result<()> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .dma_open(path)
            .await?;
        self.files.borrow_mut()[dev] = Some(Rc::new(f));
        self.failed.borrow_mut()[dev] = false;
        Ok(())
    }

    fn file(&self, dev: usize) -> io::Result<Rc<DmaFile>> {
        match &self.files.borrow()[dev] {
            Some(f) if !self.failed.borrow()[dev] => Ok(f.clone()),
            Some(_) => Err(io::Error::other(format!("device {dev} has failed"))),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("device {dev} is missing"),
            )),
        }
    }

    fn note_error(&self, dev: usize, e: &io::Error) {
        // ENOSPC is the filesystem's, not the device's, fault; anything else fails the device.
        if e.raw_os_error() != Some(libc::ENOSPC) && e.kind() != io::ErrorKind::NotFound {
            if !self.failed.borrow()[dev] {
                tracing::error!(device = dev, error = %e, "device I/O error: device marked failed");
            }
            self.failed.borrow_mut()[dev] = true;
            self.shared.devices[dev].mark_failed();
        }
    }

    /// An aligned buffer for I/O of `len` bytes (a multiple of 4096). Its contents are
    /// undefined: writers fill every byte (stripe encoding writes whole blocks).
    pub fn alloc(&self, len: usize) -> DmaBuffer {
        assert!(len.is_multiple_of(BLOCK_BYTES) && len > 0);
        let files = self.files.borrow();
        let f = files
            .iter()
            .flatten()
            .next()
            .expect("an open device set has a device");
        f.alloc_dma_buffer(len)
    }

    /// Device byte offset of `block` of `extent`.
    pub fn offset(&self, extent: u32, block: u32) -> u64 {
        EXTENTS_OFFSET_BYTES
            + extent as u64 * self.layout.extent_bytes
            + block as u64 * BLOCK_BYTES as u64
    }

    pub fn blocks_per_extent(&self) -> u32 {
        (self.layout.extent_bytes / BLOCK_BYTES as u64) as u32
    }

    pub async fn write(&self, dev: usize, offset: u64, buf: DmaBuffer) -> io::Result<()> {
        assert!(offset.is_multiple_of(BLOCK_BYTES as u64));
        let len = buf.len();
        let f = self.file(dev)?;
        match f.write_at(buf, offset).await {
            Ok(n) if n == len => Ok(()),
            Ok(n) => {
                let e = io::Error::other(format!("short write of {n} of {len} bytes"));
                self.note_error(dev, &e);
                Err(e)
            }
            Err(e) => {
                let e: io::Error = e.into();
                self.note_error(dev, &e);
                Err(e)
            }
        }
    }

    pub async fn read(&self, dev: usize, offset: u64, len: usize) -> io::Result<ReadResult> {
        assert!(offset.is_multiple_of(BLOCK_BYTES as u64) && len.is_multiple_of(BLOCK_BYTES));
        let f = self.file(dev)?;
        match f.read_at_aligned(offset, len).await {
            Ok(r) if r.len() == len => Ok(r),
            Ok(r) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("short read of {} bytes", r.len()),
            )),
            Err(e) => {
                let e: io::Error = e.into();
                self.note_error(dev, &e);
                Err(e)
            }
        }
    }

    /// Flushes every healthy device's volatile cache (fdatasync), concurrently. Fails if
    /// fewer than `needed` devices flushed.
    pub async fn sync(&self, needed: usize) -> io::Result<()> {
        let futs = (0..self.count())
            .filter(|&d| self.is_up(d))
            .map(|d| async move {
                let r = self.file(d)?.fdatasync().await.map_err(io::Error::from);
                if let Err(e) = &r {
                    self.note_error(d, e);
                }
                r
            });
        let results = join_all(futs).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok < needed {
            let first = results.into_iter().find_map(|r| r.err());
            return Err(first.unwrap_or_else(|| io::Error::other("too few devices to flush")));
        }
        Ok(())
    }
}
