//! Seeded storage fault injection under `Devices` (feature `failpoints`, for tests only).
//!
//! The real O_DIRECT I/O still runs underneath, on real files and io_uring; this layer only
//! decides, from a seeded PRNG and a [`Plan`], what each I/O turns into:
//! - latent read errors: a write on a chosen device may leave one of its blocks unreadable
//!   (EIO on every read covering it) until the block is written again, as a remapped sector;
//! - misdirected writes: a write on a chosen device lands on another block range of that
//!   device that was written before, and the intended range keeps its old contents (or,
//!   targeted by `Plan::misdirect_at`, the write at one offset lands at another);
//! - reordered completions: small random timer delays before issuing and after completing;
//! - failing devices: every I/O on them returns EIO;
//! - a crash: [`crash`] (or `Plan::crash_after_ios`) freezes the layer, so every later I/O
//!   fails without reaching the files and without counting against a device (a write or
//!   fdatasync in flight at the crash fails too when it completes: the process never saw
//!   it finish, so nothing it covers may be acknowledged); after the engine is dropped,
//!   [`apply_crash`] gives each write not covered by a completed fdatasync of its device
//!   (or of a device of its flush domain, which flushes the same disk) a fate: kept, lost
//!   (its pre-image, read before it was issued, is put back) or torn (a 512-byte-granular
//!   prefix of it survives).
//!
//! One plan is installed per process at a time; the devices of the set are named by index.
//! The interleaving of real I/O is not deterministic, so a seed reproduces the plan and the
//! operation sequence of a test, not the exact schedule.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::constants::BLOCK_BYTES;

/// Sector size of a torn write: the prefix that survives is a multiple of it.
pub const TORN_SECTOR_BYTES: usize = 512;
/// Past write ranges per device a misdirected write may land on.
const HISTORY_MAX: usize = 64;

/// What to inject. Probabilities are per I/O, in parts per million.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub seed: u64,
    /// Devices whose writes may leave a latent bad block behind.
    pub latent_devices: Vec<usize>,
    pub latent_per_write_ppm: u32,
    /// Devices whose writes may be misdirected.
    pub misdirect_devices: Vec<usize>,
    pub misdirect_per_write_ppm: u32,
    /// Targeted misdirections, each taken once: `(device, intended offset, landing
    /// offset)`: the next write on that device at exactly the intended offset lands at the
    /// landing offset instead, and the intended range keeps its old contents.
    pub misdirect_at: Vec<(usize, u64, u64)>,
    /// Every read on these devices fails (beyond-budget tests).
    pub unreadable_devices: Vec<usize>,
    /// Every I/O on these devices returns EIO (a device dying while serving).
    pub failing_devices: Vec<usize>,
    /// Freeze (crash) after this many I/Os of any kind.
    pub crash_after_ios: Option<u64>,
    /// Delay of up to this many microseconds before issuing or after completing an I/O.
    pub delay_us_max: u64,
    pub delay_ppm: u32,
}

/// What was injected, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub latent_blocks: u64,
    pub latent_read_errors: u64,
    pub misdirected_writes: u64,
    pub delays: u64,
    pub device_errors: u64,
    pub crashes: u64,
    pub unsynced_kept: u64,
    pub unsynced_lost: u64,
    pub unsynced_torn: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.latent_blocks += o.latent_blocks;
        self.latent_read_errors += o.latent_read_errors;
        self.misdirected_writes += o.misdirected_writes;
        self.delays += o.delays;
        self.device_errors += o.device_errors;
        self.crashes += o.crashes;
        self.unsynced_kept += o.unsynced_kept;
        self.unsynced_lost += o.unsynced_lost;
        self.unsynced_torn += o.unsynced_torn;
    }
}

struct Unsynced {
    seq: u64,
    offset: u64,
    pre_image: Vec<u8>,
    completed: bool,
}

struct Sim {
    plan: Plan,
    rng: u64,
    ios: u64,
    frozen: bool,
    next_seq: u64,
    latent: HashMap<usize, BTreeSet<u64>>,
    history: HashMap<usize, Vec<(u64, usize)>>,
    unsynced: HashMap<usize, Vec<Unsynced>>,
    counts: Counts,
}

static SIM: Mutex<Option<Sim>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Sim) -> T) -> Option<T> {
    SIM.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .map(f)
}

/// splitmix64: small, seedable, and good enough to pick faults.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sim {
    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && next(&mut self.rng) % 1_000_000 < ppm as u64
    }

    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        next(&mut self.rng) % n
    }

    /// Counts one I/O on `dev`; an error if the layer is frozen or the device is failing.
    fn admit(&mut self, dev: usize) -> Result<(), Fault> {
        if self.frozen {
            return Err(Fault::Frozen);
        }
        self.ios += 1;
        if self.plan.crash_after_ios.is_some_and(|c| self.ios >= c) {
            self.frozen = true;
            self.counts.crashes += 1;
            return Err(Fault::Frozen);
        }
        if self.plan.failing_devices.contains(&dev) {
            self.counts.device_errors += 1;
            return Err(Fault::Eio);
        }
        Ok(())
    }

    fn delay_us(&mut self) -> u64 {
        if self.plan.delay_us_max > 0 && self.chance(self.plan.delay_ppm) {
            self.counts.delays += 1;
            1 + self.below(self.plan.delay_us_max)
        } else {
            0
        }
    }
}

/// Why the layer refused an I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The simulated machine has crashed: nothing reaches the files any more. Not the
    /// device's fault, so it is not counted against it.
    Frozen,
    /// The device returned an I/O error.
    Eio,
}

impl Fault {
    pub fn error(self) -> io::Error {
        match self {
            Fault::Frozen => io::Error::other("simulated crash: I/O dropped"),
            Fault::Eio => io::Error::from_raw_os_error(libc::EIO),
        }
    }
}

/// Installs `plan`, replacing any earlier one (and forgetting its unsynced writes).
pub fn install(plan: Plan) {
    let rng = plan.seed ^ 0x5eed_fa17_0000_0001;
    *SIM.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sim {
        plan,
        rng,
        ios: 0,
        frozen: false,
        next_seq: 0,
        latent: HashMap::new(),
        history: HashMap::new(),
        unsynced: HashMap::new(),
        counts: Counts::default(),
    });
}

/// Removes the plan; returns what it injected.
pub fn uninstall() -> Counts {
    let sim = SIM.lock().unwrap_or_else(|e| e.into_inner()).take();
    sim.map(|s| s.counts).unwrap_or_default()
}

/// Freezes the layer: the simulated machine stops here.
pub fn crash() {
    with(|s| {
        if !s.frozen {
            s.frozen = true;
            s.counts.crashes += 1;
        }
    });
}

/// Crashes after `ios` more I/Os.
pub fn crash_after(ios: u64) {
    with(|s| s.plan.crash_after_ios = Some(s.ios + ios));
}

pub fn frozen() -> bool {
    with(|s| s.frozen).unwrap_or(false)
}

/// Changes the plan of the installed layer, keeping its state (latent blocks, unsynced
/// writes, counts).
pub fn update(f: impl FnOnce(&mut Plan)) {
    with(|s| f(&mut s.plan));
}

/// What `Devices::write` does with one write.
pub struct WriteFate {
    /// Where the bytes land (differs from the intended offset when misdirected).
    pub offset: u64,
    pub delay_before_us: u64,
    pub delay_after_us: u64,
    /// The write's sequence number, when its pre-image has to be recorded.
    pub seq: Option<u64>,
}

/// Decides a write of `len` bytes at `offset` on `dev`; `None` without a plan.
pub fn before_write(dev: usize, offset: u64, len: usize) -> Option<Result<WriteFate, Fault>> {
    with(|s| {
        s.admit(dev)?;
        let mut target = offset;
        let misdirect_ppm = s.plan.misdirect_per_write_ppm;
        let aimed = s
            .plan
            .misdirect_at
            .iter()
            .position(|&(d, o, _)| d == dev && o == offset);
        if let Some(i) = aimed {
            target = s.plan.misdirect_at.remove(i).2;
            s.counts.misdirected_writes += 1;
        } else if s.plan.misdirect_devices.contains(&dev) && s.chance(misdirect_ppm) {
            let fits: Vec<u64> = s.history.get(&dev).map_or(Vec::new(), |h| {
                h.iter()
                    .filter(|&&(o, l)| o != offset && l >= len)
                    .map(|&(o, _)| o)
                    .collect()
            });
            if !fits.is_empty() {
                target = fits[s.below(fits.len() as u64) as usize];
                s.counts.misdirected_writes += 1;
            }
        }
        let h = s.history.entry(dev).or_default();
        if h.len() == HISTORY_MAX {
            h.remove(0);
        }
        h.push((offset, len));
        // The range written is readable again (a rewrite remaps a bad sector).
        if let Some(bad) = s.latent.get_mut(&dev) {
            let hit: Vec<u64> = bad.range(target..target + len as u64).copied().collect();
            for b in hit {
                bad.remove(&b);
            }
        }
        let seq = s.next_seq;
        s.next_seq += 1;
        Ok(WriteFate {
            offset: target,
            delay_before_us: s.delay_us(),
            delay_after_us: s.delay_us(),
            seq: Some(seq),
        })
    })
}

/// Records the pre-image of write `seq` (read just before it was issued).
pub fn record_pre_image(dev: usize, seq: u64, offset: u64, pre_image: Vec<u8>) {
    with(|s| {
        s.unsynced.entry(dev).or_default().push(Unsynced {
            seq,
            offset,
            pre_image,
            completed: false,
        })
    });
}

/// Write `seq` completed (`ok`) or failed; a completed write may leave a latent bad block.
/// False if the layer froze while the write was in flight: its bytes may have reached the
/// file (the crash gives them a fate like any unsynced write) but it must be reported
/// failed, as every I/O after the crash is.
pub fn after_write(dev: usize, seq: u64, offset: u64, len: usize, ok: bool) -> bool {
    with(|s| {
        if s.frozen {
            return false;
        }
        if let Some(u) = s.unsynced.get_mut(&dev) {
            if let Some(w) = u.iter_mut().find(|w| w.seq == seq) {
                w.completed = ok;
            }
        }
        let latent_ppm = s.plan.latent_per_write_ppm;
        if ok && s.plan.latent_devices.contains(&dev) && s.chance(latent_ppm) {
            let block = s.below((len / BLOCK_BYTES) as u64);
            s.latent
                .entry(dev)
                .or_default()
                .insert(offset + block * BLOCK_BYTES as u64);
            s.counts.latent_blocks += 1;
        }
        true
    })
    .unwrap_or(true)
}

/// Decides a read; `Ok(delay_us)` to go ahead.
pub fn before_read(dev: usize, offset: u64, len: usize) -> Option<Result<u64, Fault>> {
    with(|s| {
        s.admit(dev)?;
        if s.plan.unreadable_devices.contains(&dev) {
            s.counts.device_errors += 1;
            return Err(Fault::Eio);
        }
        let end = offset + len as u64;
        if s.latent
            .get(&dev)
            .is_some_and(|b| b.range(offset..end).next().is_some())
        {
            s.counts.latent_read_errors += 1;
            return Err(Fault::Eio);
        }
        Ok(s.delay_us())
    })
}

/// The writes one fdatasync covers: for each device, the sequence numbers of its writes.
pub type Covered = Vec<(usize, Vec<u64>)>;

/// Before an fdatasync of `dev` that flushes every device in `members` (`dev` among them:
/// its flush domain, or `dev` alone): the writes it will cover, those completed by now on
/// each member. Only `dev` is admitted: one I/O, which only `dev` can fail.
pub fn before_sync(dev: usize, members: &[usize]) -> Option<Result<Covered, Fault>> {
    with(|s| {
        s.admit(dev)?;
        let completed = |m: usize| {
            s.unsynced.get(&m).map_or(Vec::new(), |u| {
                u.iter().filter(|w| w.completed).map(|w| w.seq).collect()
            })
        };
        Ok(members.iter().map(|&m| (m, completed(m))).collect())
    })
}

/// The fdatasync succeeded: the writes in `covered` are durable, unless the layer froze
/// while it was in flight. Then the crash came first: the writes stay unsynced and the
/// sync must fail (false), since a crashed process never learns that its flush completed
/// (reporting success would let the engine acknowledge writes that the crash then loses).
pub fn after_sync(covered: &Covered) -> bool {
    with(|s| {
        if s.frozen {
            return false;
        }
        for (dev, seqs) in covered {
            if let Some(u) = s.unsynced.get_mut(dev) {
                u.retain(|w| !seqs.contains(&w.seq));
            }
        }
        true
    })
    .unwrap_or(true)
}

/// Writes `data` at `offset` through an O_DIRECT file, from a buffer aligned to a block
/// (offset and length are multiples of [`TORN_SECTOR_BYTES`]).
fn write_direct(file: &std::fs::File, data: &[u8], offset: u64) -> io::Result<()> {
    let mut buf = vec![0u8; data.len() + BLOCK_BYTES];
    let start = buf.as_ptr().align_offset(BLOCK_BYTES);
    let aligned = &mut buf[start..start + data.len()];
    aligned.copy_from_slice(data);
    file.write_all_at(aligned, offset)
}

/// After a crash, with the engine gone: gives every unsynced write of each device (files
/// by device index) its fate, newest first so the oldest pre-image of a range wins, then
/// thaws the layer (latent blocks stay).
pub fn apply_crash(files: &[PathBuf]) -> io::Result<()> {
    let mut guard = SIM.lock().unwrap_or_else(|e| e.into_inner());
    let Some(s) = guard.as_mut() else {
        return Ok(());
    };
    assert!(s.frozen, "apply_crash after crash");
    let unsynced = std::mem::take(&mut s.unsynced);
    for (dev, mut writes) in unsynced {
        // O_DIRECT, as the engine writes: a write of the crashed engine may still be in
        // flight in the kernel (the ring's teardown finishes it), and a buffered write of
        // the same range would leave dirty pages that its completion cannot invalidate,
        // failing the file's next fdatasync with EIO. If it lands after the restore, the
        // write was kept after all, which is one of the outcomes a crash allows.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(&files[dev])?;
        writes.sort_by_key(|w| std::cmp::Reverse(w.seq));
        for w in writes {
            match s.below(3) {
                0 => s.counts.unsynced_kept += 1,
                1 => {
                    write_direct(&file, &w.pre_image, w.offset)?;
                    s.counts.unsynced_lost += 1;
                }
                _ => {
                    let sectors = (w.pre_image.len() / TORN_SECTOR_BYTES) as u64;
                    let keep = s.below(sectors) as usize * TORN_SECTOR_BYTES;
                    write_direct(&file, &w.pre_image[keep..], w.offset + keep as u64)?;
                    s.counts.unsynced_torn += 1;
                }
            }
        }
        file.sync_all()?;
    }
    s.frozen = false;
    s.plan.crash_after_ios = None;
    Ok(())
}
