//! Opcode → engine call: one function per operation, each decoding its request body and
//! returning its response message (or a `Failure`, sent as an error response).
//!
//! PutObject's body arrives through the channel the connection's read loop feeds;
//! GetObject streams its body as chunk frames here.

use std::rc::Rc;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::StreamExt;
use ringstore_engine::{Error, GetReply, Handle, ListParams, PutBody};
use ringstore_proto::constants::{CHUNK_BYTES_MAX, LIST_BUCKETS_MAX, LIST_KEYS_MAX};
use ringstore_proto::object::LIST_PAGE_BYTES_MAX;
use ringstore_proto::{
    AdminJson, AdminStatus, Body, BodyError, BucketInfo, BucketList, CreateBucket, DeleteBucket,
    DeleteObject, DeleteObjects, DeleteObjectsResponse, DeleteResult, Empty, Frame, FrameHeader,
    GetBucketInfo, GetObject, GetObjectResponse, HeadBucket, HeadObject, ListBuckets, ListObjects,
    ListPage, ObjectMeta, Opcode, Ping, PutBucketAcl, PutObject, Status,
};

use crate::authz::{self, Who};
use crate::connection::FrameSink;
use crate::convert::{
    acl_from_proto, bucket_to_proto, meta_to_proto, put_options_from_proto, range_from_proto,
    storage_class_from_proto, summary_to_proto,
};
use crate::errors::status_of;
use crate::listener::ExecutorCtx;
use crate::metrics;
use crate::scrub_ops;
use crate::user_ops;
use crate::versions;

/// `max_keys` / `max_buckets` of 0 means this many, as OSS.
const LIST_DEFAULT: usize = 100;

/// A request that failed: the status and the message of its error response.
#[derive(Debug)]
pub struct Failure {
    pub status: Status,
    pub message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            status: status_of(&e),
            message: e.to_string(),
        }
    }
}

impl From<BodyError> for Failure {
    fn from(e: BodyError) -> Failure {
        Failure {
            status: e.status(),
            message: format!("malformed request body: {e}"),
        }
    }
}

/// An upload, decoded by the read loop (which needs its length to police the chunks).
pub struct Put {
    pub message: PutObject,
    pub body: PutBody,
}

/// The identity a request acts as.
pub struct Caller {
    pub who: Who,
}

/// Serves one request and sends its whole response.
pub async fn serve(
    ctx: Rc<ExecutorCtx>,
    mut sink: FrameSink,
    caller: Caller,
    frame: Frame,
    opcode: Opcode,
    put: Option<Put>,
) {
    let (op, id, body) = (frame.header.opcode, frame.header.request_id, frame.body);
    let h = &ctx.handle;
    let s = &mut sink;
    if let Err(f) = authz::authorize(h, &caller.who, opcode, &body).await {
        s.error(op, id, f.status, &f.message).await;
        return;
    }
    match opcode {
        Opcode::Ping => reply(s, op, id, Ping::decode(&body).map(|_| Empty)).await,
        Opcode::CreateBucket => reply(s, op, id, create_bucket(h, &caller, &body).await).await,
        Opcode::DeleteBucket => reply(s, op, id, delete_bucket(h, &body).await).await,
        Opcode::HeadBucket => reply(s, op, id, head_bucket(h, &caller, &body)).await,
        Opcode::GetBucketInfo => reply(s, op, id, get_bucket_info(h, &body)).await,
        Opcode::ListBuckets => reply(s, op, id, list_buckets(h, &caller, &body)).await,
        Opcode::PutBucketAcl => reply(s, op, id, put_bucket_acl(h, &body).await).await,
        Opcode::PutObject => {
            let put = put.expect("the read loop decodes every PutObject");
            reply(s, op, id, put_object(h, put).await).await
        }
        Opcode::GetObject => get_object(h, s, op, id, &body).await,
        Opcode::HeadObject => reply(s, op, id, head_object(h, &body).await).await,
        Opcode::DeleteObject => reply(s, op, id, delete_object(h, &body).await).await,
        Opcode::ListObjects => reply(s, op, id, list_objects(h, &body).await).await,
        Opcode::DeleteObjects => reply(s, op, id, delete_objects(h, &body).await).await,
        Opcode::PutObjectAcl => reply(s, op, id, versions::put_object_acl(h, &body).await).await,
        Opcode::GetObjectAcl => reply(s, op, id, versions::get_object_acl(h, &body).await).await,
        Opcode::PutBucketVersioning => {
            reply(s, op, id, versions::put_versioning(h, &body).await).await
        }
        Opcode::GetBucketVersioning => reply(s, op, id, versions::get_versioning(h, &body)).await,
        Opcode::ListObjectVersions => reply(s, op, id, versions::list(h, &body).await).await,
        Opcode::GetObjectVersion => versions::get_object(h, s, op, id, &body).await,
        Opcode::HeadObjectVersion => reply(s, op, id, versions::head_object(h, &body).await).await,
        Opcode::DeleteObjectVersion => {
            reply(s, op, id, versions::delete_object(h, &body).await).await
        }
        Opcode::AdminStatus => reply(s, op, id, admin_status(&ctx, &body).await).await,
        Opcode::ScrubStart => reply(s, op, id, scrub_ops::scrub_start(h, &body)).await,
        Opcode::ScrubPause => reply(s, op, id, scrub_ops::scrub_pause(h, &body)).await,
        Opcode::ScrubStatus => reply(s, op, id, scrub_ops::scrub_status(h, &body)).await,
        Opcode::DeviceReplace => {
            reply(s, op, id, scrub_ops::device_replace(&ctx, &body).await).await
        }
        Opcode::UserCreate => reply(s, op, id, user_ops::user_create(&ctx, &body)).await,
        Opcode::UserList => reply(s, op, id, user_ops::user_list(&ctx, &body)).await,
        Opcode::UserDelete => reply(s, op, id, user_ops::user_delete(&ctx, &body)).await,
        Opcode::KeyCreate => reply(s, op, id, user_ops::key_create(&ctx, &body)).await,
        Opcode::KeyList => reply(s, op, id, user_ops::key_list(&ctx, &body)).await,
        Opcode::KeyDelete => reply(s, op, id, user_ops::key_delete(&ctx, &body)).await,
        Opcode::KeyLookup => reply(s, op, id, user_ops::key_lookup(&ctx, &body)).await,
        Opcode::Hello | Opcode::Auth => unreachable!("refused by the read loop after auth"),
    }
}

pub(crate) async fn reply<T: Body>(
    sink: &mut FrameSink,
    op: u16,
    id: u64,
    r: Result<T, impl Into<Failure>>,
) {
    match r {
        Ok(message) => {
            let header = FrameHeader::response(op, id, Status::Ok);
            sink.message(header, &message).await;
        }
        Err(f) => {
            let f = f.into();
            sink.error(op, id, f.status, &f.message).await;
        }
    }
}

async fn create_bucket(h: &Handle, caller: &Caller, body: &[u8]) -> Result<Empty, Failure> {
    let m = CreateBucket::decode(body)?;
    let (acl, class) = (
        acl_from_proto(m.acl),
        storage_class_from_proto(m.storage_class),
    );
    let owner = caller
        .who
        .user_id()
        .expect("authz lets only users create buckets");
    h.create_bucket(&m.name, &m.region, acl, class, owner)
        .await?;
    Ok(Empty)
}

async fn delete_bucket(h: &Handle, body: &[u8]) -> Result<Empty, Failure> {
    let m = DeleteBucket::decode(body)?;
    h.delete_bucket(&m.name).await?;
    Ok(Empty)
}

/// Readers of a public bucket see its record without the owner's id.
fn head_bucket(h: &Handle, caller: &Caller, body: &[u8]) -> Result<BucketInfo, Failure> {
    let m = HeadBucket::decode(body)?;
    let mut info = bucket_to_proto(h.head_bucket(&m.name)?);
    if !authz::shows_owner(&caller.who, &info.owner) {
        info.owner.clear();
    }
    Ok(info)
}

fn get_bucket_info(h: &Handle, body: &[u8]) -> Result<BucketInfo, Failure> {
    let m = GetBucketInfo::decode(body)?;
    Ok(bucket_to_proto(h.head_bucket(&m.name)?))
}

/// Buckets in name order after `marker` that start with `prefix`, one page.
fn list_buckets(h: &Handle, caller: &Caller, body: &[u8]) -> Result<BucketList, Failure> {
    let m = ListBuckets::decode(body)?;
    let max = match m.max_buckets as usize {
        0 => LIST_DEFAULT,
        n => n.min(LIST_BUCKETS_MAX),
    };
    let mut matching = h
        .list_buckets()
        .into_iter()
        .filter(|b| b.name.starts_with(&m.prefix) && b.name.as_str() > m.marker.as_str())
        .filter(|b| authz::lists_bucket(&caller.who, &b.owner));
    let buckets: Vec<BucketInfo> = matching.by_ref().take(max).map(bucket_to_proto).collect();
    let is_truncated = matching.next().is_some();
    let next_marker = is_truncated.then(|| buckets.last().map(|b| b.name.clone()));
    Ok(BucketList {
        buckets,
        is_truncated,
        next_marker: next_marker.flatten(),
    })
}

async fn put_bucket_acl(h: &Handle, body: &[u8]) -> Result<Empty, Failure> {
    let m = PutBucketAcl::decode(body)?;
    h.put_bucket_acl(&m.name, acl_from_proto(m.acl)).await?;
    Ok(Empty)
}

async fn put_object(h: &Handle, put: Put) -> Result<ObjectMeta, Failure> {
    let m = &put.message;
    let opts = put_options_from_proto(m);
    let meta = h.put_object_body(&m.bucket, &m.key, opts, put.body).await?;
    Ok(meta_to_proto(meta))
}

/// Sends the GetObjectResponse, then the body in chunk frames of at most 1 MiB.
async fn get_object(h: &Handle, sink: &mut FrameSink, op: u16, id: u64, body: &[u8]) {
    send_get(sink, op, id, start_get(h, body).await).await
}

/// Answers a started download (GetObject or GetObjectVersion): the error, or the
/// GetObjectResponse followed by the body in chunk frames.
pub(crate) async fn send_get(
    sink: &mut FrameSink,
    op: u16,
    id: u64,
    started: Result<GetReply, Failure>,
) {
    let reply = match started {
        Ok(reply) => reply,
        Err(f) => {
            sink.error(op, id, f.status, &f.message).await;
            return;
        }
    };
    let len = reply.len;
    let message = GetObjectResponse {
        meta: meta_to_proto(reply.meta),
        range_start: reply.start,
        range_len: len,
    };
    let header = FrameHeader::response(op, id, Status::Ok).more(len > 0);
    if sink.message(header, &message).await {
        stream_body(sink, op, id, len, reply.body).await;
    }
}

async fn start_get(h: &Handle, body: &[u8]) -> Result<GetReply, Failure> {
    let m = GetObject::decode(body)?;
    Ok(
        h.get_object(&m.bucket, &m.key, m.range.map(range_from_proto))
            .await?,
    )
}

async fn stream_body(
    sink: &mut FrameSink,
    op: u16,
    id: u64,
    len: u64,
    mut body: mpsc::Receiver<Result<Bytes, Error>>,
) {
    let mut sent = 0u64;
    while sent < len {
        let mut chunk = match body.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return abort_body(sink, op, id, status_of(&e), &e.to_string()).await,
            None => {
                let msg = format!("the engine ended the body after {sent} of {len} bytes");
                return abort_body(sink, op, id, Status::InternalError, &msg).await;
            }
        };
        chunk.truncate(chunk.len().min((len - sent) as usize));
        while !chunk.is_empty() {
            let piece = chunk.split_to(chunk.len().min(CHUNK_BYTES_MAX));
            sent += piece.len() as u64;
            let header = FrameHeader::chunk(op, id, true, sent < len);
            if !sink.frame(header, piece).await {
                return;
            }
        }
    }
}

/// Ends a download that failed after its response: a final chunk frame carrying the error
/// status and message (PROTOCOL.md, "Server aborts a download").
async fn abort_body(sink: &mut FrameSink, op: u16, id: u64, status: Status, msg: &str) {
    tracing::warn!(request_id = id, %status, "download aborted: {msg}");
    let header = FrameHeader {
        status: status.code(),
        ..FrameHeader::chunk(op, id, true, false)
    };
    let msg = ringstore_proto::status::truncate_message(msg);
    sink.frame(header, Bytes::copy_from_slice(msg.as_bytes()))
        .await;
}

async fn head_object(h: &Handle, body: &[u8]) -> Result<ObjectMeta, Failure> {
    let m = HeadObject::decode(body)?;
    Ok(meta_to_proto(h.head_object(&m.bucket, &m.key).await?))
}

async fn delete_object(h: &Handle, body: &[u8]) -> Result<Empty, Failure> {
    let m = DeleteObject::decode(body)?;
    h.delete_object(&m.bucket, &m.key).await?;
    Ok(Empty)
}

async fn list_objects(h: &Handle, body: &[u8]) -> Result<ListPage, Failure> {
    let m = ListObjects::decode(body)?;
    let params = ListParams {
        prefix: m.prefix,
        delimiter: m.delimiter,
        marker: m.marker,
        max_keys: match m.max_keys as usize {
            0 => LIST_DEFAULT,
            n => n.min(LIST_KEYS_MAX),
        },
    };
    Ok(fit_page(h.list_objects(&m.bucket, &params).await?))
}

/// Converts an engine page, closing it early (truncated) before its encoding would pass
/// `LIST_PAGE_BYTES_MAX`. Entries are taken in name order across objects and prefixes,
/// so the next marker resumes exactly after the last entry kept.
pub fn fit_page(page: ringstore_engine::ListPage) -> ListPage {
    let mut objects = page.objects.into_iter().map(summary_to_proto).peekable();
    let mut prefixes = page.common_prefixes.into_iter().peekable();
    let mut out = ListPage::default();
    let mut bytes = out.encoded_bytes();
    let mut last: Option<String> = None;
    loop {
        let take_object = match (objects.peek(), prefixes.peek()) {
            (Some(o), Some(p)) => o.key.as_str() < p.as_str(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let cost = match take_object {
            true => objects.peek().map_or(0, |o| o.encoded_bytes()),
            false => prefixes.peek().map_or(0, |p| 2 + p.len()),
        };
        if bytes + cost > LIST_PAGE_BYTES_MAX {
            assert!(last.is_some(), "one entry always fits in a page");
            out.is_truncated = true;
            out.next_marker = last;
            return out;
        }
        bytes += cost;
        if take_object {
            let o = objects.next().expect("peeked");
            last = Some(o.key.clone());
            out.objects.push(o);
        } else {
            let p = prefixes.next().expect("peeked");
            last = Some(p.clone());
            out.common_prefixes.push(p);
        }
    }
    out.is_truncated = page.is_truncated;
    out.next_marker = page.next_marker;
    out
}

async fn delete_objects(h: &Handle, body: &[u8]) -> Result<DeleteObjectsResponse, Failure> {
    let m = DeleteObjects::decode(body)?;
    h.head_bucket(&m.bucket)?;
    let deletes = m.keys.iter().map(|key| h.delete_object(&m.bucket, key));
    let outcomes = futures::future::join_all(deletes).await;
    let results = m
        .keys
        .into_iter()
        .zip(outcomes)
        .map(|(key, r)| DeleteResult {
            key,
            status: r.err().map_or(Status::Ok, |e| status_of(&e)),
        })
        .filter(|r| !m.quiet || r.status != Status::Ok)
        .collect();
    Ok(DeleteObjectsResponse { results })
}

async fn admin_status(ctx: &ExecutorCtx, body: &[u8]) -> Result<AdminJson, Failure> {
    let m = AdminStatus::decode(body)?;
    if !m.json.trim().is_empty() {
        serde_json::from_str::<serde_json::Value>(&m.json).map_err(|e| Failure {
            status: Status::BadRequest,
            message: format!("AdminStatus options are not JSON: {e}"),
        })?;
    }
    let partitions = ctx.handle.status().await?;
    let json = metrics::status_json(ctx, &partitions);
    Ok(AdminJson { json })
}
