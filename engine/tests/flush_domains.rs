//! Flush domains on real files (FORMAT.md 10.1): which device files one fdatasync flushes
//! together (FIEMAP and statx on sparse, fallocated and fully written files), how many
//! fdatasyncs a flush of a prefilled set and of a merely fallocated set issues (the
//! `device_flushes` counter), that a replacement's domain is found again on attach, and
//! that what a prefilled set acknowledged reads back after a restart. The files live
//! under the target directory; where it is not on ext4 every file is its own domain and
//! the tests expect that instead.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use ringstore_engine::constants::BLOCK_BYTES;
use ringstore_engine::device_set::{format_replacement, identify, Layout};
use ringstore_engine::devices::Devices;
use ringstore_engine::flush_domain::{self, FlushDomain};
use ringstore_engine::shared::Shared;
use ringstore_engine::PutOptions;

mod common;
use common::{block_on, data, on_ext4, TestSet, MIB};

/// Six 16 MiB devices in 4+2, one partition, one unpinned executor.
const SET: TestSet = TestSet::new(4, 2, 16 * MIB, 1);
const DEVICES: usize = 6;
/// Flushes each counting test issues.
const SYNCS: u64 = 5;
const BUCKET: &str = "flushes";

fn prefilled() -> TestSet {
    let mut set = SET;
    set.format.prefill = true;
    set
}

fn scratch(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("scratch directory")
}

fn domain_of(path: &Path) -> FlushDomain {
    let file = File::open(path).unwrap();
    flush_domain::of(file.as_raw_fd())
}

fn fallocate(file: &File, len: u64) {
    // SAFETY: fallocate reads only its integer arguments; `file` stays open for the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
    assert_eq!(rc, 0, "fallocate: {}", std::io::Error::last_os_error());
}

fn written_file(path: &Path, len: usize) {
    let mut file = File::create(path).unwrap();
    file.write_all(&vec![0u8; len]).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn only_fully_written_files_share_their_filesystems_domain() {
    let dir = scratch("flush-fiemap-");
    let len = 4 * MIB;
    let sparse = dir.path().join("sparse");
    File::create(&sparse).unwrap().set_len(len).unwrap();
    let fallocated = dir.path().join("fallocated");
    let file = File::create(&fallocated).unwrap();
    file.set_len(len).unwrap();
    fallocate(&file, len);
    // Written at its start only: one written extent, then unwritten ones.
    let part = dir.path().join("part");
    let mut file = File::create(&part).unwrap();
    fallocate(&file, len);
    file.write_all(&vec![0u8; MIB as usize]).unwrap();
    file.sync_all().unwrap();
    let full = [dir.path().join("full0"), dir.path().join("full1")];
    for path in &full {
        written_file(path, len as usize);
    }
    for path in [&sparse, &fallocated, &part] {
        assert_eq!(domain_of(path), FlushDomain::Own, "{}", path.display());
    }
    let expected = if on_ext4(dir.path()) {
        FlushDomain::Filesystem(std::fs::metadata(&full[0]).unwrap().dev())
    } else {
        FlushDomain::Own
    };
    assert_eq!(domain_of(&full[0]), expected);
    assert_eq!(domain_of(&full[1]), expected);
    assert_eq!(
        domain_of(&full[0]).shared_with(domain_of(&full[1])),
        expected != FlushDomain::Own
    );
}

/// Opens the set at `paths` on an executor of its own, writes a block to every device,
/// runs `attach` (replacements, by index and path), then flushes `SYNCS` times; returns
/// the fdatasyncs those flushes issued.
fn fdatasyncs(paths: &[PathBuf], attach: &[(usize, PathBuf)]) -> u64 {
    let id = identify(paths).unwrap();
    glommio::LocalExecutor::default().run(async {
        let shared = Shared::new(id.layout, &id.devices);
        let dev = Devices::open(&id, shared.clone()).await.unwrap();
        for (index, path) in attach {
            dev.attach(*index, path).await.unwrap();
        }
        let at = id.layout.extent_offset(0);
        for d in 0..DEVICES {
            let mut buf = dev.alloc(BLOCK_BYTES);
            buf.as_bytes_mut().fill(0x5a);
            dev.write(d, at, buf).await.unwrap();
        }
        let before = shared.stats.device_flushes.get();
        for _ in 0..SYNCS {
            dev.sync(SET.format.data_shards + 1).await.unwrap();
        }
        shared.stats.device_flushes.get() - before
    })
}

#[test]
fn a_prefilled_set_on_one_filesystem_flushes_once_per_flush() {
    let set = prefilled();
    let dir = set.format("flush-prefilled-");
    let per_flush = if on_ext4(dir.path()) { 1 } else { DEVICES };
    assert_eq!(
        fdatasyncs(&set.paths(dir.path()), &[]),
        SYNCS * per_flush as u64
    );
}

#[test]
fn a_fallocated_set_flushes_every_device() {
    let dir = SET.format("flush-fallocated-");
    assert_eq!(
        fdatasyncs(&SET.paths(dir.path()), &[]),
        SYNCS * DEVICES as u64
    );
}

fn replacement(layout: &Layout, dir: &Path, name: &str, prefill: bool) -> PathBuf {
    let path = dir.join(name);
    format_replacement(layout, 0, &path, prefill).unwrap();
    path
}

#[test]
fn a_replacement_gets_its_own_domain_on_attach() {
    let set = prefilled();
    let dir = set.format("flush-attach-");
    let paths = set.paths(dir.path());
    let layout = identify(&paths).unwrap().layout;
    let fallocated = replacement(&layout, dir.path(), "fallocated", false);
    let written = replacement(&layout, dir.path(), "written", true);
    let shared = on_ext4(dir.path());
    // Five prefilled devices and one fallocated replacement: two fdatasyncs per flush.
    let per_flush = if shared { 2 } else { DEVICES };
    assert_eq!(
        fdatasyncs(&paths, &[(0, fallocated.clone())]),
        SYNCS * per_flush as u64
    );
    // Replaced again by a written file: it joins the others.
    let per_flush = if shared { 1 } else { DEVICES };
    assert_eq!(
        fdatasyncs(&paths, &[(0, fallocated), (0, written)]),
        SYNCS * per_flush as u64
    );
}

/// Object `i`: packed in the log or in data stripes.
fn body(i: u64) -> Vec<u8> {
    data([100, 3000, 70_000, 300_000][i as usize % 4], i)
}

#[test]
fn a_prefilled_set_keeps_what_it_acknowledged_across_a_restart() {
    const OBJECTS: u64 = 24;
    let set = prefilled();
    let (dir, engine) = set.set_up("flush-restart-", BUCKET);
    let h = engine.handle();
    let before = h.shared.stats.device_flushes.get();
    // Each put of a small object is one batch, flushed alone (puts run one at a time).
    for i in 0..OBJECTS {
        let small = Bytes::from(data(100, i));
        block_on(h.put_object_bytes(BUCKET, &format!("s{i}"), PutOptions::default(), small))
            .unwrap();
    }
    let per_flush = if on_ext4(dir.path()) {
        1
    } else {
        DEVICES as u64
    };
    assert_eq!(
        h.shared.stats.device_flushes.get() - before,
        OBJECTS * per_flush
    );
    for i in 0..OBJECTS {
        let key = format!("o{i}");
        block_on(h.put_object_bytes(BUCKET, &key, PutOptions::default(), body(i).into())).unwrap();
    }
    drop(h);
    engine.shutdown();
    let engine = set.start(dir.path());
    let h = engine.handle();
    for i in 0..OBJECTS {
        let (_, got) = block_on(h.get_object_bytes(BUCKET, &format!("o{i}"), None)).unwrap();
        assert!(got == body(i), "o{i} reads back exactly");
        let (_, got) = block_on(h.get_object_bytes(BUCKET, &format!("s{i}"), None)).unwrap();
        assert!(got == data(100, i), "s{i} reads back exactly");
    }
    drop(h);
    engine.shutdown();
}
