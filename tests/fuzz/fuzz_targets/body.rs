//! Every message body decoder: arbitrary bytes never panic [`Body::decode`], and a body
//! that decodes encodes to a body that decodes to the same message. The body encoding has
//! one form per value, so the re-encoding must also be byte-identical to the input. The
//! first input byte picks the message type (modulo the number of types).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringstore_proto::*;

fn round_trip<T: Body + PartialEq>(body: &[u8]) {
    let Ok(message) = T::decode(body) else {
        return;
    };
    let mut out = BytesMut::new();
    message
        .encode(&mut out)
        .expect("a decoded message must encode");
    assert!(&out[..] == body, "re-encoding differs from the input");
    let again = T::decode(&out).expect("a re-encoded message must decode");
    assert!(again == message, "decode(encode(m)) != m");
}

/// One entry per message type: the table the first byte indexes.
macro_rules! bodies {
    ($($t:ty),* $(,)?) => {
        const DECODERS: &[fn(&[u8])] = &[$(round_trip::<$t>),*];
    };
}

bodies!(
    AdminJson,
    AdminStatus,
    ScrubStart,
    ScrubPause,
    ScrubStatus,
    BucketInfo,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketInfo,
    ListBuckets,
    BucketList,
    PutBucketAcl,
    Empty,
    ObjectMeta,
    PutObject,
    GetObject,
    GetObjectResponse,
    HeadObject,
    DeleteObject,
    ListObjects,
    ListPage,
    DeleteObjects,
    DeleteObjectsResponse,
    Principal,
    Hello,
    Challenge,
    Auth,
    Ping,
    ErrorBody,
    UserInfo,
    AccessKeyInfo,
    KeyInfo,
    NewAccessKey,
    UserCreate,
    UserDelete,
    KeyCreate,
    KeyDelete,
    KeyLookup,
    UserList,
    Users,
    KeyList,
    AccessKeys,
    KeyLookupResponse,
    PutBucketVersioning,
    GetBucketVersioning,
    BucketVersioning,
    ListObjectVersions,
    VersionPage,
    GetObjectVersion,
    HeadObjectVersion,
    DeleteObjectVersion,
    GetObjectAcl,
    DeleteVersionResult,
    PutObjectAcl,
    ObjectAclResponse,
);

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    DECODERS[usize::from(which) % DECODERS.len()](body);
    // The principal prefix a proxy puts in front of a request body.
    if let Ok((principal, rest)) = split_principal(&bytes::Bytes::copy_from_slice(body)) {
        let mut out = BytesMut::new();
        principal
            .encode(&mut out)
            .expect("a decoded principal must encode");
        assert_eq!(out.len() + rest.len(), body.len());
        assert!(
            out[..] == body[..out.len()],
            "principal re-encoding differs"
        );
    }
});
