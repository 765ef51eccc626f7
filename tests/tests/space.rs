//! A full device set and sustained overwrites, against the real daemon: six small device
//! files (32 MiB each, about 74 MB of user space after the log, reserve and checkpoint of
//! both partitions), filled over the binary protocol and checked over raw HTTP too.
//!
//! - Full: PUTs are refused with StorageFull (HTTP 507 InsufficientStorage), every
//!   acknowledged object reads back byte-exact, HEAD and LIST work, DELETE works on the
//!   full set, and after deleting enough, PUTs succeed again.
//! - Sustained overwrites of a live set much smaller than the set, several times its
//!   capacity in total, never hit StorageFull.
//! - Device files on a small loop-mounted ext4 (skipped, with the reason printed, where
//!   mounting is impossible): a file system too small for them is refused at format with
//!   ENOSPC named; on one that holds them the device set fills as above.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringstore_client::{Acl, Client, Error, ListObjects, Status, StorageClass};
use ringstore_tests::{content, put_request, Daemon};

const BUCKET: &str = "fullset";

/// One raw HTTP/1.1 exchange without a signature (the bucket is public-read-write):
/// (status code, body).
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP adapter");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, raw[head_end + 4..].to_vec())
}

fn is_full(e: &Error) -> bool {
    matches!(
        e,
        Error::Status {
            status: Status::StorageFull,
            ..
        }
    )
}

/// Sizes of the objects that fill the set: packed in the log and striped.
fn fill_size(i: u64) -> usize {
    [40_000, 200_000][(i % 2) as usize]
}

async fn put(c: &Client, key: &str, len: usize, seed: u64) -> Result<(), Error> {
    let req = put_request(BUCKET, key);
    c.put_object_bytes(req, Bytes::from(content(len, seed)))
        .await
        .map(|_| ())
}

/// The keys LIST shows under the prefix "o" (the filling objects).
async fn listed(c: &Client) -> Vec<String> {
    let mut n = Vec::new();
    let mut marker = String::new();
    loop {
        let page = c
            .list_objects(ListObjects {
                bucket: BUCKET.into(),
                prefix: "o".into(),
                delimiter: String::new(),
                marker: marker.clone(),
                max_keys: 1000,
            })
            .await
            .unwrap();
        n.extend(page.objects.iter().map(|o| o.key.clone()));
        match page.next_marker {
            Some(m) if page.is_truncated => marker = m,
            _ => return n,
        }
    }
}

/// Fills until puts are refused on both partitions (twelve refusals in a row); returns
/// the acknowledged object numbers.
async fn fill(c: &Client) -> Vec<u64> {
    let mut stored = Vec::new();
    let mut refused_in_a_row = 0;
    for i in 0..4000u64 {
        match put(c, &format!("o{i}"), fill_size(i), i).await {
            Ok(()) => {
                stored.push(i);
                refused_in_a_row = 0;
            }
            Err(e) if is_full(&e) => {
                refused_in_a_row += 1;
                if refused_in_a_row == 12 {
                    return stored;
                }
            }
            Err(e) => panic!("put o{i}: unexpected {e}"),
        }
    }
    panic!("4000 puts did not fill the set");
}

async fn check_all(c: &Client, stored: &[u64]) {
    for &i in stored {
        let key = format!("o{i}");
        let (_, got) = c.get_object_bytes(BUCKET, &key, None).await.unwrap();
        assert!(got == content(fill_size(i), i), "{key} reads back wrong");
        let meta = c.head_object(BUCKET, &key).await.unwrap();
        assert_eq!(meta.size, fill_size(i) as u64, "{key}");
    }
    let want: std::collections::BTreeSet<String> = stored.iter().map(|i| format!("o{i}")).collect();
    let got: std::collections::BTreeSet<String> = listed(c).await.into_iter().collect();
    assert!(
        got == want,
        "LIST: extra {:?}, missing {:?}",
        got.difference(&want).take(5).collect::<Vec<_>>(),
        want.difference(&got).take(5).collect::<Vec<_>>()
    );
}

/// The whole scenario on one daemon: fill, check, delete, write again.
async fn full_set_scenario(d: &Daemon) {
    let c = d.client().await;
    c.create_bucket(
        BUCKET,
        Acl::PublicReadWrite,
        StorageClass::Standard,
        "local",
    )
    .await
    .unwrap();
    let stored = fill(&c).await;
    assert!(stored.len() > 100, "only {} objects fit", stored.len());
    let (code, body) = http(&d.http, "PUT", "/fullset/extra", &content(40_000, 1));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(code, 507, "{body}");
    assert!(body.contains("<Code>InsufficientStorage</Code>"), "{body}");
    check_all(&c, &stored).await;
    let (code, got) = http(&d.http, "GET", &format!("/fullset/o{}", stored[0]), b"");
    assert_eq!(code, 200);
    assert!(got == content(fill_size(stored[0]), stored[0]));
    // Deletes are taken on the full set (their records use the reserve): half of them.
    let (gone, kept): (Vec<u64>, Vec<u64>) = stored.iter().partition(|&&i| i % 4 < 2);
    let (code, _) = http(&d.http, "DELETE", &format!("/fullset/o{}", gone[0]), b"");
    assert_eq!(code, 204);
    for &i in &gone[1..] {
        c.delete_object(BUCKET, &format!("o{i}")).await.unwrap();
    }
    // Half the live data is gone: a third of it can be written again.
    for j in 0..(gone.len() / 3) as u64 {
        let seed = 100_000 + j;
        put(&c, &format!("again{j}"), fill_size(j), seed)
            .await
            .unwrap_or_else(|e| panic!("put again{j} after the deletes: {e}"));
    }
    let (code, body) = http(&d.http, "PUT", "/fullset/extra", &content(40_000, 1));
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    check_all(&c, &kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_device_set_refuses_puts_with_507_and_takes_deletes() {
    let d = Daemon::start_http_sized("32MiB");
    full_set_scenario(&d).await;
}

/// Overwrites of 16 keys (about 3 MB live) by four clients, 1 600 in all (about 290 MB,
/// four times the set's user space): none is refused, and the last writes read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_overwrites_of_a_small_live_set_never_fill_the_set() {
    const KEYS: u64 = 16;
    const WRITES_PER_CLIENT: u64 = 400;
    const CLIENTS: u64 = 4;
    let size = |n: u64| [60_000, 300_000][(n % 2) as usize];
    let d = Daemon::start_http_sized("32MiB");
    let c = d.client().await;
    c.create_bucket(BUCKET, Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    let started = Instant::now();
    // Client t writes keys t, t + 4, …: each key has one writer, so its last write wins.
    let tasks = (0..CLIENTS).map(|t| {
        let c = c.clone();
        tokio::spawn(async move {
            for w in 0..WRITES_PER_CLIENT {
                let key = t + CLIENTS * (w % (KEYS / CLIENTS));
                let n = w * CLIENTS + t;
                put(&c, &format!("k{key}"), size(key), n)
                    .await
                    .unwrap_or_else(|e| panic!("overwrite {n} of k{key}: {e}"));
            }
        })
    });
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let key_of = |t: u64, w: u64| t + CLIENTS * (w % (KEYS / CLIENTS));
    let written: u64 = (0..CLIENTS)
        .flat_map(|t| (0..WRITES_PER_CLIENT).map(move |w| size(key_of(t, w)) as u64))
        .sum();
    let (_, metrics) = ringstore_tests::http_get(&d.metrics, "/metrics");
    let line = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or("")
            .to_string()
    };
    eprintln!(
        "{} overwrites, {} MB in {secs:.1} s ({:.1} MB/s); {}; {}; {}",
        CLIENTS * WRITES_PER_CLIENT,
        written / 1_000_000,
        written as f64 / 1e6 / secs,
        line("ringstore_checkpoints_total"),
        line("ringstore_compaction_objects_moved_total"),
        line("ringstore_puts_throttled_total"),
    );
    for key in 0..KEYS {
        let t = key % CLIENTS;
        let last_w = (0..WRITES_PER_CLIENT)
            .filter(|&w| key_of(t, w) == key)
            .max()
            .unwrap();
        let n = last_w * CLIENTS + t;
        let (_, got) = c
            .get_object_bytes(BUCKET, &format!("k{key}"), None)
            .await
            .unwrap();
        assert!(got == content(size(key), n), "k{key} is not write {n}");
    }
}

/// A small ext4 file system on a loop device, unmounted (and its image removed) on drop.
struct LoopFs {
    image: std::path::PathBuf,
    mount: std::path::PathBuf,
}

impl LoopFs {
    /// Makes and mounts an ext4 of `mib` MiB under target/, or says why it cannot.
    fn mount(mib: u64) -> Result<LoopFs, String> {
        let base = ringstore_tests::scratch().join(format!("loopfs-{}", std::process::id()));
        std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
        let image = base.join("fs.img");
        let mount = base.join("mnt");
        std::fs::create_dir_all(&mount).map_err(|e| e.to_string())?;
        let f = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        f.set_len(mib << 20).map_err(|e| e.to_string())?;
        let run = |cmd: &str, args: &[&std::ffi::OsStr]| -> Result<(), String> {
            let out = std::process::Command::new(cmd)
                .args(args)
                .output()
                .map_err(|e| format!("{cmd}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{cmd}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        run(
            "mkfs.ext4",
            &["-q".as_ref(), "-F".as_ref(), image.as_os_str()],
        )?;
        run(
            "mount",
            &[
                "-o".as_ref(),
                "loop".as_ref(),
                image.as_os_str(),
                mount.as_os_str(),
            ],
        )?;
        Ok(LoopFs { image, mount })
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .status();
        if let Some(base) = self.image.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// Device files on a small loop-mounted ext4. Format reserves each file's space
/// (fallocate), so a file system too small for the device set is refused at format with
/// a clear error, never in the middle of a write; on one that holds the files, the device
/// set fills and behaves as above (507, nothing lost, deletes, writes again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_files_on_a_small_ext4() {
    let fs = match LoopFs::mount(224) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipped: cannot mount a loop ext4 ({why})");
            return;
        }
    };
    // 6 × 48 MiB do not fit in 224 MiB: refused at format, with the reason.
    let out = std::process::Command::new(ringstore_tests::binary())
        .args([
            "serve",
            "--device-size",
            "48MiB",
            "--no-prefill",
            "--cores",
            "1",
        ])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "",
            "--metrics-listen",
            "",
        ])
        .arg("--data-dir")
        .arg(fs.mount.join("too-big"))
        .env(
            "RINGSTORE_ROOT_ACCESS_KEY_ID",
            ringstore_tests::ACCESS_KEY_ID,
        )
        .env("RINGSTORE_ROOT_SECRET_ACCESS_KEY", ringstore_tests::SECRET)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    std::fs::remove_dir_all(fs.mount.join("too-big")).unwrap();
    // 6 × 32 MiB fit: the device set, not the file system, fills.
    let d = Daemon::start_http_sized_in(&fs.mount, "32MiB");
    full_set_scenario(&d).await;
    drop(d);
    drop(fs);
}
