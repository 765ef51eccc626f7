//! The scrub against injected faults on real device files: {data block, parity block,
//! block header, log record, checkpoint, superblock} × {one bit flipped, 4 KiB zeroed,
//! stale block of an older generation}, each applied offline (engine stopped) and while
//! serving. Every fault must be detected, reads must return the right bytes, the scrub
//! must put back the exact original block, and a second pass must find nothing.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;
use ringstore_engine::{Engine, EngineConfig, Handle, PutOptions};

mod common;
use common::{TestSet, MIB};

const K: usize = 2;
const M: usize = 1;
/// Three 16 MiB devices in 2+1, one partition, one unpinned executor.
const SET: TestSet = TestSet::new(K, M, 16 * MIB, 1);
const BLOCK: usize = 4096;
const MARKER: &[u8] = b"inline-object-marker-7f3a";

/// Large enough (three 2+1 stripes, 73 % of a 1 MiB extent) that data compaction leaves
/// it where it is: the test checks the very block it damaged.
fn big_body() -> Vec<u8> {
    (0..1_500_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn small_body() -> Vec<u8> {
    let mut b = MARKER.to_vec();
    b.extend((0..5000u32).map(|i| (i * 13) as u8));
    b
}

/// A 2+1 set with one object in data stripes, one packed in the log, and a checkpoint.
fn populated() -> tempfile::TempDir {
    let (dir, engine) = SET.set_up("scrub-", "scrub");
    let h = engine.handle();
    futures::executor::block_on(async {
        put(&h, "big", big_body()).await;
        put(&h, "small", small_body()).await;
        h.checkpoint().await.unwrap();
    });
    engine.shutdown();
    dir
}

async fn put(h: &Handle, key: &str, body: Vec<u8>) {
    h.put_object_bytes("scrub", key, PutOptions::default(), Bytes::from(body))
        .await
        .unwrap();
}

fn read_at(path: &Path, at: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    File::open(path).unwrap().read_exact_at(&mut b, at).unwrap();
    b
}

fn write_at(path: &Path, at: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, at).unwrap();
    f.sync_all().unwrap();
}

#[derive(Clone, Copy, Debug)]
enum Target {
    DataBlock,
    ParityBlock,
    BlockHeader,
    LogRecord,
    Checkpoint,
    Superblock,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    BitFlip,
    Zeroed,
    Stale,
}

/// A parsed stripe block header (FORMAT.md §6).
struct Header {
    kind: u8,
    shard: u8,
    extent: u32,
    block: u32,
}

fn header(b: &[u8]) -> Option<Header> {
    (b[0..4] == *b"RSBK").then(|| Header {
        kind: b[5],
        shard: b[6],
        extent: u32::from_le_bytes(b[16..20].try_into().unwrap()),
        block: u32::from_le_bytes(b[20..24].try_into().unwrap()),
    })
}

/// Every stripe block on every device: (device, offset, header, block).
fn blocks(dir: &Path) -> Vec<(usize, u64, Header, Vec<u8>)> {
    let mut out = Vec::new();
    for (d, p) in SET.paths(dir).iter().enumerate() {
        let all = std::fs::read(p).unwrap();
        for at in (MIB as usize..all.len() - BLOCK).step_by(BLOCK) {
            if let Some(h) = header(&all[at..at + 64]) {
                out.push((d, at as u64, h, all[at..at + BLOCK].to_vec()));
            }
        }
    }
    out
}

/// The newest root's checkpoint: (extent, first block) of its first run.
fn checkpoint_start(dir: &Path) -> (u32, u32) {
    let p = &SET.paths(dir)[0];
    let slots = [read_at(p, 4096, BLOCK), read_at(p, 8192, BLOCK)];
    let newest = slots
        .iter()
        .filter(|s| s[0..4] == *b"RSRT")
        .max_by_key(|s| u64::from_le_bytes(s[8..16].try_into().unwrap()))
        .expect("a root");
    let run = &newest[72..90];
    (
        u32::from_le_bytes(run[0..4].try_into().unwrap()),
        u32::from_le_bytes(run[8..12].try_into().unwrap()),
    )
}

/// Where the fault goes: (device, offset, length of the original to keep).
fn locate(dir: &Path, target: Target) -> (usize, u64) {
    if let Target::Superblock = target {
        return (1, 0);
    }
    let (cp_extent, cp_block) = checkpoint_start(dir);
    let found = blocks(dir).into_iter().find(|(_, _, h, b)| match target {
        Target::DataBlock | Target::BlockHeader => h.kind == 1 && (h.shard as usize) < K,
        Target::ParityBlock => h.kind == 1 && (h.shard as usize) >= K,
        Target::LogRecord => h.kind == 2 && b[64..].windows(MARKER.len()).any(|w| w == MARKER),
        Target::Checkpoint => h.kind == 3 && h.extent == cp_extent && h.block == cp_block,
        Target::Superblock => unreachable!(),
    });
    let (d, at, _, _) = found.unwrap_or_else(|| panic!("no block for {target:?}"));
    (d, at)
}

/// Damages `len` bytes at the target; returns the original block.
fn inject(dir: &Path, target: Target, fault: Fault) -> (usize, u64, Vec<u8>) {
    let (d, mut at) = locate(dir, target);
    let path = &SET.paths(dir)[d];
    if let (Target::Superblock, Fault::Stale) = (target, fault) {
        // A copy B left by an earlier format of another set: the device's copy A rules.
        at = 16 * MIB - BLOCK as u64;
    }
    let original = read_at(path, at, BLOCK);
    let mut bad = original.clone();
    match fault {
        Fault::BitFlip => {
            // In the header (block index), or deep in the payload.
            let byte = if let Target::BlockHeader = target {
                20
            } else {
                1000
            };
            bad[byte] ^= 0x10;
        }
        Fault::Zeroed => bad.fill(0),
        Fault::Stale => stale(&mut bad, target),
    }
    write_at(path, at, &bad);
    (d, at, original)
}

/// What an earlier use of the place left: a valid block one generation older (or, for
/// a superblock, a valid superblock of another set).
fn stale(b: &mut [u8], target: Target) {
    if let Target::Superblock = target {
        b[16] ^= 0x5a; // set_id
        let crc = crc32c::crc32c(&b[..4092]);
        b[4092..].copy_from_slice(&crc.to_le_bytes());
        return;
    }
    let g = u32::from_le_bytes(b[24..28].try_into().unwrap());
    b[24..28].copy_from_slice(&(g - 1).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&b[..60]), &b[64..]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
}

/// Reads both objects back and checks every byte.
fn check_reads(h: &Handle) {
    futures::executor::block_on(async {
        let (_, big) = h.get_object_bytes("scrub", "big", None).await.unwrap();
        assert!(big == big_body(), "big object reads back exactly");
        let (_, small) = h.get_object_bytes("scrub", "small", None).await.unwrap();
        assert!(small == small_body(), "small object reads back exactly");
    });
}

/// Starts a pass and waits (bounded) until every partition finished it.
fn scrub_pass(h: &Handle) {
    let before = h.shared.stats.scrub_passes.get();
    h.scrub_start();
    for _ in 0..2000 {
        if h.shared.stats.scrub_passes.get() > before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the scrub pass did not finish");
}

fn run_case(target: Target, fault: Fault, online: bool) {
    let dir = populated();
    let (engine, injected) = if online {
        let engine = SET.start(dir.path());
        let inj = inject(dir.path(), target, fault);
        (engine, inj)
    } else {
        let inj = inject(dir.path(), target, fault);
        (SET.start(dir.path()), inj)
    };
    let h = engine.handle();
    check_reads(&h);
    let s = &h.shared.stats;
    scrub_pass(&h);
    let (corrupt, repaired) = (s.scrub_corrupt.get(), s.scrub_repaired.get());
    assert!(
        corrupt >= 1,
        "{target:?} × {fault:?}: the scrub detected it"
    );
    assert!(
        repaired >= 1,
        "{target:?} × {fault:?}: the scrub repaired it"
    );
    assert_eq!(s.scrub_unrecoverable.get(), 0, "{target:?} × {fault:?}");
    scrub_pass(&h);
    assert_eq!(
        s.scrub_corrupt.get(),
        corrupt,
        "{target:?} × {fault:?}: a second pass finds 0"
    );
    check_reads(&h);
    engine.shutdown();
    let (d, at, original) = injected;
    let now = read_at(&SET.paths(dir.path())[d], at, BLOCK);
    let diff: Vec<usize> = (0..BLOCK).filter(|&i| now[i] != original[i]).collect();
    assert!(
        diff.is_empty(),
        "{target:?} × {fault:?}: the exact block is back (differs at {:?})",
        &diff[..diff.len().min(8)]
    );
}

fn matrix(online: bool) {
    let targets = [
        Target::DataBlock,
        Target::ParityBlock,
        Target::BlockHeader,
        Target::LogRecord,
        Target::Checkpoint,
        Target::Superblock,
    ];
    for target in targets {
        for fault in [Fault::BitFlip, Fault::Zeroed, Fault::Stale] {
            run_case(target, fault, online);
        }
    }
}

#[test]
fn fault_matrix_offline() {
    matrix(false);
}

#[test]
fn fault_matrix_while_serving() {
    matrix(true);
}

/// A pass interrupted by a restart continues after the last slice of keys it finished,
/// without being started again.
#[test]
fn a_restart_continues_the_pass() {
    let dir = populated();
    let slow = ringstore_engine::ScrubConfig {
        rate_bytes_per_sec: 512 * 1024,
        ..ringstore_engine::ScrubConfig::default()
    };
    let cfg = |scrub| EngineConfig {
        scrub,
        ..SET.config(SET.paths(dir.path()))
    };
    let engine = Engine::start(cfg(slow)).unwrap();
    let h = engine.handle();
    futures::executor::block_on(async {
        for i in 0..200 {
            put(&h, &format!("k{i:03}"), vec![i as u8; 1000]).await;
        }
    });
    h.scrub_start();
    let mut reached = String::new();
    for _ in 0..3000 {
        reached = h.scrub_status()[0].position.clone();
        if !reached.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!reached.is_empty(), "the object walk saved a position");
    let pass = h.scrub_status()[0].pass;
    engine.shutdown();

    let engine = Engine::start(cfg(ringstore_engine::ScrubConfig::default())).unwrap();
    let h = engine.handle();
    let resumed = h.scrub_status()[0].clone();
    let s = &h.shared.stats;
    for _ in 0..2000 {
        if s.scrub_passes.get() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        s.scrub_passes.get(),
        1,
        "the pass finished without a start command"
    );
    let status = h.scrub_status()[0].clone();
    assert_eq!(status.pass, pass, "the same pass, continued");
    assert!(
        resumed.position.is_empty() || resumed.position >= reached,
        "{resumed:?} continues from {reached}"
    );
    let continued = s.scrub_blocks.get();
    scrub_pass(&h);
    let full = s.scrub_blocks.get() - continued;
    assert!(
        continued < full,
        "the continued pass skipped what was done: {continued} < {full}"
    );
    engine.shutdown();
}

/// A read that had to rebuild a block schedules its repair: no pass is started, yet the
/// block is rewritten.
#[test]
fn a_read_that_rebuilt_schedules_the_repair() {
    for target in [Target::DataBlock, Target::LogRecord] {
        let dir = populated();
        let engine = SET.start(dir.path());
        let (d, at, original) = inject(dir.path(), target, Fault::Zeroed);
        let h = engine.handle();
        check_reads(&h);
        let s = &h.shared.stats;
        for _ in 0..2000 {
            if s.scrub_repaired.get() > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(s.scrub_passes.get(), 0, "{target:?}: no pass ran");
        assert!(
            s.scrub_repaired.get() >= 1,
            "{target:?}: repaired after the read"
        );
        engine.shutdown();
        let now = read_at(&SET.paths(dir.path())[d], at, BLOCK);
        assert!(now == original, "{target:?}: the exact block is back");
    }
}
