//! What the daemon must hold: the state of every key, built only from ledger records.
//!
//! Keys name their bucket by their first letter (`p…`: the plain bucket, `v…`: the
//! versioned one) and their owning client, so at most one operation per key is in flight.
//! Content is a pure function of (run seed, key, seq): nothing stored needs to be kept.

use std::collections::{BTreeMap, BTreeSet};

use ringstore_client::Acl;

pub const PLAIN_BUCKET: &str = "crashplain";
pub const VERSIONED_BUCKET: &str = "crashvers";

/// One object version (or the only object of a plain key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    pub seq: u64,
    pub acl: Acl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Object { vid: String, obj: Obj },
    Marker { vid: String },
}

impl Version {
    pub fn vid(&self) -> &str {
        match self {
            Version::Object { vid, .. } | Version::Marker { vid } => vid,
        }
    }
}

/// A key's whole state: plain keys hold at most one version (with an empty id).
pub type KeyState = Vec<Version>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: String,
        seq: u64,
    },
    Delete {
        key: String,
    },
    DeleteMany {
        keys: Vec<String>,
    },
    Acl {
        key: String,
        acl: Acl,
        vid: Option<String>,
    },
    VPut {
        key: String,
        seq: u64,
    },
    VDelete {
        key: String,
    },
    VDeleteId {
        key: String,
        vid: String,
    },
}

impl Op {
    pub fn keys(&self) -> Vec<String> {
        match self {
            Op::DeleteMany { keys } => keys.clone(),
            Op::Put { key, .. }
            | Op::Delete { key }
            | Op::Acl { key, .. }
            | Op::VPut { key, .. }
            | Op::VDelete { key }
            | Op::VDeleteId { key, .. } => vec![key.clone()],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Delete { .. } => "del",
            Op::DeleteMany { .. } => "mdel",
            Op::Acl { .. } => "acl",
            Op::VPut { .. } => "vput",
            Op::VDelete { .. } => "vdel",
            Op::VDeleteId { .. } => "vdelid",
        }
    }

    pub fn encode(&self) -> String {
        let n = self.name();
        match self {
            Op::Put { key, seq } | Op::VPut { key, seq } => format!("{n} {key} {seq}"),
            Op::Delete { key } | Op::VDelete { key } => format!("{n} {key}"),
            Op::DeleteMany { keys } => format!("{n} {}", keys.join(",")),
            Op::Acl { key, acl, vid } => {
                format!("{n} {key} {} {}", *acl as u8, vid.as_deref().unwrap_or("-"))
            }
            Op::VDeleteId { key, vid } => format!("{n} {key} {vid}"),
        }
    }

    pub fn decode(f: &[&str]) -> Option<Op> {
        let key = || f.get(1).map(|s| s.to_string());
        let seq = || f.get(2).and_then(|s| s.parse().ok());
        Some(match *f.first()? {
            "put" => Op::Put {
                key: key()?,
                seq: seq()?,
            },
            "vput" => Op::VPut {
                key: key()?,
                seq: seq()?,
            },
            "del" => Op::Delete { key: key()? },
            "vdel" => Op::VDelete { key: key()? },
            "mdel" => Op::DeleteMany {
                keys: f.get(1)?.split(',').map(str::to_string).collect(),
            },
            "acl" => Op::Acl {
                key: key()?,
                acl: Acl::try_from(f.get(2)?.parse::<u8>().ok()?).ok()?,
                vid: f.get(3).filter(|v| **v != "-").map(|v| v.to_string()),
            },
            "vdelid" => Op::VDeleteId {
                key: key()?,
                vid: f.get(2)?.to_string(),
            },
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub keys: BTreeMap<String, KeyState>,
    /// Operations begun and neither acknowledged nor resolved.
    pub in_flight: BTreeMap<u64, Op>,
    /// Operations whose daemon answer was an error (a status, not a lost connection).
    pub errors: BTreeMap<u64, String>,
    /// Keys of an operation in flight already resolved (DELETE of several keys resolves
    /// key by key: the daemon applies each key on its own).
    pub resolved_keys: BTreeMap<u64, BTreeSet<String>>,
    pub next_seq: u64,
    pub next_op: u64,
    pub acknowledged: u64,
    pub resolved_new: u64,
    pub resolved_old: u64,
    pub kills: u64,
}

impl Model {
    pub fn apply(&mut self, r: &crate::ledger::Record) {
        use crate::ledger::Record;
        match r {
            Record::Begin { op, what } => {
                if let Op::Put { seq, .. } | Op::VPut { seq, .. } = what {
                    self.next_seq = self.next_seq.max(seq + 1);
                }
                self.next_op = self.next_op.max(op + 1);
                self.in_flight.insert(*op, what.clone());
            }
            Record::Ack { op, vid } => {
                let what = self
                    .in_flight
                    .remove(op)
                    .expect("ack of an operation begun");
                for key in what.keys() {
                    let state = self.keys.entry(key.clone()).or_default();
                    *state = effect(state, &what, vid.as_deref());
                }
                self.acknowledged += 1;
            }
            Record::Error { op, message } => {
                self.errors.insert(*op, message.clone());
            }
            Record::Resolved { op, key, new, vid } => self.resolve(*op, key, *new, vid),
            Record::Killed { .. } => self.kills += 1,
        }
    }

    fn resolve(&mut self, op: u64, key: &str, new: bool, vid: &Option<String>) {
        let what = self
            .in_flight
            .get(&op)
            .expect("resolution of an operation in flight");
        if new {
            let state = self.keys.entry(key.to_string()).or_default();
            *state = effect(state, what, vid.as_deref());
            self.resolved_new += 1;
        } else {
            self.resolved_old += 1;
        }
        let done = self.resolved_keys.entry(op).or_default();
        done.insert(key.to_string());
        if done.len() == what.keys().len() {
            self.in_flight.remove(&op);
            self.resolved_keys.remove(&op);
        }
    }

    pub fn state(&self, key: &str) -> KeyState {
        self.keys.get(key).cloned().unwrap_or_default()
    }
}

/// The state of `key` after `op` took effect on it; `vid` is the version id the daemon
/// gave a new version or marker (`None` while unknown: an in-flight candidate).
pub fn effect(state: &KeyState, op: &Op, vid: Option<&str>) -> KeyState {
    let mut s = state.clone();
    let new_vid = || vid.unwrap_or("?").to_string();
    let fresh = |seq: u64| Obj {
        seq,
        acl: Acl::Default,
    };
    match op {
        Op::Put { seq, .. } => {
            s = vec![Version::Object {
                vid: String::new(),
                obj: fresh(*seq),
            }]
        }
        Op::Delete { .. } | Op::DeleteMany { .. } => s.clear(),
        Op::Acl {
            acl, vid: target, ..
        } => {
            let target = target.as_deref().unwrap_or("");
            for v in s.iter_mut() {
                if let Version::Object { vid, obj } = v {
                    if vid == target {
                        obj.acl = *acl;
                    }
                }
            }
        }
        Op::VPut { seq, .. } => s.push(Version::Object {
            vid: new_vid(),
            obj: fresh(*seq),
        }),
        Op::VDelete { .. } => s.push(Version::Marker { vid: new_vid() }),
        Op::VDeleteId { vid: gone, .. } => s.retain(|v| v.vid() != gone),
    }
    s
}

/// The bucket a key lives in.
pub fn bucket_of(key: &str) -> &'static str {
    if key.starts_with('v') {
        VERSIONED_BUCKET
    } else {
        PLAIN_BUCKET
    }
}

/// Object sizes: packed in the log (up to 64 KiB) and striped (larger), with edges.
const SIZES: [usize; 8] = [0, 1, 4095, 5000, 65_536, 65_537, 300_000, 1_100_000];

/// The content of the object a put with `seq` wrote to `key`.
pub fn content_of(run_seed: u64, key: &str, seq: u64) -> Vec<u8> {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x1000_0000_01b3)
    });
    let x = run_seed ^ h ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // Mostly small objects, so many operations fit in a cycle; a quarter striped.
    let pick = (x >> 7) % 16;
    let len = SIZES[if pick < 12 {
        (pick % 5) as usize
    } else {
        5 + (pick % 3) as usize
    }];
    ringstore_tests::content(len, x)
}
