//! Authorization over the binary protocol against the real daemon: every bucket and object
//! operation, as the owner, another user, an anonymous principal and the administrator,
//! on private, public-read and public-read-write buckets; each user both with its own key
//! and as a principal sent by the administrator's connection.

use bytes::Bytes;
use ringstore_client::StorageClass;
use ringstore_client::{Acl, Client, ClientConfig, Error, ListObjects, Principal, Status};
use ringstore_tests::{put_request, Daemon};

/// The operations of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Get,
    Head,
    Delete,
    DeleteMultiple,
    List,
    HeadBucket,
    GetBucketInfo,
    PutBucketAcl,
    DeleteBucket,
}

const OPS: [Op; 10] = [
    Op::Put,
    Op::Get,
    Op::Head,
    Op::Delete,
    Op::DeleteMultiple,
    Op::List,
    Op::HeadBucket,
    Op::GetBucketInfo,
    Op::PutBucketAcl,
    Op::DeleteBucket,
];

/// The rule, written out as a table: who may do `op` on a bucket with `acl`.
fn allowed(who: &str, op: Op, acl: Acl) -> bool {
    if who.starts_with("owner") || who == "admin" {
        return true;
    }
    match op {
        Op::Get | Op::Head | Op::List | Op::HeadBucket => acl != Acl::Private,
        Op::Put | Op::Delete | Op::DeleteMultiple => acl == Acl::PublicReadWrite,
        Op::GetBucketInfo | Op::PutBucketAcl | Op::DeleteBucket => false,
    }
}

/// Runs `op` on `bucket` (which holds `keep`, so DeleteBucket can only answer
/// `BucketNotEmpty` when allowed) and returns the status, `Ok` for success.
async fn run(c: &Client, op: Op, bucket: &str, acl: Acl) -> Status {
    let status = |r: Result<(), Error>| match r {
        Ok(()) => Status::Ok,
        Err(e) => e.status().unwrap_or_else(|| panic!("{op:?}: {e}")),
    };
    match op {
        Op::Put => {
            let put = put_request(bucket, "scratch");
            status(
                c.put_object_bytes(put, Bytes::from_static(b"x"))
                    .await
                    .map(drop),
            )
        }
        Op::Get => status(c.get_object_bytes(bucket, "keep", None).await.map(drop)),
        Op::Head => status(c.head_object(bucket, "keep").await.map(drop)),
        Op::Delete => status(c.delete_object(bucket, "scratch").await),
        Op::DeleteMultiple => {
            let keys = vec!["scratch".into()];
            status(c.delete_objects(bucket, keys, false).await.map(drop))
        }
        Op::List => {
            let list = ListObjects {
                bucket: bucket.into(),
                prefix: String::new(),
                delimiter: String::new(),
                marker: String::new(),
                max_keys: 10,
            };
            status(c.list_objects(list).await.map(drop))
        }
        Op::HeadBucket => status(c.head_bucket(bucket).await.map(drop)),
        Op::GetBucketInfo => status(c.get_bucket_info(bucket).await.map(drop)),
        Op::PutBucketAcl => status(c.put_bucket_acl(bucket, acl).await),
        Op::DeleteBucket => status(c.delete_bucket(bucket).await),
    }
}

async fn connect(d: &Daemon, id: &str, secret: &str) -> Client {
    let cfg = ClientConfig::new(d.endpoint.clone(), id, secret);
    Client::connect(cfg).await.expect("connect with a user key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_by_every_caller_on_every_acl() {
    let d = Daemon::start();
    let root = d.client().await;
    let alice = root.user_create("alice").await.unwrap();
    let bob = root.user_create("bob").await.unwrap();
    let alice_key = root.key_create("alice").await.unwrap();
    let bob_key = root.key_create("bob").await.unwrap();
    let owner = connect(&d, &alice_key.access_key_id, &alice_key.secret_access_key).await;
    let other = connect(&d, &bob_key.access_key_id, &bob_key.secret_access_key).await;
    let callers = [
        ("owner", owner.clone()),
        (
            "owner-as-principal",
            root.acting_as(Principal::User(alice.user_id.clone())),
        ),
        ("other", other.clone()),
        (
            "other-as-principal",
            root.acting_as(Principal::User(bob.user_id.clone())),
        ),
        ("anonymous", root.acting_as(Principal::Anonymous)),
        ("admin", root.clone()),
    ];
    let mut checked = 0;
    for (acl, bucket) in [
        (Acl::Private, "acl-private"),
        (Acl::PublicRead, "acl-public-read"),
        (Acl::PublicReadWrite, "acl-public-rw"),
    ] {
        owner
            .create_bucket(bucket, acl, StorageClass::Standard, "local")
            .await
            .unwrap();
        let info = root.head_bucket(bucket).await.unwrap();
        assert_eq!(
            info.owner, alice.user_id,
            "the owner is the creator's user id"
        );
        let keep = put_request(bucket, "keep");
        owner
            .put_object_bytes(keep, Bytes::from_static(b"k"))
            .await
            .unwrap();
        for (who, client) in &callers {
            for op in OPS {
                let got = run(client, op, bucket, acl).await;
                let want_allowed = allowed(who, op, acl);
                let expected = match (want_allowed, op) {
                    (false, _) => Status::AccessDenied,
                    (true, Op::DeleteBucket) => Status::BucketNotEmpty,
                    (true, _) => Status::Ok,
                };
                assert_eq!(got, expected, "{who} {op:?} on a {acl:?} bucket");
                checked += 1;
            }
        }
        // The object the writers made is still readable by its owner afterwards, and
        // the bucket's ACL is unchanged by the denied PutBucketAcl calls.
        assert_eq!(root.head_bucket(bucket).await.unwrap().acl, acl);
    }
    assert_eq!(checked, 3 * 6 * OPS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_listing_creation_and_admin_operations() {
    let d = Daemon::start();
    let root = d.client().await;
    root.user_create("carol").await.unwrap();
    let dave = root.user_create("dave").await.unwrap();
    let carol_key = root.key_create("carol").await.unwrap();
    let carol = connect(&d, &carol_key.access_key_id, &carol_key.secret_access_key).await;
    let dave_p = root.acting_as(Principal::User(dave.user_id.clone()));
    let anonymous = root.acting_as(Principal::Anonymous);
    let std = StorageClass::Standard;
    carol
        .create_bucket("carol-1", Acl::PublicRead, std, "local")
        .await
        .unwrap();
    dave_p
        .create_bucket("dave-1", Acl::Private, std, "local")
        .await
        .unwrap();
    root.create_bucket("root-1", Acl::Private, std, "local")
        .await
        .unwrap();
    let names = |v: Vec<ringstore_client::BucketInfo>| -> Vec<String> {
        v.into_iter().map(|b| b.name).collect()
    };
    assert_eq!(names(carol.list_buckets().await.unwrap()), ["carol-1"]);
    assert_eq!(names(dave_p.list_buckets().await.unwrap()), ["dave-1"]);
    assert_eq!(
        names(root.list_buckets().await.unwrap()),
        ["carol-1", "dave-1", "root-1"]
    );
    let denied = |r: Result<(), Error>| {
        let e = r.expect_err("must be denied");
        assert_eq!(e.status(), Some(Status::AccessDenied), "{e}");
        e.to_string()
    };
    denied(anonymous.list_buckets().await.map(drop));
    // Readers of a public bucket see its record, but the owner's id only its owner.
    assert_eq!(anonymous.head_bucket("carol-1").await.unwrap().owner, "");
    assert_eq!(dave_p.head_bucket("carol-1").await.unwrap().owner, "");
    let carol_id = carol.get_bucket_info("carol-1").await.unwrap().owner;
    assert_eq!(carol.head_bucket("carol-1").await.unwrap().owner, carol_id);
    assert_eq!(root.head_bucket("carol-1").await.unwrap().owner, carol_id);
    denied(anonymous.get_bucket_info("carol-1").await.map(drop));
    denied(
        anonymous
            .create_bucket("anon-1", Acl::Private, std, "local")
            .await,
    );
    // Admin operations need an administrator, whichever way the caller arrives.
    for c in [&carol, &dave_p, &anonymous] {
        denied(c.user_list().await.map(drop));
        denied(c.user_create("eve").await.map(drop));
        denied(c.key_lookup(&carol_key.access_key_id).await.map(drop));
        denied(c.key_list(None).await.map(drop));
        denied(c.admin_status().await.map(drop));
        c.ping().await.unwrap();
    }
    // Only an administrator's connection may send a principal.
    let msg = denied(carol.acting_as(Principal::Anonymous).ping().await);
    assert!(msg.contains("administrator"), "{msg}");
    let msg = denied(root.acting_as(Principal::User("999".into())).ping().await);
    assert!(!msg.contains(&carol_key.secret_access_key));
    // Denials name nothing of other users: no owner id, no key.
    let msg = denied(carol.head_bucket("dave-1").await.map(drop));
    assert!(!msg.contains(&dave.user_id), "{msg}");
    assert_eq!(
        anonymous
            .head_bucket("no-such-bucket")
            .await
            .unwrap_err()
            .status(),
        Some(Status::NoSuchBucket)
    );
    // An administrator may act on anyone's bucket, and KeyLookup answers it.
    root.delete_bucket("dave-1").await.unwrap();
    let found = root
        .key_lookup(&carol_key.access_key_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.secret_access_key, carol_key.secret_access_key);
    assert_eq!(found.display_name, "carol");
    assert!(root
        .key_lookup("RSNOSUCHKEY000000000")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_acl_overrides_the_bucket_acl() {
    let d = Daemon::start();
    let root = d.client().await;
    let erin = root.user_create("erin").await.unwrap();
    let frank = root.user_create("frank").await.unwrap();
    let owner = root.acting_as(Principal::User(erin.user_id.clone()));
    let other = root.acting_as(Principal::User(frank.user_id.clone()));
    let anonymous = root.acting_as(Principal::Anonymous);
    let std = StorageClass::Standard;
    owner
        .create_bucket("objacl-private", Acl::Private, std, "local")
        .await
        .unwrap();
    owner
        .create_bucket("objacl-public", Acl::PublicRead, std, "local")
        .await
        .unwrap();
    for (bucket, key) in [("objacl-private", "open"), ("objacl-public", "closed")] {
        let put = put_request(bucket, key);
        owner
            .put_object_bytes(put, Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    let code = |r: Result<(), Error>| match r {
        Ok(()) => Status::Ok,
        Err(e) => e.status().expect("a status"),
    };
    // public-read on one object of a private bucket opens that object only.
    owner
        .put_object_acl("objacl-private", "open", None, Acl::PublicRead)
        .await
        .unwrap();
    let get = |c: &Client, b: &'static str, k: &'static str| {
        let c = c.clone();
        async move { c.get_object_bytes(b, k, None).await.map(drop) }
    };
    assert_eq!(
        code(get(&anonymous, "objacl-private", "open").await),
        Status::Ok
    );
    assert_eq!(
        code(get(&other, "objacl-private", "open").await),
        Status::Ok
    );
    // Reading is not writing: the object ACL grants no overwrite.
    let put = put_request("objacl-private", "open");
    let overwrite = anonymous
        .put_object_bytes(put, Bytes::from_static(b"w"))
        .await;
    assert_eq!(code(overwrite.map(drop)), Status::AccessDenied);
    // private on one object of a public-read bucket closes that object only.
    owner
        .put_object_acl("objacl-public", "closed", None, Acl::Private)
        .await
        .unwrap();
    let closed = get(&anonymous, "objacl-public", "closed").await;
    assert_eq!(code(closed), Status::AccessDenied);
    let head = other.head_object("objacl-public", "closed").await.map(drop);
    assert_eq!(code(head), Status::AccessDenied);
    assert_eq!(
        code(get(&owner, "objacl-public", "closed").await),
        Status::Ok
    );
    // Only the owner reads or changes an object's ACL.
    let acl = other.get_object_acl("objacl-private", "open", None).await;
    assert_eq!(code(acl.map(drop)), Status::AccessDenied);
    let set = other
        .put_object_acl("objacl-private", "open", None, Acl::PublicReadWrite)
        .await;
    assert_eq!(code(set), Status::AccessDenied);
    let acl = owner.get_object_acl("objacl-private", "open", None).await;
    assert_eq!(acl.unwrap(), Acl::PublicRead);
}
