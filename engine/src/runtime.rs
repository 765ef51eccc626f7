//! Starting the engine: one glommio executor per core, each running the partitions it
//! owns, and the `Handle` through which any thread or executor reaches them.
//!
//! Requests travel to the owning partition through bounded lock-free MPSC queues (futures
//! `mpsc`), one inbox per partition. glommio's channel meshes join only executors; the
//! inboxes also take requests from threads that are not executors (tests, tools), and an
//! executor sending to its own partition pays one queue hop, not a system call.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use glommio::{LocalExecutorBuilder, Placement};

use crate::api::{
    validate_bucket_name, Acl, BucketInfo, DeleteOutcome, ListPage, ListParams, ListVersionsParams,
    ObjectAcl, ObjectMeta, PutOptions, RangeSpec, StorageClass, VersionSummary, Versioning,
};
use crate::constants::{BUCKETS_MAX, LIST_KEYS_MAX};
use crate::device_set::{identify, Layout};
use crate::devices::Devices;
use crate::error::Error;
use crate::object_io::{now_ms, ListItem, PutBody};
use crate::partition::{LogPos, Partition};
use crate::placement::partition_of;
use crate::record::Record;
use crate::shared::Shared;
use crate::state::State;

/// Requests queued per partition inbox before senders wait.
const INBOX_DEPTH: usize = 1024;

/// Something to run on every executor once its partitions are up (the server's listeners).
pub type ExecutorHook =
    Arc<dyn Fn(usize, Handle) -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync>;

#[derive(Clone)]
pub struct EngineConfig {
    pub devices: Vec<PathBuf>,
    /// Executors (threads) to run; 0 = one per available core. Never more than partitions.
    pub executors: usize,
    /// Pin executor i to CPU i (the default: one executor per core, each on its own).
    pub pin: bool,
    pub hook: Option<ExecutorHook>,
    /// Background scrub: rate, pass interval, on or off.
    pub scrub: crate::scrub::ScrubConfig,
    /// Memory for the read caches of small objects, split evenly among the partitions
    /// (`read_cache`); 0, the default here, turns them off. The daemon sets its own
    /// default (`READ_CACHE_BYTES_DEFAULT`).
    pub read_cache_bytes: usize,
}

impl EngineConfig {
    pub fn new(devices: Vec<PathBuf>) -> EngineConfig {
        EngineConfig {
            devices,
            executors: 0,
            pin: true,
            hook: None,
            scrub: crate::scrub::ScrubConfig::default(),
            read_cache_bytes: 0,
        }
    }
}

/// The answer to a get: metadata, the byte range served and its bytes.
pub struct GetReply {
    pub meta: ObjectMeta,
    pub start: u64,
    pub len: u64,
    pub body: mpsc::Receiver<Result<Bytes, Error>>,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

pub enum Request {
    Put {
        bucket: String,
        key: String,
        opts: PutOptions,
        body: PutBody,
        reply: Reply<ObjectMeta>,
    },
    Get {
        bucket: String,
        key: String,
        version: Option<u64>,
        range: Option<RangeSpec>,
        reply: Reply<GetReply>,
    },
    Head {
        bucket: String,
        key: String,
        version: Option<u64>,
        reply: Reply<ObjectMeta>,
    },
    Delete {
        bucket: String,
        key: String,
        version: Option<u64>,
        reply: Reply<DeleteOutcome>,
    },
    ListVersions {
        bucket: String,
        params: ListVersionsParams,
        limit: usize,
        reply: Reply<Vec<crate::versions::VersionItem>>,
    },
    PutAcl {
        bucket: String,
        key: String,
        version: Option<u64>,
        acl: ObjectAcl,
        reply: Reply<()>,
    },
    ViewOpen {
        bucket: String,
        reply: Reply<u64>,
    },
    ViewScan {
        view: u64,
        max_keys: usize,
        reply: Reply<(Vec<VersionSummary>, bool)>,
    },
    ViewClose {
        view: u64,
        reply: Reply<()>,
    },
    List {
        bucket: String,
        params: ListParams,
        limit: usize,
        reply: Reply<Vec<ListItem>>,
    },
    BucketEmpty {
        bucket: String,
        reply: Reply<bool>,
    },
    BucketRecord {
        record: Record,
        reply: Reply<()>,
    },
    Status {
        reply: Reply<PartitionStatus>,
    },
    Checkpoint {
        reply: Reply<()>,
    },
    /// Open a replacement device (`replace`).
    AttachDevice {
        index: usize,
        path: PathBuf,
        reply: Reply<()>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct PartitionStatus {
    pub partition: usize,
    pub objects: u64,
    pub object_bytes: u64,
    pub extents_total: usize,
    pub extents_free: usize,
    pub log_seq: u64,
    /// What the partition's background worker is doing: idle, checkpointing, or
    /// compacting (log or data).
    pub background: &'static str,
}

/// Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Handle {
    inboxes: Arc<Vec<mpsc::Sender<Request>>>,
    pub shared: Arc<Shared>,
}

pub struct Engine {
    handle: Handle,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Engine {
    /// Identifies the devices, starts the executors and recovers every partition.
    pub fn start(cfg: EngineConfig) -> Result<Engine, Error> {
        let id = identify(&cfg.devices).map_err(|e| Error::Io(e.to_string()))?;
        for w in &id.warnings {
            tracing::warn!("{w}");
        }
        let layout = id.layout;
        let partitions = layout.partitions;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let executors = if cfg.executors == 0 {
            cores
        } else {
            cfg.executors
        }
        .clamp(1, partitions);
        let shared = Shared::new(layout, &id.devices);
        shared.scrub.configure(&cfg.scrub);
        shared.read_cache_partition_bytes.store(
            cfg.read_cache_bytes / partitions,
            std::sync::atomic::Ordering::Relaxed,
        );
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..partitions).map(|_| mpsc::channel(INBOX_DEPTH)).unzip();
        let handle = Handle {
            inboxes: Arc::new(senders),
            shared: shared.clone(),
        };
        let mut receivers: Vec<Option<mpsc::Receiver<Request>>> =
            receivers.into_iter().map(Some).collect();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), Error>>();
        let mut threads = Vec::new();
        for e in 0..executors {
            let mine: Vec<(usize, mpsc::Receiver<Request>)> = (0..partitions)
                .filter(|p| p % executors == e)
                .map(|p| (p, receivers[p].take().expect("each inbox taken once")))
                .collect();
            let placement = if cfg.pin {
                Placement::Fixed(e % cores)
            } else {
                Placement::Unbound
            };
            let (id, shared, handle, ready, hook) = (
                id.clone(),
                shared.clone(),
                handle.clone(),
                ready_tx.clone(),
                cfg.hook.clone(),
            );
            // glommio's default preempt timer (100 ms) on purpose: glommio 0.9 can park an
            // executor that was preempted before it ran any task although a queue is still
            // runnable, and then sleeps forever; a 2 ms timer made that frequent (engine
            // tests and restarts hung). Rebuild and scrub latency is bounded by their
            // in-flight limits instead (`REBUILD_STRIPES_IN_FLIGHT_BUSY`).
            let builder = LocalExecutorBuilder::new(placement).name(&format!("ringstore-core-{e}"));
            let join = builder
                .spawn(move || async move {
                    run_executor(e, id, mine, shared, handle, ready, hook).await
                })
                .map_err(|err| Error::Io(format!("cannot start executor {e}: {err}")))?;
            threads.push(std::thread::spawn(move || {
                let _ = join.join();
            }));
        }
        drop(ready_tx);
        let mut first_err = None;
        for _ in 0..executors {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(_) => {
                    first_err =
                        first_err.or(Some(Error::Internal("an executor died at start".into())))
                }
            }
        }
        let engine = Engine { handle, threads };
        if let Some(e) = first_err {
            engine.shutdown();
            return Err(e);
        }
        Ok(engine)
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    pub fn layout(&self) -> &Layout {
        &self.handle.shared.layout
    }

    /// Finishes queued work, checkpoints every partition and stops the executors.
    pub fn shutdown(self) {
        let h = self.handle.clone();
        futures::executor::block_on(async {
            for p in 0..h.inboxes.len() {
                let (tx, rx) = oneshot::channel();
                if h.inboxes[p]
                    .clone()
                    .send(Request::Shutdown { reply: tx })
                    .await
                    .is_ok()
                {
                    let _ = rx.await;
                }
            }
        });
        drop(h);
        drop(self.handle);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

async fn run_executor(
    index: usize,
    id: crate::device_set::Identified,
    mine: Vec<(usize, mpsc::Receiver<Request>)>,
    shared: Arc<Shared>,
    handle: Handle,
    ready: std::sync::mpsc::Sender<Result<(), Error>>,
    hook: Option<ExecutorHook>,
) {
    let started = start_partitions(&id, &mine, &shared).await;
    let parts = match started {
        Ok(p) => {
            let _ = ready.send(Ok(()));
            p
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if let Some(hook) = hook {
        glommio::spawn_local(hook(index, handle)).detach();
    }
    let loops = parts
        .into_iter()
        .zip(mine)
        .map(|(part, (_, inbox))| serve_partition(part, inbox));
    futures::future::join_all(loops).await;
}

async fn start_partitions(
    id: &crate::device_set::Identified,
    mine: &[(usize, mpsc::Receiver<Request>)],
    shared: &Arc<Shared>,
) -> Result<Vec<Rc<Partition>>, Error> {
    let dev = Rc::new(Devices::open(id, shared.clone()).await?);
    // Checkpoints and compaction run here: a small share of the CPU, no latency promise.
    let background = glommio::executor().create_task_queue(
        glommio::Shares::Static(50),
        glommio::Latency::NotImportant,
        "background",
    );
    let layout = &id.layout;
    let mut parts = Vec::new();
    for (p, _) in mine {
        let state = State::new(*p as u16, layout.partitions as u16, layout.extent_count);
        let (wake_tx, wake_rx) = mpsc::unbounded();
        let pos = LogPos {
            seq: 0,
            extent: 0,
            generation: 0,
            block: 0,
            next_extent: 0,
            next_generation: 0,
        };
        let part = Rc::new(Partition::new(
            *p as u16,
            dev.clone(),
            shared.clone(),
            state,
            pos,
            wake_tx,
        ));
        part.recover().await?;
        glommio::spawn_local(part.clone().commit_loop(wake_rx)).detach();
        glommio::spawn_local_into(part.clone().background(), background)
            .map_err(|e| Error::Internal(format!("cannot start background work: {e}")))?
            .detach();
        glommio::spawn_local_into(part.clone().scrub_worker(), background)
            .map_err(|e| Error::Internal(format!("cannot start the scrub: {e}")))?
            .detach();
        parts.push(part);
    }
    Ok(parts)
}

async fn serve_partition(part: Rc<Partition>, mut inbox: mpsc::Receiver<Request>) {
    while let Some(req) = inbox.next().await {
        if let Request::Shutdown { reply } = req {
            part.stopping.set(true);
            let r = part.checkpoint().await;
            if let Err(e) = &r {
                tracing::error!(partition = part.id, error = %e, "checkpoint at shutdown failed");
            }
            let _ = reply.send(r);
            return;
        }
        let p = part.clone();
        glommio::spawn_local(async move { handle_request(p, req).await }).detach();
    }
}

async fn handle_request(p: Rc<Partition>, req: Request) {
    match req {
        Request::Put {
            bucket,
            key,
            opts,
            body,
            reply,
        } => {
            let _ = reply.send(p.put(bucket, key, opts, body).await);
        }
        Request::Get {
            bucket,
            key,
            version,
            range,
            reply,
        } => {
            let r = p
                .get(&bucket, &key, version, range)
                .await
                .map(|(meta, start, len, body)| GetReply {
                    meta,
                    start,
                    len,
                    body,
                });
            let _ = reply.send(r);
        }
        Request::Head {
            bucket,
            key,
            version,
            reply,
        } => {
            let _ = reply.send(p.head(&bucket, &key, version));
        }
        Request::Delete {
            bucket,
            key,
            version,
            reply,
        } => {
            let _ = reply.send(p.delete(bucket, key, version).await);
        }
        Request::ListVersions {
            bucket,
            params,
            limit,
            reply,
        } => {
            let _ = reply.send(p.list_versions(&bucket, &params, limit));
        }
        Request::PutAcl {
            bucket,
            key,
            version,
            acl,
            reply,
        } => {
            let _ = reply.send(p.put_acl(bucket, key, version, acl).await);
        }
        Request::ViewOpen { bucket, reply } => {
            let _ = reply.send(p.open_view(&bucket));
        }
        Request::ViewScan {
            view,
            max_keys,
            reply,
        } => {
            let _ = reply.send(p.st.borrow_mut().scan_view(view, max_keys));
        }
        Request::ViewClose { view, reply } => {
            p.close_view(view);
            let _ = reply.send(Ok(()));
        }
        Request::List {
            bucket,
            params,
            limit,
            reply,
        } => {
            let _ = reply.send(p.list(&bucket, &params, limit));
        }
        Request::BucketEmpty { bucket, reply } => {
            let busy = p.puts_in_flight.borrow().contains_key(&bucket);
            let _ = reply.send(Ok(!busy && p.st.borrow().bucket_is_empty(&bucket)));
        }
        Request::BucketRecord { record, reply } => {
            let _ = reply.send(p.commit(record, None, false).await.map(|_| ()));
        }
        Request::Status { reply } => {
            let st = p.st.borrow();
            let _ = reply.send(Ok(PartitionStatus {
                partition: p.id as usize,
                objects: st.object_count,
                object_bytes: st.object_bytes,
                extents_total: st.extents.len(),
                extents_free: st.free_extents(),
                log_seq: p.log.get().seq,
                background: p.background_state.get(),
            }));
        }
        Request::Checkpoint { reply } => {
            let _ = reply.send(p.checkpoint().await);
        }
        Request::AttachDevice { index, path, reply } => {
            let _ = reply.send(p.attach_device(index, path).await);
        }
        Request::Shutdown { .. } => unreachable!("handled by serve_partition"),
    }
}

impl Handle {
    pub fn partitions(&self) -> usize {
        self.inboxes.len()
    }

    pub(crate) async fn call<T>(
        &self,
        partition: usize,
        make: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.inboxes[partition]
            .clone()
            .send(make(tx))
            .await
            .map_err(|_| Error::ShuttingDown)?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Sends the request `make` builds to every partition and gathers the answers in
    /// partition order.
    pub(crate) async fn call_all<T>(
        &self,
        make: impl Fn(Reply<T>) -> Request,
    ) -> Result<Vec<T>, Error> {
        let calls = (0..self.partitions()).map(|p| self.call(p, &make));
        futures::future::try_join_all(calls).await
    }

    /// Queues a request without waiting for the answer (from `Drop`). If the inbox is
    /// full, a short-lived thread waits for room, so the request is never lost.
    pub(crate) fn send_nowait<T>(&self, partition: usize, make: impl FnOnce(Reply<T>) -> Request) {
        let (tx, _rx) = oneshot::channel();
        let mut inbox = self.inboxes[partition].clone();
        if let Err(e) = inbox.try_send(make(tx)) {
            if e.is_full() {
                let request = e.into_inner();
                std::thread::spawn(move || {
                    let _ = futures::executor::block_on(inbox.send(request));
                });
            }
        }
    }

    pub(crate) fn owner(&self, bucket: &str, key: &str) -> usize {
        partition_of(bucket, key, self.partitions())
    }

    /// Stores an object whose bytes arrive on `body` (exactly `opts.content_length`).
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        opts: PutOptions,
        body: mpsc::Receiver<Bytes>,
    ) -> Result<ObjectMeta, Error> {
        self.put_object_body(bucket, key, opts, PutBody::Stream(body))
            .await
    }

    /// Stores an object whose body is streamed or already whole.
    pub async fn put_object_body(
        &self,
        bucket: &str,
        key: &str,
        opts: PutOptions,
        body: PutBody,
    ) -> Result<ObjectMeta, Error> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let p = self.owner(&bucket, &key);
        self.call(p, |reply| Request::Put {
            bucket,
            key,
            opts,
            body,
            reply,
        })
        .await
    }

    /// Stores an object held in memory.
    pub async fn put_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        mut opts: PutOptions,
        data: Bytes,
    ) -> Result<ObjectMeta, Error> {
        opts.content_length = data.len() as u64;
        self.put_object_body(bucket, key, opts, PutBody::Whole(data))
            .await
    }

    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> Result<GetReply, Error> {
        self.get_object_version(bucket, key, None, range).await
    }

    /// Reads a whole object (or range) into memory.
    pub async fn get_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> Result<(ObjectMeta, Vec<u8>), Error> {
        let mut r = self.get_object(bucket, key, range).await?;
        let mut out = Vec::with_capacity(r.len as usize);
        while let Some(chunk) = r.body.next().await {
            out.extend_from_slice(&chunk?);
        }
        if out.len() as u64 != r.len {
            return Err(Error::Internal(format!(
                "get returned {} of {} bytes",
                out.len(),
                r.len
            )));
        }
        Ok((r.meta, out))
    }

    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, Error> {
        self.head_object_version(bucket, key, None).await
    }

    /// Deletes an object; deleting a missing object succeeds. In a versioned bucket this
    /// adds a delete marker (see `delete_object_version`).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.delete_object_version(bucket, key, None)
            .await
            .map(|_| ())
    }

    /// One page of a listing: merges every partition's sorted share (k-way, at most
    /// `max_keys + 1` items from each, so memory is bounded by partitions × page size).
    pub async fn list_objects(&self, bucket: &str, params: &ListParams) -> Result<ListPage, Error> {
        if self.shared.bucket(bucket).is_none() {
            return Err(Error::NoSuchBucket(bucket.to_string()));
        }
        let max = params.max_keys.clamp(1, LIST_KEYS_MAX);
        let shares = self
            .call_all(|reply| Request::List {
                bucket: bucket.to_string(),
                params: params.clone(),
                limit: max + 1,
                reply,
            })
            .await?;
        let merged = crate::listing::merge(shares, max);
        let mut page = ListPage {
            is_truncated: merged.is_truncated,
            ..ListPage::default()
        };
        if merged.is_truncated {
            page.next_marker = merged.items.last().map(|i| i.name().to_string());
        }
        for item in merged.items {
            match item {
                ListItem::Object(o) => page.objects.push(o),
                ListItem::Prefix(p) => page.common_prefixes.push(p),
            }
        }
        self.shared.stats.lists.inc();
        Ok(page)
    }

    pub async fn create_bucket(
        &self,
        name: &str,
        region: &str,
        acl: Acl,
        storage_class: StorageClass,
        owner: &str,
    ) -> Result<BucketInfo, Error> {
        validate_bucket_name(name)?;
        if self.shared.bucket(name).is_some() {
            return Err(Error::BucketAlreadyExists(name.to_string()));
        }
        if self.shared.buckets.load().len() >= BUCKETS_MAX {
            return Err(Error::TooManyBuckets(BUCKETS_MAX));
        }
        let info = BucketInfo {
            name: name.to_string(),
            region: region.to_string(),
            acl,
            storage_class,
            owner: owner.to_string(),
            created_ms: now_ms(),
            versioning: Versioning::Disabled,
        };
        self.call(0, |reply| Request::BucketRecord {
            record: Record::BucketPut(info.clone()),
            reply,
        })
        .await?;
        Ok(info)
    }

    pub fn head_bucket(&self, name: &str) -> Result<BucketInfo, Error> {
        match self.shared.bucket(name) {
            Some(b) if !b.deleting => Ok(b.info),
            _ => Err(Error::NoSuchBucket(name.to_string())),
        }
    }

    pub fn list_buckets(&self) -> Vec<BucketInfo> {
        self.shared
            .buckets
            .load()
            .values()
            .filter(|b| !b.deleting)
            .map(|b| b.info.clone())
            .collect()
    }

    pub async fn put_bucket_acl(&self, name: &str, acl: Acl) -> Result<(), Error> {
        let mut info = self.head_bucket(name)?;
        info.acl = acl;
        self.call(0, |reply| Request::BucketRecord {
            record: Record::BucketPut(info),
            reply,
        })
        .await
    }

    /// Deletes an empty bucket. New writes are refused while every partition is asked
    /// whether it holds an object of the bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), Error> {
        self.head_bucket(name)?;
        self.shared.set_deleting(name, true);
        let mut empty = true;
        for p in 0..self.partitions() {
            let bucket = name.to_string();
            match self
                .call(p, |reply| Request::BucketEmpty { bucket, reply })
                .await
            {
                Ok(true) => {}
                Ok(false) => empty = false,
                Err(e) => {
                    self.shared.set_deleting(name, false);
                    return Err(e);
                }
            }
        }
        if !empty {
            self.shared.set_deleting(name, false);
            return Err(Error::BucketNotEmpty(name.to_string()));
        }
        let record = Record::BucketDelete {
            name: name.to_string(),
        };
        let r = self
            .call(0, |reply| Request::BucketRecord { record, reply })
            .await;
        if r.is_err() {
            self.shared.set_deleting(name, false);
        }
        r
    }

    pub async fn status(&self) -> Result<Vec<PartitionStatus>, Error> {
        let mut out = Vec::new();
        for p in 0..self.partitions() {
            out.push(self.call(p, |reply| Request::Status { reply }).await?);
        }
        Ok(out)
    }

    /// Starts a scrub pass on every partition now (or resumes a paused one).
    pub fn scrub_start(&self) {
        self.shared.scrub.start();
    }

    /// Pauses the scrub at its next yield point; `scrub_start` resumes it.
    pub fn scrub_pause(&self) {
        self.shared.scrub.pause();
    }

    /// Each partition's scrub state and position.
    pub fn scrub_status(&self) -> Vec<crate::scrub::PartitionScrub> {
        self.shared.scrub.status()
    }

    /// Writes a checkpoint on every partition now.
    pub async fn checkpoint(&self) -> Result<(), Error> {
        for p in 0..self.partitions() {
            self.call(p, |reply| Request::Checkpoint { reply }).await?;
        }
        Ok(())
    }
}
