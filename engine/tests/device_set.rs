//! Device set format and identification on real files in an ext4 directory under the
//! target directory (not /tmp, which may be tmpfs and behave differently for fallocate).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use ringstore_engine::device_set::{
    format, identify, repair_superblocks, FormatError, FormatOptions, Identified, Layout, OpenError,
};
use ringstore_engine::superblock::{Superblock, SuperblockError};

const MIB: u64 = 1024 * 1024;
const DEVICE_BYTES: u64 = 16 * MIB;

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("device-set-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary directory")
}

fn device_paths(dir: &Path, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|i| dir.join(format!("device-{i}")))
        .collect()
}

fn options(data_shards: usize, parity_shards: usize) -> FormatOptions {
    FormatOptions {
        data_shards,
        parity_shards,
        device_bytes: DEVICE_BYTES,
        extent_bytes: MIB,
        partitions: 2,
        ..FormatOptions::default()
    }
}

/// Formats a fresh k+m set in a new directory.
fn formatted(k: usize, m: usize) -> (tempfile::TempDir, Vec<PathBuf>, Layout) {
    let dir = scratch();
    let paths = device_paths(dir.path(), k + m);
    let layout = format(&paths, &options(k, m)).expect("format");
    (dir, paths, layout)
}

fn shuffled(paths: &[PathBuf], seed: u64) -> Vec<PathBuf> {
    let mut shuffled = paths.to_vec();
    shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    shuffled
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for write");
    file.write_all_at(bytes, offset).expect("write");
}

fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    File::open(path)
        .expect("open")
        .read_exact_at(&mut bytes, offset)
        .expect("read");
    bytes
}

fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let mut byte = read_at(path, offset, 1);
    byte[0] ^= 1 << bit;
    overwrite(path, offset, &byte);
}

/// Every device present, in path order, both copies valid, no warnings.
fn assert_complete(identified: &Identified, paths: &[PathBuf]) {
    assert_eq!(identified.devices.len(), paths.len());
    assert!(identified.missing().is_empty());
    assert!(identified.warnings.is_empty(), "{:?}", identified.warnings);
    for (index, path) in paths.iter().enumerate() {
        let device = identified.devices[index].as_ref().expect("device present");
        assert_eq!(&device.path, path);
        assert_eq!(device.device_index, index);
        assert_eq!(device.superblock_copies_valid, [true, true]);
    }
}

fn check_format_and_identify(k: usize, m: usize) {
    let (_dir, paths, layout) = formatted(k, m);
    assert_ne!(layout.set_id, 0);
    assert_eq!((layout.data_shards, layout.parity_shards), (k, m));
    assert_eq!(layout.device_count(), k + m);
    assert_eq!(layout.partitions, 2);
    assert_eq!(layout.device_bytes, DEVICE_BYTES);
    assert_eq!(layout.extent_bytes, MIB);
    // (16 MiB - 1 MiB of superblock A and root slots - 4 KiB of copy B) / 1 MiB.
    assert_eq!(layout.extent_count, 14);
    assert_eq!(layout.extent_offset(0), MIB);
    assert_eq!(layout.extent_offset(13), 14 * MIB);
    assert!(layout.extent_offset(13) + MIB <= layout.superblock_b_offset());
    for path in &paths {
        let metadata = std::fs::metadata(path).expect("device file");
        assert_eq!(metadata.len(), DEVICE_BYTES);
        assert!(
            metadata.blocks() * 512 >= DEVICE_BYTES,
            "fallocate must allocate the file"
        );
        assert_eq!(
            read_at(path, 0, 4096),
            read_at(path, DEVICE_BYTES - 4096, 4096)
        );
        assert!(read_at(path, 4096, (MIB - 4096) as usize)
            .iter()
            .all(|&b| b == 0));
    }
    let identified = identify(&shuffled(&paths, k as u64)).expect("identify");
    assert_eq!(identified.layout, layout);
    assert_complete(&identified, &paths);
    let mut ids: Vec<u64> = identified
        .devices
        .iter()
        .flatten()
        .map(|d| d.device_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), k + m, "device ids must be distinct");
    assert!(!ids.contains(&0));
}

#[test]
fn format_and_identify_4_2() {
    check_format_and_identify(4, 2);
}

#[test]
fn format_and_identify_8_3() {
    check_format_and_identify(8, 3);
}

#[test]
fn format_and_identify_10_4() {
    check_format_and_identify(10, 4);
}

#[test]
fn prefill_writes_the_whole_file() {
    let dir = scratch();
    let paths = device_paths(dir.path(), 3);
    let opts = FormatOptions {
        prefill: true,
        ..options(2, 1)
    };
    let layout = format(&paths, &opts).expect("format");
    for path in &paths {
        let metadata = std::fs::metadata(path).expect("device file");
        assert_eq!(metadata.len(), DEVICE_BYTES);
        assert!(metadata.blocks() * 512 >= DEVICE_BYTES);
        assert!(read_at(path, MIB, (2 * MIB) as usize)
            .iter()
            .all(|&b| b == 0));
    }
    assert_eq!(identify(&paths).expect("identify").layout, layout);
}

#[test]
fn format_refuses_a_formatted_device_unless_forced() {
    let (_dir, paths, first) = formatted(4, 2);
    match format(&paths, &options(4, 2)) {
        Err(FormatError::AlreadyFormatted { path, set_id }) => {
            assert_eq!(path, paths[0]);
            assert_eq!(set_id, first.set_id);
        }
        other => panic!("expected AlreadyFormatted, got {other:?}"),
    }
    // A device with only copy B left is still a formatted device.
    overwrite(&paths[0], 0, &[0u8; 4096]);
    let error = format(&paths, &options(4, 2)).expect_err("copy B alone must be refused");
    assert!(matches!(&error, FormatError::AlreadyFormatted { path, .. } if *path == paths[0]));
    assert!(
        error.to_string().contains(&*paths[0].to_string_lossy()),
        "{error}"
    );

    let opts = FormatOptions {
        force: true,
        partitions: 3,
        ..options(4, 2)
    };
    let second = format(&paths, &opts).expect("forced format");
    assert_ne!(second.set_id, first.set_id);
    let identified = identify(&paths).expect("identify");
    assert_eq!(identified.layout, second);
    assert_complete(&identified, &paths);
}

#[test]
fn force_over_a_larger_file_shrinks_it() {
    let dir = scratch();
    let paths = device_paths(dir.path(), 3);
    format(
        &paths,
        &FormatOptions {
            device_bytes: 32 * MIB,
            ..options(2, 1)
        },
    )
    .expect("format");
    let opts = FormatOptions {
        force: true,
        ..options(2, 1)
    };
    let layout = format(&paths, &opts).expect("forced format");
    assert_eq!(
        std::fs::metadata(&paths[1]).expect("stat").len(),
        DEVICE_BYTES
    );
    assert_eq!(identify(&paths).expect("identify").layout, layout);
}

#[test]
fn one_or_two_missing_devices_open_degraded() {
    let (_dir, paths, layout) = formatted(4, 2);
    // Leaving paths out of the list is the same as missing files.
    let identified = identify(&paths[1..5]).expect("two not listed");
    assert_eq!(identified.missing(), vec![0, 5]);

    std::fs::remove_file(&paths[3]).expect("remove");
    let identified = identify(&shuffled(&paths, 1)).expect("one missing");
    assert_eq!(identified.layout, layout);
    assert_eq!(identified.missing(), vec![3]);
    assert!(identified.devices[3].is_none());
    let path = paths[3].to_string_lossy();
    assert!(
        identified.warnings.iter().any(|w| w.contains(&*path)),
        "{:?}",
        identified.warnings
    );

    std::fs::remove_file(&paths[0]).expect("remove");
    let identified = identify(&shuffled(&paths, 2)).expect("two missing");
    assert_eq!(identified.missing(), vec![0, 3]);
    assert_eq!(
        identified.devices[1].as_ref().map(|d| &d.path),
        Some(&paths[1])
    );
}

#[test]
fn three_missing_devices_are_too_many() {
    let (_dir, paths, _) = formatted(4, 2);
    for index in [1, 2, 4] {
        std::fs::remove_file(&paths[index]).expect("remove");
    }
    match identify(&paths) {
        Err(OpenError::TooManyMissing { missing, parity }) => {
            assert_eq!(missing, vec![1, 2, 4]);
            assert_eq!(parity, 2);
        }
        other => panic!("expected TooManyMissing, got {other:?}"),
    }
}

#[test]
fn no_readable_device() {
    let dir = scratch();
    let paths = device_paths(dir.path(), 3);
    assert!(matches!(
        identify(&paths),
        Err(OpenError::NoDevices { paths: 3, .. })
    ));
    assert!(matches!(
        identify(&[]),
        Err(OpenError::NoDevices { paths: 0, .. })
    ));
}

#[test]
fn device_of_another_set_is_foreign() {
    let (_dir_a, paths_a, layout_a) = formatted(4, 2);
    let (_dir_b, paths_b, layout_b) = formatted(4, 2);
    let mut paths = paths_a.clone();
    paths[2] = paths_b[2].clone();
    match identify(&paths) {
        Err(OpenError::ForeignDevice {
            path,
            set_id,
            expected,
        }) => {
            assert_eq!(path, paths_b[2]);
            assert_eq!(set_id, layout_b.set_id);
            assert_eq!(expected, layout_a.set_id);
        }
        other => panic!("expected ForeignDevice, got {other:?}"),
    }
    // Three devices of each set: neither is the majority.
    let mixed = [&paths_a[..3], &paths_b[3..]].concat();
    assert!(matches!(
        identify(&mixed),
        Err(OpenError::AmbiguousSet { devices: 3, .. })
    ));
}

#[test]
fn path_listed_twice_is_a_duplicate() {
    let (_dir, paths, _) = formatted(4, 2);
    let mut listed = paths.clone();
    listed.push(paths[4].clone());
    match identify(&listed) {
        Err(OpenError::DuplicateDevice { a, b, index }) => {
            assert_eq!((a, b, index), (paths[4].clone(), paths[4].clone(), 4));
        }
        other => panic!("expected DuplicateDevice, got {other:?}"),
    }
}

#[test]
fn copied_device_file_is_a_duplicate() {
    let (dir, paths, _) = formatted(4, 2);
    let copy = dir.path().join("copy-of-1");
    std::fs::copy(&paths[1], &copy).expect("copy");
    let mut listed = paths.clone();
    listed[2] = copy.clone();
    match identify(&listed) {
        Err(OpenError::DuplicateDevice { a, b, index }) => {
            assert_eq!((a, b, index), (paths[1].clone(), copy, 1));
        }
        other => panic!("expected DuplicateDevice, got {other:?}"),
    }
}

#[test]
fn zeroed_copy_a_opens_with_a_warning_and_is_repaired() {
    let (_dir, paths, layout) = formatted(4, 2);
    let good = read_at(&paths[3], 0, 4096);
    overwrite(&paths[3], 0, &[0u8; 4096]);
    let identified = identify(&paths).expect("identify with copy B");
    assert_eq!(identified.layout, layout);
    let device = identified.devices[3].as_ref().expect("device 3");
    assert_eq!(device.superblock_copies_valid, [false, true]);
    assert_eq!(identified.warnings.len(), 1, "{:?}", identified.warnings);
    assert!(identified.warnings[0].contains(&*paths[3].to_string_lossy()));
    assert!(identified.warnings[0].contains("copy A"));

    assert_eq!(repair_superblocks(&identified).expect("repair"), 1);
    assert_eq!(read_at(&paths[3], 0, 4096), good);
    let identified = identify(&paths).expect("identify after repair");
    assert_complete(&identified, &paths);
    assert_eq!(
        repair_superblocks(&identified).expect("nothing to repair"),
        0
    );
}

#[test]
fn zeroed_copy_b_is_repaired_from_copy_a() {
    let (_dir, paths, _) = formatted(2, 1);
    let b_offset = DEVICE_BYTES - 4096;
    overwrite(&paths[0], b_offset, &[0u8; 4096]);
    let identified = identify(&paths).expect("identify with copy A");
    let device = identified.devices[0].as_ref().expect("device 0");
    assert_eq!(device.superblock_copies_valid, [true, false]);
    assert_eq!(repair_superblocks(&identified).expect("repair"), 1);
    assert_eq!(
        read_at(&paths[0], b_offset, 4096),
        read_at(&paths[0], 0, 4096)
    );
    assert_complete(&identify(&paths).expect("identify after repair"), &paths);
}

#[test]
fn flipped_bit_is_detected() {
    let (_dir, paths, _) = formatted(4, 2);
    // A bit of the set id in copy A: the device opens from copy B, with a warning.
    flip_bit(&paths[2], 17, 3);
    let identified = identify(&paths).expect("identify with copy B");
    let device = identified.devices[2].as_ref().expect("device 2");
    assert_eq!(device.superblock_copies_valid, [false, true]);
    assert!(
        identified.warnings[0].contains("checksum mismatch"),
        "{:?}",
        identified.warnings
    );
    // The same bit in copy B too: no valid copy is left.
    flip_bit(&paths[2], DEVICE_BYTES - 4096 + 17, 3);
    match identify(&paths) {
        Err(OpenError::NotRingstore {
            path,
            copy_a,
            copy_b,
        }) => {
            assert_eq!(path, paths[2]);
            assert!(matches!(copy_a, SuperblockError::ChecksumMismatch { .. }));
            assert!(matches!(copy_b, SuperblockError::ChecksumMismatch { .. }));
        }
        other => panic!("expected NotRingstore, got {other:?}"),
    }
}

#[test]
fn file_that_is_not_a_device_is_refused() {
    let (dir, paths, _) = formatted(4, 2);
    let stranger = dir.path().join("stranger");
    std::fs::write(&stranger, vec![0x5au8; DEVICE_BYTES as usize]).expect("write");
    let mut listed = paths.clone();
    listed[0] = stranger.clone();
    let error = identify(&listed).expect_err("not a ringstore device");
    assert!(matches!(&error, OpenError::NotRingstore { path, .. } if *path == stranger));
    assert!(error.to_string().contains("stranger"), "{error}");
}

#[test]
fn truncated_device_counts_as_missing() {
    let (_dir, paths, _) = formatted(4, 2);
    for (p, len) in [(5, 8 * MIB), (2, 0)] {
        OpenOptions::new()
            .write(true)
            .open(&paths[p])
            .expect("open")
            .set_len(len)
            .expect("trim");
    }
    let id = identify(&paths).expect("two truncated devices of 4+2 open degraded");
    assert_eq!(id.missing(), vec![2, 5]);
    assert!(
        id.warnings.iter().any(|w| w.contains("truncated")),
        "{:?}",
        id.warnings
    );
}

#[test]
fn parameters_must_agree() {
    let (_dir, paths, layout) = formatted(4, 2);
    let block = read_at(&paths[4], 0, 4096);
    let mut superblock = Superblock::decode(&block).expect("decode");
    superblock.created_unix_ms += 1;
    let block = superblock.encode();
    overwrite(&paths[4], 0, &block);
    overwrite(&paths[4], DEVICE_BYTES - 4096, &block);
    match identify(&paths) {
        Err(OpenError::Mismatch {
            path,
            other,
            field,
            value,
            expected,
        }) => {
            assert_eq!((path, other), (paths[4].clone(), paths[0].clone()));
            assert_eq!(field, "created_unix_ms");
            assert_eq!(
                (value, expected),
                (layout.created_unix_ms + 1, layout.created_unix_ms)
            );
        }
        other => panic!("expected Mismatch, got {other:?}"),
    }
}

#[test]
fn bad_options_are_refused_with_typed_errors() {
    let dir = scratch();
    let six = device_paths(dir.path(), 6);
    let check = |paths: &[PathBuf], opts: FormatOptions| {
        let error = format(paths, &opts).expect_err("options must be refused");
        assert!(
            paths.iter().all(|p| !p.exists()),
            "{error}: nothing may be created"
        );
        error
    };
    let e = check(&six[..2], options(0, 2));
    assert!(
        matches!(e, FormatError::DataShards { data_shards: 0 }),
        "{e}"
    );
    let e = check(&device_paths(dir.path(), 35), options(33, 2));
    assert!(
        matches!(e, FormatError::DataShards { data_shards: 33 }),
        "{e}"
    );
    let e = check(&device_paths(dir.path(), 21), options(4, 17));
    assert!(
        matches!(e, FormatError::ParityShards { parity_shards: 17 }),
        "{e}"
    );
    let e = check(&six[..5], options(4, 2));
    assert!(
        matches!(
            e,
            FormatError::PathCount {
                paths: 5,
                device_count: 6
            }
        ),
        "{e}"
    );
    for partitions in [0, 65] {
        let e = check(
            &six,
            FormatOptions {
                partitions,
                ..options(4, 2)
            },
        );
        assert!(
            matches!(e, FormatError::Partitions { partitions: p } if p == partitions),
            "{e}"
        );
    }
    for extent_bytes in [MIB / 2, MIB + MIB / 2, 2048 * MIB] {
        let e = check(
            &six,
            FormatOptions {
                extent_bytes,
                ..options(4, 2)
            },
        );
        assert!(matches!(e, FormatError::ExtentBytes { extent_bytes: x } if x == extent_bytes));
    }
    let e = check(
        &six,
        FormatOptions {
            device_bytes: DEVICE_BYTES + 512,
            ..options(4, 2)
        },
    );
    assert!(matches!(e, FormatError::DeviceBytesUnaligned { .. }), "{e}");
    let e = check(
        &six,
        FormatOptions {
            device_bytes: 8 * MIB,
            ..options(4, 2)
        },
    );
    assert!(matches!(e, FormatError::DeviceTooSmall { min_bytes, .. } if min_bytes == 16 * MIB));
    // 4 partitions × 2 extents of 4 MiB do not fit in 16 MiB.
    let opts = FormatOptions {
        partitions: 4,
        extent_bytes: 4 * MIB,
        ..options(4, 2)
    };
    let e = check(&six, opts);
    assert!(
        matches!(e, FormatError::DeviceTooSmall { min_bytes, .. } if min_bytes == 33 * MIB + 4096),
        "{e}"
    );
    let e = check(
        &six,
        FormatOptions {
            device_bytes: 0,
            ..options(4, 2)
        },
    );
    assert!(
        matches!(&e, FormatError::DeviceBytesRequired { path } if *path == six[0]),
        "{e}"
    );
    let mut twice = six.clone();
    twice[5] = six[1].clone();
    let e = check(&twice, options(4, 2));
    assert!(matches!(e, FormatError::DuplicatePath { .. }), "{e}");
}

#[test]
fn two_spellings_of_one_new_file_are_refused() {
    let dir = scratch();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path(), &link).expect("symlink");
    let mut paths = device_paths(dir.path(), 3);
    // Lexically different, the same file once created.
    paths[2] = link.join("device-0");
    let e = format(&paths, &options(2, 1)).expect_err("same file twice");
    assert!(matches!(e, FormatError::DuplicatePath { .. }), "{e}");
}
