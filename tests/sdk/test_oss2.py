"""oss2 against the OSS dialect, every test once with signature V1 (`oss2.Auth`) and once
with V4 (`oss2.AuthV4`, region scope), path style against the IP endpoint.

oss2 checks CRC-64 by itself (enable_crc=True, its default): an upload's
x-oss-hash-crc64ecma against its own, and a full download's at the end of the read. It
skips the check when the header is missing, so the tests also assert the header's value.
OSS bucket names are validated by oss2 before any request (3-63 of [a-z0-9-]), so
InvalidBucketName from the server is covered by the S3 suites.
"""

import datetime
import email.utils
from unittest import mock

import oss2
import oss2.auth
import pytest
from oss2 import exceptions as oe

from conftest import (
    MIB,
    ROUND_TRIP_SIZES,
    anonymous_get,
    content,
    crc64ecma,
    error_code,
    md5_b64,
    md5_hex,
)

import xml.etree.ElementTree as ET


@pytest.fixture(params=["v1", "v4"])
def signature(request):
    return request.param


class Oss:
    """Makes oss2 Bucket and Service objects for one signature version and key."""

    def __init__(self, endpoint, region, signature, creds):
        self.endpoint = endpoint
        self.region = region
        if creds is None:
            self.auth = oss2.AnonymousAuth()
        elif signature == "v1":
            self.auth = oss2.Auth(creds.access_key_id, creds.secret)
        else:
            self.auth = oss2.AuthV4(creds.access_key_id, creds.secret)
        self.v4 = signature == "v4"

    def bucket(self, name):
        if self.v4:
            return oss2.Bucket(self.auth, self.endpoint, name, region=self.region)
        return oss2.Bucket(self.auth, self.endpoint, name)

    def service(self):
        if self.v4:
            return oss2.Service(self.auth, self.endpoint, region=self.region)
        return oss2.Service(self.auth, self.endpoint)


@pytest.fixture
def oss(endpoint, oss_region, signature, creds):
    return Oss(endpoint, oss_region, signature, creds)


@pytest.fixture
def anon(endpoint, oss_region, signature):
    return Oss(endpoint, oss_region, signature, None)


@pytest.fixture
def bucket(oss, bucket_name):
    b = oss.bucket(bucket_name)
    b.create_bucket()
    return b


def assert_request_id(err):
    assert err.request_id and len(err.request_id) == 24, err.request_id


# ---- buckets -------------------------------------------------------------------------


def test_bucket_create_info_location_list_delete(oss, bucket_name):
    b = oss.bucket(bucket_name)
    b.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ, oss2.models.BucketCreateConfig(oss2.BUCKET_STORAGE_CLASS_IA))
    info = b.get_bucket_info()
    assert info.name == bucket_name
    assert info.storage_class == oss2.BUCKET_STORAGE_CLASS_IA
    assert info.acl.grant == oss2.BUCKET_ACL_PUBLIC_READ
    assert info.owner.id
    assert info.creation_date
    location = b.get_bucket_location().location
    assert location and location == info.location
    listed = {x.name: x for x in oss2.BucketIterator(oss.service())}
    assert bucket_name in listed
    assert listed[bucket_name].location == location
    assert listed[bucket_name].storage_class == oss2.BUCKET_STORAGE_CLASS_IA
    prefixed = oss.service().list_buckets(prefix=bucket_name)
    assert [x.name for x in prefixed.buckets] == [bucket_name]
    b.delete_bucket()
    with pytest.raises(oe.NoSuchBucket) as err:
        b.get_bucket_info()
    assert_request_id(err.value)
    assert bucket_name not in [x.name for x in oss2.BucketIterator(oss.service())]


def test_list_buckets_pagination(oss, bucket_name):
    names = [f"{bucket_name[:50]}-{i}" for i in range(3)]
    for name in names:
        oss.bucket(name).create_bucket()
    prefix = bucket_name[:50]
    first = oss.service().list_buckets(prefix=prefix, max_keys=2)
    assert [b.name for b in first.buckets] == names[:2]
    assert first.is_truncated is True
    second = oss.service().list_buckets(prefix=prefix, max_keys=2, marker=first.next_marker)
    assert [b.name for b in second.buckets] == names[2:]
    assert second.is_truncated is False
    assert [b.name for b in oss2.BucketIterator(oss.service(), prefix=prefix, max_keys=1)] == names


def test_bucket_acl_get_put(bucket):
    assert bucket.get_bucket_acl().acl == oss2.BUCKET_ACL_PRIVATE
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    assert bucket.get_bucket_acl().acl == oss2.BUCKET_ACL_PUBLIC_READ_WRITE
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert bucket.get_bucket_acl().acl == oss2.BUCKET_ACL_PUBLIC_READ
    assert bucket.get_bucket_info().acl.grant == oss2.BUCKET_ACL_PUBLIC_READ


def test_delete_non_empty_bucket_is_refused(bucket):
    bucket.put_object("k", b"x")
    with pytest.raises(oe.BucketNotEmpty) as err:
        bucket.delete_bucket()
    assert err.value.status == 409
    assert bucket.get_object("k").read() == b"x"


def test_missing_bucket_and_key(oss, bucket):
    missing = oss.bucket(bucket.bucket_name + "-missing")
    with pytest.raises(oe.NoSuchBucket):
        missing.get_object("k")
    with pytest.raises(oe.NoSuchBucket):
        missing.list_objects()
    with pytest.raises(oe.NoSuchBucket):
        missing.delete_bucket()
    with pytest.raises(oe.NoSuchKey) as err:
        bucket.get_object("no/such/key")
    assert err.value.status == 404
    assert_request_id(err.value)
    # HEAD has no body: the error code travels in x-oss-err, which oss2 decodes.
    with pytest.raises(oe.NoSuchKey) as err:
        bucket.head_object("no/such/key")
    assert_request_id(err.value)
    with pytest.raises(oe.NotFound):
        bucket.get_object_meta("no/such/key")
    assert bucket.object_exists("no/such/key") is False


def test_unsupported_operation_is_not_implemented(bucket):
    # Static website hosting is not offered: a clear 501, never a fake success.
    with pytest.raises(oe.ServerError) as err:
        bucket.put_bucket_website(oss2.models.BucketWebsite("index.html", "error.html"))
    assert err.value.code == "NotImplemented"
    assert err.value.status == 501


# ---- objects -------------------------------------------------------------------------


@pytest.mark.parametrize("size", ROUND_TRIP_SIZES)
def test_put_get_head_round_trip(bucket, size):
    data = content(size, 31)
    key = f"dir/obj-{size}"
    put = bucket.put_object(
        key, data, headers={"Content-Type": "application/x-test", "x-oss-meta-color": "blue", "x-oss-meta-n": "1"}
    )
    assert put.status == 200
    assert put.etag.lower() == md5_hex(data)
    assert len(put.request_id) == 24
    assert put.crc == crc64ecma(data)
    got = bucket.get_object(key)
    assert got.read() == data
    assert got.content_length == size
    assert got.content_type == "application/x-test"
    assert got.headers["x-oss-meta-color"] == "blue"
    assert got.etag.lower() == md5_hex(data)
    head = bucket.head_object(key)
    assert head.content_length == size
    assert head.object_type == "Normal"
    assert head.content_type == "application/x-test"
    assert head.headers["x-oss-meta-n"] == "1"
    assert head.headers["x-oss-hash-crc64ecma"] == str(crc64ecma(data))
    assert head.etag == got.etag
    meta = bucket.get_object_meta(key)
    assert meta.content_length == size
    assert meta.etag == got.etag
    assert meta.last_modified > 0
    assert bucket.object_exists(key) is True


def test_get_to_file_and_put_from_file(bucket, tmp_path):
    data = content(6 * MIB + 7, 32)
    src = tmp_path / "src"
    src.write_bytes(data)
    bucket.put_object_from_file("files/big", str(src))
    dst = tmp_path / "dst"
    bucket.get_object_to_file("files/big", str(dst))
    assert dst.read_bytes() == data


def test_forbid_overwrite(bucket):
    bucket.put_object("fo", b"first", headers={"x-oss-forbid-overwrite": "true"})
    with pytest.raises(oe.ServerError) as err:
        bucket.put_object("fo", b"second", headers={"x-oss-forbid-overwrite": "true"})
    assert err.value.code == "FileAlreadyExists"
    assert err.value.status == 409
    assert bucket.get_object("fo").read() == b"first"
    bucket.put_object("fo", b"third", headers={"x-oss-forbid-overwrite": "false"})
    assert bucket.get_object("fo").read() == b"third"


def test_key_length_limit(bucket):
    longest = "k/" + "x" * 1021
    bucket.put_object(longest, b"1023 bytes of key")
    assert bucket.get_object(longest).read() == b"1023 bytes of key"
    with pytest.raises(oe.ServerError) as err:
        bucket.put_object("k/" + "x" * 1023, b"too long")
    assert err.value.code == "InvalidObjectName"
    assert err.value.status == 400


def test_ranges(bucket):
    data = content(1000, 33)
    bucket.put_object("r", data)
    got = bucket.get_object("r", byte_range=(10, 19))
    assert got.status == 206
    assert got.headers["Content-Range"] == "bytes 10-19/1000"
    assert got.read() == data[10:20]
    got = bucket.get_object("r", byte_range=(None, 7))
    assert got.status == 206
    assert got.headers["Content-Range"] == "bytes 993-999/1000"
    assert got.read() == data[-7:]
    got = bucket.get_object("r", byte_range=(990, None))
    assert got.headers["Content-Range"] == "bytes 990-999/1000"
    assert got.read() == data[990:]
    with pytest.raises(oe.ServerError) as err:
        bucket.get_object("r", byte_range=(1000, None), headers={"x-oss-range-behavior": "standard"})
    assert err.value.status == 416
    assert err.value.code == "InvalidRange"


def test_conditional_get(bucket):
    bucket.put_object("c", b"conditional")
    head = bucket.head_object("c")
    etag = head.headers["ETag"]
    later = email.utils.formatdate(head.last_modified + 86400, usegmt=True)
    earlier = email.utils.formatdate(head.last_modified - 86400, usegmt=True)
    assert bucket.get_object("c", headers={"If-Match": etag}).read() == b"conditional"
    with pytest.raises(oe.PreconditionFailed) as err:
        bucket.get_object("c", headers={"If-Match": '"00000000000000000000000000000000"'})
    assert err.value.status == 412
    with pytest.raises(oe.NotModified):
        bucket.get_object("c", headers={"If-None-Match": etag})
    with pytest.raises(oe.NotModified):
        bucket.get_object("c", headers={"If-Modified-Since": later})
    assert bucket.get_object("c", headers={"If-Modified-Since": earlier}).read() == b"conditional"
    with pytest.raises(oe.PreconditionFailed):
        bucket.get_object("c", headers={"If-Unmodified-Since": earlier})
    assert bucket.get_object("c", headers={"If-Unmodified-Since": later}).read() == b"conditional"


def test_response_header_overrides(bucket):
    bucket.put_object("o", b"override", headers={"Content-Type": "text/plain"})
    got = bucket.get_object(
        "o",
        params={
            "response-content-type": "application/json",
            "response-content-disposition": 'attachment; filename="x.json"',
            "response-cache-control": "no-cache",
            "response-content-language": "de",
            "response-content-encoding": "identity",
            "response-expires": "Thu, 01 Dec 1994 16:00:00 GMT",
        },
    )
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Content-Disposition"] == 'attachment; filename="x.json"'
    assert got.headers["Cache-Control"] == "no-cache"
    assert got.headers["Content-Language"] == "de"
    assert got.headers["Content-Encoding"] == "identity"
    assert got.headers["Expires"] == "Thu, 01 Dec 1994 16:00:00 GMT"
    assert got.read() == b"override"


def test_content_md5(bucket):
    with pytest.raises(oe.ServerError) as err:
        bucket.put_object("m", b"payload", headers={"Content-MD5": md5_b64(b"other")})
    # OSS answers a Content-MD5 that differs from the body with InvalidDigest (S3: BadDigest).
    assert err.value.code == "InvalidDigest"
    assert err.value.status == 400
    assert bucket.object_exists("m") is False
    with pytest.raises(oe.InvalidDigest):
        bucket.put_object("m", b"payload", headers={"Content-MD5": "not-an-md5"})
    bucket.put_object("m", b"payload", headers={"Content-MD5": md5_b64(b"payload")})
    assert bucket.get_object("m").read() == b"payload"


def test_keys_with_special_characters(bucket):
    keys = ["a b/c+d", "ünïcødé/ключ", "xml<&>'\"", "percent%2Fliteral", "tilde~star*", "q?x=1#frag"]
    for i, key in enumerate(keys):
        bucket.put_object(key, content(10, i))
    for i, key in enumerate(keys):
        assert bucket.get_object(key).read() == content(10, i)
        assert bucket.head_object(key).content_length == 10
    # oss2 lists with encoding-type=url and decodes the keys itself.
    assert [o.key for o in oss2.ObjectIterator(bucket)] == sorted(keys)
    assert [o.key for o in oss2.ObjectIteratorV2(bucket)] == sorted(keys)
    deleted = bucket.batch_delete_objects(keys).deleted_keys
    assert sorted(deleted) == sorted(keys)


def test_delete_and_batch_delete(bucket):
    for i in range(5):
        bucket.put_object(f"del/{i}", b"x")
    assert bucket.delete_object("del/0").status == 204
    assert bucket.object_exists("del/0") is False
    assert bucket.delete_object("del/0").status == 204
    result = bucket.batch_delete_objects(["del/1", "del/2", "del/missing"])
    assert sorted(result.deleted_keys) == ["del/1", "del/2", "del/missing"]
    assert [o.key for o in oss2.ObjectIterator(bucket)] == ["del/3", "del/4"]


# ---- listing -------------------------------------------------------------------------

LIST_KEYS = ["a/1", "a/2", "a/b/3", "b/4", "c", "d/5", "d/6"]


@pytest.fixture
def listed(bucket):
    for key in LIST_KEYS:
        bucket.put_object(key, key.encode())
    return bucket


def test_list_v1(listed):
    r = listed.list_objects()
    assert [o.key for o in r.object_list] == LIST_KEYS
    assert r.object_list[0].size == 3
    assert r.object_list[0].etag.lower() == md5_hex(b"a/1")
    assert r.is_truncated is False
    r = listed.list_objects(delimiter="/")
    assert [o.key for o in r.object_list] == ["c"]
    assert r.prefix_list == ["a/", "b/", "d/"]
    r = listed.list_objects(prefix="a/", delimiter="/")
    assert [o.key for o in r.object_list] == ["a/1", "a/2"]
    assert r.prefix_list == ["a/b/"]
    r = listed.list_objects(marker="b/4")
    assert [o.key for o in r.object_list] == ["c", "d/5", "d/6"]
    r = listed.list_objects(max_keys=3)
    assert [o.key for o in r.object_list] == ["a/1", "a/2", "a/b/3"]
    assert r.is_truncated is True
    assert r.next_marker == "a/b/3"
    r = listed.list_objects(max_keys=3, marker=r.next_marker)
    assert [o.key for o in r.object_list] == ["b/4", "c", "d/5"]
    assert [o.key for o in oss2.ObjectIterator(listed, max_keys=2)] == LIST_KEYS
    both = [(o.key, o.is_prefix()) for o in oss2.ObjectIterator(listed, delimiter="/", max_keys=2)]
    assert both == [("a/", True), ("b/", True), ("c", False), ("d/", True)]


def test_list_v2(listed):
    r = listed.list_objects_v2(max_keys=3)
    assert [o.key for o in r.object_list] == LIST_KEYS[:3]
    assert r.is_truncated is True
    r2 = listed.list_objects_v2(max_keys=3, continuation_token=r.next_continuation_token)
    assert [o.key for o in r2.object_list] == ["b/4", "c", "d/5"]
    r = listed.list_objects_v2(start_after="c")
    assert [o.key for o in r.object_list] == ["d/5", "d/6"]
    r = listed.list_objects_v2(prefix="a/", delimiter="/")
    assert [o.key for o in r.object_list] == ["a/1", "a/2"]
    assert r.prefix_list == ["a/b/"]
    r = listed.list_objects_v2(fetch_owner=True, max_keys=1)
    assert r.object_list[0].owner.id
    assert [o.key for o in oss2.ObjectIteratorV2(listed, max_keys=2)] == LIST_KEYS
    r = listed.list_objects_v2(prefix="zzz")
    assert r.object_list == [] and r.is_truncated is False


# ---- authentication ------------------------------------------------------------------


def test_wrong_secret_is_signature_mismatch(endpoint, oss_region, signature, creds, bucket):
    bad = Oss(endpoint, oss_region, signature, type(creds)(creds.access_key_id, creds.secret + "x"))
    with pytest.raises(oe.SignatureDoesNotMatch) as err:
        bad.bucket(bucket.bucket_name).get_object("k")
    assert err.value.status == 403
    assert_request_id(err.value)
    with pytest.raises(oe.SignatureDoesNotMatch):
        bad.bucket(bucket.bucket_name).put_object("k", b"x")
    with pytest.raises(oe.SignatureDoesNotMatch):
        bad.service().list_buckets()


def test_unknown_key_is_invalid_access_key_id(endpoint, oss_region, signature, creds, bucket):
    bad = Oss(endpoint, oss_region, signature, type(creds)("RSNOSUCHKEY000000000", creds.secret))
    with pytest.raises(oe.ServerError) as err:
        bad.bucket(bucket.bucket_name).list_objects()
    assert err.value.code == "InvalidAccessKeyId"
    assert err.value.status == 403


def test_signed_url(bucket):
    bucket.put_object("u/obj", b"signed url")
    r = anonymous_get(bucket.sign_url("GET", "u/obj", 300))
    assert r.status_code == 200 and r.content == b"signed url"
    url = bucket.sign_url("GET", "u/obj", 300, params={"response-content-type": "text/x-signed"})
    r = anonymous_get(url)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/x-signed"
    import requests

    r = requests.put(bucket.sign_url("PUT", "u/put", 300), data=b"put by url", timeout=60)
    assert r.status_code == 200, r.text
    assert bucket.get_object("u/put").read() == b"put by url"


class _TwoHoursAgo(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return datetime.datetime.utcnow() - datetime.timedelta(hours=2)


def test_expired_signed_url_is_access_denied(bucket, signature):
    bucket.put_object("u/old", b"old")
    if signature == "v1":
        # V1 URLs carry an absolute Expires: one that passed a minute ago.
        url = bucket.sign_url("GET", "u/old", -60)
    else:
        # V4 URLs carry x-oss-date and a duration: signed two hours ago, valid one minute.
        with mock.patch.object(oss2.auth, "datetime", _TwoHoursAgo):
            url = bucket.sign_url("GET", "u/old", 60)
    r = anonymous_get(url)
    assert r.status_code == 403
    assert error_code(r.content) == "AccessDenied"


class _TwentyMinutesAgo(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return datetime.datetime.utcnow() - datetime.timedelta(minutes=20)


def test_clock_skew_is_request_time_too_skewed(bucket):
    # A request signed 20 minutes ago (over the 15 minutes allowed): V1 signs the Date
    # header, V4 x-oss-date.
    old_date = email.utils.formatdate(datetime.datetime.now().timestamp() - 1200, usegmt=True)
    with mock.patch.object(oss2.auth.utils, "http_date", lambda timeval=None: old_date), mock.patch.object(
        oss2.auth, "datetime", _TwentyMinutesAgo
    ):
        with pytest.raises(oe.ServerError) as err:
            bucket.list_objects()
    assert err.value.code == "RequestTimeTooSkewed"
    assert err.value.status == 403
    bucket.list_objects()


def test_error_document(endpoint, bucket):
    r = anonymous_get(f"{endpoint}/{bucket.bucket_name}/nothing-here")
    assert r.status_code == 403
    doc = ET.fromstring(r.content)
    assert doc.tag == "Error"
    assert doc.findtext("Code") == "AccessDenied"
    assert doc.findtext("Message")
    assert len(doc.findtext("RequestId")) == 24
    assert doc.findtext("HostId")
    assert r.headers["x-oss-request-id"] == doc.findtext("RequestId")


# ---- access control ------------------------------------------------------------------


def test_anonymous_reads_public_read_bucket(oss, anon, endpoint, bucket_name):
    owner = oss.bucket(bucket_name)
    owner.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ)
    owner.put_object("pub/x", b"public")
    a = anon.bucket(bucket_name)
    assert a.get_object("pub/x").read() == b"public"
    assert a.head_object("pub/x").content_length == 6
    assert [o.key for o in a.list_objects().object_list] == ["pub/x"]
    r = anonymous_get(f"{endpoint}/{bucket_name}/pub/x")
    assert r.status_code == 200 and r.content == b"public"
    with pytest.raises(oe.AccessDenied):
        a.put_object("pub/y", b"no")
    with pytest.raises(oe.AccessDenied):
        a.delete_object("pub/x")
    with pytest.raises(oe.AccessDenied):
        a.get_bucket_acl()
    with pytest.raises(oe.AccessDenied):
        a.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    assert owner.get_object("pub/x").read() == b"public"


def test_anonymous_writes_public_read_write_bucket(oss, anon, bucket_name):
    owner = oss.bucket(bucket_name)
    owner.create_bucket(oss2.BUCKET_ACL_PUBLIC_READ_WRITE)
    a = anon.bucket(bucket_name)
    a.put_object("w", b"anonymous write")
    assert owner.get_object("w").read() == b"anonymous write"
    a.delete_object("w")
    assert owner.object_exists("w") is False
    with pytest.raises(oe.AccessDenied):
        a.delete_bucket()


def test_anonymous_denied_on_private_bucket(anon, bucket, bucket_name):
    bucket.put_object("secret", b"s")
    a = anon.bucket(bucket.bucket_name)
    with pytest.raises(oe.AccessDenied) as err:
        a.get_object("secret")
    assert err.value.status == 403
    with pytest.raises(oe.AccessDenied):
        a.head_object("secret")
    with pytest.raises(oe.AccessDenied):
        a.list_objects()
    with pytest.raises(oe.AccessDenied):
        a.put_object("x", b"x")
    with pytest.raises(oe.AccessDenied):
        anon.bucket(bucket_name + "-anon").create_bucket()


def test_object_acl(anon, bucket):
    bucket.put_object("shared", b"shared")
    bucket.put_object("private", b"private")
    assert bucket.get_object_acl("shared").acl == oss2.OBJECT_ACL_DEFAULT
    bucket.put_object_acl("shared", oss2.OBJECT_ACL_PUBLIC_READ)
    assert bucket.get_object_acl("shared").acl == oss2.OBJECT_ACL_PUBLIC_READ
    a = anon.bucket(bucket.bucket_name)
    assert a.get_object("shared").read() == b"shared"
    with pytest.raises(oe.AccessDenied):
        a.get_object("private")
    bucket.put_object("on-put", b"p", headers={"x-oss-object-acl": oss2.OBJECT_ACL_PUBLIC_READ})
    assert a.get_object("on-put").read() == b"p"
    # An object made private in a public-read bucket stays private.
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    bucket.put_object_acl("private", oss2.OBJECT_ACL_PRIVATE)
    with pytest.raises(oe.AccessDenied):
        a.get_object("private")
    bucket.put_object_acl("private", oss2.OBJECT_ACL_DEFAULT)
    assert a.get_object("private").read() == b"private"


def test_other_user_is_denied(endpoint, oss_region, signature, other_creds, bucket, bucket_name):
    other = Oss(endpoint, oss_region, signature, other_creds)
    ob = other.bucket(bucket.bucket_name)
    bucket.put_object("mine", b"mine")
    assert bucket.bucket_name not in [x.name for x in oss2.BucketIterator(other.service())]
    for call in (
        lambda: ob.get_object("mine"),
        lambda: ob.head_object("mine"),
        lambda: ob.list_objects(),
        lambda: ob.put_object("theirs", b"x"),
        lambda: ob.delete_object("mine"),
        lambda: ob.get_bucket_acl(),
        lambda: ob.get_bucket_info(),
        lambda: ob.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ_WRITE),
        lambda: ob.delete_bucket(),
    ):
        with pytest.raises(oe.AccessDenied):
            call()
    assert bucket.get_object("mine").read() == b"mine"
    bucket.put_bucket_acl(oss2.BUCKET_ACL_PUBLIC_READ)
    assert ob.get_object("mine").read() == b"mine"
    with pytest.raises(oe.AccessDenied):
        ob.put_object("theirs", b"x")
    # The name is taken: another user cannot create it.
    with pytest.raises(oe.ServerError) as err:
        ob.create_bucket()
    assert err.value.code == "BucketAlreadyExists"
    assert err.value.status == 409
    own = other.bucket(bucket_name + "-o")
    own.create_bucket()
    own.put_object("k", b"o")
    assert bucket_name + "-o" in [x.name for x in oss2.BucketIterator(other.service())]
