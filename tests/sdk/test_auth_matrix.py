"""The authorization matrix over HTTP, S3 dialect through boto3: every object and bucket
operation the adapter serves, as each kind of caller, against a private, a public-read and
a public-read-write bucket. Each answer must be the documented one:

- the bucket's owner may do everything;
- another user and an anonymous caller get what the bucket ACL grants: public-read allows
  HeadBucket, ListObjects, GetObject and HeadObject; public-read-write also PutObject,
  CopyObject (within the bucket), DeleteObject and DeleteObjects; ACLs and DeleteBucket
  stay the owner's; everything else is 403 AccessDenied;
- the owner's key id with a wrong secret is 403 SignatureDoesNotMatch, an unknown key id
  403 InvalidAccessKeyId, whatever the bucket's ACL.

Denials must reveal nothing of the owner: no user id, and no other bucket's name.
"""

import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Creds

ACLS = ["private", "public-read", "public-read-write"]
CALLERS = ["owner", "other", "anonymous", "wrong-secret", "unknown-key"]
OWNER_ID = "sdk-owner"

# operation -> what it needs: "read" and "write" follow the bucket ACL, "owner" is the
# owner's only.
OPERATIONS = {
    "head_bucket": "read",
    "list_objects": "read",
    "get_object": "read",
    "head_object": "read",
    "put_object": "write",
    "copy_object": "write",
    "delete_object": "write",
    "delete_objects": "write",
    "get_bucket_acl": "owner",
    "put_bucket_acl": "owner",
    "get_object_acl": "owner",
    "put_object_acl": "owner",
    "delete_bucket": "owner",
}


def client(endpoint, region, creds):
    if creds is None:
        config = Config(signature_version=UNSIGNED, retries={"max_attempts": 1})
        return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def owner(endpoint, s3_region, creds):
    return client(endpoint, s3_region, creds)


@pytest.fixture(scope="module")
def buckets(owner):
    """One bucket per ACL, each holding `o` (read), `acl-target` (object ACL changes)."""
    tag = uuid.uuid4().hex[:10]
    made = {}
    for acl in ACLS:
        name = f"authz-{acl}-{tag}"
        owner.create_bucket(Bucket=name)
        owner.put_bucket_acl(Bucket=name, ACL=acl)
        owner.put_object(Bucket=name, Key="o", Body=b"object body")
        owner.put_object(Bucket=name, Key="acl-target", Body=b"acl target")
        made[acl] = name
    return made


@pytest.fixture(scope="module")
def callers(endpoint, s3_region, creds, other_creds):
    return {
        "owner": client(endpoint, s3_region, creds),
        "other": client(endpoint, s3_region, other_creds),
        "anonymous": client(endpoint, s3_region, None),
        "wrong-secret": client(endpoint, s3_region, Creds(creds.access_key_id, "x" * 40)),
        "unknown-key": client(endpoint, s3_region, Creds("RS" + "0" * 18, "y" * 40)),
    }


def call(s3, op, bucket, acl, caller):
    key = f"{caller}-{op}"
    if op == "head_bucket":
        return s3.head_bucket(Bucket=bucket)
    if op == "list_objects":
        return s3.list_objects(Bucket=bucket)
    if op == "get_object":
        return s3.get_object(Bucket=bucket, Key="o")["Body"].read()
    if op == "head_object":
        return s3.head_object(Bucket=bucket, Key="o")
    if op == "put_object":
        return s3.put_object(Bucket=bucket, Key=key, Body=b"written")
    if op == "copy_object":
        return s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": "o"})
    if op == "delete_object":
        return s3.delete_object(Bucket=bucket, Key=f"{key}-absent")
    if op == "delete_objects":
        keys = [{"Key": f"{key}-absent-1"}, {"Key": f"{key}-absent-2"}]
        return s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    if op == "get_bucket_acl":
        return s3.get_bucket_acl(Bucket=bucket)
    if op == "put_bucket_acl":
        # The ACL the bucket already has, so an allowed call changes nothing.
        return s3.put_bucket_acl(Bucket=bucket, ACL=acl)
    if op == "get_object_acl":
        return s3.get_object_acl(Bucket=bucket, Key="acl-target")
    if op == "put_object_acl":
        return s3.put_object_acl(Bucket=bucket, Key="acl-target", ACL="private")
    if op == "delete_bucket":
        # The bucket is not empty: the owner gets BucketNotEmpty, and nothing is deleted.
        return s3.delete_bucket(Bucket=bucket)
    raise AssertionError(op)


def expected(op, acl, caller, operations=OPERATIONS):
    """(HTTP status, error code or None) the documented rules give."""
    if caller == "wrong-secret":
        return 403, "SignatureDoesNotMatch"
    if caller == "unknown-key":
        return 403, "InvalidAccessKeyId"
    need = operations[op]
    if caller == "owner":
        allowed = True
    elif need == "read":
        allowed = acl in ("public-read", "public-read-write")
    elif need == "write":
        allowed = acl == "public-read-write"
    else:
        allowed = False
    if not allowed:
        return 403, "AccessDenied"
    if op == "delete_bucket":
        return 409, "BucketNotEmpty"
    return 200, None


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", list(OPERATIONS))
def test_matrix(callers, buckets, op, acl, caller):
    bucket = buckets[acl]
    status, code = expected(op, acl, caller)
    if status == 200:
        call(callers[caller], op, bucket, acl, caller)
        return
    with pytest.raises(ClientError) as err:
        call(callers[caller], op, bucket, acl, caller)
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    if not op.startswith("head_"):
        # HEAD answers have no body, so only their status can be checked.
        assert response["Error"]["Code"] == code, response
    if caller != "owner":
        message = str(response.get("Error", {}))
        assert OWNER_ID not in message, message
        for other_bucket in buckets.values():
            if other_bucket != bucket:
                assert other_bucket not in message, message


def test_matrix_left_everything_in_place(owner, buckets):
    """After the matrix: every bucket still exists with its ACL and its object intact."""
    for acl, bucket in buckets.items():
        assert owner.get_object(Bucket=bucket, Key="o")["Body"].read() == b"object body"
        grants = owner.get_bucket_acl(Bucket=bucket)["Grants"]
        assert grants, (acl, grants)
        listed = [o["Key"] for o in owner.list_objects(Bucket=bucket).get("Contents", [])]
        # Only the owner's and (public-read-write) the others' writes were added.
        writers = {k.split("-", 1)[0] for k in listed if k not in ("o", "acl-target")}
        if acl == "public-read-write":
            assert writers <= {"owner", "other", "anonymous"}, listed
        else:
            assert writers <= {"owner"}, listed
