//! Authorization: one policy, consulted for every request before it runs.
//!
//! ```text
//!  opcode ──access_of──► Access ─┐
//!  body's bucket ──head_bucket──►├─► decide(who, access, bucket, object_acl) ─► allow / deny
//!  connection ──────────► Who ───┘
//! ```
//!
//! - Administrators (the built-in `root`, through any of its keys) may do everything.
//! - A bucket's owner is the user id of its creator (`BucketInfo.owner`); the owner may do
//!   everything with the bucket and its objects.
//! - Others, including `Anonymous`, get what the bucket ACL grants: `public-read` allows
//!   HeadBucket, ListObjects, HeadObject and GetObject; `public-read-write` also PutObject,
//!   DeleteObject and DeleteObjects. DeleteBucket, PutBucketAcl and GetBucketInfo are the
//!   owner's only; HeadBucket shows the owner's id only to the owner (`shows_owner`).
//! - CreateBucket and ListBuckets need a user (not `Anonymous`); ListBuckets then lists
//!   only the caller's buckets (`lists_bucket`), all of them for administrators.
//! - Admin operations (status, scrub, users and keys) need an administrator; Ping anyone.
//! - An object ACL other than `Default` overrides the bucket ACL for that object's reads
//!   and writes: `decide` takes it as `object_acl`, read from the object's current
//!   version for callers other than the owner (`object_acl_of`). Object and bucket ACLs
//!   and versioning settings are changed and read by the bucket's owner only.
//!
//! Every opcode has an arm in `access_of`, so a new opcode does not build until its access
//! rule is chosen. A denial is `AccessDenied` with a message naming only what the caller
//! sent (the operation and the bucket), never another user's id, buckets or keys. A bucket
//! that does not exist is `NoSuchBucket` for everyone, as OSS and S3 answer.
//!
//! The check reads the bucket record from the executor's cache just before the operation
//! runs; a bucket deleted and re-created by another user between the two is the one race
//! left (the operation then acts on the new bucket as the old one's ACL allowed).

use std::rc::Rc;

use ringstore_engine::Handle;
use ringstore_proto::{Acl, Field, Opcode, Reader, Status};

use crate::convert::{acl_to_proto, object_acl_to_proto};
use crate::dispatch::Failure;

/// Who a request acts as: the connection's user, or the principal an administrator's
/// connection sent it for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Admin(Rc<str>),
    User(Rc<str>),
    Anonymous,
}

impl Who {
    /// The user id, unless anonymous.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Who::Admin(id) | Who::User(id) => Some(id),
            Who::Anonymous => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Who::Admin(_))
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any caller (Ping).
    Anyone,
    /// Any user, not `Anonymous` (CreateBucket, ListBuckets).
    User,
    /// Reading the bucket record (HeadBucket).
    BucketRead,
    /// Changing, deleting or inspecting the bucket (DeleteBucket, PutBucketAcl,
    /// GetBucketInfo).
    BucketOwner,
    /// Reading objects or listing them (GetObject, HeadObject, ListObjects).
    ObjectRead,
    /// Writing or deleting objects (PutObject, DeleteObject, DeleteObjects).
    ObjectWrite,
    /// Administrators only (status, scrub, users, keys).
    Admin,
}

impl Access {
    /// Whether the operation names a bucket as the first field of its request body.
    fn names_bucket(self) -> bool {
        matches!(
            self,
            Access::BucketRead | Access::BucketOwner | Access::ObjectRead | Access::ObjectWrite
        )
    }
}

/// The access every opcode needs.
pub fn access_of(op: Opcode) -> Access {
    match op {
        Opcode::Hello | Opcode::Auth | Opcode::Ping => Access::Anyone,
        Opcode::CreateBucket | Opcode::ListBuckets => Access::User,
        Opcode::HeadBucket => Access::BucketRead,
        Opcode::DeleteBucket
        | Opcode::PutBucketAcl
        | Opcode::GetBucketInfo
        | Opcode::PutBucketVersioning
        | Opcode::GetBucketVersioning
        | Opcode::PutObjectAcl
        | Opcode::GetObjectAcl => Access::BucketOwner,
        Opcode::GetObject
        | Opcode::HeadObject
        | Opcode::ListObjects
        | Opcode::ListObjectVersions
        | Opcode::GetObjectVersion
        | Opcode::HeadObjectVersion => Access::ObjectRead,
        Opcode::PutObject
        | Opcode::DeleteObject
        | Opcode::DeleteObjects
        | Opcode::DeleteObjectVersion => Access::ObjectWrite,
        Opcode::AdminStatus
        | Opcode::ScrubStart
        | Opcode::ScrubPause
        | Opcode::ScrubStatus
        | Opcode::DeviceReplace
        | Opcode::UserCreate
        | Opcode::UserList
        | Opcode::UserDelete
        | Opcode::KeyCreate
        | Opcode::KeyList
        | Opcode::KeyDelete
        | Opcode::KeyLookup => Access::Admin,
    }
}

/// The bucket facts the policy needs.
#[derive(Debug, Clone, Copy)]
pub struct BucketFacts<'a> {
    pub owner: &'a str,
    pub acl: Acl,
}

/// The policy (see the module documentation). `bucket` is `None` only for accesses that
/// name no bucket; `object_acl` is the object's own ACL where one is known.
pub fn decide(
    who: &Who,
    access: Access,
    bucket: Option<BucketFacts<'_>>,
    object_acl: Option<Acl>,
) -> bool {
    let user_id = match who {
        Who::Admin(_) => return true,
        Who::User(id) => Some(&**id),
        Who::Anonymous => None,
    };
    let owner = |b: &BucketFacts<'_>| user_id.is_some_and(|id| id == b.owner);
    let effective = |b: &BucketFacts<'_>| match object_acl {
        Some(acl) if acl != Acl::Default => acl,
        _ => b.acl,
    };
    let readable = |acl: Acl| matches!(acl, Acl::PublicRead | Acl::PublicReadWrite);
    match (access, bucket) {
        (Access::Anyone, _) => true,
        (Access::User, _) => user_id.is_some(),
        (Access::Admin, _) => false,
        (Access::BucketRead, Some(b)) => owner(&b) || readable(b.acl),
        (Access::BucketOwner, Some(b)) => owner(&b),
        (Access::ObjectRead, Some(b)) => owner(&b) || readable(effective(&b)),
        (Access::ObjectWrite, Some(b)) => owner(&b) || effective(&b) == Acl::PublicReadWrite,
        // A bucket access without a bucket is a bug in the caller: deny.
        (_, None) => false,
    }
}

/// Whether ListBuckets shows this bucket to `who`.
pub fn lists_bucket(who: &Who, owner: &str) -> bool {
    match who {
        Who::Admin(_) => true,
        Who::User(id) => &**id == owner,
        Who::Anonymous => false,
    }
}

/// Whether HeadBucket shows `who` the bucket's owner id.
pub fn shows_owner(who: &Who, owner: &str) -> bool {
    lists_bucket(who, owner)
}

/// Authorizes one request before it runs. A body whose bucket name does not decode is
/// let through: the operation's own decoding answers it with the right status.
pub async fn authorize(h: &Handle, who: &Who, op: Opcode, body: &[u8]) -> Result<(), Failure> {
    let access = access_of(op);
    if who.is_admin() {
        return Ok(());
    }
    if !access.names_bucket() {
        return match decide(who, access, None, None) {
            true => Ok(()),
            false => Err(denied(op, None, who)),
        };
    }
    let Ok(name) = Reader::new(body).string(Field::Bucket) else {
        return Ok(());
    };
    let bucket = h.head_bucket(&name)?;
    let facts = BucketFacts {
        owner: &bucket.owner,
        acl: acl_to_proto(bucket.acl),
    };
    let is_owner = who.user_id() == Some(&*bucket.owner);
    let object_acl = match is_owner {
        true => None,
        false => object_acl_of(h, op, body).await,
    };
    match decide(who, access, Some(facts), object_acl) {
        true => Ok(()),
        false => Err(denied(op, Some(&name), who)),
    }
}

fn denied(op: Opcode, bucket: Option<&str>, who: &Who) -> Failure {
    let whom = match who {
        Who::Anonymous => "anonymous requests",
        _ => "this user",
    };
    let message = match bucket {
        Some(b) => format!(
            "access denied: {whom} may not {} on bucket {b:?}",
            op.name()
        ),
        None => format!("access denied: {whom} may not {}", op.name()),
    };
    Failure {
        status: Status::AccessDenied,
        message,
    }
}

/// The ACL of the object a single-object request names (its body carries the key right
/// after the bucket), or `None` for other requests and for objects that do not exist (the
/// bucket ACL then decides, and the operation answers NoSuchKey where it reads).
async fn object_acl_of(h: &Handle, op: Opcode, body: &[u8]) -> Option<Acl> {
    let single_object = matches!(
        op,
        Opcode::GetObject
            | Opcode::HeadObject
            | Opcode::PutObject
            | Opcode::DeleteObject
            | Opcode::GetObjectVersion
            | Opcode::HeadObjectVersion
            | Opcode::DeleteObjectVersion
    );
    if !single_object {
        return None;
    }
    let mut r = Reader::new(body);
    let bucket = r.string(Field::Bucket).ok()?;
    let key = r.string(Field::Key).ok()?;
    let acl = h.get_object_acl(&bucket, &key, None).await.ok()?;
    Some(object_acl_to_proto(acl))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "1000000000000001";
    const OTHER: &str = "1000000000000002";

    fn whos() -> [(&'static str, Who); 4] {
        [
            ("owner", Who::User(OWNER.into())),
            ("other", Who::User(OTHER.into())),
            ("anonymous", Who::Anonymous),
            ("admin", Who::Admin("1000000000000003".into())),
        ]
    }

    /// The expected answer of the policy, written as a table rather than as the code.
    fn expected(who: &str, access: Access, acl: Acl) -> bool {
        use Access::*;
        match who {
            "owner" | "admin" => true,
            _ => match access {
                BucketRead | ObjectRead => acl != Acl::Private,
                ObjectWrite => acl == Acl::PublicReadWrite,
                BucketOwner => false,
                _ => unreachable!(),
            },
        }
    }

    #[test]
    fn bucket_acl_matrix() {
        let accesses = [
            Access::BucketRead,
            Access::BucketOwner,
            Access::ObjectRead,
            Access::ObjectWrite,
        ];
        for acl in [Acl::Private, Acl::PublicRead, Acl::PublicReadWrite] {
            let bucket = BucketFacts { owner: OWNER, acl };
            for (name, who) in whos() {
                for access in accesses {
                    let got = decide(&who, access, Some(bucket), None);
                    let want = expected(name, access, acl);
                    assert_eq!(got, want, "{name} {access:?} on a {acl:?} bucket");
                    let inherit = decide(&who, access, Some(bucket), Some(Acl::Default));
                    assert_eq!(inherit, want, "a default object ACL inherits");
                }
            }
        }
    }

    #[test]
    fn object_acl_overrides_the_bucket_acl() {
        let private = BucketFacts {
            owner: OWNER,
            acl: Acl::Private,
        };
        let open = BucketFacts {
            owner: OWNER,
            acl: Acl::PublicReadWrite,
        };
        let anon = Who::Anonymous;
        assert!(decide(
            &anon,
            Access::ObjectRead,
            Some(private),
            Some(Acl::PublicRead)
        ));
        assert!(!decide(
            &anon,
            Access::ObjectWrite,
            Some(private),
            Some(Acl::PublicRead)
        ));
        assert!(!decide(
            &anon,
            Access::ObjectRead,
            Some(open),
            Some(Acl::Private)
        ));
        assert!(decide(
            &Who::User(OWNER.into()),
            Access::ObjectRead,
            Some(open),
            Some(Acl::Private)
        ));
        // The bucket record itself follows the bucket ACL only.
        assert!(!decide(
            &anon,
            Access::BucketRead,
            Some(private),
            Some(Acl::PublicRead)
        ));
    }

    #[test]
    fn operations_without_a_bucket() {
        for (name, who) in whos() {
            assert!(decide(&who, access_of(Opcode::Ping), None, None));
            let user = decide(&who, access_of(Opcode::CreateBucket), None, None);
            assert_eq!(user, name != "anonymous", "{name}");
            let admin = decide(&who, access_of(Opcode::KeyLookup), None, None);
            assert_eq!(admin, name == "admin", "{name}");
            assert_eq!(
                lists_bucket(&who, OWNER),
                name == "owner" || name == "admin"
            );
        }
        for op in Opcode::ALL {
            if op.family() == ringstore_proto::opcode::OPCODE_FAMILY_ADMIN {
                assert_eq!(access_of(*op), Access::Admin, "{op:?}");
            }
        }
        let who = Who::User(OTHER.into());
        assert!(
            !decide(&who, Access::ObjectRead, None, None),
            "no bucket: deny"
        );
    }
}
