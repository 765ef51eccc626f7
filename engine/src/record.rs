//! Log records and index entries, and their byte encoding (FORMAT.md, "Records").
//!
//! Every record is a complete statement of new state ("key K now is X", "extent E now has
//! generation G"), never a delta, so replaying a record twice, or replaying over a fuzzy
//! checkpoint that already saw it, gives the same state.

use crate::api::{Acl, BucketInfo, ObjectAcl, ObjectType, StorageClass, Versioning};
use crate::block::BlockKind;

/// Where an object's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectData {
    /// Zero bytes.
    Empty,
    /// Packed into a log batch (small objects).
    Inline(InlineLoc),
    /// In their own stripes in data extents.
    Stripes(StripeData),
    /// No bytes: the version is a delete marker (versioned buckets).
    DeleteMarker,
}

/// Bytes `offset .. offset + len` of the payload of the log batch stripe named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InlineLoc {
    pub extent: u32,
    pub generation: u32,
    pub first_block: u32,
    pub rows: u16,
    /// The batch's sequence number (its blocks' stamp).
    pub seq: u64,
    pub offset: u32,
    pub len: u32,
}

/// An object's bytes in data stripes, as segments in byte order. A segment is what one
/// write stored (a simple put today; a multipart part or an append later), so joining
/// segments makes one object out of several writes without copying a byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeData {
    pub segments: Box<[Segment]>,
}

/// `len` bytes written by one write: its stripes share `stamp`, and every stripe but the
/// segment's last has `STRIPE_BLOCKS_MAX` rows. Runs are consecutive stripes in one extent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub len: u64,
    pub stamp: u64,
    pub runs: Box<[Run]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub extent: u32,
    pub generation: u32,
    pub first_block: u32,
    pub stripes: u32,
    /// Rows of this run's last stripe.
    pub last_rows: u16,
}

impl Run {
    /// 18 bytes: extent u32, generation u32, first_block u32, stripes u32, last_rows u16.
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.extent);
        w.u32(self.generation);
        w.u32(self.first_block);
        w.u32(self.stripes);
        w.u16(self.last_rows);
    }

    pub fn decode(r: &mut Reader) -> Result<Run, RecordError> {
        Ok(Run {
            extent: r.u32()?,
            generation: r.u32()?,
            first_block: r.u32()?,
            stripes: r.u32()?,
            last_rows: r.u16()?,
        })
    }
}

/// One version of an object in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEntry {
    pub size: u64,
    pub last_modified_ms: u64,
    pub etag: [u8; 16],
    /// Multipart: the part count of the ETag's `-N` suffix (0 for a simple put).
    pub etag_parts: u32,
    pub object_type: ObjectType,
    pub acl: ObjectAcl,
    /// The version id; `NULL_VERSION` (0) for the null version.
    pub version: u64,
    /// CRC-64/XZ of the content. For an appendable object it is the running CRC of all
    /// appends (and the next append position is `size`).
    pub crc64: u64,
    /// Content type and user metadata, encoded (empty when there are none).
    pub extra: Box<[u8]>,
    pub data: ObjectData,
}

impl ObjectEntry {
    pub fn is_delete_marker(&self) -> bool {
        matches!(self.data, ObjectData::DeleteMarker)
    }

    /// A delete marker written at `last_modified_ms` with id `version`.
    pub fn delete_marker(version: u64, last_modified_ms: u64) -> ObjectEntry {
        ObjectEntry {
            size: 0,
            last_modified_ms,
            etag: [0; 16],
            etag_parts: 0,
            object_type: ObjectType::Normal,
            acl: ObjectAcl::Default,
            version,
            crc64: 0,
            extra: Box::default(),
            data: ObjectData::DeleteMarker,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The partition started using `extent` with this generation for `kind` blocks.
    ExtentOpen {
        extent: u32,
        generation: u32,
        kind: BlockKind,
    },
    /// A bucket was created or its mutable attributes changed.
    BucketPut(BucketInfo),
    BucketDelete {
        name: String,
    },
    /// `key` in `bucket` now is `entry`. For inline data the bytes follow the record in
    /// the batch and `entry.data` is filled in by the reader.
    /// With `if_absent`, the put takes effect only if the key does not exist when the
    /// record is applied (decided the same way live and at replay).
    ObjectPut {
        bucket: String,
        key: String,
        entry: ObjectEntry,
        if_absent: bool,
    },
    ObjectDelete {
        bucket: String,
        key: String,
    },
    /// Compaction moved an inline object: `key` now is `entry` if its data still is the
    /// inline object at `from` (otherwise it was overwritten meanwhile and this is void).
    ObjectMove {
        bucket: String,
        key: String,
        from: InlineLoc,
        entry: ObjectEntry,
    },
    /// Compaction rewrote an object's stripes elsewhere: `key` now is `entry` if its data
    /// still is the stripes whose first segment has stamp `from_stamp` (stamps are unique
    /// per write); otherwise the object changed meanwhile and this is void.
    ObjectRelocate {
        bucket: String,
        key: String,
        from_stamp: u64,
        entry: ObjectEntry,
    },
    /// A put in a bucket whose versioning is enabled or suspended: `entry` becomes `key`'s
    /// current version. A null version (`entry.version == 0`) first replaces the key's
    /// existing null version, wherever it is in the chain. With `if_absent`, the put takes
    /// effect only if the key has no current version or its current version is a delete
    /// marker.
    ObjectVersionPut {
        bucket: String,
        key: String,
        entry: ObjectEntry,
        if_absent: bool,
    },
    /// A delete without a version id in a versioned bucket: a delete marker with id
    /// `version` becomes the current version (a null marker replaces the null version).
    ObjectDeleteMarker {
        bucket: String,
        key: String,
        version: u64,
        last_modified_ms: u64,
    },
    /// Version `version` of `key` is removed for good (a no-op if it does not exist).
    ObjectVersionDelete {
        bucket: String,
        key: String,
        version: u64,
    },
    /// Version `version` of `key` now has ACL `acl` (a no-op if it does not exist).
    ObjectAclPut {
        bucket: String,
        key: String,
        version: u64,
        acl: ObjectAcl,
    },
}

impl Record {
    /// The entry whose inline bytes follow this record in its batch, if any.
    pub fn inline_entry_mut(&mut self) -> Option<&mut ObjectEntry> {
        match self {
            Record::ObjectPut { entry, .. }
            | Record::ObjectVersionPut { entry, .. }
            | Record::ObjectMove { entry, .. } => {
                matches!(entry.data, ObjectData::Inline(_)).then_some(entry)
            }
            _ => None,
        }
    }
}

const REC_EXTENT_OPEN: u8 = 1;
const REC_BUCKET_PUT: u8 = 2;
const REC_BUCKET_DELETE: u8 = 3;
const REC_OBJECT_PUT: u8 = 4;
const REC_OBJECT_DELETE: u8 = 5;
const REC_OBJECT_MOVE: u8 = 6;
const REC_OBJECT_RELOCATE: u8 = 7;
const REC_OBJECT_VERSION_PUT: u8 = 8;
const REC_OBJECT_DELETE_MARKER: u8 = 9;
const REC_OBJECT_VERSION_DELETE: u8 = 10;
const REC_OBJECT_ACL_PUT: u8 = 11;

const DATA_EMPTY: u8 = 0;
const DATA_INLINE: u8 = 1;
const DATA_STRIPES: u8 = 2;
const DATA_DELETE_MARKER: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record is malformed: {0}")]
pub struct RecordError(pub &'static str);

/// Little-endian writer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

/// Little-endian reader that never panics.
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() - self.at < n {
            return Err(RecordError("truncated"));
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, RecordError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    pub fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], RecordError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<String, RecordError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| RecordError("invalid UTF-8"))
    }
    pub fn is_empty(&self) -> bool {
        self.at == self.buf.len()
    }
}

/// Encodes content type and user metadata into an entry's `extra` bytes.
pub fn encode_extra(content_type: &str, user_meta: &[(String, String)]) -> Box<[u8]> {
    if content_type.is_empty() && user_meta.is_empty() {
        return Box::default();
    }
    let mut w = Writer::default();
    w.str(content_type);
    w.u32(user_meta.len() as u32);
    for (k, v) in user_meta {
        w.str(k);
        w.str(v);
    }
    w.buf.into_boxed_slice()
}

pub fn decode_extra(extra: &[u8]) -> Result<(String, Vec<(String, String)>), RecordError> {
    if extra.is_empty() {
        return Ok((String::new(), Vec::new()));
    }
    let mut r = Reader::new(extra);
    let ct = r.str()?;
    let n = r.u32()? as usize;
    let mut meta = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        meta.push((r.str()?, r.str()?));
    }
    Ok((ct, meta))
}

fn encode_inline_loc(w: &mut Writer, l: &InlineLoc) {
    w.u32(l.extent);
    w.u32(l.generation);
    w.u32(l.first_block);
    w.u16(l.rows);
    w.u64(l.seq);
    w.u32(l.offset);
    w.u32(l.len);
}

fn decode_inline_loc(r: &mut Reader) -> Result<InlineLoc, RecordError> {
    Ok(InlineLoc {
        extent: r.u32()?,
        generation: r.u32()?,
        first_block: r.u32()?,
        rows: r.u16()?,
        seq: r.u64()?,
        offset: r.u32()?,
        len: r.u32()?,
    })
}

pub fn encode_entry(w: &mut Writer, e: &ObjectEntry) {
    w.u64(e.size);
    w.u64(e.last_modified_ms);
    w.buf.extend_from_slice(&e.etag);
    w.u32(e.etag_parts);
    w.u8(e.object_type as u8);
    w.u8(e.acl as u8);
    w.u64(e.version);
    w.u64(e.crc64);
    w.bytes(&e.extra);
    match &e.data {
        ObjectData::Empty => w.u8(DATA_EMPTY),
        ObjectData::DeleteMarker => w.u8(DATA_DELETE_MARKER),
        ObjectData::Inline(l) => {
            w.u8(DATA_INLINE);
            encode_inline_loc(w, l);
        }
        ObjectData::Stripes(s) => {
            w.u8(DATA_STRIPES);
            w.u32(s.segments.len() as u32);
            for seg in s.segments.iter() {
                w.u64(seg.len);
                w.u64(seg.stamp);
                w.u32(seg.runs.len() as u32);
                for r in seg.runs.iter() {
                    r.encode(w);
                }
            }
        }
    }
}

pub fn decode_entry(r: &mut Reader) -> Result<ObjectEntry, RecordError> {
    let size = r.u64()?;
    let last_modified_ms = r.u64()?;
    let etag: [u8; 16] = r.take(16)?.try_into().unwrap();
    let etag_parts = r.u32()?;
    let object_type = ObjectType::from_u8(r.u8()?).ok_or(RecordError("object type"))?;
    let acl = ObjectAcl::from_u8(r.u8()?).ok_or(RecordError("object acl"))?;
    let version = r.u64()?;
    let crc64 = r.u64()?;
    let extra = r.bytes()?.to_vec().into_boxed_slice();
    let data = match r.u8()? {
        DATA_EMPTY => ObjectData::Empty,
        DATA_DELETE_MARKER => ObjectData::DeleteMarker,
        DATA_INLINE => ObjectData::Inline(decode_inline_loc(r)?),
        DATA_STRIPES => {
            let count = r.u32()? as usize;
            if count > r.buf.len() {
                return Err(RecordError("segment count"));
            }
            let mut segments = Vec::with_capacity(count);
            for _ in 0..count {
                let (len, stamp, n) = (r.u64()?, r.u64()?, r.u32()? as usize);
                if n > r.buf.len() {
                    return Err(RecordError("run count"));
                }
                let mut runs = Vec::with_capacity(n);
                for _ in 0..n {
                    runs.push(Run::decode(r)?);
                }
                segments.push(Segment {
                    len,
                    stamp,
                    runs: runs.into_boxed_slice(),
                });
            }
            ObjectData::Stripes(StripeData {
                segments: segments.into_boxed_slice(),
            })
        }
        _ => return Err(RecordError("data kind")),
    };
    Ok(ObjectEntry {
        size,
        last_modified_ms,
        etag,
        etag_parts,
        object_type,
        acl,
        version,
        crc64,
        extra,
        data,
    })
}

pub fn encode_bucket(w: &mut Writer, b: &BucketInfo) {
    w.str(&b.name);
    w.str(&b.region);
    w.u8(b.acl as u8);
    w.u8(b.storage_class as u8);
    w.str(&b.owner);
    w.u64(b.created_ms);
    w.u8(b.versioning as u8);
}

pub fn decode_bucket(r: &mut Reader) -> Result<BucketInfo, RecordError> {
    Ok(BucketInfo {
        name: r.str()?,
        region: r.str()?,
        acl: Acl::from_u8(r.u8()?).ok_or(RecordError("acl"))?,
        storage_class: StorageClass::from_u8(r.u8()?).ok_or(RecordError("storage class"))?,
        owner: r.str()?,
        created_ms: r.u64()?,
        versioning: Versioning::from_u8(r.u8()?).ok_or(RecordError("versioning"))?,
    })
}

impl Record {
    /// Appends `[type u8][body_len u32][body]`.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.buf.len();
        w.u8(0);
        w.u32(0);
        let ty = match self {
            Record::ExtentOpen {
                extent,
                generation,
                kind,
            } => {
                w.u32(*extent);
                w.u32(*generation);
                w.u8(*kind as u8);
                REC_EXTENT_OPEN
            }
            Record::BucketPut(b) => {
                encode_bucket(w, b);
                REC_BUCKET_PUT
            }
            Record::BucketDelete { name } => {
                w.str(name);
                REC_BUCKET_DELETE
            }
            Record::ObjectPut {
                bucket,
                key,
                entry,
                if_absent,
            } => {
                w.str(bucket);
                w.str(key);
                w.u8(*if_absent as u8);
                encode_entry(w, entry);
                REC_OBJECT_PUT
            }
            Record::ObjectDelete { bucket, key } => {
                w.str(bucket);
                w.str(key);
                REC_OBJECT_DELETE
            }
            Record::ObjectMove {
                bucket,
                key,
                from,
                entry,
            } => {
                w.str(bucket);
                w.str(key);
                encode_inline_loc(w, from);
                encode_entry(w, entry);
                REC_OBJECT_MOVE
            }
            Record::ObjectRelocate {
                bucket,
                key,
                from_stamp,
                entry,
            } => {
                w.str(bucket);
                w.str(key);
                w.u64(*from_stamp);
                encode_entry(w, entry);
                REC_OBJECT_RELOCATE
            }
            Record::ObjectVersionPut {
                bucket,
                key,
                entry,
                if_absent,
            } => {
                w.str(bucket);
                w.str(key);
                w.u8(*if_absent as u8);
                encode_entry(w, entry);
                REC_OBJECT_VERSION_PUT
            }
            Record::ObjectDeleteMarker {
                bucket,
                key,
                version,
                last_modified_ms,
            } => {
                w.str(bucket);
                w.str(key);
                w.u64(*version);
                w.u64(*last_modified_ms);
                REC_OBJECT_DELETE_MARKER
            }
            Record::ObjectVersionDelete {
                bucket,
                key,
                version,
            } => {
                w.str(bucket);
                w.str(key);
                w.u64(*version);
                REC_OBJECT_VERSION_DELETE
            }
            Record::ObjectAclPut {
                bucket,
                key,
                version,
                acl,
            } => {
                w.str(bucket);
                w.str(key);
                w.u64(*version);
                w.u8(*acl as u8);
                REC_OBJECT_ACL_PUT
            }
        };
        let body_len = (w.buf.len() - start - 5) as u32;
        w.buf[start] = ty;
        w.buf[start + 1..start + 5].copy_from_slice(&body_len.to_le_bytes());
    }

    pub fn decode(r: &mut Reader) -> Result<Record, RecordError> {
        let ty = r.u8()?;
        let body = r.bytes()?;
        let mut b = Reader::new(body);
        let rec = match ty {
            REC_EXTENT_OPEN => Record::ExtentOpen {
                extent: b.u32()?,
                generation: b.u32()?,
                kind: BlockKind::from_u8(b.u8()?).ok_or(RecordError("block kind"))?,
            },
            REC_BUCKET_PUT => Record::BucketPut(decode_bucket(&mut b)?),
            REC_BUCKET_DELETE => Record::BucketDelete { name: b.str()? },
            REC_OBJECT_PUT => Record::ObjectPut {
                bucket: b.str()?,
                key: b.str()?,
                if_absent: b.u8()? != 0,
                entry: decode_entry(&mut b)?,
            },
            REC_OBJECT_DELETE => Record::ObjectDelete {
                bucket: b.str()?,
                key: b.str()?,
            },
            REC_OBJECT_MOVE => Record::ObjectMove {
                bucket: b.str()?,
                key: b.str()?,
                from: decode_inline_loc(&mut b)?,
                entry: decode_entry(&mut b)?,
            },
            REC_OBJECT_RELOCATE => Record::ObjectRelocate {
                bucket: b.str()?,
                key: b.str()?,
                from_stamp: b.u64()?,
                entry: decode_entry(&mut b)?,
            },
            REC_OBJECT_VERSION_PUT => Record::ObjectVersionPut {
                bucket: b.str()?,
                key: b.str()?,
                if_absent: b.u8()? != 0,
                entry: decode_entry(&mut b)?,
            },
            REC_OBJECT_DELETE_MARKER => Record::ObjectDeleteMarker {
                bucket: b.str()?,
                key: b.str()?,
                version: b.u64()?,
                last_modified_ms: b.u64()?,
            },
            REC_OBJECT_VERSION_DELETE => Record::ObjectVersionDelete {
                bucket: b.str()?,
                key: b.str()?,
                version: b.u64()?,
            },
            REC_OBJECT_ACL_PUT => Record::ObjectAclPut {
                bucket: b.str()?,
                key: b.str()?,
                version: b.u64()?,
                acl: ObjectAcl::from_u8(b.u8()?).ok_or(RecordError("object acl"))?,
            },
            _ => return Err(RecordError("record type")),
        };
        if !b.is_empty() {
            return Err(RecordError("trailing bytes in record"));
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_an_error() {
        let entry = ObjectEntry {
            size: 5,
            last_modified_ms: 1,
            etag: [7; 16],
            etag_parts: 0,
            object_type: ObjectType::Normal,
            acl: ObjectAcl::PublicRead,
            version: 0x1234_5678_9abc,
            crc64: 0x995d_c9bb_df19_39fa,
            extra: encode_extra("text/plain", &[("a".into(), "b".into())]),
            data: ObjectData::Stripes(StripeData {
                segments: vec![
                    Segment {
                        len: 4_000_000,
                        stamp: 9,
                        runs: vec![Run {
                            extent: 1,
                            generation: 2,
                            first_block: 3,
                            stripes: 4,
                            last_rows: 5,
                        }]
                        .into(),
                    },
                    Segment {
                        len: 10,
                        stamp: 11,
                        runs: vec![Run {
                            extent: 2,
                            generation: 1,
                            first_block: 0,
                            stripes: 1,
                            last_rows: 1,
                        }]
                        .into(),
                    },
                ]
                .into(),
            }),
        };
        let recs = vec![
            Record::ExtentOpen {
                extent: 3,
                generation: 4,
                kind: BlockKind::Data,
            },
            Record::ObjectPut {
                bucket: "b".into(),
                key: "k".into(),
                entry: entry.clone(),
                if_absent: true,
            },
            Record::ObjectVersionPut {
                bucket: "b".into(),
                key: "k".into(),
                entry,
                if_absent: false,
            },
            Record::ObjectVersionPut {
                bucket: "b".into(),
                key: "m".into(),
                entry: ObjectEntry::delete_marker(0, 3),
                if_absent: true,
            },
            Record::ObjectDeleteMarker {
                bucket: "b".into(),
                key: "k".into(),
                version: 77,
                last_modified_ms: 5,
            },
            Record::ObjectVersionDelete {
                bucket: "b".into(),
                key: "k".into(),
                version: 77,
            },
            Record::ObjectAclPut {
                bucket: "b".into(),
                key: "k".into(),
                version: 0,
                acl: ObjectAcl::PublicReadWrite,
            },
            Record::ObjectDelete {
                bucket: "b".into(),
                key: "k".into(),
            },
            Record::BucketDelete { name: "b".into() },
        ];
        let mut w = Writer::default();
        recs.iter().for_each(|r| r.encode(&mut w));
        let mut r = Reader::new(&w.buf);
        for rec in &recs {
            assert_eq!(&Record::decode(&mut r).unwrap(), rec);
        }
        assert!(r.is_empty());
        let mut seed = 1u64;
        for _ in 0..2000 {
            let mut buf = w.buf.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % buf.len();
            buf[i] = (seed >> 32) as u8;
            let mut r = Reader::new(&buf);
            while !r.is_empty() && Record::decode(&mut r).is_ok() {}
        }
        assert_eq!(decode_extra(&[]).unwrap(), (String::new(), vec![]));
    }
}
