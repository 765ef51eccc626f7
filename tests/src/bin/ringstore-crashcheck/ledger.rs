//! The ledger: an append-only text file, fsynced after every record, of what each client
//! began, what the daemon acknowledged, and how every operation in flight at a kill was
//! resolved. Replaying it from the start rebuilds the [`Model`] exactly, so the
//! expectations checked after a restart come from what reached the disk, not from memory.
//!
//! One record a line, fields separated by single spaces (keys and version ids hold none):
//!
//! ```text
//! B <op> put    <key> <seq>          began: PUT (also an overwrite) of a plain key
//! B <op> del    <key>                began: DELETE
//! B <op> mdel   <key>,<key>,...      began: DELETE of several keys
//! B <op> acl    <key> <acl> <vid|->  began: object ACL change (of a version, or current)
//! B <op> vput   <key> <seq>          began: PUT in the versioned bucket
//! B <op> vdel   <key>                began: DELETE in the versioned bucket (a marker)
//! B <op> vdelid <key> <vid>          began: DELETE of one version by id
//! A <op> <vid|->                     acknowledged (vid: the version or marker created)
//! E <op> <message>                   failed: stays in flight (the daemon may have applied it)
//! R <op> <key> old|new <vid|->       resolved after the kill, per key
//! K <cycle>                          the daemon was killed
//! ```
//!
//! Operations that do not exist yet (multipart, append, copy) become new `B` kinds with
//! their own effect in [`Model::effect`]; `A`, `E`, `R` and the checks stay as they are.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::{Model, Op};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Begin {
        op: u64,
        what: Op,
    },
    Ack {
        op: u64,
        vid: Option<String>,
    },
    Error {
        op: u64,
        message: String,
    },
    Resolved {
        op: u64,
        key: String,
        new: bool,
        vid: Option<String>,
    },
    Killed {
        cycle: u64,
    },
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn parse_opt(s: &str) -> Option<String> {
    (s != "-").then(|| s.to_string())
}

impl Record {
    pub fn encode(&self) -> String {
        match self {
            Record::Begin { op, what } => format!("B {op} {}", what.encode()),
            Record::Ack { op, vid } => format!("A {op} {}", opt(vid)),
            Record::Error { op, message } => {
                format!("E {op} {}", message.replace(['\n', '\r'], " "))
            }
            Record::Resolved { op, key, new, vid } => {
                let side = if *new { "new" } else { "old" };
                format!("R {op} {key} {side} {}", opt(vid))
            }
            Record::Killed { cycle } => format!("K {cycle}"),
        }
    }

    pub fn decode(line: &str) -> Result<Record, String> {
        let bad = || format!("bad ledger record: {line:?}");
        let f: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| -> Result<u64, String> {
            f.get(i).and_then(|s| s.parse().ok()).ok_or_else(bad)
        };
        Ok(match f[0] {
            "B" => Record::Begin {
                op: num(1)?,
                what: Op::decode(&f[2..]).ok_or_else(bad)?,
            },
            "A" if f.len() == 3 => Record::Ack {
                op: num(1)?,
                vid: parse_opt(f[2]),
            },
            "E" => Record::Error {
                op: num(1)?,
                message: f[2..].join(" "),
            },
            "R" if f.len() == 5 => Record::Resolved {
                op: num(1)?,
                key: f[2].to_string(),
                new: f[3] == "new",
                vid: parse_opt(f[4]),
            },
            "K" => Record::Killed { cycle: num(1)? },
            _ => return Err(bad()),
        })
    }
}

/// The file and the model it describes, updated together under one lock so the model
/// never runs ahead of the disk.
pub struct Ledger {
    path: PathBuf,
    inner: Mutex<(File, Model)>,
}

impl Ledger {
    pub fn create(path: &Path) -> std::io::Result<Ledger> {
        let file = File::create(path)?;
        Ok(Ledger {
            path: path.to_path_buf(),
            inner: Mutex::new((file, Model::default())),
        })
    }

    /// Appends and fsyncs the record, then applies it to the model as it reads back from
    /// the line, so the model holds exactly what the file does.
    pub fn record(&self, r: Record) {
        let line = r.encode();
        let stored = Record::decode(&line).expect("a record decodes from its own line");
        let mut g = self.inner.lock().unwrap();
        let (file, model) = &mut *g;
        writeln!(file, "{line}").expect("write the ledger");
        file.sync_data().expect("fsync the ledger");
        model.apply(&stored);
    }

    /// Runs `f` on the model (a snapshot view; records go through [`record`](Self::record)).
    pub fn with_model<T>(&self, f: impl FnOnce(&mut Model) -> T) -> T {
        f(&mut self.inner.lock().unwrap().1)
    }

    /// Rebuilds the model from the file alone.
    pub fn replay(&self) -> Result<Model, String> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| e.to_string())?;
        let mut m = Model::default();
        for line in text.lines() {
            m.apply(&Record::decode(line)?);
        }
        Ok(m)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringstore_client::Acl;

    #[test]
    fn records_round_trip_and_replay_rebuilds_the_model() {
        let ops = [
            Op::Put {
                key: "p0-1".into(),
                seq: 4,
            },
            Op::Delete { key: "p0-1".into() },
            Op::DeleteMany {
                keys: vec!["p0-1".into(), "p0-2".into()],
            },
            Op::Acl {
                key: "v0-1".into(),
                acl: Acl::PublicRead,
                vid: Some("x".into()),
            },
            Op::Acl {
                key: "p0-1".into(),
                acl: Acl::Default,
                vid: None,
            },
            Op::VPut {
                key: "v0-1".into(),
                seq: 5,
            },
            Op::VDelete { key: "v0-1".into() },
            Op::VDeleteId {
                key: "v0-1".into(),
                vid: "x".into(),
            },
        ];
        let mut records: Vec<Record> = ops
            .iter()
            .enumerate()
            .map(|(i, o)| Record::Begin {
                op: i as u64,
                what: o.clone(),
            })
            .collect();
        records.push(Record::Ack { op: 0, vid: None });
        records.push(Record::Ack {
            op: 5,
            vid: Some("v5".into()),
        });
        records.push(Record::Error {
            op: 1,
            message: "StorageFull: no\nspace".into(),
        });
        records.push(Record::Resolved {
            op: 2,
            key: "p0-1".into(),
            new: true,
            vid: None,
        });
        records.push(Record::Killed { cycle: 3 });
        let dir = ringstore_tests::scratch();
        let path = dir.join(format!("ledger-test-{}", std::process::id()));
        let ledger = Ledger::create(&path).unwrap();
        for r in &records {
            let text = r.encode();
            let back = Record::decode(&text).unwrap();
            if let Record::Error { .. } = r {
                assert_eq!(
                    back,
                    Record::Error {
                        op: 1,
                        message: "StorageFull: no space".into()
                    }
                );
            } else {
                assert_eq!(&back, r, "{text}");
            }
            ledger.record(r.clone());
        }
        let replayed = ledger.replay().unwrap();
        assert!(ledger.with_model(|m| *m == replayed));
        assert_eq!(replayed.acknowledged, 2);
        assert_eq!(replayed.state("v0-1").len(), 1);
        // op 2 still waits for the resolution of its second key.
        assert!(replayed.in_flight.contains_key(&2));
        assert!(Record::decode("Z 1").is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
