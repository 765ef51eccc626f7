"""alibabacloud-oss-v2 with its defaults (signature V4, path style against the IP endpoint,
CRC-64 checks on upload and download) against the OSS dialect.

The SDK compares x-oss-hash-crc64ecma with its own CRC-64 on every upload and full
download when the server sends the header; the tests also assert the header's value.
Bucket names are validated by the SDK before any request, as in oss2.
"""

import datetime
import email.utils
import types
import urllib.parse
from unittest import mock

import alibabacloud_oss_v2 as oss
import alibabacloud_oss_v2.signer.v4 as signer_v4
import pytest
import requests

from conftest import MIB, ROUND_TRIP_SIZES, anonymous_get, content, crc64ecma, error_code, md5_b64, md5_hex


def make_client(endpoint, region, creds):
    cfg = oss.config.load_default()
    if creds is None:
        cfg.credentials_provider = oss.credentials.AnonymousCredentialsProvider()
    else:
        cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(creds.access_key_id, creds.secret)
    cfg.region = region
    cfg.endpoint = endpoint
    return oss.Client(cfg)


@pytest.fixture
def client(endpoint, oss_region, creds):
    return make_client(endpoint, oss_region, creds)


@pytest.fixture
def anon(endpoint, oss_region):
    return make_client(endpoint, oss_region, None)


@pytest.fixture
def bucket(client, bucket_name):
    client.put_bucket(oss.PutBucketRequest(bucket=bucket_name))
    return bucket_name


def service_error(excinfo):
    """The ServiceError inside the SDK's OperationError."""
    err = excinfo.value.unwrap() if isinstance(excinfo.value, oss.exceptions.OperationError) else excinfo.value
    assert isinstance(err, oss.exceptions.ServiceError), repr(err)
    return err


def expect_error(call, code, status=None):
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        call()
    err = service_error(excinfo)
    assert err.code == code, (err.code, err.status_code, err.message)
    if status is not None:
        assert err.status_code == status
    assert err.request_id and len(err.request_id) == 24, err.request_id
    return err


def put(client, bucket, key, data, **kw):
    return client.put_object(oss.PutObjectRequest(bucket=bucket, key=key, body=data, **kw))


def get(client, bucket, key, **kw):
    return client.get_object(oss.GetObjectRequest(bucket=bucket, key=key, **kw))


def read(client, bucket, key, **kw):
    return get(client, bucket, key, **kw).body.content


# ---- buckets -------------------------------------------------------------------------


def test_bucket_create_info_location_list_delete(client, bucket_name):
    client.put_bucket(
        oss.PutBucketRequest(
            bucket=bucket_name,
            acl="public-read",
            create_bucket_configuration=oss.CreateBucketConfiguration(storage_class="IA"),
        )
    )
    info = client.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)).bucket_info
    assert info.name == bucket_name
    assert info.storage_class == "IA"
    assert info.acl == "public-read"
    assert info.owner.id
    assert info.creation_date
    location = client.get_bucket_location(oss.GetBucketLocationRequest(bucket=bucket_name)).location
    assert location and location == info.location
    assert client.is_bucket_exist(bucket_name) is True
    listed = {}
    for page in client.list_buckets_paginator().iter_page(oss.ListBucketsRequest()):
        for b in page.buckets:
            listed[b.name] = b
    assert bucket_name in listed
    assert listed[bucket_name].location == location
    assert listed[bucket_name].storage_class == "IA"
    client.delete_bucket(oss.DeleteBucketRequest(bucket=bucket_name))
    expect_error(lambda: client.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket_name)), "NoSuchBucket", 404)
    assert client.is_bucket_exist(bucket_name) is False


def test_bucket_acl_get_put(client, bucket):
    assert client.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket)).acl == "private"
    client.put_bucket_acl(oss.PutBucketAclRequest(bucket=bucket, acl="public-read-write"))
    assert client.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket)).acl == "public-read-write"
    client.put_bucket_acl(oss.PutBucketAclRequest(bucket=bucket, acl="public-read"))
    res = client.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket))
    assert res.acl == "public-read"
    assert res.owner.id


def test_delete_non_empty_bucket_is_refused(client, bucket):
    put(client, bucket, "k", b"x")
    expect_error(lambda: client.delete_bucket(oss.DeleteBucketRequest(bucket=bucket)), "BucketNotEmpty", 409)
    assert read(client, bucket, "k") == b"x"


def test_missing_bucket_and_key(client, bucket):
    expect_error(lambda: get(client, bucket + "-missing", "k"), "NoSuchBucket", 404)
    expect_error(lambda: client.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket + "-missing")), "NoSuchBucket")
    expect_error(lambda: get(client, bucket, "no/such/key"), "NoSuchKey", 404)
    # HEAD has no body: the code travels in x-oss-err.
    expect_error(lambda: client.head_object(oss.HeadObjectRequest(bucket=bucket, key="no/such/key")), "NoSuchKey", 404)
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        client.get_object_meta(oss.GetObjectMetaRequest(bucket=bucket, key="no/such/key"))
    assert service_error(excinfo).status_code == 404
    assert client.is_object_exist(bucket, "no/such/key") is False


# ---- objects -------------------------------------------------------------------------


@pytest.mark.parametrize("size", ROUND_TRIP_SIZES)
def test_put_get_head_round_trip(client, bucket, size):
    data = content(size, 41)
    key = f"dir/obj-{size}"
    res = put(client, bucket, key, data, content_type="application/x-test", metadata={"color": "blue", "n": "1"})
    assert res.status_code == 200
    assert res.etag.strip('"').lower() == md5_hex(data)
    assert res.hash_crc64 == str(crc64ecma(data))
    assert len(res.request_id) == 24
    got = get(client, bucket, key)
    assert got.body.content == data
    assert got.content_length == size
    assert got.content_type == "application/x-test"
    assert got.metadata == {"color": "blue", "n": "1"}
    assert got.hash_crc64 == str(crc64ecma(data))
    head = client.head_object(oss.HeadObjectRequest(bucket=bucket, key=key))
    assert head.content_length == size
    assert head.object_type == "Normal"
    assert head.etag == got.etag
    assert head.hash_crc64 == str(crc64ecma(data))
    assert head.metadata == {"color": "blue", "n": "1"}
    meta = client.get_object_meta(oss.GetObjectMetaRequest(bucket=bucket, key=key))
    assert meta.content_length == size
    assert meta.etag == got.etag
    assert meta.last_modified is not None
    assert client.is_object_exist(bucket, key) is True


def test_file_upload_and_download(client, bucket, tmp_path):
    data = content(6 * MIB + 7, 42)
    src = tmp_path / "src"
    src.write_bytes(data)
    client.put_object_from_file(oss.PutObjectRequest(bucket=bucket, key="files/big"), str(src))
    dst = tmp_path / "dst"
    client.get_object_to_file(oss.GetObjectRequest(bucket=bucket, key="files/big"), str(dst))
    assert dst.read_bytes() == data


def test_forbid_overwrite(client, bucket):
    put(client, bucket, "fo", b"first", forbid_overwrite=True)
    expect_error(lambda: put(client, bucket, "fo", b"second", forbid_overwrite=True), "FileAlreadyExists", 409)
    assert read(client, bucket, "fo") == b"first"
    put(client, bucket, "fo", b"third", forbid_overwrite=False)
    assert read(client, bucket, "fo") == b"third"


def test_key_length_limit(client, bucket):
    longest = "k/" + "x" * 1021
    put(client, bucket, longest, b"1023 bytes of key")
    assert read(client, bucket, longest) == b"1023 bytes of key"
    # A longer key never reaches the server: the SDK refuses it (ObjectNameInvalidError).


def test_ranges(client, bucket):
    data = content(1000, 43)
    put(client, bucket, "r", data)
    got = get(client, bucket, "r", range_header="bytes=10-19")
    assert got.status_code == 206
    assert got.content_range == "bytes 10-19/1000"
    assert got.body.content == data[10:20]
    got = get(client, bucket, "r", range_header="bytes=-7")
    assert got.content_range == "bytes 993-999/1000"
    assert got.body.content == data[-7:]
    got = get(client, bucket, "r", range_header="bytes=990-")
    assert got.content_range == "bytes 990-999/1000"
    assert got.body.content == data[990:]
    expect_error(lambda: get(client, bucket, "r", range_header="bytes=1000-", range_behavior="standard"),
                 "InvalidRange", 416)


def test_conditional_get(client, bucket):
    put(client, bucket, "c", b"conditional")
    head = client.head_object(oss.HeadObjectRequest(bucket=bucket, key="c"))
    etag = head.etag
    # The SDK takes these headers as HTTP-date strings.
    later = email.utils.format_datetime((head.last_modified + datetime.timedelta(days=1)).astimezone(datetime.timezone.utc), usegmt=True)
    earlier = email.utils.format_datetime((head.last_modified - datetime.timedelta(days=1)).astimezone(datetime.timezone.utc), usegmt=True)
    assert read(client, bucket, "c", if_match=etag) == b"conditional"
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "c", if_match='"00000000000000000000000000000000"')
    assert service_error(excinfo).status_code == 412
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "c", if_none_match=etag)
    assert service_error(excinfo).status_code == 304
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "c", if_modified_since=later)
    assert service_error(excinfo).status_code == 304
    assert read(client, bucket, "c", if_modified_since=earlier) == b"conditional"
    with pytest.raises(oss.exceptions.OperationError) as excinfo:
        get(client, bucket, "c", if_unmodified_since=earlier)
    assert service_error(excinfo).status_code == 412
    assert read(client, bucket, "c", if_unmodified_since=later) == b"conditional"


def test_response_header_overrides(client, bucket):
    put(client, bucket, "o", b"override", content_type="text/plain")
    got = get(
        client,
        bucket,
        "o",
        response_content_type="application/json",
        response_content_disposition='attachment; filename="x.json"',
        response_cache_control="no-cache",
        response_content_language="de",
        response_content_encoding="identity",
        response_expires="Thu, 01 Dec 1994 16:00:00 GMT",
    )
    assert got.content_type == "application/json"
    assert got.content_disposition == 'attachment; filename="x.json"'
    assert got.cache_control == "no-cache"
    assert got.headers["Content-Language"] == "de"
    assert got.content_encoding == "identity"
    assert got.headers["Expires"] == "Thu, 01 Dec 1994 16:00:00 GMT"
    assert got.body.content == b"override"


def test_content_md5(client, bucket):
    expect_error(lambda: put(client, bucket, "m", b"payload", content_md5=md5_b64(b"other")), "InvalidDigest", 400)
    assert client.is_object_exist(bucket, "m") is False
    expect_error(lambda: put(client, bucket, "m", b"payload", content_md5="not-an-md5"), "InvalidDigest", 400)
    put(client, bucket, "m", b"payload", content_md5=md5_b64(b"payload"))
    assert read(client, bucket, "m") == b"payload"


def test_delete_object_and_multiple_objects(client, bucket):
    for i in range(6):
        put(client, bucket, f"del/{i}", b"x")
    res = client.delete_object(oss.DeleteObjectRequest(bucket=bucket, key="del/0"))
    assert res.status_code == 204
    assert client.is_object_exist(bucket, "del/0") is False
    verbose = client.delete_multiple_objects(
        oss.DeleteMultipleObjectsRequest(
            bucket=bucket, objects=[oss.DeleteObject(key="del/1"), oss.DeleteObject(key="del/2"),
                                    oss.DeleteObject(key="del/missing")]
        )
    )
    assert sorted(d.key for d in verbose.deleted_objects) == ["del/1", "del/2", "del/missing"]
    quiet = client.delete_multiple_objects(
        oss.DeleteMultipleObjectsRequest(
            bucket=bucket, objects=[oss.DeleteObject(key="del/3"), oss.DeleteObject(key="del/4")], quiet=True
        )
    )
    assert not quiet.deleted_objects
    left = client.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket))
    assert [o.key for o in left.contents] == ["del/5"]


# ---- listing -------------------------------------------------------------------------

LIST_KEYS = ["a/1", "a/2", "a/b/3", "b/4", "c", "d/5", "d/6"]


@pytest.fixture
def listed(client, bucket):
    for key in LIST_KEYS:
        put(client, bucket, key, key.encode())
    return bucket


def test_list_v1(client, listed):
    def ls(**kw):
        return client.list_objects(oss.ListObjectsRequest(bucket=listed, **kw))

    r = ls()
    assert [o.key for o in r.contents] == LIST_KEYS
    assert r.contents[0].size == 3
    assert r.contents[0].etag.strip('"').lower() == md5_hex(b"a/1")
    r = ls(delimiter="/")
    assert [o.key for o in r.contents] == ["c"]
    assert [p.prefix for p in r.common_prefixes] == ["a/", "b/", "d/"]
    r = ls(prefix="a/", delimiter="/")
    assert [o.key for o in r.contents] == ["a/1", "a/2"]
    assert [p.prefix for p in r.common_prefixes] == ["a/b/"]
    r = ls(marker="b/4")
    assert [o.key for o in r.contents] == ["c", "d/5", "d/6"]
    r = ls(max_keys=3)
    assert [o.key for o in r.contents] == LIST_KEYS[:3]
    assert r.is_truncated is True
    assert r.next_marker == "a/b/3"
    pages = list(client.list_objects_paginator(limit=2).iter_page(oss.ListObjectsRequest(bucket=listed)))
    assert [o.key for p in pages for o in p.contents] == LIST_KEYS
    assert len(pages) == 4


def test_list_v2(client, listed):
    def ls(**kw):
        return client.list_objects_v2(oss.ListObjectsV2Request(bucket=listed, **kw))

    r = ls(max_keys=3)
    assert [o.key for o in r.contents] == LIST_KEYS[:3]
    assert r.is_truncated is True
    assert r.key_count == 3
    r2 = ls(max_keys=3, continuation_token=r.next_continuation_token)
    assert [o.key for o in r2.contents] == ["b/4", "c", "d/5"]
    r = ls(start_after="c")
    assert [o.key for o in r.contents] == ["d/5", "d/6"]
    r = ls(prefix="d/", delimiter="/")
    assert [o.key for o in r.contents] == ["d/5", "d/6"]
    r = ls(fetch_owner=True, max_keys=1)
    assert r.contents[0].owner.id
    pages = list(client.list_objects_v2_paginator(limit=3).iter_page(oss.ListObjectsV2Request(bucket=listed)))
    assert [o.key for p in pages for o in p.contents] == LIST_KEYS
    assert len(pages) == 3


def test_list_encoding_type_url(client, bucket):
    keys = ["sp ace/x", "uni/ü", "amp&plus+", "pct%41"]
    for key in keys:
        put(client, bucket, key, b"1")
    # The SDK asks for encoding-type=url and decodes the answer itself.
    r = client.list_objects(oss.ListObjectsRequest(bucket=bucket))
    assert r.encoding_type == "url"
    assert [o.key for o in r.contents] == sorted(keys)
    r = client.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket, delimiter="/"))
    assert sorted(p.prefix for p in r.common_prefixes) == ["sp ace/", "uni/"]
    assert sorted(o.key for o in r.contents) == ["amp&plus+", "pct%41"]


# ---- authentication ------------------------------------------------------------------


def test_wrong_secret_and_unknown_key(endpoint, oss_region, creds, bucket):
    bad = make_client(endpoint, oss_region, type(creds)(creds.access_key_id, creds.secret + "x"))
    expect_error(lambda: read(bad, bucket, "k"), "SignatureDoesNotMatch", 403)
    expect_error(lambda: put(bad, bucket, "k", b"x"), "SignatureDoesNotMatch", 403)
    unknown = make_client(endpoint, oss_region, type(creds)("RSNOSUCHKEY000000000", creds.secret))
    expect_error(lambda: unknown.list_objects(oss.ListObjectsRequest(bucket=bucket)), "InvalidAccessKeyId", 403)


def shifted_clock(delta):
    """A stand-in for the signer's `datetime` module whose clock is off by `delta`."""
    real = datetime.datetime

    class Shifted(real):
        @classmethod
        def now(cls, tz=None):
            return real.now(tz) + delta

    return types.SimpleNamespace(datetime=Shifted, timezone=datetime.timezone, timedelta=datetime.timedelta)


def test_clock_skew_is_request_time_too_skewed(client, bucket):
    # Signed 20 minutes ago: over the 15 minutes allowed.
    with mock.patch.object(signer_v4, "datetime", shifted_clock(-datetime.timedelta(minutes=20))):
        expect_error(lambda: client.list_objects(oss.ListObjectsRequest(bucket=bucket)), "RequestTimeTooSkewed", 403)
    client.list_objects(oss.ListObjectsRequest(bucket=bucket))


def test_presigned_urls(client, bucket):
    put(client, bucket, "p/obj", b"presigned")
    pre = client.presign(oss.GetObjectRequest(bucket=bucket, key="p/obj"), expires=datetime.timedelta(minutes=5))
    r = requests.get(pre.url, headers=pre.signed_headers or {}, timeout=60)
    assert r.status_code == 200 and r.content == b"presigned"
    pre = client.presign(oss.PutObjectRequest(bucket=bucket, key="p/put"), expires=datetime.timedelta(minutes=5))
    r = requests.put(pre.url, headers=pre.signed_headers or {}, data=b"put by url", timeout=60)
    assert r.status_code == 200, r.text
    assert read(client, bucket, "p/put") == b"put by url"


def test_expired_presigned_url_is_access_denied(client, bucket):
    put(client, bucket, "p/old", b"old")
    clock = shifted_clock(-datetime.timedelta(hours=2))
    signed_at = clock.datetime.now(datetime.timezone.utc)
    # Signed two hours ago, valid for one minute.
    with mock.patch.object(signer_v4, "datetime", clock):
        pre = client.presign(
            oss.GetObjectRequest(bucket=bucket, key="p/old"), expiration=signed_at + datetime.timedelta(minutes=1)
        )
    expires = int(urllib.parse.parse_qs(urllib.parse.urlparse(pre.url).query)["x-oss-expires"][0])
    assert 0 < expires <= 60
    r = anonymous_get(pre.url)
    assert r.status_code == 403
    assert error_code(r.content) == "AccessDenied"


# ---- access control ------------------------------------------------------------------


def test_anonymous_reads_public_read_bucket(client, anon, endpoint, bucket_name):
    client.put_bucket(oss.PutBucketRequest(bucket=bucket_name, acl="public-read"))
    put(client, bucket_name, "pub/x", b"public")
    assert read(anon, bucket_name, "pub/x") == b"public"
    assert anon.head_object(oss.HeadObjectRequest(bucket=bucket_name, key="pub/x")).content_length == 6
    r = anon.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket_name))
    assert [o.key for o in r.contents] == ["pub/x"]
    r = anonymous_get(f"{endpoint}/{bucket_name}/pub/x")
    assert r.status_code == 200 and r.content == b"public"
    expect_error(lambda: put(anon, bucket_name, "pub/y", b"no"), "AccessDenied", 403)
    expect_error(lambda: anon.delete_object(oss.DeleteObjectRequest(bucket=bucket_name, key="pub/x")), "AccessDenied")
    expect_error(lambda: anon.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket_name)), "AccessDenied")
    assert read(client, bucket_name, "pub/x") == b"public"


def test_anonymous_writes_public_read_write_bucket(client, anon, bucket_name):
    client.put_bucket(oss.PutBucketRequest(bucket=bucket_name, acl="public-read-write"))
    put(anon, bucket_name, "w", b"anonymous write")
    assert read(client, bucket_name, "w") == b"anonymous write"
    anon.delete_object(oss.DeleteObjectRequest(bucket=bucket_name, key="w"))
    assert client.is_object_exist(bucket_name, "w") is False
    expect_error(lambda: anon.delete_bucket(oss.DeleteBucketRequest(bucket=bucket_name)), "AccessDenied")


def test_anonymous_denied_on_private_bucket(client, anon, bucket):
    put(client, bucket, "secret", b"s")
    expect_error(lambda: read(anon, bucket, "secret"), "AccessDenied", 403)
    expect_error(lambda: anon.head_object(oss.HeadObjectRequest(bucket=bucket, key="secret")), "AccessDenied", 403)
    expect_error(lambda: anon.list_objects(oss.ListObjectsRequest(bucket=bucket)), "AccessDenied")
    expect_error(lambda: put(anon, bucket, "x", b"x"), "AccessDenied")
    expect_error(lambda: anon.put_bucket(oss.PutBucketRequest(bucket=bucket + "-anon")), "AccessDenied")


def test_object_acl(client, anon, bucket):
    put(client, bucket, "shared", b"shared")
    put(client, bucket, "private", b"private")
    assert client.get_object_acl(oss.GetObjectAclRequest(bucket=bucket, key="shared")).acl == "default"
    client.put_object_acl(oss.PutObjectAclRequest(bucket=bucket, key="shared", acl="public-read"))
    assert client.get_object_acl(oss.GetObjectAclRequest(bucket=bucket, key="shared")).acl == "public-read"
    assert read(anon, bucket, "shared") == b"shared"
    expect_error(lambda: read(anon, bucket, "private"), "AccessDenied")
    put(client, bucket, "on-put", b"p", acl="public-read")
    assert read(anon, bucket, "on-put") == b"p"


def test_other_user_is_denied(client, endpoint, oss_region, other_creds, bucket, bucket_name):
    other = make_client(endpoint, oss_region, other_creds)
    put(client, bucket, "mine", b"mine")
    names = [b.name for p in other.list_buckets_paginator().iter_page(oss.ListBucketsRequest()) for b in p.buckets or []]
    assert bucket not in names
    for call in (
        lambda: read(other, bucket, "mine"),
        lambda: other.head_object(oss.HeadObjectRequest(bucket=bucket, key="mine")),
        lambda: other.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket)),
        lambda: put(other, bucket, "theirs", b"x"),
        lambda: other.delete_object(oss.DeleteObjectRequest(bucket=bucket, key="mine")),
        lambda: other.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket)),
        lambda: other.put_bucket_acl(oss.PutBucketAclRequest(bucket=bucket, acl="public-read-write")),
        lambda: other.delete_bucket(oss.DeleteBucketRequest(bucket=bucket)),
    ):
        expect_error(call, "AccessDenied", 403)
    assert read(client, bucket, "mine") == b"mine"
    client.put_bucket_acl(oss.PutBucketAclRequest(bucket=bucket, acl="public-read"))
    assert read(other, bucket, "mine") == b"mine"
    expect_error(lambda: put(other, bucket, "theirs", b"x"), "AccessDenied")
    expect_error(lambda: other.put_bucket(oss.PutBucketRequest(bucket=bucket)), "BucketAlreadyExists", 409)
    other.put_bucket(oss.PutBucketRequest(bucket=bucket_name + "-o"))
    put(other, bucket_name + "-o", "k", b"o")
