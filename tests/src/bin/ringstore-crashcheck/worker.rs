//! One client: a random mix of operations over the keys it owns, each recorded in the
//! ledger before it is sent and again when the daemon acknowledges it. Runs until the
//! daemon dies (or the operation budget is spent).

use std::sync::Arc;

use bytes::Bytes;
use ringstore_client::{Acl, Client, Error, ObjectMeta};

use crate::ledger::{Ledger, Record};
use crate::model::{bucket_of, content_of, Model, Op, Version};
use crate::rng::Rng;

/// Keys each client owns in each bucket.
pub const KEYS_PER_CLIENT: usize = 6;
/// Versions a versioned key may hold before the client deletes the oldest by id.
const VERSIONS_MAX: usize = 4;
/// A client stops after this many operations in one cycle even if the daemon lives on.
pub const OPS_PER_CYCLE_MAX: u64 = 100_000;

pub fn key_name(bucket_letter: char, client: usize, i: usize) -> String {
    format!("{bucket_letter}{client}-{i}")
}

/// Picks the next operation from the model's view of this client's keys.
fn choose(m: &mut Model, rng: &mut Rng, client: usize) -> Op {
    let plain = key_name('p', client, rng.below(KEYS_PER_CLIENT as u64) as usize);
    let vkey = key_name('v', client, rng.below(KEYS_PER_CLIENT as u64) as usize);
    let versions = m.state(&vkey);
    if versions.len() > VERSIONS_MAX {
        let vid = versions[0].vid().to_string();
        return Op::VDeleteId { key: vkey, vid };
    }
    let acl = [Acl::Private, Acl::PublicRead, Acl::Default][rng.below(3) as usize];
    let plain_present = !m.state(&plain).is_empty();
    let mut seq = || {
        m.next_seq += 1;
        m.next_seq - 1
    };
    match rng.below(100) {
        0..40 => Op::Put {
            key: plain,
            seq: seq(),
        },
        40..48 => Op::Delete { key: plain },
        48..53 => {
            let n = 2 + rng.below(3) as usize;
            let start = rng.below(KEYS_PER_CLIENT as u64) as usize;
            let keys = (0..n)
                .map(|i| key_name('p', client, (start + i) % KEYS_PER_CLIENT))
                .collect();
            Op::DeleteMany { keys }
        }
        53..58 if plain_present => Op::Acl {
            key: plain,
            acl,
            vid: None,
        },
        58..80 => Op::VPut {
            key: vkey,
            seq: seq(),
        },
        80..88 => Op::VDelete { key: vkey },
        88..94 if !versions.is_empty() => {
            let vid = versions[rng.below(versions.len() as u64) as usize]
                .vid()
                .to_string();
            Op::VDeleteId { key: vkey, vid }
        }
        94..100 => match versions.last() {
            Some(Version::Object { vid, .. }) => Op::Acl {
                key: vkey,
                acl,
                vid: Some(vid.clone()),
            },
            _ => Op::VPut {
                key: vkey,
                seq: seq(),
            },
        },
        _ => Op::Put {
            key: plain,
            seq: seq(),
        },
    }
}

/// Runs one client until an operation fails (the daemon was killed) or the budget ends.
pub async fn run(client: usize, c: Client, ledger: Arc<Ledger>, seed: u64, run_seed: u64) {
    let mut rng = Rng::new(seed);
    for _ in 0..OPS_PER_CYCLE_MAX {
        let (op, what) = ledger.with_model(|m| {
            m.next_op += 1;
            (m.next_op - 1, choose(m, &mut rng, client))
        });
        ledger.record(Record::Begin {
            op,
            what: what.clone(),
        });
        match send(&c, &what, run_seed).await {
            Ok(vid) => ledger.record(Record::Ack { op, vid }),
            Err(e) => {
                // A status is the daemon's answer (the check reports it); anything else
                // means the connection died with the daemon: the operation stays in flight.
                if e.status().is_some() {
                    ledger.record(Record::Error {
                        op,
                        message: e.to_string(),
                    });
                }
                return;
            }
        }
    }
}

/// Checks that a put's answer describes the bytes sent.
fn acked_meta(meta: ObjectMeta, body: &[u8]) -> Result<Option<String>, Error> {
    let md5 = crate::check::md5_of(body);
    let crc = crate::check::crc64_of(body);
    assert!(
        meta.etag.md5 == md5 && meta.etag.suffix.is_none() && meta.crc64 == Some(crc),
        "{}: acknowledged with ETag {} / CRC-64 {:?}, not the content's",
        meta.key,
        meta.etag,
        meta.crc64
    );
    Ok(meta.version_id)
}

async fn send(c: &Client, op: &Op, run_seed: u64) -> Result<Option<String>, Error> {
    match op {
        Op::Put { key, seq } | Op::VPut { key, seq } => {
            let body = content_of(run_seed, key, *seq);
            let req = ringstore_tests::put_request(bucket_of(key), key);
            let meta = c.put_object_bytes(req, Bytes::from(body.clone())).await?;
            let vid = acked_meta(meta, &body)?;
            Ok(if matches!(op, Op::VPut { .. }) {
                vid
            } else {
                None
            })
        }
        Op::Delete { key } => c.delete_object(bucket_of(key), key).await.map(|_| None),
        Op::DeleteMany { keys } => {
            let r = c
                .delete_objects(bucket_of(&keys[0]), keys.clone(), false)
                .await?;
            for d in &r.results {
                assert!(
                    d.status == ringstore_client::Status::Ok,
                    "{}: {:?}",
                    d.key,
                    d.status
                );
            }
            Ok(None)
        }
        Op::Acl { key, acl, vid } => c
            .put_object_acl(bucket_of(key), key, vid.as_deref(), *acl)
            .await
            .map(|_| None),
        Op::VDelete { key } => {
            let r = c.delete_object_version(bucket_of(key), key, None).await?;
            assert!(
                r.delete_marker,
                "{key}: a delete in a versioned bucket made no marker"
            );
            Ok(r.version_id)
        }
        Op::VDeleteId { key, vid } => c
            .delete_object_version(bucket_of(key), key, Some(vid))
            .await
            .map(|_| None),
    }
}
