//! kill -9 during concurrent PUTs and DELETEs, restart, and check: every acknowledged PUT
//! reads back with its MD5, every acknowledged DELETE stays deleted, and every listed
//! object is whole. Several cycles.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ringstore_client::{Acl, ListObjects, StorageClass};
use ringstore_tests::{content, Daemon};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Put(u64),
    Deleted,
    /// An operation was in flight at the kill: either outcome is allowed.
    Unknown(Option<u64>),
}

/// Content that names its own seed in its first 8 bytes, so any surviving body can be
/// checked whole even when the test does not know which write it came from.
fn body(seed: u64) -> Vec<u8> {
    let mut b = seed.to_le_bytes().to_vec();
    b.extend(content(
        [100usize, 5000, 70_000, 300_000][(seed % 4) as usize] - 8,
        seed,
    ));
    b
}

fn whole(b: &[u8]) -> bool {
    b.len() >= 8 && b == body(u64::from_le_bytes(b[..8].try_into().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_operations_survive_kill_9() {
    let mut d = Daemon::start();
    let c = d.client().await;
    c.create_bucket("killbkt", Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    drop(c);
    let ledger: Arc<Mutex<BTreeMap<u64, Fate>>> = Arc::default();
    let acknowledged = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut seed = 1u64;
    for cycle in 0..5u64 {
        let c = d.client().await;
        let workers = (0..6u64).map(|w| {
            let (c, ledger, acknowledged) = (c.clone(), ledger.clone(), acknowledged.clone());
            let base = seed + w * 1_000_000;
            tokio::spawn(async move {
                for i in 0..u64::MAX {
                    let s = base + i;
                    // Each worker owns ten keys and overwrites them: one operation per key in flight.
                    let key = w * 10 + (i * 7) % 10;
                    let delete = i % 4 == 3;
                    let before = ledger.lock().unwrap().get(&key).copied();
                    let prior = match before {
                        Some(Fate::Put(p)) => Some(p),
                        Some(Fate::Unknown(p)) => p,
                        _ => None,
                    };
                    ledger.lock().unwrap().insert(key, Fate::Unknown(prior));
                    let r = if delete {
                        c.delete_object("killbkt", &format!("k{key}"))
                            .await
                            .map(|_| Fate::Deleted)
                    } else {
                        let p = ringstore_tests::put_request("killbkt", &format!("k{key}"));
                        c.put_object_bytes(p, Bytes::from(body(s)))
                            .await
                            .map(|_| Fate::Put(s))
                    };
                    match r {
                        Ok(f) => {
                            acknowledged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            ledger.lock().unwrap().insert(key, f);
                        }
                        Err(_) => return,
                    }
                }
            })
        });
        let handles: Vec<_> = workers.collect();
        tokio::time::sleep(Duration::from_millis(500 + 200 * cycle)).await;
        d.kill9();
        for h in handles {
            let _ = h.await;
        }
        seed += 10_000_000;
        d.restart();
        let c = d.client().await;
        let snapshot = ledger.lock().unwrap().clone();
        let puts = snapshot
            .values()
            .filter(|f| matches!(f, Fate::Put(_)))
            .count();
        let dels = snapshot
            .values()
            .filter(|f| matches!(f, Fate::Deleted))
            .count();
        let total = acknowledged.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "cycle {cycle}: killed after {total} acknowledged operations in all; \
             checking the last state of 60 keys: {puts} puts, {dels} deletes"
        );
        for (key, fate) in snapshot.iter() {
            let got = c
                .get_object_bytes("killbkt", &format!("k{key}"), None)
                .await;
            match (*fate, got) {
                (Fate::Put(s), Ok((_, b))) => assert!(
                    b == body(s),
                    "cycle {cycle}: k{key} is not its acknowledged content"
                ),
                (Fate::Put(s), Err(e)) => {
                    panic!("cycle {cycle}: acknowledged k{key} (seed {s}) lost: {e}")
                }
                (Fate::Deleted, Ok(_)) => panic!("cycle {cycle}: deleted k{key} came back"),
                (Fate::Deleted, Err(e)) => assert!(e.is_not_found(), "{e}"),
                (Fate::Unknown(_), Ok((_, b))) => {
                    assert!(whole(&b), "cycle {cycle}: k{key} is not whole")
                }
                (Fate::Unknown(_), Err(e)) => assert!(e.is_not_found(), "{e}"),
            }
        }
        let page = c
            .list_objects(ListObjects {
                bucket: "killbkt".into(),
                prefix: String::new(),
                delimiter: String::new(),
                marker: String::new(),
                max_keys: 1000,
            })
            .await
            .unwrap();
        for o in &page.objects {
            let (_, b) = c.get_object_bytes("killbkt", &o.key, None).await.unwrap();
            assert!(
                b.len() as u64 == o.size && whole(&b),
                "cycle {cycle}: listed {} is not whole",
                o.key
            );
        }
    }
}
