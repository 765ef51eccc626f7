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

Then the callers whose key and signature are real but whose request fails a time or body
check, signed by the owner and by the other user. A signed request is authenticated, never
served as anonymous, so a public bucket refuses it as a private one does:

- a clock 20 minutes behind or ahead: 403 RequestTimeTooSkewed, for every operation;
- a presigned URL (SigV4 and signature version 2) is its signer's request while valid and
  403 AccessDenied "Request has expired" afterwards;
- a body changed after signing (PutObject, PutBucketAcl with a document, DeleteObjects,
  CreateBucket with a configuration): the signed x-amz-content-sha256 no longer matches,
  400 XAmzContentSHA256Mismatch; with that header changed too, 403 SignatureDoesNotMatch;
  under a presigned PUT (UNSIGNED-PAYLOAD) a stale Content-MD5 gives 400 BadDigest. Nothing
  is stored, deleted or changed.

Denials must reveal nothing of the owner: no user id, and no other bucket's name.
"""

import hashlib
import uuid

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Creds, error_code, md5_b64

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


# Callers whose signature verifies with a real key but fails a time or body check. A signed
# request is authenticated, never served as anonymous: on a public bucket it is refused as
# on a private one.

# More than the 15 minutes both services allow between the request time and theirs.
SKEW_SECS = 20 * 60 + 30
SIGNERS = ["owner", "other"]
# The operations a presigned URL is made for here: the URL and at most a raw body.
PRESIGNED = [
    "head_bucket",
    "list_objects",
    "get_object",
    "head_object",
    "put_object",
    "delete_object",
    "get_bucket_acl",
    "get_object_acl",
    "delete_bucket",
]
# The operations with a request body, and how a body changed after signing is answered:
# the SHA-256 the signature covers no longer matches (or, with the header changed too,
# the signature no longer verifies).
BODY_OPS = ["put_object", "put_bucket_acl", "delete_objects"]
TAMPERED = {
    "unchanged": (200, None),
    "body": (400, "XAmzContentSHA256Mismatch"),
    "body-and-sha256": (403, "SignatureDoesNotMatch"),
}


def signer_creds(signer, creds, other_creds):
    return creds if signer == "owner" else other_creds


_CLIENTS = {}


def shared_client(endpoint, region, creds, version="s3v4"):
    """One client per key and signature version for the tests that add no hooks (a boto3
    client takes longer to make than a request takes to answer)."""
    at = (endpoint, region, creds, version)
    if at not in _CLIENTS:
        _CLIENTS[at] = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret,
            config=Config(signature_version=version, retries={"max_attempts": 1}),
        )
    return _CLIENTS[at]


def moved_clock(monkeypatch, secs):
    """Makes botocore sign as if its clock were `secs` seconds off (SigV4 takes the time
    from `get_current_datetime`, S3 V2 presigning from `time.time`)."""
    import datetime
    import time
    import types

    import botocore.auth

    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda *a, **k: real(*a, **k) + datetime.timedelta(seconds=secs),
    )
    monkeypatch.setattr(botocore.auth, "time", types.SimpleNamespace(time=lambda: time.time() + secs))


def assert_denial(status, code, message, want_status, want_code, head, buckets, bucket):
    assert status == want_status, (status, code, message)
    if not head:
        # HEAD answers have no body, so only their status can be checked.
        assert code == want_code, (status, code, message)
    assert OWNER_ID not in message, message
    for other_bucket in buckets.values():
        if other_bucket != bucket:
            assert other_bucket not in message, message


def client_error(err):
    response = err.value.response
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return status, response["Error"].get("Code"), str(response.get("Error", {}))


@pytest.mark.parametrize("direction", ["behind", "ahead"])
@pytest.mark.parametrize("signer", SIGNERS)
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", list(OPERATIONS))
def test_skewed_clock(
    monkeypatch, endpoint, s3_region, creds, other_creds, buckets, op, acl, signer, direction
):
    """A request signed with a clock 20 minutes off: 403 RequestTimeTooSkewed, whatever
    the bucket's ACL would grant the signer or an anonymous caller."""
    s3 = shared_client(endpoint, s3_region, signer_creds(signer, creds, other_creds))
    moved_clock(monkeypatch, SKEW_SECS if direction == "ahead" else -SKEW_SECS)
    with pytest.raises(ClientError) as err:
        call(s3, op, buckets[acl], acl, f"skewed-{signer}")
    status, code, message = client_error(err)
    head = op.startswith("head_")
    assert_denial(status, code, message, 403, "RequestTimeTooSkewed", head, buckets, buckets[acl])


def presigned_request(s3, op, bucket, caller):
    """(method, ClientMethod params, body) of a presigned call of `op`."""
    key = f"{caller}-{op}"
    return {
        "head_bucket": ("HEAD", {"Bucket": bucket}, None),
        "list_objects": ("GET", {"Bucket": bucket}, None),
        "get_object": ("GET", {"Bucket": bucket, "Key": "o"}, None),
        "head_object": ("HEAD", {"Bucket": bucket, "Key": "o"}, None),
        "put_object": ("PUT", {"Bucket": bucket, "Key": key}, b"written"),
        "delete_object": ("DELETE", {"Bucket": bucket, "Key": f"{key}-absent"}, None),
        "get_bucket_acl": ("GET", {"Bucket": bucket}, None),
        "get_object_acl": ("GET", {"Bucket": bucket, "Key": "acl-target"}, None),
        "delete_bucket": ("DELETE", {"Bucket": bucket}, None),
    }[op]


def presigner(endpoint, region, creds, style):
    """A client that presigns with SigV4 (`v4`) or S3's signature version 2 (`v2`)."""
    return shared_client(endpoint, region, creds, "s3v4" if style == "v4" else "s3")


@pytest.mark.parametrize("state", ["fresh", "expired"])
@pytest.mark.parametrize("style", ["v4", "v2"])
@pytest.mark.parametrize("signer", SIGNERS)
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", PRESIGNED)
def test_presigned(
    monkeypatch, endpoint, s3_region, creds, other_creds, buckets, op, acl, signer, style, state
):
    """A presigned URL is its signer's request while it is valid (the ACL rules of the
    matrix) and 403 AccessDenied "Request has expired" afterwards, on every bucket."""
    s3 = presigner(endpoint, s3_region, signer_creds(signer, creds, other_creds), style)
    bucket = buckets[acl]
    method, params, body = presigned_request(s3, op, bucket, f"{signer}-presigned")
    if state == "expired":
        # Signed two hours ago, valid for one.
        moved_clock(monkeypatch, -7200)
    url = s3.generate_presigned_url(op, Params=params, ExpiresIn=3600)
    monkeypatch.undo()
    r = requests.request(method, url, data=body, timeout=60)
    if state == "fresh":
        want_status, want_code = expected(op, acl, signer)
        if want_status == 200:
            assert r.status_code in (200, 204), (r.status_code, r.text)
            return
    else:
        want_status, want_code = 403, "AccessDenied"
    code = error_code(r.content) if r.content else None
    assert_denial(
        r.status_code, code, r.text, want_status, want_code, method == "HEAD", buckets, bucket
    )
    if state == "expired" and method != "HEAD":
        assert "Request has expired" in r.text, r.text


def tamper(mode):
    """A botocore before-send hook that changes the last byte of the signed body and,
    in `body-and-sha256` mode, the x-amz-content-sha256 header to match the new body."""

    def hook(request, **_):
        body = request.body
        if hasattr(body, "read"):
            body.seek(0)
            body = body.read()
        assert body, "a body to change"
        changed = bytes(body[:-1]) + bytes([body[-1] ^ 0x01])
        request.body = changed
        if mode == "body-and-sha256":
            claimed = request.headers["x-amz-content-sha256"]
            assert len(claimed) == 64, f"the payload is signed ({claimed})"
            del request.headers["x-amz-content-sha256"]
            request.headers["x-amz-content-sha256"] = hashlib.sha256(changed).hexdigest()

    return hook


def body_call(s3, op, bucket, key, policy):
    if op == "put_object":
        return s3.put_object(Bucket=bucket, Key=key, Body=b"tampered body")
    if op == "put_bucket_acl":
        return s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=policy)
    if op == "delete_objects":
        return s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "o"}]})
    raise AssertionError(op)


@pytest.mark.parametrize("mode", list(TAMPERED))
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", BODY_OPS)
def test_body_changed_after_signing(
    endpoint, s3_region, creds, owner, buckets, op, acl, mode
):
    """The owner's request whose body changed on the way: refused, and nothing changed."""
    bucket = buckets[acl]
    policy = owner.get_bucket_acl(Bucket=bucket)
    policy = {"Owner": policy["Owner"], "Grants": policy["Grants"]}
    s3 = client(endpoint, s3_region, creds)
    if mode != "unchanged":
        s3.meta.events.register("before-send.s3", tamper(mode))
    want_status, want_code = TAMPERED[mode]
    key = f"owner-body-{mode}"
    if want_status == 200:
        body_call(s3, op, bucket, key, policy)
        if op == "delete_objects":
            # Put back what the control deleted.
            owner.put_object(Bucket=bucket, Key="o", Body=b"object body")
        return
    with pytest.raises(ClientError) as err:
        body_call(s3, op, bucket, key, policy)
    status, code, message = client_error(err)
    assert_denial(status, code, message, want_status, want_code, False, buckets, bucket)
    # Nothing was stored, deleted or changed.
    assert owner.get_object(Bucket=bucket, Key="o")["Body"].read() == b"object body"
    assert owner.get_bucket_acl(Bucket=bucket)["Grants"] == policy["Grants"]
    if op == "put_object":
        with pytest.raises(ClientError) as absent:
            owner.head_object(Bucket=bucket, Key=key)
        assert client_error(absent)[0] == 404


@pytest.mark.parametrize("mode", list(TAMPERED))
def test_create_bucket_body_changed_after_signing(endpoint, s3_region, creds, owner, mode):
    """CreateBucket with a CreateBucketConfiguration whose bytes changed after signing:
    refused, and no bucket is made."""
    name = f"authz-create-{mode}-{uuid.uuid4().hex[:8]}"
    s3 = client(endpoint, s3_region, creds)
    if mode != "unchanged":
        s3.meta.events.register("before-send.s3", tamper(mode))
    config = {"LocationConstraint": "eu-west-1"}
    want_status, want_code = TAMPERED[mode]
    if want_status == 200:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
        owner.delete_bucket(Bucket=name)
        return
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)
    status, code, message = client_error(err)
    assert (status, code) == (want_status, want_code), message
    with pytest.raises(ClientError) as absent:
        owner.head_bucket(Bucket=name)
    assert client_error(absent)[0] == 404


@pytest.mark.parametrize("acl", ACLS)
def test_presigned_put_with_content_md5_of_other_bytes(endpoint, s3_region, creds, owner, buckets, acl):
    """A presigned PUT signs no payload hash (UNSIGNED-PAYLOAD): a Content-MD5 that does
    not match the body is what catches the change, 400 BadDigest, and nothing is stored."""
    bucket = buckets[acl]
    s3 = presigner(endpoint, s3_region, creds, "v4")
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "owner-presigned-md5"}, ExpiresIn=600
    )
    headers = {"Content-MD5": md5_b64(b"the signed body")}
    r = requests.put(url, data=b"the signed bodz", headers=headers, timeout=60)
    assert (r.status_code, error_code(r.content)) == (400, "BadDigest"), r.text
    with pytest.raises(ClientError) as absent:
        owner.head_object(Bucket=bucket, Key="owner-presigned-md5")
    assert client_error(absent)[0] == 404


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
