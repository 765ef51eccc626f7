//! The device set as one executor sees it: one O_DIRECT `DmaFile` per device, opened by
//! this executor (glommio files belong to the thread that opened them), every I/O 4 KiB
//! aligned and submitted through io_uring. A device that is missing or has returned an I/O
//! error is treated as absent: reads rebuild its shards from the others.
//!
//! Error policy: a write or flush error fails the device at once (what it holds is no
//! longer known); a read error is first taken as a latent bad block, which the reader
//! rebuilds from the other shards and the scrub rewrites, and only the
//! `DEVICE_READ_ERRORS_MAX`-th read error fails the device. ENOSPC is the filesystem's
//! fault and a missing device is already absent: neither counts.
//!
//! A flush is one fdatasync per flush domain (`flush_domain`, FORMAT.md 10.1): the fully
//! written files of one filesystem are flushed by one fdatasync of any of them, every other
//! device by its own.
//!
//! With the `failpoints` feature every I/O first passes the seeded fault layer
//! (`fault_sim`), which is inert until a test installs a plan.

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use futures::future::join_all;
use glommio::io::{DmaBuffer, DmaFile, OpenOptions, ReadResult};

use crate::constants::{BLOCK_BYTES, DEVICE_READ_ERRORS_MAX, EXTENTS_OFFSET_BYTES};
use crate::device_set::{Identified, Layout};
use crate::flush_domain::{self, FlushDomain};
use crate::stripe::Geometry;

/// Makes sure a block device is used with O_DIRECT. glommio decides from the file system
/// of the path it opens: a device node under /dev lives on devtmpfs, which reports itself
/// as tmpfs, and glommio then leaves O_DIRECT off (tmpfs files cannot take it), so every
/// read and write of the device would go through its page cache: reads served from memory
/// instead of the medium, and the memory spent twice. Block devices take O_DIRECT, and
/// every I/O here is 4 KiB aligned in an aligned buffer, so it is switched on here.
fn direct_io_on_block_device(f: &DmaFile) -> io::Result<()> {
    let fd = f.as_raw_fd();
    // SAFETY: `stat` is plain old data that fstat fills; the descriptor is open for the
    // call because `f` is borrowed.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFBLK {
        return Ok(());
    }
    // SAFETY: F_GETFL and F_SETFL take and return integers only; `fd` is open (above).
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_DIRECT == 0
        && unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_DIRECT) } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens one device for O_DIRECT reads and writes on this executor.
async fn open_device(path: &std::path::Path) -> io::Result<DmaFile> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .dma_open(path)
        .await?;
    direct_io_on_block_device(&f)?;
    Ok(f)
}

pub struct Devices {
    /// One per device index; replaced when a device is (`attach`).
    files: RefCell<Vec<Option<Rc<DmaFile>>>>,
    failed: RefCell<Vec<bool>>,
    /// How each device is flushed; found again when a device is replaced.
    domains: RefCell<Vec<FlushDomain>>,
    /// Read errors seen per device since it was attached.
    read_errors: RefCell<Vec<u32>>,
    /// Replacements attached on this executor so far, and for each device the count
    /// right after its last attach (0: never replaced): a writer that noted the count
    /// before writing stripes learns which devices were swapped under it
    /// (`replaced_since`).
    attaches: std::cell::Cell<u64>,
    attached_at: RefCell<Vec<u64>>,
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
        let mut domains = Vec::with_capacity(id.devices.len());
        for d in &id.devices {
            match d {
                Some(info) => {
                    let f = open_device(&info.path).await?;
                    domains.push(flush_domain::of(f.as_raw_fd()));
                    files.push(Some(Rc::new(f)));
                }
                None => {
                    domains.push(FlushDomain::Own);
                    files.push(None);
                }
            }
        }
        tracing::debug!(?domains, "flush domains of the devices");
        let geometry = Geometry {
            data_shards: id.layout.data_shards,
            parity_shards: id.layout.parity_shards,
        };
        Ok(Devices {
            failed: RefCell::new(vec![false; files.len()]),
            domains: RefCell::new(domains),
            read_errors: RefCell::new(vec![0; files.len()]),
            attaches: std::cell::Cell::new(0),
            attached_at: RefCell::new(vec![0; files.len()]),
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
        let f = open_device(path).await?;
        self.domains.borrow_mut()[dev] = flush_domain::of(f.as_raw_fd());
        self.files.borrow_mut()[dev] = Some(Rc::new(f));
        self.failed.borrow_mut()[dev] = false;
        self.read_errors.borrow_mut()[dev] = 0;
        self.attaches.set(self.attaches.get() + 1);
        self.attached_at.borrow_mut()[dev] = self.attaches.get();
        Ok(())
    }

    /// The attach count now, for `replaced_since`.
    pub fn attaches(&self) -> u64 {
        self.attaches.get()
    }

    /// The devices (bit per device) a replacement was attached for after `mark`.
    pub fn replaced_since(&self, mark: u64) -> u64 {
        let at = self.attached_at.borrow();
        (0..at.len())
            .filter(|&d| at[d] > mark)
            .fold(0, |m, d| m | 1 << d)
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

    /// A write or flush error on `dev`: see the module docs.
    fn note_error(&self, dev: usize, e: &io::Error) {
        if e.raw_os_error() != Some(libc::ENOSPC) && e.kind() != io::ErrorKind::NotFound {
            self.fail(dev, e);
        }
    }

    /// A read error on `dev`: counted; the device fails at `DEVICE_READ_ERRORS_MAX`.
    fn note_read_error(&self, dev: usize, e: &io::Error) {
        if e.kind() == io::ErrorKind::NotFound {
            return;
        }
        let count = {
            let mut errors = self.read_errors.borrow_mut();
            errors[dev] += 1;
            errors[dev]
        };
        if count >= DEVICE_READ_ERRORS_MAX {
            self.fail(dev, e);
        } else {
            self.shared.devices[dev].errors.inc();
            tracing::warn!(device = dev, error = %e, count, "device read error: rebuilding from parity");
        }
    }

    fn fail(&self, dev: usize, e: &io::Error) {
        if !self.failed.borrow()[dev] {
            tracing::error!(device = dev, error = %e, "device I/O error: device marked failed");
        }
        self.failed.borrow_mut()[dev] = true;
        self.shared.devices[dev].mark_failed();
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
        #[cfg(feature = "failpoints")]
        if let Some(fate) = crate::fault_sim::before_write(dev, offset, len) {
            return self.write_simulated(dev, &f, len, buf, fate).await;
        }
        let r = f.write_at(buf, offset).await;
        self.check_write(dev, len, r)
    }

    fn check_write(&self, dev: usize, len: usize, r: glommio::Result<usize, ()>) -> io::Result<()> {
        match r {
            Ok(n) if n == len => {
                self.shared.devices[dev].bytes_written.add(len as u64);
                Ok(())
            }
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

    /// A write under the fault layer: records the pre-image of where it lands (so a
    /// simulated crash can lose or tear it), then writes there, with the layer's delays.
    #[cfg(feature = "failpoints")]
    async fn write_simulated(
        &self,
        dev: usize,
        f: &DmaFile,
        len: usize,
        buf: DmaBuffer,
        fate: Result<crate::fault_sim::WriteFate, crate::fault_sim::Fault>,
    ) -> io::Result<()> {
        use crate::fault_sim::{self, Fault};
        let fate = match fate {
            Ok(fate) => fate,
            Err(Fault::Frozen) => return Err(Fault::Frozen.error()),
            Err(fault) => {
                let e = fault.error();
                self.note_error(dev, &e);
                return Err(e);
            }
        };
        sleep_us(fate.delay_before_us).await;
        let seq = fate
            .seq
            .expect("every simulated write has a sequence number");
        let pre = f
            .read_at_aligned(fate.offset, len)
            .await
            .map_err(io::Error::from)?;
        let mut pre_image = pre.to_vec();
        pre_image.resize(len, 0);
        fault_sim::record_pre_image(dev, seq, fate.offset, pre_image);
        let r = f.write_at(buf, fate.offset).await;
        let ok = matches!(r, Ok(n) if n == len);
        if !fault_sim::after_write(dev, seq, fate.offset, len, ok) {
            return Err(Fault::Frozen.error());
        }
        sleep_us(fate.delay_after_us).await;
        self.check_write(dev, len, r)
    }

    pub async fn read(&self, dev: usize, offset: u64, len: usize) -> io::Result<ReadResult> {
        assert!(offset.is_multiple_of(BLOCK_BYTES as u64) && len.is_multiple_of(BLOCK_BYTES));
        let f = self.file(dev)?;
        #[cfg(feature = "failpoints")]
        match crate::fault_sim::before_read(dev, offset, len) {
            None => {}
            Some(Ok(delay_us)) => sleep_us(delay_us).await,
            Some(Err(crate::fault_sim::Fault::Frozen)) => {
                return Err(crate::fault_sim::Fault::Frozen.error())
            }
            Some(Err(fault)) => {
                let e = fault.error();
                self.note_read_error(dev, &e);
                return Err(e);
            }
        }
        match f.read_at_aligned(offset, len).await {
            Ok(r) if r.len() == len => Ok(r),
            Ok(r) => {
                // The device shrank under us (a truncated or replaced file): its fault.
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("short read of {} bytes", r.len()),
                );
                self.note_read_error(dev, &e);
                Err(e)
            }
            Err(e) => {
                let e: io::Error = e.into();
                self.note_read_error(dev, &e);
                Err(e)
            }
        }
    }

    /// fdatasync of `dev`, which flushes the writes of every device in `covers` (`dev`
    /// among them: its flush domain, or `dev` alone); under the fault layer, marks the
    /// writes it covered durable.
    async fn sync_one(&self, dev: usize, covers: &[usize]) -> io::Result<()> {
        assert!(covers.contains(&dev), "a flush covers its own device");
        let f = self.file(dev)?;
        #[cfg(feature = "failpoints")]
        let covered = match crate::fault_sim::before_sync(dev, covers) {
            None => None,
            Some(Ok(covered)) => Some(covered),
            Some(Err(crate::fault_sim::Fault::Frozen)) => {
                return Err(crate::fault_sim::Fault::Frozen.error())
            }
            Some(Err(fault)) => {
                let e = fault.error();
                self.note_error(dev, &e);
                return Err(e);
            }
        };
        self.shared.stats.device_flushes.inc();
        let r = f.fdatasync().await.map_err(io::Error::from);
        match &r {
            Err(e) => self.note_error(dev, e),
            #[cfg(feature = "failpoints")]
            Ok(()) => {
                // A flush that completes after the simulated crash does not count.
                if let Some(covered) = covered {
                    if !crate::fault_sim::after_sync(&covered) {
                        return Err(crate::fault_sim::Fault::Frozen.error());
                    }
                }
            }
            #[cfg(not(feature = "failpoints"))]
            Ok(()) => {}
        }
        r
    }

    /// The up devices grouped by flush domain: all the up devices of a shared domain in
    /// one group, every other device alone.
    fn flush_groups(&self) -> Vec<Vec<usize>> {
        let domains = self.domains.borrow();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for d in (0..self.count()).filter(|&d| self.is_up(d)) {
            match groups
                .iter_mut()
                .find(|g| domains[g[0]].shared_with(domains[d]))
            {
                Some(group) => group.push(d),
                None => groups.push(vec![d]),
            }
        }
        groups
    }

    /// Flushes one group: an fdatasync of its first device flushes them all. If that
    /// fails (the device is failed for it), every other device of the group is flushed
    /// on its own. Returns how many devices flushed, and the first error.
    async fn sync_group(&self, group: &[usize]) -> (usize, Option<io::Error>) {
        let (&first, rest) = group.split_first().expect("a flush group has a device");
        let e = match self.sync_one(first, group).await {
            Ok(()) => return (group.len(), None),
            Err(e) => e,
        };
        let results = join_all(
            rest.iter()
                .map(|d| self.sync_one(*d, std::slice::from_ref(d))),
        )
        .await;
        (results.iter().filter(|r| r.is_ok()).count(), Some(e))
    }

    /// Flushes every up device's volatile cache, one fdatasync per flush domain, the
    /// domains concurrently. Fails if fewer than `needed` devices flushed.
    pub async fn sync(&self, needed: usize) -> io::Result<()> {
        let groups = self.flush_groups();
        let results = join_all(groups.iter().map(|g| self.sync_group(g))).await;
        let ok: usize = results.iter().map(|(flushed, _)| flushed).sum();
        if ok < needed {
            let first = results.into_iter().find_map(|(_, e)| e);
            return Err(first.unwrap_or_else(|| io::Error::other("too few devices to flush")));
        }
        Ok(())
    }
}

#[cfg(feature = "failpoints")]
async fn sleep_us(us: u64) {
    if us > 0 {
        glommio::timer::sleep(std::time::Duration::from_micros(us)).await;
    }
}
