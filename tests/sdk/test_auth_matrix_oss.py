"""The authorization matrix over HTTP, OSS dialect through oss2 with signature V1 and V4:
the rules of `test_auth_matrix.py` (the S3 dialect), for every object and bucket operation
oss2 sends, as each kind of caller, against a private, a public-read and a
public-read-write bucket. GetBucketInfo is the owner's only, like the ACLs and
DeleteBucket.
"""

import uuid

import oss2
import pytest
from oss2 import exceptions as oe

from conftest import Creds
from test_auth_matrix import ACLS, CALLERS, OWNER_ID, expected

OPERATIONS = {
    "list_objects": "read",
    "get_object": "read",
    "head_object": "read",
    "put_object": "write",
    "copy_object": "write",
    "delete_object": "write",
    "delete_objects": "write",
    "get_bucket_info": "owner",
    "get_bucket_acl": "owner",
    "put_bucket_acl": "owner",
    "get_object_acl": "owner",
    "put_object_acl": "owner",
    "delete_bucket": "owner",
}


def auth(signature, creds):
    if creds is None:
        return oss2.AnonymousAuth()
    if signature == "v1":
        return oss2.Auth(creds.access_key_id, creds.secret)
    return oss2.AuthV4(creds.access_key_id, creds.secret)


def bucket_of(endpoint, region, signature, creds, name):
    a = auth(signature, creds)
    if signature == "v4":
        return oss2.Bucket(a, endpoint, name, region=region)
    return oss2.Bucket(a, endpoint, name)


@pytest.fixture(scope="module")
def buckets(endpoint, oss_region, creds):
    """One bucket per ACL, each holding `o` (read), `acl-target` (object ACL changes)."""
    tag = uuid.uuid4().hex[:10]
    made = {}
    for acl in ACLS:
        name = f"authz-oss-{acl}-{tag}"
        b = bucket_of(endpoint, oss_region, "v4", creds, name)
        b.create_bucket(acl)
        b.put_object("o", b"object body")
        b.put_object("acl-target", b"acl target")
        made[acl] = name
    return made


def caller_creds(caller, creds, other_creds):
    return {
        "owner": creds,
        "other": other_creds,
        "anonymous": None,
        "wrong-secret": Creds(creds.access_key_id, "x" * 40),
        "unknown-key": Creds("RS" + "0" * 18, "y" * 40),
    }[caller]


def call(b, op, acl, caller):
    key = f"{caller}-{op}"
    if op == "list_objects":
        return b.list_objects()
    if op == "get_object":
        return b.get_object("o").read()
    if op == "head_object":
        return b.head_object("o")
    if op == "put_object":
        return b.put_object(key, b"written")
    if op == "copy_object":
        return b.copy_object(b.bucket_name, "o", key)
    if op == "delete_object":
        return b.delete_object(f"{key}-absent")
    if op == "delete_objects":
        return b.batch_delete_objects([f"{key}-absent-1", f"{key}-absent-2"])
    if op == "get_bucket_info":
        return b.get_bucket_info()
    if op == "get_bucket_acl":
        return b.get_bucket_acl()
    if op == "put_bucket_acl":
        # The ACL the bucket already has, so an allowed call changes nothing.
        return b.put_bucket_acl(acl)
    if op == "get_object_acl":
        return b.get_object_acl("acl-target")
    if op == "put_object_acl":
        return b.put_object_acl("acl-target", oss2.OBJECT_ACL_PRIVATE)
    if op == "delete_bucket":
        # The bucket is not empty: the owner gets BucketNotEmpty, and nothing is deleted.
        return b.delete_bucket()
    raise AssertionError(op)


@pytest.mark.parametrize("signature", ["v1", "v4"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", list(OPERATIONS))
def test_matrix(endpoint, oss_region, creds, other_creds, buckets, op, acl, caller, signature):
    name = buckets[acl]
    who = caller_creds(caller, creds, other_creds)
    b = bucket_of(endpoint, oss_region, signature, who, name)
    status, code = expected(op, acl, caller, OPERATIONS)
    if status == 200:
        call(b, op, acl, caller)
        return
    with pytest.raises(oe.ServerError) as err:
        call(b, op, acl, caller)
    assert err.value.status == status, err.value
    if op != "head_object":
        # HEAD answers have no body, so only their status can be checked.
        assert err.value.code == code, err.value
    if caller != "owner":
        text = f"{err.value.message} {err.value.details}"
        assert OWNER_ID not in text, text
        for other in buckets.values():
            if other != name:
                assert other not in text, text


def test_matrix_left_everything_in_place(endpoint, oss_region, creds, buckets):
    for acl, name in buckets.items():
        b = bucket_of(endpoint, oss_region, "v1", creds, name)
        assert b.get_object("o").read() == b"object body"
        assert b.get_bucket_acl().acl == acl
