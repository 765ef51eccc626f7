//! A run, in three phases: prepare (upload the objects a read workload needs, unmeasured),
//! measure (the workers, closed or open loop, warm-up first), clean up (delete what the
//! run left, unless `--no-cleanup`).
//!
//! Closed loop: each worker starts its next operation when the previous one ends. Open
//! loop (`--rate`): operation `i` is scheduled at `t0 + i / rate`; a free worker takes the
//! next ticket, sleeps until its time and measures latency from that scheduled start, so a
//! slow server's queueing shows up in the latency instead of lowering the offered load
//! (no coordinated omission).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::args::RunArgs;
use crate::constants::DURATION_SECONDS_MAX;
use crate::content::Content;
use crate::keys::{Claim, KeySpace, Want};
use crate::progress::{Counters, Goal, Progress};
use crate::report::{Report, RunInfo};
use crate::size::SizeSpec;
use crate::stats::{Done, OpError, Stats};
use crate::target::{Ctx, Session, Target};
use crate::workload::{Mix, OpKind};

/// The workloads of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Put,
    Get,
    Mixed,
    List,
    Delete,
    Stat,
    Multipart,
    Append,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
            Workload::List => "list",
            Workload::Delete => "delete",
            Workload::Stat => "stat",
            Workload::Multipart => "multipart",
            Workload::Append => "append",
        }
    }

    /// Whether the keys must exist before measuring.
    fn prepares(self) -> bool {
        matches!(
            self,
            Workload::Get | Workload::Mixed | Workload::List | Workload::Delete | Workload::Stat
        )
    }

    fn mix(self, mixed: &Mix) -> Mix {
        let only = |op| Mix(vec![(op, 1)]);
        match self {
            Workload::Put => only(OpKind::Put),
            Workload::Get => only(OpKind::Get),
            Workload::Mixed => mixed.clone(),
            Workload::List => only(OpKind::List),
            Workload::Delete => only(OpKind::Delete),
            Workload::Stat => only(OpKind::Stat),
            Workload::Multipart => only(OpKind::Multipart),
            Workload::Append => only(OpKind::Append),
        }
    }
}

/// What every worker shares.
struct Plan {
    workload: Workload,
    mix: Mix,
    size: SizeSpec,
    part_bytes: u64,
    list_page: u32,
    prefix: String,
    rate: Option<f64>,
    ops: Option<u64>,
    seed: u64,
    content: Content,
    keys: KeySpace,
    /// Next key of the workloads that walk the keys in order.
    cursor: AtomicU64,
    /// Next open-loop ticket.
    ticket: AtomicU64,
    /// Measured operations claimed so far (for `--ops`).
    claimed: AtomicU64,
    /// Set when the delete workload runs out of keys.
    exhausted: AtomicBool,
    t0: Instant,
    measure_start: Instant,
    end: Instant,
    counters: Arc<Counters>,
}

impl Plan {
    fn size_of(&self, key: &str) -> u64 {
        self.size.size_for(self.content.key_hash(key))
    }
}

/// Runs a workload and returns its report.
pub async fn run(workload: Workload, args: &RunArgs) -> Result<Report> {
    crate::setup::check_limits(args)?;
    let mix = workload.mix(&args.mix.parse()?);
    let content = Content::new(args.seed);
    let ctx = Ctx {
        bucket: args.bucket.clone(),
        content: content.clone(),
        verify: args.verify,
    };
    let target = Arc::new(crate::setup::open(args, ctx.clone()).await?);
    for &(op, _) in &mix.0 {
        target.check(op).map_err(|e| anyhow!(e.message))?;
    }
    if workload == Workload::Multipart {
        check_parts(args)?;
    }
    target
        .ensure_bucket()
        .await
        .with_context(|| format!("creating bucket {}", args.bucket))?;
    let keys = KeySpace::new(&args.prefix, args.keys, workload == Workload::Append);
    match (workload.prepares(), args.no_prepare) {
        (true, false) => prepare(&target, &keys, &content, args).await?,
        (true, true) => (0..keys.count()).for_each(|i| keys.mark_present(i)),
        (false, _) => {}
    }
    let plan = Arc::new(plan(workload, mix, args, content, keys)?);
    let stats = measure(&ctx, &plan, args).await?;
    let duration_s = measured_seconds(&plan);
    if !args.no_cleanup {
        cleanup(&target, &plan.keys, args).await;
    }
    Ok(report(workload, args, &target, &stats, duration_s))
}

fn check_parts(args: &RunArgs) -> Result<()> {
    let part = args.part_size.max_bytes();
    let max = args.size.max_bytes();
    if part < crate::constants::PART_BYTES_MIN && max > part {
        anyhow::bail!(
            "--part-size must be at least 5MiB (the S3 minimum for all but the last part)"
        );
    }
    if max.div_ceil(part.max(1)) > crate::constants::PARTS_MAX {
        anyhow::bail!("--size / --part-size gives more than 10000 parts");
    }
    Ok(())
}

fn plan(
    workload: Workload,
    mix: Mix,
    args: &RunArgs,
    content: Content,
    keys: KeySpace,
) -> Result<Plan> {
    let ops = match (args.ops, args.duration, workload) {
        (None, None, Workload::Delete) => Some(args.keys),
        (ops, _, _) => ops,
    };
    let duration = match (args.duration, ops) {
        (Some(d), _) => d,
        (None, Some(_)) => Duration::from_secs(DURATION_SECONDS_MAX),
        (None, None) => Duration::from_secs(10),
    };
    let t0 = Instant::now();
    let measure_start = t0 + args.warmup;
    Ok(Plan {
        workload,
        mix,
        size: args.size.clone(),
        part_bytes: args.part_size.max_bytes().max(1),
        list_page: args.list_page,
        prefix: args.prefix.clone(),
        rate: args.rate,
        ops,
        seed: args.seed,
        content,
        keys,
        cursor: AtomicU64::new(0),
        ticket: AtomicU64::new(0),
        claimed: AtomicU64::new(0),
        exhausted: AtomicBool::new(false),
        t0,
        measure_start,
        end: measure_start + duration,
        counters: Arc::new(Counters::default()),
    })
}

/// The length of the measured phase: to the end of the last operation, or the planned end.
fn measured_seconds(plan: &Plan) -> f64 {
    let end = Instant::now().min(plan.end);
    end.saturating_duration_since(plan.measure_start)
        .as_secs_f64()
}

/// Uploads every key (unmeasured), `concurrency` at a time.
async fn prepare(
    target: &Arc<Target>,
    keys: &KeySpace,
    content: &Content,
    args: &RunArgs,
) -> Result<()> {
    let counters = Arc::new(Counters::default());
    let _bar = Progress::start(
        "prepare",
        Goal::Ops(keys.count()),
        counters.clone(),
        args.no_progress,
    );
    let next = AtomicU64::new(0);
    let workers = (0..args.concurrency).map(|_| async {
        let mut session = target.session().await?;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= keys.count() {
                return Ok::<(), OpError>(());
            }
            let key = keys.key(i);
            let size = args.size.size_for(content.key_hash(&key));
            session.put(&key, size).await?;
            keys.mark_present(i);
            counters.add(size, false);
        }
    });
    futures::future::try_join_all(workers)
        .await
        .map_err(|e| anyhow!("prepare phase: PUT failed: {e}"))?;
    Ok(())
}

/// Deletes what the run left behind; failures are reported, not fatal.
async fn cleanup(target: &Arc<Target>, keys: &KeySpace, args: &RunArgs) {
    let present = keys.present();
    let counters = Arc::new(Counters::default());
    let goal = Goal::Ops(present.len() as u64);
    let _bar = Progress::start("cleanup", goal, counters.clone(), args.no_progress);
    let next = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let workers = (0..args.concurrency).map(|_| async {
        let Ok(mut session) = target.session().await else {
            return;
        };
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
            let Some(&index) = present.get(i) else { return };
            if session.delete(&keys.key(index)).await.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            counters.add(0, false);
        }
    });
    futures::future::join_all(workers).await;
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("cleanup: {failed} of {} deletes failed", present.len());
    }
}

/// The measured phase: the workers spread over `--threads` OS threads, each running a
/// single-threaded runtime with its own target (for ringstore, its own connections), so
/// that a worker, the connection it uses and that connection's reader and writer tasks
/// wake each other on one thread, never across threads. Worker `id` runs on thread
/// `id % threads`.
async fn measure(ctx: &Ctx, plan: &Arc<Plan>, args: &RunArgs) -> Result<Stats> {
    let goal = match plan.ops {
        Some(n) if args.duration.is_none() => Goal::Ops(n),
        _ => Goal::Time(plan.end - plan.t0),
    };
    let _bar = Progress::start(
        plan.workload.name(),
        goal,
        plan.counters.clone(),
        args.no_progress,
    );
    let threads = crate::setup::threads(args);
    let connections = crate::setup::connections(args);
    let mut done = Vec::new();
    for t in 0..threads {
        let mut share = args.clone();
        // Thread t's share of the connections, at least one.
        share.connections =
            Some((connections / threads + usize::from(t < connections % threads)).max(1));
        let ids: Vec<u64> = (t..args.concurrency)
            .step_by(threads)
            .map(|id| id as u64)
            .collect();
        let (plan, ctx) = (plan.clone(), ctx.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("ringbench-{t}"))
            .spawn(move || {
                let _ = tx.send(measure_thread(share, ctx, plan, ids));
            })
            .context("starting a worker thread")?;
        done.push(rx);
    }
    let mut stats = Stats::default();
    for rx in done {
        stats.merge(&rx.await.context("a worker thread panicked")??);
    }
    Ok(stats)
}

/// One thread of the measured phase: its own runtime and target, the workers `ids`.
fn measure_thread(args: RunArgs, ctx: Ctx, plan: Arc<Plan>, ids: Vec<u64>) -> Result<Stats> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a worker thread's runtime")?;
    // The workers of a thread record into one Stats: two histograms per thread instead of
    // two per worker keeps the recording in cache.
    let stats = Rc::new(RefCell::new(Stats::default()));
    let workers = tokio::task::LocalSet::new();
    workers.block_on(&runtime, async {
        let target = crate::setup::open(&args, ctx).await?;
        let mut handles = Vec::new();
        for id in ids {
            let session = target.session().await.map_err(|e| anyhow!("{e}"))?;
            let worker = worker(id, session, plan.clone(), stats.clone());
            handles.push(tokio::task::spawn_local(worker));
        }
        for h in handles {
            h.await.context("a worker panicked")?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(stats.take())
}

/// Waits for the next open-loop slot, or returns now in a closed loop; `None` when the
/// run is over.
async fn next_start(plan: &Plan) -> Option<Instant> {
    let start = match plan.rate {
        Some(rate) => {
            let i = plan.ticket.fetch_add(1, Ordering::Relaxed);
            let at = plan.t0 + Duration::from_secs_f64(i as f64 / rate);
            if at >= plan.end {
                return None;
            }
            tokio::time::sleep_until(at.into()).await;
            at
        }
        None => Instant::now(),
    };
    (start < plan.end && !plan.exhausted.load(Ordering::Relaxed)).then_some(start)
}

async fn worker(id: u64, mut session: Session, plan: Arc<Plan>, stats: Rc<RefCell<Stats>>) {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut marker = String::new();
    while let Some(start) = next_start(&plan).await {
        let measured = start >= plan.measure_start;
        if measured {
            if let Some(n) = plan.ops {
                // Claim only below the limit: a refused claim must not count, or a later
                // give-back (no key fit) could leave fewer than `n` operations done.
                let claim = |c: u64| (c < n).then_some(c + 1);
                if plan
                    .claimed
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, claim)
                    .is_err()
                {
                    break;
                }
            }
        }
        let op = plan.mix.pick(rng.gen());
        let Some(outcome) = perform(&mut session, &plan, op, &mut rng, &mut marker, start).await
        else {
            // No key fits this operation right now.
            if measured && plan.ops.is_some() {
                plan.claimed.fetch_sub(1, Ordering::Relaxed);
            }
            tokio::task::yield_now().await;
            continue;
        };
        if measured {
            let latency = start.elapsed();
            let end_s = plan.measure_start.elapsed().as_secs_f64();
            let bytes = outcome.as_ref().map_or(0, |d| d.bytes);
            plan.counters.add(bytes, outcome.is_err());
            stats.borrow_mut().record(op, latency, end_s, outcome);
        }
    }
}

/// Picks a key for `op` and performs it; `None` when no key is eligible.
async fn perform(
    session: &mut Session,
    plan: &Plan,
    op: OpKind,
    rng: &mut StdRng,
    marker: &mut String,
    start: Instant,
) -> Option<Result<Done, OpError>> {
    if op == OpKind::List {
        let page = session.list(&plan.prefix, marker, plan.list_page).await;
        if let Ok((_, next)) = &page {
            *marker = next.clone().unwrap_or_default();
        }
        return Some(page.map(|(done, _)| done));
    }
    let sequential = matches!(
        plan.workload,
        Workload::Put | Workload::Delete | Workload::Multipart | Workload::Append
    );
    let first = match sequential {
        true => plan.cursor.fetch_add(1, Ordering::Relaxed),
        false => rng.gen_range(0..plan.keys.count()),
    };
    let want = match op {
        OpKind::Put | OpKind::Multipart | OpKind::Append => Want::Any,
        _ => Want::Present,
    };
    let Some(claim) = plan.keys.claim(first, want) else {
        if plan.workload == Workload::Delete {
            plan.exhausted.store(true, Ordering::Relaxed);
        }
        return None;
    };
    let outcome = on_key(session, plan, op, &claim, start).await;
    let present = match op {
        OpKind::Delete => outcome.is_err(),
        _ => outcome.is_ok() || claim.was_present,
    };
    plan.keys.release(claim, present);
    Some(outcome)
}

async fn on_key(
    session: &mut Session,
    plan: &Plan,
    op: OpKind,
    claim: &Claim,
    start: Instant,
) -> Result<Done, OpError> {
    let key = &claim.key;
    let size = plan.size_of(key);
    match op {
        OpKind::Put => session.put(key, size).await,
        OpKind::Get => session.get(key, size, start).await,
        OpKind::Stat => session.stat(key).await,
        OpKind::Delete => session.delete(key).await,
        OpKind::Multipart => session.multipart(key, size, plan.part_bytes).await,
        OpKind::Append => {
            let position = match claim.was_present {
                true => plan.keys.position(claim),
                false => 0,
            };
            let done = session.append(key, position, size).await?;
            plan.keys.set_position(claim, position + size);
            Ok(done)
        }
        OpKind::List => unreachable!("LIST takes no key"),
    }
}

fn report(
    workload: Workload,
    args: &RunArgs,
    target: &Target,
    stats: &Stats,
    duration_s: f64,
) -> Report {
    let mode = match args.rate {
        Some(r) => format!("open@{r}/s"),
        None => "closed".into(),
    };
    let run = RunInfo {
        workload: workload.name().into(),
        target: target.url(),
        bucket: args.bucket.clone(),
        size: args.size.to_string(),
        keys: args.keys,
        concurrency: args.concurrency,
        mode,
        warmup_s: args.warmup.as_secs_f64(),
        verify: args.verify,
        started_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(duration_s as u64),
        host: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
    };
    let verify = match args.verify {
        false => (0, 0),
        true => {
            let get = stats.ops.get(&OpKind::Get);
            let failed = get.and_then(|g| g.errors.get("verify")).map_or(0, |e| e.0);
            (get.map_or(0, |g| g.ok) + failed, failed)
        }
    };
    Report::new(run, stats, duration_s, verify)
}
