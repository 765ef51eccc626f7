"""The authorization matrix over HTTP, OSS dialect through oss2 with signature V1 and V4:
the rules of `test_auth_matrix.py` (the S3 dialect), for every object and bucket operation
oss2 sends, as each kind of caller, against a private, a public-read and a
public-read-write bucket. GetBucketInfo is the owner's only, like the ACLs and
DeleteBucket.

The callers that fail a time or body check, as there: a clock 20 minutes off is 403
RequestTimeTooSkewed; an expired presigned URL (V1 and V4) 403 AccessDenied "Request has
expired."; a body changed after signing no longer matches the signed Content-MD5, 400
InvalidDigest (OSS's code for it; S3 says BadDigest), or with the Content-MD5 changed too,
403 SignatureDoesNotMatch.
"""

import base64
import uuid
from email.utils import formatdate

import oss2
import pytest
import requests
from oss2 import exceptions as oe

from conftest import Creds, error_code, md5_b64
from test_auth_matrix import ACLS, CALLERS, OWNER_ID, SKEW_SECS, expected

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


# Callers whose signature verifies with a real key but fails a time or body check (see
# test_auth_matrix.py): refused on every bucket, never served as anonymous.

# The operations a presigned URL is made for here: (method, key, sub-resource, body).
PRESIGNED = {
    "list_objects": ("GET", "", {}, None),
    "get_object": ("GET", "o", {}, None),
    "head_object": ("HEAD", "o", {}, None),
    "put_object": ("PUT", "{caller}-put_object", {}, b"written"),
    "delete_object": ("DELETE", "{caller}-delete_object-absent", {}, None),
    "get_bucket_info": ("GET", "", {"bucketInfo": ""}, None),
    "get_bucket_acl": ("GET", "", {"acl": ""}, None),
    "get_object_acl": ("GET", "acl-target", {"acl": ""}, None),
    "delete_bucket": ("DELETE", "", {}, None),
}
# The operations with a body, which oss2 signs through its Content-MD5 (V1 and V4 sign that
# header; oss2's V4 sends UNSIGNED-PAYLOAD): a changed body no longer matches it, and a
# Content-MD5 changed with it no longer matches the signature.
BODY_OPS = ["put_object", "delete_objects"]
TAMPERED = {
    "unchanged": (200, None),
    "body": (400, "InvalidDigest"),
    "body-and-md5": (403, "SignatureDoesNotMatch"),
}


def moved_clock(monkeypatch, secs):
    """Makes oss2 sign as if its clock were `secs` seconds off: V1 takes the Date from
    `utils.http_date` (and presigned expiry from `time.time`), V4 from `datetime.utcnow`."""
    import datetime
    import time
    import types

    import oss2.auth
    import oss2.utils

    monkeypatch.setattr(oss2.utils, "http_date", lambda t=None: formatdate(time.time() + secs, usegmt=True))

    class Moved(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcfromtimestamp(time.time() + secs)

    monkeypatch.setattr(oss2.auth, "datetime", Moved)
    monkeypatch.setattr(oss2.auth, "time", types.SimpleNamespace(time=lambda: time.time() + secs))


def signer_creds(signer, creds, other_creds):
    return creds if signer == "owner" else other_creds


def check_denial(err_status, err_code, text, want, head, buckets, name):
    assert err_status == want[0], (err_status, err_code, text)
    if not head:
        # HEAD answers have no body, so only their status can be checked.
        assert err_code == want[1], (err_status, err_code, text)
    assert OWNER_ID not in text, text
    for other in buckets.values():
        if other != name:
            assert other not in text, text


@pytest.mark.parametrize("signature", ["v1", "v4"])
@pytest.mark.parametrize("direction", ["behind", "ahead"])
@pytest.mark.parametrize("signer", ["owner", "other"])
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", list(OPERATIONS))
def test_skewed_clock(
    monkeypatch, endpoint, oss_region, creds, other_creds, buckets, op, acl, signer, direction,
    signature,
):
    """A request signed with a clock 20 minutes off: 403 RequestTimeTooSkewed."""
    name = buckets[acl]
    b = bucket_of(endpoint, oss_region, signature, signer_creds(signer, creds, other_creds), name)
    moved_clock(monkeypatch, SKEW_SECS if direction == "ahead" else -SKEW_SECS)
    with pytest.raises(oe.ServerError) as err:
        call(b, op, acl, f"skewed-{signer}")
    e = err.value
    text = f"{e.message} {e.details}"
    check_denial(
        e.status, e.code, text, (403, "RequestTimeTooSkewed"), op == "head_object", buckets, name
    )


def presigned_url(b, op, caller, expires):
    method, key, params, body = PRESIGNED[op]
    key = key.format(caller=caller)
    req = oss2.http.Request(
        method,
        b._make_url(b.bucket_name, key),
        params=dict(params),
        region=b.region,
        product=b.product,
        cloudbox_id=b.cloudbox_id,
    )
    return method, b.auth._sign_url(req, b.bucket_name, key, expires), body


@pytest.mark.parametrize("state", ["fresh", "expired"])
@pytest.mark.parametrize("signature", ["v1", "v4"])
@pytest.mark.parametrize("signer", ["owner", "other"])
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", list(PRESIGNED))
def test_presigned(
    monkeypatch, endpoint, oss_region, creds, other_creds, buckets, op, acl, signer, signature,
    state,
):
    """A presigned URL is its signer's request while it is valid and 403 AccessDenied
    "Request has expired." afterwards, on every bucket."""
    name = buckets[acl]
    b = bucket_of(endpoint, oss_region, signature, signer_creds(signer, creds, other_creds), name)
    if state == "expired":
        # Signed two hours ago, valid for one.
        moved_clock(monkeypatch, -7200)
    method, url, body = presigned_url(b, op, f"{signer}-presigned", 3600)
    monkeypatch.undo()
    r = requests.request(method, url, data=body, timeout=60)
    if state == "fresh":
        want = expected(op, acl, signer, OPERATIONS)
        if want[0] == 200:
            assert r.status_code in (200, 204), (r.status_code, r.text)
            return
    else:
        want = (403, "AccessDenied")
    # A HEAD answer carries its error document base64-encoded in x-oss-err.
    text = base64.b64decode(r.headers["x-oss-err"]).decode() if method == "HEAD" else r.text
    check_denial(r.status_code, error_code(text), text, want, False, buckets, name)
    if state == "expired":
        assert "Request has expired" in text, text


class TamperingSession(oss2.Session):
    """Changes the last byte of a request's body after oss2 signed it and, in
    `body-and-md5` mode, its Content-MD5 to match the new body."""

    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def do_request(self, req, timeout):
        data = req.data
        if hasattr(data, "read"):
            data = data.read()
        data = bytes(data)
        assert data and "Content-MD5" in req.headers, "a body signed through its Content-MD5"
        changed = data[:-1] + bytes([data[-1] ^ 0x01])
        req.data = changed
        if self.mode == "body-and-md5":
            req.headers["Content-MD5"] = md5_b64(changed)
        return super().do_request(req, timeout)


def body_call(b, op, key):
    if op == "put_object":
        body = b"tampered body"
        return b.put_object(key, body, headers={"Content-MD5": md5_b64(body)})
    if op == "delete_objects":
        return b.batch_delete_objects(["o"])
    raise AssertionError(op)


def tampering_bucket(endpoint, oss_region, signature, creds, name, mode):
    a = auth(signature, creds)
    session = None if mode == "unchanged" else TamperingSession(mode)
    if signature == "v4":
        return oss2.Bucket(a, endpoint, name, region=oss_region, session=session)
    return oss2.Bucket(a, endpoint, name, session=session)


@pytest.mark.parametrize("mode", list(TAMPERED))
@pytest.mark.parametrize("signature", ["v1", "v4"])
@pytest.mark.parametrize("acl", ACLS)
@pytest.mark.parametrize("op", BODY_OPS)
def test_body_changed_after_signing(endpoint, oss_region, creds, buckets, op, acl, signature, mode):
    """The owner's request whose body changed on the way: refused, and nothing changed."""
    name = buckets[acl]
    owner = bucket_of(endpoint, oss_region, "v1", creds, name)
    b = tampering_bucket(endpoint, oss_region, signature, creds, name, mode)
    key = f"owner-body-{signature}-{mode}"
    want = TAMPERED[mode]
    if want[0] == 200:
        body_call(b, op, key)
        if op == "delete_objects":
            owner.put_object("o", b"object body")
        return
    with pytest.raises(oe.ServerError) as err:
        body_call(b, op, key)
    e = err.value
    check_denial(e.status, e.code, f"{e.message} {e.details}", want, False, buckets, name)
    assert owner.get_object("o").read() == b"object body"
    assert owner.object_exists(key) is False


@pytest.mark.parametrize("mode", list(TAMPERED))
@pytest.mark.parametrize("signature", ["v1", "v4"])
def test_create_bucket_body_changed_after_signing(endpoint, oss_region, creds, signature, mode):
    """PutBucket with a CreateBucketConfiguration whose bytes changed after signing:
    refused, and no bucket is made."""
    name = f"authz-oss-create-{signature}-{mode}-{uuid.uuid4().hex[:8]}"
    b = tampering_bucket(endpoint, oss_region, signature, creds, name, mode)
    config = oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_STANDARD)
    document = oss2.xml_utils.to_put_bucket_config(config)
    headers = {"Content-MD5": md5_b64(document)}
    want = TAMPERED[mode]
    if want[0] == 200:
        b.create_bucket(oss2.BUCKET_ACL_PRIVATE, config, headers=headers)
        bucket_of(endpoint, oss_region, "v1", creds, name).delete_bucket()
        return
    with pytest.raises(oe.ServerError) as err:
        b.create_bucket(oss2.BUCKET_ACL_PRIVATE, config, headers=headers)
    assert (err.value.status, err.value.code) == want, err.value
    with pytest.raises(oe.NoSuchBucket):
        bucket_of(endpoint, oss_region, "v1", creds, name).get_bucket_info()


def test_matrix_left_everything_in_place(endpoint, oss_region, creds, buckets):
    for acl, name in buckets.items():
        b = bucket_of(endpoint, oss_region, "v1", creds, name)
        assert b.get_object("o").read() == b"object body"
        assert b.get_bucket_acl().acl == acl
