//! Which device files one cache flush covers (FORMAT.md 10.1).
//!
//! On ext4 an fdatasync that finds no metadata of its file to commit ends with a cache
//! flush of the filesystem's block device (and one that does commit ends with the
//! journal's, which is issued after it started). Either flush makes durable every write
//! the disk had completed when it was issued, whichever file the write went to. An
//! O_DIRECT write to blocks that are allocated and already written changes no filesystem
//! metadata and leaves nothing in the page cache, so once it has completed the disk's
//! volatile cache is the only place it can still be lost, and a flush of any file of the
//! same filesystem covers it. Files for which all of that holds share a flush domain:
//! one fdatasync of one of them flushes them all.
//!
//! Everything else is a domain of its own, flushed as before: a block device; a file on
//! any filesystem but ext4 (on a copy-on-write filesystem an overwrite allocates, and the
//! others' flush paths have not been checked here); a file whose O_DIRECT writes are not
//! direct (ext4 `data=journal`, inline data, verity: statx reports no direct I/O
//! alignment) or that is a DAX file; a file with a hole or with an extent that is
//! unwritten (fallocate), delayed, unknown, shared, inline or encoded (FIEMAP); and any
//! error on the way. Format with `prefill` (and every replacement) writes the whole file,
//! which is what makes it eligible.

use std::io;
use std::os::fd::RawFd;

/// How a device's volatile cache is flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushDomain {
    /// By an fdatasync of the device itself.
    Own,
    /// By an fdatasync of any file of this filesystem (its `st_dev`) that is in the same
    /// domain.
    Filesystem(u64),
}

impl FlushDomain {
    /// Whether `self` and `other` are flushed by one fdatasync.
    pub fn shared_with(self, other: FlushDomain) -> bool {
        matches!((self, other), (FlushDomain::Filesystem(a), FlushDomain::Filesystem(b)) if a == b)
    }
}

/// The flush domain of the open device `fd`.
///
/// It runs fstat, fstatfs, statx and a few FIEMAP ioctls: metadata calls that block, but
/// briefly (a fully written file has few extents, each at most 128 MiB on ext4, and the
/// extent tree is small), once per device per executor at open or attach, so they run on
/// the executor rather than on a thread of their own.
pub fn of(fd: RawFd) -> FlushDomain {
    match shared_filesystem(fd) {
        Ok(Some(dev)) => FlushDomain::Filesystem(dev),
        Ok(None) => FlushDomain::Own,
        Err(e) => {
            tracing::debug!(error = %e, "flush domain unknown: the device flushes on its own");
            FlushDomain::Own
        }
    }
}

/// The filesystem (`st_dev`) whose flush covers the file `fd`, if any (module docs).
fn shared_filesystem(fd: RawFd) -> io::Result<Option<u64>> {
    // SAFETY: `stat` is plain old data that fstat fills; the caller keeps `fd` open.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let eligible = st.st_mode & libc::S_IFMT == libc::S_IFREG
        && on_ext4(fd)?
        && direct_io_is_direct(fd)?
        && all_written(fd, st.st_size as u64)?;
    Ok(eligible.then_some(st.st_dev))
}

fn on_ext4(fd: RawFd) -> io::Result<bool> {
    // SAFETY: `statfs` is plain old data that fstatfs fills; the caller keeps `fd` open.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(fd, &mut fs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fs.f_type as u64 == libc::EXT4_SUPER_MAGIC as u64)
}

/// Whether an O_DIRECT write to `fd` goes straight to the disk: the filesystem reports a
/// direct I/O alignment (ext4 reports none when it would fall back to the page cache, as
/// with `data=journal`) and the file is not DAX.
fn direct_io_is_direct(fd: RawFd) -> io::Result<bool> {
    // SAFETY: `statx` is plain old data that statx fills; the path is an empty C string
    // and AT_EMPTY_PATH makes the call describe `fd`, which the caller keeps open.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let dax = stx.stx_attributes & libc::STATX_ATTR_DAX as u64 != 0;
    Ok(stx.stx_mask & libc::STATX_DIOALIGN != 0 && stx.stx_dio_offset_align != 0 && !dax)
}

/// `struct fiemap` without its extent array (linux/fiemap.h).
#[repr(C)]
#[derive(Default)]
struct FiemapHeader {
    start: u64,
    length: u64,
    flags: u32,
    mapped_extents: u32,
    extent_count: u32,
    reserved: u32,
}

/// `struct fiemap_extent`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct FiemapExtent {
    logical: u64,
    physical: u64,
    length: u64,
    reserved64: [u64; 2],
    flags: u32,
    reserved: [u32; 3],
}

const _: () = assert!(std::mem::size_of::<FiemapHeader>() == 32);
const _: () = assert!(std::mem::size_of::<FiemapExtent>() == 56);

/// `FS_IOC_FIEMAP` is `_IOWR('f', 11, struct fiemap)`; the `libc` crate does not export it.
const FS_IOC_FIEMAP: libc::Ioctl = libc::_IOWR::<FiemapHeader>('f' as u32, 11);
/// The last extent of the file.
const FIEMAP_EXTENT_LAST: u32 = 0x1;
/// Several extents reported as one: harmless.
const FIEMAP_EXTENT_MERGED: u32 = 0x1000;
/// Extents asked for per FIEMAP call.
const FIEMAP_EXTENTS_PER_CALL: usize = 32;

/// One FIEMAP call: the header, then room for the extents.
#[repr(C)]
struct FiemapRequest {
    header: FiemapHeader,
    extents: [FiemapExtent; FIEMAP_EXTENTS_PER_CALL],
}

/// Whether every byte of `[0, len)` of `fd` lies in extents that are allocated and
/// written, asking FIEMAP for one page of extents at a time.
fn all_written(fd: RawFd, len: u64) -> io::Result<bool> {
    let mut scan = Scan { mapped: 0, len };
    loop {
        let mut req = FiemapRequest {
            header: FiemapHeader {
                start: scan.mapped,
                length: len - scan.mapped,
                extent_count: FIEMAP_EXTENTS_PER_CALL as u32,
                ..FiemapHeader::default()
            },
            extents: [FiemapExtent::default(); FIEMAP_EXTENTS_PER_CALL],
        };
        // SAFETY: FS_IOC_FIEMAP reads the header and writes at most `extent_count`
        // extents after it, which `req` has room for; the caller keeps `fd` open.
        if unsafe { libc::ioctl(fd, FS_IOC_FIEMAP, &mut req) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mapped = (req.header.mapped_extents as usize).min(FIEMAP_EXTENTS_PER_CALL);
        match scan.take(&req.extents[..mapped]) {
            Verdict::More => {}
            Verdict::Written => return Ok(true),
            Verdict::NotWritten => return Ok(false),
        }
    }
}

/// What one page of extents says about the file.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Written up to where the page ends; ask for the next.
    More,
    Written,
    NotWritten,
}

/// The walk over a file's extents: `[0, mapped)` is known to be written.
struct Scan {
    mapped: u64,
    len: u64,
}

impl Scan {
    /// Takes the extents FIEMAP returned for `[self.mapped, self.len)`, in order.
    fn take(&mut self, extents: &[FiemapExtent]) -> Verdict {
        if self.mapped >= self.len {
            return Verdict::Written;
        }
        // No extent where one was asked for: a hole up to the end. An extent that ends
        // where the scan already is would make no progress: not trusted.
        let Some(last) = extents.last() else {
            return Verdict::NotWritten;
        };
        if last.logical.saturating_add(last.length) <= self.mapped {
            return Verdict::NotWritten;
        }
        for e in extents {
            if e.logical > self.mapped
                || e.flags & !(FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_MERGED) != 0
            {
                return Verdict::NotWritten;
            }
            self.mapped = self.mapped.max(e.logical.saturating_add(e.length));
            if self.mapped >= self.len {
                return Verdict::Written;
            }
            if e.flags & FIEMAP_EXTENT_LAST != 0 {
                return Verdict::NotWritten;
            }
        }
        Verdict::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNWRITTEN: u32 = 0x800;

    fn extent(logical: u64, length: u64, flags: u32) -> FiemapExtent {
        FiemapExtent {
            logical,
            length,
            flags,
            ..FiemapExtent::default()
        }
    }

    #[test]
    fn extents_over_several_pages_cover_the_file() {
        let mut scan = Scan {
            mapped: 0,
            len: 300,
        };
        assert_eq!(scan.take(&[extent(0, 100, 0)]), Verdict::More);
        assert_eq!(scan.take(&[extent(100, 100, 0)]), Verdict::More);
        assert_eq!(
            scan.take(&[extent(200, 100, FIEMAP_EXTENT_LAST)]),
            Verdict::Written
        );
    }

    #[test]
    fn an_extent_starting_before_the_page_counts_from_its_end() {
        let mut scan = Scan {
            mapped: 0,
            len: 300,
        };
        assert_eq!(scan.take(&[extent(0, 150, 0)]), Verdict::More);
        let page = [extent(100, 100, FIEMAP_EXTENT_MERGED), extent(200, 100, 0)];
        assert_eq!(scan.take(&page), Verdict::Written);
    }

    #[test]
    fn holes_unwritten_extents_and_short_files_are_not_written() {
        let cases: [&[FiemapExtent]; 5] = [
            &[],
            &[extent(0, 100, 0), extent(150, 150, FIEMAP_EXTENT_LAST)],
            &[
                extent(0, 100, 0),
                extent(100, 200, UNWRITTEN | FIEMAP_EXTENT_LAST),
            ],
            &[extent(0, 200, FIEMAP_EXTENT_LAST)],
            &[extent(0, 0, 0)],
        ];
        for extents in cases {
            let mut scan = Scan {
                mapped: 0,
                len: 300,
            };
            assert_eq!(scan.take(extents), Verdict::NotWritten, "{extents:?}");
        }
    }
}
