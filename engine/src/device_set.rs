//! The device set: formatting devices (regular files or block devices) and identifying
//! them again at open by their superblocks.
//!
//! A device set is `data_shards + parity_shards` devices formatted together; each device
//! carries two copies of its [`Superblock`] (see `engine/FORMAT.md`, "Device set").
//!
//! - [`format`] validates the options, refuses devices that already hold a ringstore
//!   superblock (unless forced), sizes and allocates the files, zeroes the root slots and
//!   writes both superblock copies on every device, then fsyncs files and directories.
//! - [`identify`] reads both copies of every given path, in any order, places each device
//!   by its `device_index`, and checks that the devices form one set with at most
//!   `parity_shards` missing ([`Identified::missing`]).
//! - [`repair_superblocks`] rewrites a device's invalid copy from its valid one.
//!
//! Everything here is synchronous std I/O: it runs once, before the executors start.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::constants::{
    BLOCK_BYTES, DATA_SHARDS_MAX, DATA_SHARDS_MIN, DEVICE_BYTES_MIN, EXTENTS_OFFSET_BYTES,
    EXTENTS_PER_PARTITION_MIN, EXTENT_BYTES_ALIGN, EXTENT_BYTES_DEFAULT, EXTENT_BYTES_MAX,
    EXTENT_BYTES_MIN, PARITY_SHARDS_MAX, PARTITION_COUNT_MAX, PREFILL_CHUNK_BYTES,
    ROOT_SLOTS_OFFSET_BYTES, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET_BYTES,
};
use crate::superblock::{extent_count_for, Superblock, SuperblockError};

/// What [`format`] creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// k: data shards per stripe, `DATA_SHARDS_MIN..=DATA_SHARDS_MAX`.
    pub data_shards: usize,
    /// m: parity shards per stripe, `..=PARITY_SHARDS_MAX`; the set survives m lost devices.
    pub parity_shards: usize,
    /// Bytes of every device, a multiple of 4096. 0 means "the smallest block device's
    /// size" and is only allowed when every path is a block device.
    pub device_bytes: u64,
    /// A multiple of 1 MiB within `EXTENT_BYTES_MIN..=EXTENT_BYTES_MAX`.
    pub extent_bytes: u64,
    /// Partitions of the key space, `1..=PARTITION_COUNT_MAX`.
    pub partitions: usize,
    /// Format even over devices that hold a ringstore superblock.
    pub force: bool,
    /// Write zeros over every regular file once, so that later O_DIRECT writes land in
    /// written (not merely allocated) blocks and need no filesystem metadata change.
    pub prefill: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            data_shards: 4,
            parity_shards: 2,
            device_bytes: 0,
            extent_bytes: EXTENT_BYTES_DEFAULT,
            partitions: 1,
            force: false,
            prefill: false,
        }
    }
}

/// The geometry every device of a set shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub set_id: u64,
    pub data_shards: usize,
    pub parity_shards: usize,
    pub partitions: usize,
    pub device_bytes: u64,
    pub extent_bytes: u64,
    pub extent_count: u32,
    pub created_unix_ms: u64,
}

impl Layout {
    pub fn device_count(&self) -> usize {
        self.data_shards + self.parity_shards
    }

    /// Device byte offset of extent `extent`.
    ///
    /// # Panics
    /// If `extent >= extent_count`: addressing past the extents is a bug.
    pub fn extent_offset(&self, extent: u32) -> u64 {
        assert!(
            extent < self.extent_count,
            "extent {extent} of {}",
            self.extent_count
        );
        EXTENTS_OFFSET_BYTES + u64::from(extent) * self.extent_bytes
    }

    /// Device byte offset of superblock copy B, the device's last block.
    pub fn superblock_b_offset(&self) -> u64 {
        self.device_bytes - SUPERBLOCK_BYTES as u64
    }

    pub fn from_superblock(superblock: &Superblock) -> Layout {
        Layout {
            set_id: superblock.set_id,
            data_shards: usize::from(superblock.data_shards),
            parity_shards: usize::from(superblock.parity_shards),
            partitions: usize::from(superblock.partition_count),
            device_bytes: superblock.device_bytes,
            extent_bytes: superblock.extent_bytes,
            extent_count: superblock.extent_count,
            created_unix_ms: superblock.created_unix_ms,
        }
    }

    /// The superblock of device `device_index`. The narrowing casts cannot truncate: the
    /// layout came from validated options or from a decoded superblock, and `encode`
    /// checks the result again.
    fn superblock(&self, device_index: usize, device_id: u64) -> Superblock {
        Superblock {
            set_id: self.set_id,
            device_id,
            device_index: device_index as u16,
            device_count: self.device_count() as u16,
            data_shards: self.data_shards as u8,
            parity_shards: self.parity_shards as u8,
            partition_count: self.partitions as u16,
            device_bytes: self.device_bytes,
            extent_bytes: self.extent_bytes,
            created_unix_ms: self.created_unix_ms,
            extent_count: self.extent_count,
        }
    }

    /// The first parameter in which `self` differs from `other`: (name, ours, theirs).
    fn first_difference(&self, other: &Layout) -> Option<(&'static str, u64, u64)> {
        let ours = self.parameters();
        let theirs = other.parameters();
        ours.iter()
            .zip(theirs)
            .find(|(a, b)| a.1 != b.1)
            .map(|(a, b)| (a.0, a.1, b.1))
    }

    fn parameters(&self) -> [(&'static str, u64); 7] {
        [
            ("data_shards", self.data_shards as u64),
            ("parity_shards", self.parity_shards as u64),
            ("partitions", self.partitions as u64),
            ("device_bytes", self.device_bytes),
            ("extent_bytes", self.extent_bytes),
            ("extent_count", u64::from(self.extent_count)),
            ("created_unix_ms", self.created_unix_ms),
        ]
    }
}

/// Why [`format`] refused or failed. Nothing is written before every check has passed,
/// except empty files created for paths that did not exist.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// k is 0 or above `DATA_SHARDS_MAX`.
    #[error("data shards (k) = {data_shards} is not in {DATA_SHARDS_MIN}..={DATA_SHARDS_MAX}")]
    DataShards { data_shards: usize },
    /// m is above `PARITY_SHARDS_MAX`.
    #[error("parity shards (m) = {parity_shards} is above {PARITY_SHARDS_MAX}")]
    ParityShards { parity_shards: usize },
    /// The number of paths is not k + m.
    #[error("{paths} device paths given, but k + m = {device_count}")]
    PathCount { paths: usize, device_count: usize },
    /// The partition count is 0 or above `PARTITION_COUNT_MAX`.
    #[error("partitions = {partitions} is not in 1..={PARTITION_COUNT_MAX}")]
    Partitions { partitions: usize },
    /// The extent size is not a multiple of 1 MiB within the extent size limits.
    #[error(
        "extent size {extent_bytes} B is not a multiple of 1 MiB in \
         {EXTENT_BYTES_MIN}..={EXTENT_BYTES_MAX} B"
    )]
    ExtentBytes { extent_bytes: u64 },
    /// The device size is not a multiple of 4096.
    #[error("device size {device_bytes} B is not a multiple of {BLOCK_BYTES}")]
    DeviceBytesUnaligned { device_bytes: u64 },
    /// The device cannot hold the fixed areas plus two extents per partition (or is below
    /// `DEVICE_BYTES_MIN`).
    #[error("device size {device_bytes} B is too small: this layout needs at least {min_bytes} B")]
    DeviceTooSmall { device_bytes: u64, min_bytes: u64 },
    /// The device holds more extents than the 32-bit extent count can number.
    #[error("device size {device_bytes} B holds more than 2^32 extents of {extent_bytes} B")]
    TooManyExtents {
        device_bytes: u64,
        extent_bytes: u64,
    },
    /// Device size 0 ("use the device's size") was given with a path that is not a block
    /// device.
    #[error("{}: a regular file needs an explicit device size", path.display())]
    DeviceBytesRequired { path: PathBuf },
    /// A block device is smaller than the requested device size.
    #[error("{}: block device is {size_bytes} B, smaller than the device size {device_bytes} B",
        path.display())]
    BlockDeviceTooSmall {
        path: PathBuf,
        size_bytes: u64,
        device_bytes: u64,
    },
    /// The path exists but is neither a regular file nor a block device.
    #[error("{}: neither a regular file nor a block device", path.display())]
    NotFileOrBlockDevice { path: PathBuf },
    /// Two paths name the same file or device.
    #[error("{} and {} are the same device", a.display(), b.display())]
    DuplicatePath { a: PathBuf, b: PathBuf },
    /// The path holds a valid ringstore superblock and `force` was not given.
    #[error("{}: already formatted (device set {set_id:016x}); use force to overwrite it",
        path.display())]
    AlreadyFormatted { path: PathBuf, set_id: u64 },
    /// An I/O operation on a device failed.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
}

/// Why [`identify`] could not open a device set.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// None of the paths could be read (all missing or unreadable), or no path was given.
    #[error("none of the {paths} device paths could be read: {warnings:?}")]
    NoDevices { paths: usize, warnings: Vec<String> },
    /// A readable path holds no valid superblock copy.
    #[error("{}: not a ringstore device (copy A: {copy_a}; copy B: {copy_b})", path.display())]
    NotRingstore {
        path: PathBuf,
        copy_a: SuperblockError,
        copy_b: SuperblockError,
    },
    /// The device is shorter than the device size its superblock records: it was truncated
    /// or replaced by a smaller one, and its last extents are gone.
    #[error("{}: device is {size_bytes} B but its superblock says {device_bytes} B",
        path.display())]
    DeviceTooSmall {
        path: PathBuf,
        size_bytes: u64,
        device_bytes: u64,
    },
    /// Two device sets have the same number of devices among the paths: neither can be
    /// chosen as the set being opened.
    #[error("paths hold {devices} devices each of sets {set_id_a:016x} and {set_id_b:016x}")]
    AmbiguousSet {
        set_id_a: u64,
        set_id_b: u64,
        devices: usize,
    },
    /// The device belongs to another set than the majority of the paths.
    #[error("{}: device of set {set_id:016x}, but the set being opened is {expected:016x}",
        path.display())]
    ForeignDevice {
        path: PathBuf,
        set_id: u64,
        expected: u64,
    },
    /// The device's set parameters differ from another device's of the same set.
    #[error("{}: {field} = {value}, but {} has {expected}", path.display(), other.display())]
    Mismatch {
        path: PathBuf,
        other: PathBuf,
        field: &'static str,
        value: u64,
        expected: u64,
    },
    /// Two paths hold the same device (same index or same device id): a path listed twice
    /// or a copied device file.
    #[error("{} and {} both hold device {index} of the set", a.display(), b.display())]
    DuplicateDevice {
        a: PathBuf,
        b: PathBuf,
        index: usize,
    },
    /// More devices are missing than parity can replace.
    #[error("devices {missing:?} are missing, more than the {parity} parity shards cover")]
    TooManyMissing { missing: Vec<usize>, parity: usize },
}

/// A device found by [`identify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub path: PathBuf,
    pub device_id: u64,
    pub device_index: usize,
    /// Whether copy A (offset 0) and copy B (last block) are valid.
    pub superblock_copies_valid: [bool; 2],
}

/// The device set [`identify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub layout: Layout,
    /// One entry per device index; `None` for a missing device.
    pub devices: Vec<Option<DeviceInfo>>,
    /// Everything an operator should hear about: missing or unreadable paths, invalid
    /// superblock copies, oversized files.
    pub warnings: Vec<String>,
}

impl Identified {
    /// Indexes of the missing devices, ascending.
    pub fn missing(&self) -> Vec<usize> {
        let slots = self.devices.iter().enumerate();
        slots
            .filter(|(_, device)| device.is_none())
            .map(|(index, _)| index)
            .collect()
    }
}

/// `BLKGETSIZE64` is `_IOR(0x12, 114, size_t)`; the `libc` crate does not export it. The
/// direction bits sit at bit 30 on most architectures and at bit 29 on these three.
#[cfg(not(any(
    target_arch = "powerpc64",
    target_arch = "mips64",
    target_arch = "sparc64"
)))]
const BLKGETSIZE64: u64 = (2 << 30) | (8 << 16) | (0x12 << 8) | 114;
#[cfg(any(
    target_arch = "powerpc64",
    target_arch = "mips64",
    target_arch = "sparc64"
))]
const BLKGETSIZE64: u64 = (2 << 29) | (8 << 16) | (0x12 << 8) | 114;

fn block_device_bytes(file: &File) -> io::Result<u64> {
    let mut size_bytes: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through its argument, which points at a live,
    // aligned u64 local; the descriptor stays open while `file` is borrowed.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64 as _, &mut size_bytes) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size_bytes)
}

/// The size of a regular file or block device.
fn size_bytes(file: &File, metadata: &Metadata) -> io::Result<u64> {
    if metadata.file_type().is_block_device() {
        block_device_bytes(file)
    } else {
        Ok(metadata.len())
    }
}

/// Allocates `[0, len)` of `file` with `fallocate(2)` mode 0.
fn allocate(file: &File, len: u64) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        // SAFETY: fallocate reads only its integer arguments; the descriptor stays open
        // while `file` is borrowed.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        if rc == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Both superblock copies of one device, as read.
struct Copies {
    a: Result<Superblock, SuperblockError>,
    b: Result<Superblock, SuperblockError>,
}

impl Copies {
    fn valid(&self) -> Option<Superblock> {
        self.a.as_ref().or(self.b.as_ref()).ok().copied()
    }
}

/// Reads one block at `offset`, or fewer bytes if the device ends first.
fn read_block(file: &File, offset: u64, size_bytes: u64) -> io::Result<Vec<u8>> {
    let len = size_bytes
        .saturating_sub(offset)
        .min(SUPERBLOCK_BYTES as u64) as usize;
    let mut block = vec![0u8; len];
    file.read_exact_at(&mut block, offset)?;
    Ok(block)
}

/// Reads and checks both superblock copies of a device of `size_bytes`.
///
/// Copy A is at offset 0. Copy B is in the last block of the device as copy A records it;
/// if copy A is invalid, in the last block of the file or block device. A copy B found
/// there must record a device size that puts it there, and a copy B that disagrees with a
/// valid copy A is stale: both are reported as invalid copies.
fn read_copies(file: &File, size_bytes: u64) -> io::Result<Copies> {
    let a = Superblock::decode(&read_block(file, SUPERBLOCK_OFFSET_BYTES, size_bytes)?);
    let block = SUPERBLOCK_BYTES as u64;
    let b_offset = match &a {
        Ok(superblock) if superblock.device_bytes <= size_bytes => superblock.copy_b_offset(),
        _ => (size_bytes / block * block).saturating_sub(block),
    };
    let b = if b_offset < block {
        Err(SuperblockError::TooShort {
            len: size_bytes.saturating_sub(block) as usize,
        })
    } else {
        match Superblock::decode(&read_block(file, b_offset, size_bytes)?) {
            Ok(b) if b.copy_b_offset() != b_offset => Err(SuperblockError::Misplaced {
                offset: b_offset,
                device_bytes: b.device_bytes,
            }),
            Ok(b) if a.as_ref().is_ok_and(|a| *a != b) => Err(SuperblockError::DiffersFromCopyA),
            other => other,
        }
    };
    Ok(Copies { a, b })
}

/// One path given to `format`, inspected before anything is written.
struct Target {
    path: PathBuf,
    /// `None` if the path does not exist yet.
    metadata: Option<Metadata>,
    /// The block device's size, for block devices.
    block_bytes: Option<u64>,
}

fn io_error<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> FormatError + 'a {
    move |source| FormatError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl Target {
    fn inspect(path: &Path) -> Result<Target, FormatError> {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(Target {
                    path: path.to_path_buf(),
                    metadata: None,
                    block_bytes: None,
                })
            }
            Err(error) => return Err(io_error(path, "stat")(error)),
        };
        let file_type = metadata.file_type();
        let block_bytes = if file_type.is_block_device() {
            let file = File::open(path).map_err(io_error(path, "open"))?;
            Some(block_device_bytes(&file).map_err(io_error(path, "BLKGETSIZE64"))?)
        } else if file_type.is_file() {
            None
        } else {
            return Err(FormatError::NotFileOrBlockDevice {
                path: path.to_path_buf(),
            });
        };
        Ok(Target {
            path: path.to_path_buf(),
            metadata: Some(metadata),
            block_bytes,
        })
    }

    /// Refuses a device that already holds a valid superblock copy.
    fn refuse_if_formatted(&self) -> Result<(), FormatError> {
        let Some(metadata) = &self.metadata else {
            return Ok(());
        };
        let path = &self.path;
        let file = File::open(path).map_err(io_error(path, "open"))?;
        let size_bytes = size_bytes(&file, metadata).map_err(io_error(path, "stat"))?;
        let copies = read_copies(&file, size_bytes).map_err(io_error(path, "read superblock"))?;
        match copies.valid() {
            Some(superblock) => Err(FormatError::AlreadyFormatted {
                path: path.clone(),
                set_id: superblock.set_id,
            }),
            None => Ok(()),
        }
    }
}

/// Checks the options that need no device.
fn check_options(paths: usize, opts: &FormatOptions) -> Result<(), FormatError> {
    let (k, m) = (opts.data_shards, opts.parity_shards);
    if !(DATA_SHARDS_MIN..=DATA_SHARDS_MAX).contains(&k) {
        return Err(FormatError::DataShards { data_shards: k });
    }
    if m > PARITY_SHARDS_MAX {
        return Err(FormatError::ParityShards { parity_shards: m });
    }
    if paths != k + m {
        return Err(FormatError::PathCount {
            paths,
            device_count: k + m,
        });
    }
    if !(1..=PARTITION_COUNT_MAX).contains(&opts.partitions) {
        return Err(FormatError::Partitions {
            partitions: opts.partitions,
        });
    }
    let extent_bytes = opts.extent_bytes;
    if !extent_bytes.is_multiple_of(EXTENT_BYTES_ALIGN)
        || !(EXTENT_BYTES_MIN..=EXTENT_BYTES_MAX).contains(&extent_bytes)
    {
        return Err(FormatError::ExtentBytes { extent_bytes });
    }
    if !opts.device_bytes.is_multiple_of(BLOCK_BYTES as u64) {
        return Err(FormatError::DeviceBytesUnaligned {
            device_bytes: opts.device_bytes,
        });
    }
    Ok(())
}

/// Refuses two paths that name the same file: equal as given, or the same inode.
fn check_distinct<'a>(
    files: impl Iterator<Item = (&'a Path, Option<(u64, u64)>)>,
) -> Result<(), FormatError> {
    let mut seen_paths: HashMap<&Path, &Path> = HashMap::new();
    let mut seen_inodes: HashMap<(u64, u64), &Path> = HashMap::new();
    for (path, inode) in files {
        let earlier = seen_paths.insert(path, path).or_else(|| {
            let inode = inode?;
            seen_inodes.insert(inode, path)
        });
        if let Some(earlier) = earlier {
            return Err(FormatError::DuplicatePath {
                a: earlier.into(),
                b: path.into(),
            });
        }
    }
    Ok(())
}

fn inode(metadata: &Metadata) -> (u64, u64) {
    (metadata.dev(), metadata.ino())
}

/// The device size: the option, or the smallest block device's size rounded down to a
/// block; checked against every block device.
fn resolve_device_bytes(targets: &[Target], opts: &FormatOptions) -> Result<u64, FormatError> {
    let block = BLOCK_BYTES as u64;
    let device_bytes = if opts.device_bytes == 0 {
        let mut smallest = u64::MAX;
        for target in targets {
            let Some(size_bytes) = target.block_bytes else {
                return Err(FormatError::DeviceBytesRequired {
                    path: target.path.clone(),
                });
            };
            smallest = smallest.min(size_bytes / block * block);
        }
        smallest
    } else {
        opts.device_bytes
    };
    for target in targets {
        match target.block_bytes {
            Some(size_bytes) if size_bytes < device_bytes => {
                return Err(FormatError::BlockDeviceTooSmall {
                    path: target.path.clone(),
                    size_bytes,
                    device_bytes,
                });
            }
            _ => {}
        }
    }
    Ok(device_bytes)
}

/// The layout of a new set, with a fresh set id.
fn plan_layout(opts: &FormatOptions, device_bytes: u64) -> Result<Layout, FormatError> {
    let extents_min = EXTENTS_PER_PARTITION_MIN * opts.partitions as u64;
    let min_bytes = (EXTENTS_OFFSET_BYTES + SUPERBLOCK_BYTES as u64)
        .saturating_add(extents_min.saturating_mul(opts.extent_bytes))
        .max(DEVICE_BYTES_MIN);
    if device_bytes < min_bytes {
        return Err(FormatError::DeviceTooSmall {
            device_bytes,
            min_bytes,
        });
    }
    let extent_count = extent_count_for(device_bytes, opts.extent_bytes);
    let extent_count = u32::try_from(extent_count).map_err(|_| FormatError::TooManyExtents {
        device_bytes,
        extent_bytes: opts.extent_bytes,
    })?;
    let created_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    Ok(Layout {
        set_id: random_nonzero(),
        data_shards: opts.data_shards,
        parity_shards: opts.parity_shards,
        partitions: opts.partitions,
        device_bytes,
        extent_bytes: opts.extent_bytes,
        extent_count,
        created_unix_ms,
    })
}

fn random_nonzero() -> u64 {
    loop {
        let value: u64 = rand::random();
        if value != 0 {
            return value;
        }
    }
}

/// `count` distinct nonzero random device ids.
fn device_ids(count: usize) -> Vec<u64> {
    let mut ids = Vec::with_capacity(count);
    let mut seen = BTreeSet::new();
    while ids.len() < count {
        let id = random_nonzero();
        if seen.insert(id) {
            ids.push(id);
        }
    }
    ids
}

/// Formats `paths` as one device set: device `i` is `paths[i]`.
///
/// Regular files are created if missing, sized to `device_bytes` and allocated with
/// `fallocate`; block devices are used as they are. On every device the root slot area is
/// zeroed and both superblock copies are written; each device and each regular file's
/// directory is fsynced before this returns.
///
/// Formatting is not atomic across devices: if it is interrupted, run it again with
/// `force` (the devices written so far hold superblocks of the unfinished set).
pub fn format(paths: &[PathBuf], opts: &FormatOptions) -> Result<Layout, FormatError> {
    check_options(paths.len(), opts)?;
    let targets: Vec<Target> = paths
        .iter()
        .map(|path| Target::inspect(path))
        .collect::<Result<_, _>>()?;
    check_distinct(
        targets
            .iter()
            .map(|t| (t.path.as_path(), t.metadata.as_ref().map(inode))),
    )?;
    let device_bytes = resolve_device_bytes(&targets, opts)?;
    let layout = plan_layout(opts, device_bytes)?;
    if !opts.force {
        for target in &targets {
            target.refuse_if_formatted()?;
        }
    }
    let mut files = Vec::with_capacity(targets.len());
    for target in &targets {
        let path = &target.path;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(target.block_bytes.is_none())
            .open(path)
            .map_err(io_error(path, "open"))?;
        let metadata = file.metadata().map_err(io_error(path, "stat"))?;
        files.push((file, inode(&metadata)));
    }
    // Two spellings of a path that did not exist before now name the same new file.
    check_distinct(
        targets
            .iter()
            .zip(&files)
            .map(|(t, f)| (t.path.as_path(), Some(f.1))),
    )?;
    for (target, (file, _)) in targets.iter().zip(&files) {
        prepare(target, file, &layout, opts)?;
    }
    for (index, ((target, (file, _)), device_id)) in targets
        .iter()
        .zip(&files)
        .zip(device_ids(paths.len()))
        .enumerate()
    {
        write_superblocks(&target.path, file, &layout.superblock(index, device_id))?;
    }
    sync_directories(&targets)?;
    let set_id = format!("{:016x}", layout.set_id);
    tracing::info!(%set_id, ?layout, "formatted device set");
    Ok(layout)
}

/// Formats `path` as device `index` of the set `layout` describes, to replace a failed
/// or lost device: sized and allocated like `format` does (zeros written over it when
/// `prefill`), root slots zeroed, both superblock copies written with a new device id,
/// fsynced. Its extents hold no valid block until they are rebuilt. A path that already
/// holds a ringstore superblock is refused. Returns the new device id.
pub fn format_replacement(
    layout: &Layout,
    index: usize,
    path: &Path,
    prefill: bool,
) -> Result<u64, FormatError> {
    assert!(index < layout.device_count());
    let target = Target::inspect(path)?;
    target.refuse_if_formatted()?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(target.block_bytes.is_none())
        .open(path)
        .map_err(io_error(path, "open"))?;
    let opts = FormatOptions {
        prefill,
        ..FormatOptions::default()
    };
    prepare(&target, &file, layout, &opts)?;
    let device_id = random_nonzero();
    write_superblocks(path, &file, &layout.superblock(index, device_id))?;
    sync_directories(std::slice::from_ref(&target))?;
    drop_cached_pages(&file);
    Ok(device_id)
}

/// Drops the (synced, clean) page cache of a just-prefilled file: the device is used with
/// O_DIRECT, and every direct write over a cached page would first have to invalidate it.
/// Only advice: failing it costs speed, not correctness.
fn drop_cached_pages(file: &File) {
    // SAFETY: posix_fadvise reads only its integer arguments; the descriptor stays open
    // for the call because `file` is borrowed.
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// Sizes a regular file (or checks a block device), and zeroes the root slots.
fn prepare(
    target: &Target,
    file: &File,
    layout: &Layout,
    opts: &FormatOptions,
) -> Result<(), FormatError> {
    let path = &target.path;
    let zeros = vec![0u8; PREFILL_CHUNK_BYTES];
    match target.block_bytes {
        Some(size_bytes) => prepare_block_device(path, file, size_bytes, layout, &zeros)?,
        None => prepare_file(path, file, layout, opts.prefill, &zeros)?,
    }
    let root_slots_bytes = (EXTENTS_OFFSET_BYTES - ROOT_SLOTS_OFFSET_BYTES) as usize;
    file.write_all_at(&zeros[..root_slots_bytes], ROOT_SLOTS_OFFSET_BYTES)
        .map_err(io_error(path, "zero root slots"))
}

/// A block device used only in part gets its last block zeroed, so that a copy B of an
/// earlier format of the whole device cannot be mistaken for this set's.
fn prepare_block_device(
    path: &Path,
    file: &File,
    size_bytes: u64,
    layout: &Layout,
    zeros: &[u8],
) -> Result<(), FormatError> {
    let block = BLOCK_BYTES as u64;
    let last_block = (size_bytes / block - 1) * block;
    if last_block >= layout.device_bytes {
        file.write_all_at(&zeros[..BLOCK_BYTES], last_block)
            .map_err(io_error(path, "zero last block"))?;
    }
    Ok(())
}

/// Sizes and allocates a regular file, and prefills it with zeros if asked.
fn prepare_file(
    path: &Path,
    file: &File,
    layout: &Layout,
    prefill: bool,
    zeros: &[u8],
) -> Result<(), FormatError> {
    file.set_len(layout.device_bytes)
        .map_err(io_error(path, "set_len"))?;
    match allocate(file, layout.device_bytes) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            // Some filesystems cannot preallocate; the file still works, sparse.
            let path = path.display();
            tracing::warn!(%path, "fallocate not supported; the file stays sparse");
        }
        Err(error) => return Err(io_error(path, "fallocate")(error)),
    }
    if prefill {
        let mut offset = 0;
        while offset < layout.device_bytes {
            let len = (layout.device_bytes - offset).min(zeros.len() as u64);
            file.write_all_at(&zeros[..len as usize], offset)
                .map_err(io_error(path, "prefill"))?;
            offset += len;
        }
    }
    Ok(())
}

fn write_superblocks(path: &Path, file: &File, superblock: &Superblock) -> Result<(), FormatError> {
    let block = superblock.encode();
    file.write_all_at(&block, SUPERBLOCK_OFFSET_BYTES)
        .map_err(io_error(path, "write superblock A"))?;
    file.write_all_at(&block, superblock.copy_b_offset())
        .map_err(io_error(path, "write superblock B"))?;
    file.sync_all().map_err(io_error(path, "fsync"))
}

/// Fsyncs the directory of every regular file, so that created files survive a crash.
fn sync_directories(targets: &[Target]) -> Result<(), FormatError> {
    let directories: BTreeSet<&Path> = targets
        .iter()
        .filter(|target| target.block_bytes.is_none())
        .map(|target| match target.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        })
        .collect();
    for directory in directories {
        let handle = File::open(directory).map_err(io_error(directory, "open directory"))?;
        handle
            .sync_all()
            .map_err(io_error(directory, "fsync directory"))?;
    }
    Ok(())
}

/// A path [`identify`] read a valid superblock from.
struct Found {
    path: PathBuf,
    superblock: Superblock,
    copies_valid: [bool; 2],
}

/// Reads one path. `Ok(None)` means missing or unreadable: a warning says which.
fn read_device(path: &Path, warnings: &mut Vec<String>) -> Result<Option<Found>, OpenError> {
    let read = File::open(path).and_then(|file| {
        let metadata = file.metadata()?;
        let size_bytes = size_bytes(&file, &metadata)?;
        Ok((
            read_copies(&file, size_bytes)?,
            size_bytes,
            metadata.file_type().is_file(),
        ))
    });
    let (copies, size_bytes, is_file) = match read {
        Ok(read) => read,
        Err(error) => {
            warnings.push(format!(
                "{}: device unreadable, counted as missing: {error}",
                path.display()
            ));
            return Ok(None);
        }
    };
    if size_bytes < 2 * crate::constants::BLOCK_BYTES as u64 {
        warnings.push(format!(
            "{}: device is {size_bytes} B, too short to hold a superblock (truncated); \
             counted as missing",
            path.display()
        ));
        return Ok(None);
    }
    let Some(superblock) = copies.valid() else {
        let (Err(copy_a), Err(copy_b)) = (copies.a, copies.b) else {
            unreachable!("no valid copy, yet one decoded");
        };
        return Err(OpenError::NotRingstore {
            path: path.to_path_buf(),
            copy_a,
            copy_b,
        });
    };
    if size_bytes < superblock.device_bytes {
        // Truncated: its last extents are gone, so it cannot serve its shards. It counts
        // as missing; parity covers it like a lost device.
        warnings.push(format!(
            "{}: device is {size_bytes} B but its superblock says {} B (truncated); \
             counted as missing",
            path.display(),
            superblock.device_bytes
        ));
        return Ok(None);
    }
    if is_file && size_bytes > superblock.device_bytes {
        warnings.push(format!(
            "{}: file is {size_bytes} B, longer than the device size {} B; the rest is unused",
            path.display(),
            superblock.device_bytes
        ));
    }
    for (name, copy) in [("A", &copies.a), ("B", &copies.b)] {
        if let Err(error) = copy {
            warnings.push(format!(
                "{}: superblock copy {name} is invalid ({error}); the other copy is used; \
                 repair_superblocks rewrites it",
                path.display()
            ));
        }
    }
    let copies_valid = [copies.a.is_ok(), copies.b.is_ok()];
    Ok(Some(Found {
        path: path.to_path_buf(),
        superblock,
        copies_valid,
    }))
}

/// The set most devices belong to; an error if another set has as many.
fn majority_set(found: &[Found]) -> Result<u64, OpenError> {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for device in found {
        *counts.entry(device.superblock.set_id).or_default() += 1;
    }
    let mut ranked: Vec<(u64, usize)> = counts.into_iter().collect();
    ranked.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
    match ranked[..] {
        [(set_id_a, a), (set_id_b, b), ..] if a == b => Err(OpenError::AmbiguousSet {
            set_id_a,
            set_id_b,
            devices: a,
        }),
        [(set_id, _), ..] => Ok(set_id),
        [] => unreachable!("majority_set of no devices"),
    }
}

/// Places each device of the set by its index, refusing foreign devices, parameter
/// mismatches and duplicates.
fn place(found: Vec<Found>, set_id: u64) -> Result<(Layout, Vec<Option<DeviceInfo>>), OpenError> {
    if let Some(foreign) = found
        .iter()
        .find(|device| device.superblock.set_id != set_id)
    {
        return Err(OpenError::ForeignDevice {
            path: foreign.path.clone(),
            set_id: foreign.superblock.set_id,
            expected: set_id,
        });
    }
    let first = &found[0];
    let layout = Layout::from_superblock(&first.superblock);
    for device in &found[1..] {
        let theirs = Layout::from_superblock(&device.superblock);
        if let Some((field, value, expected)) = theirs.first_difference(&layout) {
            let (path, other) = (device.path.clone(), first.path.clone());
            return Err(OpenError::Mismatch {
                path,
                other,
                field,
                value,
                expected,
            });
        }
    }
    let mut devices: Vec<Option<DeviceInfo>> = vec![None; layout.device_count()];
    let mut by_id: HashMap<u64, PathBuf> = HashMap::new();
    for device in found {
        let index = usize::from(device.superblock.device_index);
        let device_id = device.superblock.device_id;
        let earlier = devices[index].as_ref().map(|d| d.path.clone());
        if let Some(a) = earlier.or_else(|| by_id.get(&device_id).cloned()) {
            return Err(OpenError::DuplicateDevice {
                a,
                b: device.path,
                index,
            });
        }
        by_id.insert(device_id, device.path.clone());
        devices[index] = Some(DeviceInfo {
            path: device.path,
            device_id,
            device_index: index,
            superblock_copies_valid: device.copies_valid,
        });
    }
    Ok((layout, devices))
}

/// Identifies the device set on `paths`, given in any order.
///
/// Every readable path must hold a valid superblock copy of the same set (the set most
/// paths belong to); missing or unreadable paths only produce warnings. The set opens
/// degraded if at most `parity_shards` devices are missing. See `engine/FORMAT.md`,
/// "Identification", for the rules.
pub fn identify(paths: &[PathBuf]) -> Result<Identified, OpenError> {
    let mut warnings = Vec::new();
    let mut found = Vec::with_capacity(paths.len());
    for path in paths {
        if let Some(device) = read_device(path, &mut warnings)? {
            found.push(device);
        }
    }
    if found.is_empty() {
        return Err(OpenError::NoDevices {
            paths: paths.len(),
            warnings,
        });
    }
    let set_id = majority_set(&found)?;
    let (layout, devices) = place(found, set_id)?;
    let identified = Identified {
        layout,
        devices,
        warnings,
    };
    let missing = identified.missing();
    if missing.len() > layout.parity_shards {
        return Err(OpenError::TooManyMissing {
            missing,
            parity: layout.parity_shards,
        });
    }
    let mut identified = identified;
    for index in missing {
        identified.warnings.push(format!(
            "device {index} of set {:016x} is missing; the set runs degraded",
            layout.set_id
        ));
    }
    for warning in &identified.warnings {
        tracing::warn!("{warning}");
    }
    Ok(identified)
}

/// Rewrites every invalid superblock copy of the identified devices from the device's
/// valid copy, re-read and re-checked first. Returns how many copies were rewritten.
///
/// Fails with `InvalidData` if a device's valid copy no longer reads back as the device
/// `identify` saw: the devices changed since, so identify them again.
pub fn repair_superblocks(id: &Identified) -> io::Result<usize> {
    let mut repaired = 0;
    for device in id.devices.iter().flatten() {
        let (good, bad) = match device.superblock_copies_valid {
            [true, true] => continue,
            [true, false] => (SUPERBLOCK_OFFSET_BYTES, id.layout.superblock_b_offset()),
            [false, true] => (id.layout.superblock_b_offset(), SUPERBLOCK_OFFSET_BYTES),
            [false, false] => unreachable!("identify never returns a device with no valid copy"),
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&device.path)?;
        let mut block = [0u8; SUPERBLOCK_BYTES];
        file.read_exact_at(&mut block, good)?;
        let expected = id.layout.superblock(device.device_index, device.device_id);
        match Superblock::decode(&block) {
            Ok(superblock) if superblock == expected => {}
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: superblock copy at offset {good} no longer matches the identified \
                         device ({other:?}); identify the devices again",
                        device.path.display()
                    ),
                ))
            }
        }
        file.write_all_at(&block, bad)?;
        file.sync_data()?;
        tracing::info!(path = %device.path.display(), offset = bad, "rewrote superblock copy");
        repaired += 1;
    }
    Ok(repaired)
}
