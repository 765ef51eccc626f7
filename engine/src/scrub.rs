//! The scrub: a background worker per partition that reads every block the partition
//! references — superblocks (partition 0), its checkpoint, its log from the replay start,
//! and every version of every object (data stripes and the log batches holding packed
//! objects) — verifies them and rewrites bad blocks from parity (`repair`).
//!
//! It runs on the executor's low-share background task queue, at most at the configured
//! rate (shared evenly by the partitions), and a full pass starts every `interval_secs`
//! after the previous one started, or when asked (`Handle::scrub_start`). Where a pass
//! stands is kept in a progress record on the devices (`scrub_progress`), so a restart
//! continues it. Stripes a read had to rebuild are queued here and repaired first.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::block::BlockKind;
use crate::constants::{
    BLOCK_BYTES, FOREGROUND_QUIET_MS, REBUILD_RATE_BYTES_PER_SEC_DEFAULT,
    REBUILD_STRIPES_IN_FLIGHT, REBUILD_STRIPES_IN_FLIGHT_BUSY, REPAIR_QUEUE_MAX,
    SCRUB_INTERVAL_SECS_DEFAULT, SCRUB_RATE_BYTES_PER_SEC_DEFAULT, STRIPE_BLOCKS_MAX,
};
use crate::object_io::now_ms;
use crate::partition::{LogPos, Partition};
use crate::rebuild::{Job, StillValid};
use crate::record::{ObjectData, ObjectEntry};
use crate::repair::{StripeCheck, StripeLen};
use crate::scrub_progress::{Phase, Progress};
use crate::stripe::StripeId;

/// How often an idle scrub worker looks at its commands and schedule.
const SCRUB_TICK: Duration = Duration::from_millis(100);
/// Keys whose versions are collected from the index at a time.
const SCRUB_SLICE_KEYS: usize = 64;

/// Scrub settings (server configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrubConfig {
    /// Off: no pass starts by schedule (an explicit start still runs one).
    pub enabled: bool,
    /// Device bytes read per second across the device set, at most.
    pub rate_bytes_per_sec: u64,
    /// A full pass starts this long after the previous one started.
    pub interval_secs: u64,
    /// Bytes per second a rebuild pass (after a device replacement) writes at most
    /// across the set; 0: as fast as the devices allow.
    pub rebuild_rate_bytes_per_sec: u64,
}

impl Default for ScrubConfig {
    fn default() -> ScrubConfig {
        ScrubConfig {
            enabled: true,
            rate_bytes_per_sec: SCRUB_RATE_BYTES_PER_SEC_DEFAULT,
            interval_secs: SCRUB_INTERVAL_SECS_DEFAULT,
            rebuild_rate_bytes_per_sec: REBUILD_RATE_BYTES_PER_SEC_DEFAULT,
        }
    }
}

/// One partition's scrub as status reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionScrub {
    /// idle, scanning, throttled, paused or repairing.
    pub state: &'static str,
    pub phase: &'static str,
    pub pass: u64,
    pub pass_started_ms: u64,
    pub pass_finished_ms: u64,
    /// `bucket/key` the object walk has reached.
    pub position: String,
}

/// Settings, commands and progress every core shares.
pub struct ScrubControl {
    pub enabled: AtomicBool,
    pub paused: AtomicBool,
    pub rate_bytes_per_sec: AtomicU64,
    pub interval_secs: AtomicU64,
    /// A rebuild pass's cap on bytes written per second; 0: none.
    pub rebuild_rate_bytes_per_sec: AtomicU64,
    /// Bumped by every start command; a partition that sees it change starts a pass.
    pub start_epoch: AtomicU64,
    /// Bumped by a device replacement: the pass it starts is not rate-capped, so the set
    /// is back to full redundancy as soon as the devices allow.
    pub rebuild_epoch: AtomicU64,
    pub partitions: Mutex<Vec<PartitionScrub>>,
    /// Stripes a read rebuilt, per partition, with the user bytes each carries if known.
    repairs: Mutex<Vec<Vec<StripeId>>>,
    /// Bumped for device `i` each time it is replaced: a partition's rebuild pass writes
    /// the devices whose count changed since its previous rebuild pass (`rebuild`).
    pub replacements: Vec<AtomicU64>,
    /// Stripes written while a device was down, per partition (`rebuild`).
    pub(crate) degraded: Mutex<Vec<Vec<crate::rebuild::Degraded>>>,
    /// Listed stripes taken out of `degraded` by a heal that has not finished them yet.
    pub(crate) healing: AtomicU64,
    /// Per partition, the replaced devices (bit per device) its rebuild pass has not
    /// finished: reads compute their shards from the others instead (`rebuild`).
    pub(crate) rebuilding: Vec<AtomicU64>,
}

impl ScrubControl {
    pub fn new(partitions: usize, devices: usize) -> ScrubControl {
        let d = ScrubConfig::default();
        ScrubControl {
            enabled: AtomicBool::new(d.enabled),
            paused: AtomicBool::new(false),
            rate_bytes_per_sec: AtomicU64::new(d.rate_bytes_per_sec),
            interval_secs: AtomicU64::new(d.interval_secs),
            rebuild_rate_bytes_per_sec: AtomicU64::new(d.rebuild_rate_bytes_per_sec),
            start_epoch: AtomicU64::new(0),
            rebuild_epoch: AtomicU64::new(0),
            partitions: Mutex::new(vec![PartitionScrub::default(); partitions]),
            repairs: Mutex::new(vec![Vec::new(); partitions]),
            replacements: (0..devices).map(|_| AtomicU64::new(0)).collect(),
            degraded: Mutex::new(vec![Vec::new(); partitions]),
            healing: AtomicU64::new(0),
            rebuilding: (0..partitions).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn configure(&self, cfg: &ScrubConfig) {
        self.enabled.store(cfg.enabled, Ordering::Relaxed);
        self.rate_bytes_per_sec
            .store(cfg.rate_bytes_per_sec.max(1), Ordering::Relaxed);
        self.interval_secs
            .store(cfg.interval_secs, Ordering::Relaxed);
        self.rebuild_rate_bytes_per_sec
            .store(cfg.rebuild_rate_bytes_per_sec, Ordering::Relaxed);
    }

    /// Starts a pass on every partition (or resumes a paused one).
    pub fn start(&self) {
        self.paused.store(false, Ordering::Relaxed);
        self.start_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts an uncapped pass on every partition that rebuilds device `index`: it was
    /// replaced.
    pub fn start_rebuild(&self, index: usize) {
        self.replacements[index].fetch_add(1, Ordering::Relaxed);
        for r in &self.rebuilding {
            r.fetch_or(1 << index, Ordering::Relaxed);
        }
        self.rebuild_epoch.fetch_add(1, Ordering::Relaxed);
        self.start();
    }

    pub fn pause(&self) {
        self.paused.store(true, Ordering::Relaxed);
    }

    pub fn status(&self) -> Vec<PartitionScrub> {
        self.partitions.lock().expect("scrub status").clone()
    }

    fn set(&self, partition: u16, f: impl FnOnce(&mut PartitionScrub)) {
        f(&mut self.partitions.lock().expect("scrub status")[partition as usize]);
    }

    /// Queues a stripe a read had to rebuild; dropped if the queue is full (the next
    /// pass finds it anyway).
    pub fn queue_repair(&self, id: StripeId) {
        let mut q = self.repairs.lock().expect("repair queue");
        let q = &mut q[id.partition as usize];
        if q.len() < REPAIR_QUEUE_MAX && !q.contains(&id) {
            q.push(id);
        }
    }

    fn take_repairs(&self, partition: u16) -> Vec<StripeId> {
        std::mem::take(&mut self.repairs.lock().expect("repair queue")[partition as usize])
    }
}

/// Keeps a partition's reads under its share of the rate, and says what kind of pass runs.
pub(crate) struct Throttle {
    since: Instant,
    bytes: u64,
    /// A rebuild pass: paced by the bytes it writes against the rebuild cap, if any,
    /// instead of the bytes it reads against the scrub's.
    unlimited: bool,
    /// Devices (bit per device) the pass rebuilds: their shards are written from k
    /// others instead of every shard being verified (`rebuild`). 0 for a plain scrub.
    rebuild_devices: u64,
    /// The foreground request count last seen, and when it last changed.
    foreground_ops: u64,
    foreground_at: Instant,
}

impl Throttle {
    fn new() -> Throttle {
        Throttle {
            since: Instant::now(),
            bytes: 0,
            unlimited: false,
            rebuild_devices: 0,
            foreground_ops: 0,
            foreground_at: Instant::now(),
        }
    }

    /// Starts a rebuild pass's pacing afresh: a capped scrub's history owes it nothing.
    fn start_rebuild(&mut self) {
        self.unlimited = true;
        (self.since, self.bytes) = (Instant::now(), 0);
    }

    /// How long to wait after moving `bytes` more at `rate` bytes/s (`None`: no cap).
    fn after(&mut self, bytes: u64, rate: Option<u64>) -> Option<Duration> {
        self.bytes += bytes;
        let spent = self.since.elapsed();
        if spent > Duration::from_secs(10) {
            // Forget old history so an idle spell does not buy a burst.
            (self.since, self.bytes) = (Instant::now(), 0);
        }
        let due = Duration::from_secs_f64(self.bytes as f64 / rate?.max(1) as f64);
        due.checked_sub(spent).filter(|d| !d.is_zero())
    }

    /// Stripes a rebuild may check at once: fewer while foreground requests are served
    /// (every core's count, as the cores share the devices).
    fn window(&mut self, stats: &crate::shared::Stats) -> usize {
        let ops = stats.gets.get() + stats.puts.get() + stats.deletes.get() + stats.lists.get();
        if ops != self.foreground_ops {
            (self.foreground_ops, self.foreground_at) = (ops, Instant::now());
        }
        if self.foreground_at.elapsed() < Duration::from_millis(FOREGROUND_QUIET_MS) {
            REBUILD_STRIPES_IN_FLIGHT_BUSY
        } else {
            REBUILD_STRIPES_IN_FLIGHT
        }
    }
}

/// Object versions collected from the index: (bucket, key, entry).
type IndexSlice = Vec<(String, String, ObjectEntry)>;

/// Why a pass step stopped early.
pub(crate) enum Stop {
    Paused,
    Stopping,
}

impl Partition {
    /// The scrub worker; returns when the partition stops.
    pub async fn scrub_worker(self: Rc<Self>) {
        let control = &self.shared.scrub;
        let mut progress = self.load_progress().await;
        let mut seen_epoch = control.start_epoch.load(Ordering::Relaxed);
        let mut seen_rebuild = control.rebuild_epoch.load(Ordering::Relaxed);
        let mut seen_replaced = self.replacement_counts();
        let mut throttle = Throttle::new();
        self.publish(&progress, "idle");
        while !self.stopping.get() {
            glommio::timer::sleep(SCRUB_TICK).await;
            self.run_repairs(&mut throttle).await;
            if control.paused.load(Ordering::Relaxed) {
                self.publish(&progress, "paused");
                continue;
            }
            let epoch = control.start_epoch.load(Ordering::Relaxed);
            let asked = epoch != seen_epoch;
            seen_epoch = epoch;
            let rebuild = control.rebuild_epoch.load(Ordering::Relaxed);
            if rebuild != seen_rebuild {
                // A replacement while a pass runs: the rest of it and the next are uncapped.
                seen_rebuild = rebuild;
                throttle.start_rebuild();
                let now = self.replacement_counts();
                for (d, (a, b)) in now.iter().zip(&seen_replaced).enumerate() {
                    if a != b {
                        throttle.rebuild_devices |= 1 << d;
                    }
                }
                seen_replaced = now;
            }
            if progress.phase == Phase::Done && (asked || self.pass_due(&progress)) {
                progress.pass += 1;
                progress.pass_started_ms = now_ms();
                progress.phase = Phase::Superblocks;
                progress.cursor = None;
                self.save_progress(&mut progress).await;
                tracing::info!(
                    partition = self.id,
                    pass = progress.pass,
                    "scrub pass started"
                );
            }
            if progress.phase == Phase::Done {
                self.publish(&progress, "idle");
                continue;
            }
            match self.run_pass(&mut progress, &mut throttle).await {
                Ok(()) => {
                    self.shared.stats.scrub_passes.inc();
                    throttle.unlimited = rebuild != control.rebuild_epoch.load(Ordering::Relaxed);
                    if !throttle.unlimited {
                        // Every stripe the pass met is on the rebuilt devices now.
                        let done = std::mem::take(&mut throttle.rebuild_devices);
                        control.rebuilding[self.id as usize].fetch_and(!done, Ordering::Relaxed);
                    }
                    tracing::info!(
                        partition = self.id,
                        pass = progress.pass,
                        "scrub pass finished"
                    );
                }
                Err(Stop::Paused) => self.publish(&progress, "paused"),
                Err(Stop::Stopping) => break,
            }
            self.save_progress(&mut progress).await;
        }
    }

    fn replacement_counts(&self) -> Vec<u64> {
        let c = &self.shared.scrub.replacements;
        c.iter().map(|n| n.load(Ordering::Relaxed)).collect()
    }

    fn pass_due(&self, p: &Progress) -> bool {
        let c = &self.shared.scrub;
        c.enabled.load(Ordering::Relaxed)
            && now_ms()
                >= p.pass_started_ms
                    .saturating_add(c.interval_secs.load(Ordering::Relaxed) * 1000)
    }

    fn publish(&self, p: &Progress, state: &'static str) {
        self.shared.scrub.set(self.id, |s| {
            s.state = state;
            s.phase = p.phase.name();
            s.pass = p.pass;
            s.pass_started_ms = p.pass_started_ms;
            s.pass_finished_ms = p.pass_finished_ms;
            s.position = p
                .cursor
                .as_ref()
                .map(|(b, k)| format!("{b}/{k}"))
                .unwrap_or_default();
        });
    }

    /// Runs the rest of the current pass, phase by phase, saving progress as it goes.
    async fn run_pass(&self, p: &mut Progress, t: &mut Throttle) -> Result<(), Stop> {
        while p.phase != Phase::Done {
            self.publish(p, "scanning");
            match p.phase {
                Phase::Superblocks => self.scrub_superblocks().await,
                Phase::Checkpoint => self.scrub_checkpoint(t).await?,
                Phase::Log => self.scrub_log(t).await?,
                Phase::Objects => self.scrub_objects(p, t).await?,
                Phase::Done => unreachable!(),
            }
            p.phase = match p.phase {
                Phase::Superblocks => Phase::Checkpoint,
                Phase::Checkpoint => Phase::Log,
                Phase::Log => Phase::Objects,
                _ => Phase::Done,
            };
            p.cursor = None;
            if p.phase == Phase::Done {
                p.pass_finished_ms = now_ms();
            }
            self.save_progress(p).await;
        }
        self.publish(p, "idle");
        Ok(())
    }

    /// Waits for the rate limit and checks the commands: the yield point of every phase.
    async fn pace(&self, t: &mut Throttle, c: &StripeCheck) -> Result<(), Stop> {
        let control = &self.shared.scrub;
        let (bytes, rate) = if t.unlimited {
            let cap = control.rebuild_rate_bytes_per_sec.load(Ordering::Relaxed);
            (c.repaired, (cap > 0).then_some(cap))
        } else {
            let rate = control.rate_bytes_per_sec.load(Ordering::Relaxed);
            (c.blocks, Some(rate))
        };
        let partitions = self.dev.layout.partitions as u64;
        let share = rate.map(|r| (r / partitions).max(BLOCK_BYTES as u64));
        if let Some(wait) = t.after(bytes * BLOCK_BYTES as u64, share) {
            if t.unlimited {
                self.shared.stats.rebuild_throttle_waits.inc();
            }
            self.shared.scrub.set(self.id, |s| s.state = "throttled");
            glommio::timer::sleep(wait).await;
            self.shared.scrub.set(self.id, |s| s.state = "scanning");
        }
        glommio::yield_if_needed().await;
        if self.stopping.get() {
            return Err(Stop::Stopping);
        }
        if self.shared.scrub.paused.load(Ordering::Relaxed) {
            return Err(Stop::Paused);
        }
        Ok(())
    }

    /// Heals the stripes written while a device was down, then repairs the stripes reads
    /// had to rebuild, before anything else.
    async fn run_repairs(&self, t: &mut Throttle) {
        let _ = self.heal_degraded(t).await;
        let queued = self.shared.scrub.take_repairs(self.id);
        if queued.is_empty() {
            return;
        }
        self.shared.scrub.set(self.id, |s| s.state = "repairing");
        for id in queued {
            let c = match id.kind {
                BlockKind::Log => {
                    let (e, g) = (id.extent, id.generation);
                    self.scrub_stripe(&id, StripeLen::LogBatch, move |p| p.same_extent(e, g))
                        .await
                }
                // A data or checkpoint stripe's length is known from what references it:
                // find that and verify it whole.
                _ => self.scrub_referrers(&id).await,
            };
            let _ = self.pace(t, &c).await;
        }
    }

    /// Rewrites the listed degraded stripes whose devices are back (`rebuild`).
    async fn heal_degraded(&self, t: &mut Throttle) -> Result<(), Stop> {
        let jobs = self.degraded_jobs();
        if jobs.is_empty() {
            return Ok(());
        }
        self.shared.scrub.set(self.id, |s| s.state = "healing");
        tracing::info!(
            partition = self.id,
            stripes = jobs.len(),
            "healing degraded stripes"
        );
        let count = jobs.len() as u64;
        let control = &self.shared.scrub;
        control.healing.fetch_add(count, Ordering::Relaxed);
        let (stop, rest) = self.run_jobs_until_stop(jobs, t).await;
        // A pause or a stop must not forget what is still to heal.
        self.relist_degraded(rest);
        control.healing.fetch_sub(count, Ordering::Relaxed);
        stop.map_or(Ok(()), Err)
    }

    /// Checks `jobs` (each with the devices to rebuild, 0 for a full check) with up to
    /// `REBUILD_STRIPES_IN_FLIGHT` at once when rebuilding, `REBUILD_STRIPES_IN_FLIGHT_BUSY`
    /// while the foreground is busy (one at a time otherwise, so a capped scrub stays
    /// smooth), pacing after each. On a stop no new job starts, but
    /// the started ones finish: they hold extent pins.
    pub(crate) async fn run_jobs(
        &self,
        jobs: Vec<(Job, u64)>,
        t: &mut Throttle,
    ) -> Result<(), Stop> {
        let (stop, _rest) = self.run_jobs_until_stop(jobs, t).await;
        stop.map_or(Ok(()), Err)
    }

    /// `run_jobs`, returning why it stopped early and the jobs it did not start.
    async fn run_jobs_until_stop(
        &self,
        jobs: Vec<(Job, u64)>,
        t: &mut Throttle,
    ) -> (Option<Stop>, Vec<(Job, u64)>) {
        use futures::stream::{FuturesUnordered, StreamExt};
        let mut jobs = jobs.into_iter();
        let mut running = FuturesUnordered::new();
        let mut stop = None;
        loop {
            let window = t.window(&self.shared.stats);
            while stop.is_none() && running.len() < window {
                let Some((job, targets)) = jobs.next() else {
                    break;
                };
                running.push(async move { self.check_job(&job, targets).await });
                if targets == 0 {
                    break;
                }
            }
            let Some(c) = running.next().await else {
                break;
            };
            if let Err(e) = self.pace(t, &c).await {
                stop.get_or_insert(e);
            }
        }
        (stop, jobs.collect())
    }

    pub(crate) fn same_extent(&self, extent: u32, generation: u32) -> bool {
        self.st
            .borrow()
            .extents
            .get(&extent)
            .is_some_and(|e| e.generation == generation)
    }

    /// Verifies the object versions whose stripes include `id`'s.
    async fn scrub_referrers(&self, id: &StripeId) -> StripeCheck {
        let mut total = StripeCheck::default();
        let mut cursor = None;
        loop {
            let (slice, next) = self.index_slice(&cursor);
            for (bucket, key, entry) in slice {
                let hit = self
                    .pieces(&entry, 0, entry.size)
                    .iter()
                    .any(|(s, _, _)| s == id);
                if hit {
                    total.add(&self.scrub_entry(&bucket, &key, &entry).await);
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => return total,
            }
            glommio::yield_if_needed().await;
        }
    }

    /// Up to `SCRUB_SLICE_KEYS` keys after `cursor`, every version of each, and the
    /// cursor to continue from (`None`: the index is done).
    fn index_slice(
        &self,
        cursor: &Option<(String, String)>,
    ) -> (IndexSlice, Option<(String, String)>) {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let st = self.st.borrow();
        let mut out = Vec::new();
        let mut n = 0;
        let start = cursor.as_ref().map_or("", |(b, _)| b.as_str());
        for (bucket, map) in st.objects.range::<str, _>((Included(start), Unbounded)) {
            let keys = match cursor {
                Some((b, k)) if b == bucket => {
                    map.range::<str, _>((Excluded(k.as_str()), Unbounded))
                }
                _ => map.range::<str, _>(..),
            };
            for (key, versions) in keys {
                for e in versions.as_slice() {
                    out.push((bucket.clone(), key.clone(), e.clone()));
                }
                n += 1;
                if n == SCRUB_SLICE_KEYS {
                    return (out, Some((bucket.clone(), key.clone())));
                }
            }
        }
        (out, None)
    }

    /// Every version of every object, from the progress cursor on.
    async fn scrub_objects(&self, p: &mut Progress, t: &mut Throttle) -> Result<(), Stop> {
        loop {
            let (slice, next) = self.index_slice(&p.cursor);
            let mut last_log: Option<(u32, u32, u64)> = None;
            let mut jobs = Vec::new();
            for (bucket, key, entry) in slice {
                if let ObjectData::Inline(l) = &entry.data {
                    // Many small objects share one batch: verify it once.
                    if last_log == Some((l.extent, l.first_block, l.seq)) {
                        continue;
                    }
                    last_log = Some((l.extent, l.first_block, l.seq));
                }
                let targets = t.rebuild_devices;
                jobs.extend(self.entry_jobs(bucket, key, &entry).map(|j| (j, targets)));
            }
            self.run_jobs(jobs, t).await?;
            match next {
                Some(c) => p.cursor = Some(c),
                None => return Ok(()),
            }
            // Writes that raced with the pass are healed as the pass goes.
            self.heal_degraded(t).await?;
            // One 4 KiB write per device per slice of keys: small next to the slice's reads.
            self.save_progress(p).await;
            self.publish(p, "scanning");
        }
    }

    /// The stripes of one object version, each with what must hold for it to be written.
    fn entry_jobs(
        &self,
        bucket: String,
        key: String,
        entry: &ObjectEntry,
    ) -> impl Iterator<Item = Job> {
        let pieces = self.pieces(entry, 0, entry.size);
        // Repair only while the index still holds this very version.
        let version = Rc::new((bucket, key, entry.version, entry.data.clone()));
        pieces.into_iter().map(move |(id, off, len)| match id.kind {
            BlockKind::Log => Job::in_extent(id, StripeLen::LogBatch),
            _ => Job {
                id,
                len: StripeLen::Bytes(off + len),
                valid: StillValid::Version(version.clone()),
            },
        })
    }

    /// Verifies (and repairs) every stripe of one object version.
    async fn scrub_entry(&self, bucket: &str, key: &str, entry: &ObjectEntry) -> StripeCheck {
        let mut total = StripeCheck::default();
        for job in self.entry_jobs(bucket.to_string(), key.to_string(), entry) {
            total.add(&self.check_job(&job, 0).await);
        }
        total
    }

    /// The stripes of the checkpoint the newest root names.
    async fn scrub_checkpoint(&self, t: &mut Throttle) -> Result<(), Stop> {
        let Some(root) = self.read_root().await else {
            return Ok(());
        };
        let g = self.dev.geometry;
        let full = g.stripe_bytes(STRIPE_BLOCKS_MAX);
        let mut left = root.checkpoint_len as usize;
        let mut jobs = Vec::new();
        for run in &root.checkpoint_runs {
            for i in 0..run.stripes {
                let last = i + 1 == run.stripes;
                let rows = if last {
                    run.last_rows
                } else {
                    STRIPE_BLOCKS_MAX as u16
                };
                let id = StripeId {
                    kind: BlockKind::Checkpoint,
                    set_id: self.set_id(),
                    partition: self.id,
                    extent: run.extent,
                    generation: run.generation,
                    first_block: run.first_block + i * STRIPE_BLOCKS_MAX as u32,
                    rows,
                    stamp: root.checkpoint_stamp,
                };
                let len = left.min(full).min(g.stripe_bytes(rows as usize));
                left -= len;
                jobs.push((Job::in_extent(id, StripeLen::Bytes(len)), t.rebuild_devices));
            }
        }
        self.run_jobs(jobs, t).await
    }

    /// The log batches from the replay start up to the last applied one.
    async fn scrub_log(&self, t: &mut Throttle) -> Result<(), Stop> {
        let Some(root) = self.read_root().await else {
            return Ok(());
        };
        let mut pos = root.log_pos();
        while pos.seq < self.applied.get().seq {
            let Some((at, rows)) = self.locate_batch(&pos).await else {
                tracing::warn!(
                    partition = self.id,
                    seq = pos.seq,
                    "scrub: log batch not found"
                );
                self.shared.stats.scrub_unrecoverable.inc();
                return Ok(());
            };
            pos = at;
            let id = self.log_stripe(&pos, rows);
            let job = Job::in_extent(id, StripeLen::LogBatch);
            let c = self.check_job(&job, t.rebuild_devices).await;
            let Some(h) = self.batch_header(&id).await else {
                return Ok(());
            };
            pos = LogPos {
                seq: pos.seq + 1,
                block: pos.block + rows as u32,
                next_extent: h.next_extent,
                next_generation: h.next_generation,
                ..pos
            };
            self.pace(t, &c).await?;
        }
        Ok(())
    }

    async fn batch_header(&self, id: &StripeId) -> Option<crate::log::BatchHeader> {
        let b = self
            .read_stripe(id, 0, crate::log::BATCH_HEADER_BYTES)
            .await
            .ok()?;
        crate::log::BatchHeader::decode(&b)
    }

    /// Both superblock copies of every device (partition 0 only): a bad copy is rewritten
    /// from the device's good one.
    async fn scrub_superblocks(&self) {
        if self.id != 0 {
            return;
        }
        let offsets = [
            crate::constants::SUPERBLOCK_OFFSET_BYTES,
            self.dev.layout.superblock_b_offset(),
        ];
        for d in (0..self.dev.count()).filter(|&d| self.dev.is_up(d)) {
            let mut copies = Vec::new();
            for at in offsets {
                let read = self.dev.read(d, at, BLOCK_BYTES).await;
                copies.push(read.ok().and_then(|b| {
                    let sb = crate::superblock::Superblock::decode(&b).ok()?;
                    Some((sb, b[..BLOCK_BYTES].to_vec()))
                }));
            }
            let s = &self.shared.stats;
            s.scrub_blocks.add(2);
            s.scrub_bytes.add(2 * BLOCK_BYTES as u64);
            // Copy A is the authority when both decode but differ (FORMAT.md §3).
            let bad: Vec<usize> = match (&copies[0], &copies[1]) {
                (Some(a), Some(b)) if a.0 == b.0 => vec![],
                (Some(_), _) => vec![1],
                (None, Some(_)) => vec![0],
                (None, None) => {
                    s.scrub_corrupt.add(2);
                    s.scrub_unrecoverable.add(2);
                    continue;
                }
            };
            for i in bad {
                s.scrub_corrupt.inc();
                let good = copies[1 - i].as_ref().expect("the other copy is good");
                let mut buf = self.dev.alloc(BLOCK_BYTES);
                buf.as_bytes_mut().copy_from_slice(&good.1);
                match self.dev.write(d, offsets[i], buf).await {
                    Ok(()) => {
                        s.scrub_repaired.inc();
                        tracing::warn!(
                            device = d,
                            offset = offsets[i],
                            "scrub rewrote a superblock copy"
                        );
                    }
                    Err(_) => s.scrub_unrecoverable.inc(),
                }
            }
        }
    }

    /// The newest valid progress record on any device; a fresh one if there is none
    /// (a new device set: its first pass comes one interval after it first started).
    async fn load_progress(&self) -> Progress {
        let at = Progress::offset(self.id);
        let mut best: Option<Progress> = None;
        for d in (0..self.dev.count()).filter(|&d| self.dev.is_up(d)) {
            let Ok(b) = self.dev.read(d, at, BLOCK_BYTES).await else {
                continue;
            };
            if let Some(p) = Progress::decode(&b).filter(|p| p.partition == self.id) {
                if best.as_ref().is_none_or(|b| p.write_seq > b.write_seq) {
                    best = Some(p);
                }
            }
        }
        best.unwrap_or_else(|| Progress {
            partition: self.id,
            write_seq: 0,
            pass: 0,
            pass_started_ms: now_ms(),
            pass_finished_ms: 0,
            phase: Phase::Done,
            cursor: None,
        })
    }

    /// Writes the progress record to every device that is up. Not flushed: a record lost
    /// to a crash only repeats work.
    async fn save_progress(&self, p: &mut Progress) {
        p.write_seq += 1;
        let bytes = p.encode();
        let at = Progress::offset(self.id);
        let ok = self.write_block_on_every_device(at, &bytes).await;
        if ok == 0 {
            tracing::warn!(partition = self.id, "scrub progress could not be saved");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_makes_the_throttle_wait_and_no_rate_never_does() {
        let mut t = Throttle::new();
        assert_eq!(t.after(64 << 20, None), None, "no cap: no wait");
        let mut t = Throttle::new();
        let wait = t
            .after(1 << 20, Some(1 << 20))
            .expect("a second's worth at once");
        assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(1));
    }

    #[test]
    fn the_window_shrinks_while_the_foreground_is_served() {
        let stats = crate::shared::Stats::default();
        let mut t = Throttle::new();
        // A throttle just made counts the foreground as seen now.
        assert_eq!(t.window(&stats), REBUILD_STRIPES_IN_FLIGHT_BUSY);
        t.foreground_at = Instant::now() - Duration::from_millis(FOREGROUND_QUIET_MS + 1);
        assert_eq!(
            t.window(&stats),
            REBUILD_STRIPES_IN_FLIGHT,
            "quiet: the full window"
        );
        stats.gets.inc();
        assert_eq!(
            t.window(&stats),
            REBUILD_STRIPES_IN_FLIGHT_BUSY,
            "a request: busy"
        );
    }
}
