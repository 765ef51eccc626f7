//! After a restart: what the daemon holds, key by key, against the model. A key with an
//! operation in flight at the kill must show exactly the state before it or the state
//! after it; the outcome is written to the ledger so the next cycle starts from it.

use ringstore_client::{Acl, Client, Error, ListObjectVersions, ListObjects};

use crate::ledger::{Ledger, Record};
use crate::model::VERSIONED_BUCKET;
use crate::model::{bucket_of, content_of, effect, Op, Version, PLAIN_BUCKET};

pub fn md5_of(b: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(b).into()
}

pub fn crc64_of(b: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(b)
}

/// One version as the daemon holds it; the body is kept as its length and digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Object {
        vid: String,
        len: usize,
        md5: [u8; 16],
        crc64: u64,
        acl: Acl,
    },
    Marker {
        vid: String,
    },
}

/// What one cycle's check found.
#[derive(Debug, Default)]
pub struct Report {
    pub failures: Vec<String>,
    pub versions_verified: u64,
    pub in_flight_new: u64,
    pub in_flight_old: u64,
}

/// Reads a version whole and checks it against its own metadata (ETag and CRC-64).
async fn read_version(c: &Client, key: &str, vid: Option<&str>) -> Result<Seen, String> {
    let bucket = bucket_of(key);
    let err = |e: Error| format!("{key} (version {vid:?}): {e}");
    let stream = c
        .get_object_version(bucket, key, vid, None)
        .await
        .map_err(err)?;
    let meta = stream.response.meta.clone();
    let body = stream.collect_bytes().await.map_err(err)?;
    let (md5, crc64) = (md5_of(&body), crc64_of(&body));
    if meta.etag.md5 != md5 || meta.crc64 != Some(crc64) || meta.size != body.len() as u64 {
        return Err(format!(
            "{key} (version {vid:?}): body does not match its ETag/CRC-64/size"
        ));
    }
    let acl = c.get_object_acl(bucket, key, vid).await.map_err(err)?;
    Ok(Seen::Object {
        vid: vid.unwrap_or("").to_string(),
        len: body.len(),
        md5,
        crc64,
        acl,
    })
}

/// Every version of a key, oldest first.
async fn observe(c: &Client, key: &str) -> Result<Vec<Seen>, String> {
    if bucket_of(key) == PLAIN_BUCKET {
        return match c.head_object(PLAIN_BUCKET, key).await {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(format!("{key}: HEAD: {e}")),
            Ok(_) => Ok(vec![read_version(c, key, None).await?]),
        };
    }
    let req = ListObjectVersions {
        bucket: VERSIONED_BUCKET.into(),
        prefix: key.into(),
        delimiter: String::new(),
        key_marker: String::new(),
        version_id_marker: None,
        max_keys: 1000,
    };
    let page = c
        .list_object_versions(req)
        .await
        .map_err(|e| format!("{key}: {e}"))?;
    let mut seen = Vec::new();
    for (i, v) in page.versions.iter().filter(|v| v.key == key).enumerate() {
        if v.is_latest != (i == 0) {
            return Err(format!(
                "{key}: version {} has is_latest {}",
                v.version_id, v.is_latest
            ));
        }
        seen.push(match v.delete_marker {
            true => Seen::Marker {
                vid: v.version_id.clone(),
            },
            false => read_version(c, key, Some(&v.version_id)).await?,
        });
    }
    seen.reverse();
    let head = c.head_object(VERSIONED_BUCKET, key).await;
    match (seen.last(), head) {
        (Some(Seen::Object { vid, md5, .. }), Ok(h))
            if h.version_id.as_deref() == Some(vid) && h.etag.md5 == *md5 => {}
        (None | Some(Seen::Marker { .. }), Err(e)) if e.is_not_found() => {}
        (latest, h) => return Err(format!("{key}: HEAD {h:?} but latest version {latest:?}")),
    }
    Ok(seen)
}

/// Whether the daemon's versions are the model's; an unknown id (`?`) matches any. Returns
/// the id the daemon gave the unknown version.
fn matches(run_seed: u64, key: &str, want: &[Version], seen: &[Seen]) -> Option<Option<String>> {
    if want.len() != seen.len() {
        return None;
    }
    let mut unknown = None;
    for (w, s) in want.iter().zip(seen) {
        let mut vid_ok = |want: &str, got: &str| {
            if want == "?" {
                unknown = Some(got.to_string());
                true
            } else {
                want == got
            }
        };
        let ok = match (w, s) {
            (Version::Marker { vid }, Seen::Marker { vid: got }) => vid_ok(vid, got),
            (
                Version::Object { vid, obj },
                Seen::Object {
                    vid: got,
                    len,
                    md5,
                    crc64,
                    acl,
                },
            ) => {
                let body = content_of(run_seed, key, obj.seq);
                body.len() == *len
                    && md5_of(&body) == *md5
                    && crc64_of(&body) == *crc64
                    && obj.acl == *acl
                    && vid_ok(vid, got)
            }
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    Some(unknown)
}

/// Checks one key and resolves the operation in flight on it, if any.
pub async fn check_key(c: &Client, ledger: &Ledger, run_seed: u64, key: &str, r: &mut Report) {
    let (old, pending) = ledger.with_model(|m| {
        let op = m
            .in_flight
            .iter()
            .find(|(_, o)| o.keys().iter().any(|k| k == key));
        (m.state(key), op.map(|(id, o)| (*id, o.clone())))
    });
    let seen = match observe(c, key).await {
        Ok(s) => s,
        Err(e) => return r.failures.push(e),
    };
    r.versions_verified += seen.len() as u64;
    let new = pending.as_ref().map(|(_, op)| effect(&old, op, None));
    let outcome = match (matches(run_seed, key, &old, &seen), &new) {
        (Some(_), _) => Some((false, None)),
        (None, Some(new)) => matches(run_seed, key, new, &seen).map(|vid| (true, vid)),
        (None, None) => None,
    };
    let Some((is_new, vid)) = outcome else {
        return r.failures.push(format!(
            "{key}: the daemon holds {seen:?}; acknowledged state {old:?}{}",
            match &pending {
                Some((id, op)) => format!(", or after op {id} in flight ({op:?}): {new:?}"),
                None => String::new(),
            }
        ));
    };
    if let Some((op, _)) = pending {
        if is_new {
            r.in_flight_new += 1;
        } else {
            r.in_flight_old += 1;
        }
        let key = key.to_string();
        ledger.record(Record::Resolved {
            op,
            key,
            new: is_new,
            vid,
        });
    }
}

/// LIST agrees with HEAD: every listed key heads with the same size and ETag, and every key
/// of `keys` that HEAD finds is listed (and nothing else is).
pub async fn list_agrees_with_head(c: &Client, bucket: &str, keys: &[String], r: &mut Report) {
    let mut listed = std::collections::BTreeMap::new();
    let mut marker = String::new();
    loop {
        let req = ListObjects {
            bucket: bucket.into(),
            prefix: String::new(),
            delimiter: String::new(),
            marker: marker.clone(),
            max_keys: 1000,
        };
        let page = match c.list_objects(req).await {
            Ok(p) => p,
            Err(e) => return r.failures.push(format!("LIST {bucket}: {e}")),
        };
        for o in &page.objects {
            listed.insert(o.key.clone(), (o.size, o.etag));
        }
        match page.next_marker {
            Some(m) if page.is_truncated => marker = m,
            _ => break,
        }
    }
    for key in keys {
        let head = c.head_object(bucket, key).await;
        match (head, listed.remove(key)) {
            (Ok(h), Some((size, etag))) if h.size == size && h.etag == etag => {}
            (Err(e), None) if e.is_not_found() => {}
            (h, l) => r
                .failures
                .push(format!("{bucket}/{key}: HEAD {h:?}, LIST {l:?}")),
        }
    }
    for key in listed.keys() {
        r.failures
            .push(format!("{bucket}: LIST shows {key}, which no client wrote"));
    }
}

/// The whole check of one cycle.
pub async fn check(c: &Client, ledger: &Ledger, run_seed: u64, keys: &[String]) -> Report {
    let mut r = Report::default();
    for key in keys {
        check_key(c, ledger, run_seed, key, &mut r).await;
    }
    let left: Vec<(u64, Op)> =
        ledger.with_model(|m| m.in_flight.iter().map(|(id, o)| (*id, o.clone())).collect());
    for (id, op) in left {
        r.failures
            .push(format!("op {id} ({op:?}) is still unresolved"));
    }
    for (id, e) in ledger.with_model(|m| m.errors.clone()) {
        r.failures.push(format!("op {id} was refused: {e}"));
    }
    for bucket in [PLAIN_BUCKET, VERSIONED_BUCKET] {
        let mine: Vec<String> = keys
            .iter()
            .filter(|k| bucket_of(k) == bucket)
            .cloned()
            .collect();
        list_agrees_with_head(c, bucket, &mine, &mut r).await;
    }
    match ledger.replay() {
        Ok(m) if ledger.with_model(|now| *now == m) => {}
        Ok(_) => r
            .failures
            .push("replaying the ledger gives another model".into()),
        Err(e) => r.failures.push(format!("{}: {e}", ledger.path().display())),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Obj;

    fn seen_of(key: &str, vid: &str, seq: u64, acl: Acl) -> Seen {
        let body = content_of(7, key, seq);
        Seen::Object {
            vid: vid.into(),
            len: body.len(),
            md5: md5_of(&body),
            crc64: crc64_of(&body),
            acl,
        }
    }

    fn object(vid: &str, seq: u64) -> Version {
        let obj = Obj {
            seq,
            acl: Acl::Default,
        };
        let vid = vid.into();
        Version::Object { vid, obj }
    }

    #[test]
    fn another_writes_content_or_acl_does_not_match() {
        let want = vec![object("", 3)];
        let key = "p0-1";
        assert_eq!(
            matches(7, key, &want, &[seen_of(key, "", 3, Acl::Default)]),
            Some(None)
        );
        assert_eq!(
            matches(7, key, &want, &[seen_of(key, "", 4, Acl::Default)]),
            None
        );
        assert_eq!(
            matches(7, key, &want, &[seen_of(key, "", 3, Acl::Private)]),
            None
        );
        assert_eq!(matches(7, key, &want, &[]), None);
        assert_eq!(matches(7, key, &[], &[]), Some(None));
    }

    #[test]
    fn an_in_flight_version_matches_only_as_one_new_latest_version() {
        let key = "v0-1";
        let old = vec![object("a1", 1)];
        let put = Op::VPut {
            key: key.into(),
            seq: 2,
        };
        let new = effect(&old, &put, None);
        let one = seen_of(key, "a1", 1, Acl::Default);
        let two = seen_of(key, "b2", 2, Acl::Default);
        assert_eq!(
            matches(7, key, &old, std::slice::from_ref(&one)),
            Some(None)
        );
        assert_eq!(
            matches(7, key, &new, &[one.clone(), two.clone()]),
            Some(Some("b2".into()))
        );
        // Out of order, or another version's content under the new id: neither state.
        assert_eq!(matches(7, key, &new, &[two.clone(), one.clone()]), None);
        let wrong = seen_of(key, "b2", 9, Acl::Default);
        assert_eq!(matches(7, key, &new, &[one.clone(), wrong]), None);
        let marker = Seen::Marker { vid: "b2".into() };
        assert_eq!(matches(7, key, &new, &[one, marker]), None);
    }
}
