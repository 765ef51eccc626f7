"""awscli v1 (`aws s3` and `aws s3api`) with default settings against the S3 dialect.

Each test runs the real `aws` command with a clean environment: the keys in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, no config or credentials file, `--endpoint-url`.
"""

import json
import os

import pytest

from conftest import MIB, ROUND_TRIP_SIZES, anonymous_get, content, md5_b64, md5_hex, run, tool


class Aws:
    def __init__(self, endpoint, region, creds, tmp_path):
        self.endpoint = endpoint
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if creds is not None:
            self.env["AWS_ACCESS_KEY_ID"] = creds.access_key_id
            self.env["AWS_SECRET_ACCESS_KEY"] = creds.secret
        self.anonymous = creds is None

    def __call__(self, *args, check=True, input_bytes=None):
        cmd = [tool("aws"), "--endpoint-url", self.endpoint, *args]
        if self.anonymous:
            cmd.append("--no-sign-request")
        return run(cmd, env=self.env, input_bytes=input_bytes, check=check)

    def json(self, *args):
        out = self(*args, "--output", "json").stdout_text
        return json.loads(out) if out.strip() else {}

    def fails(self, *args, code):
        """Runs a command that must fail with the service error `code`."""
        proc = self(*args, check=False)
        assert proc.returncode != 0, f"{args!r} succeeded: {proc.stdout_text}"
        assert f"({code})" in proc.stderr_text or code in proc.stderr_text, proc.stderr_text
        return proc


@pytest.fixture
def aws(endpoint, s3_region, creds, tmp_path):
    return Aws(endpoint, s3_region, creds, tmp_path)


@pytest.fixture
def anon(endpoint, s3_region, tmp_path):
    return Aws(endpoint, s3_region, None, tmp_path)


@pytest.fixture
def bucket(aws, bucket_name):
    aws("s3", "mb", f"s3://{bucket_name}")
    return bucket_name


# ---- aws s3 --------------------------------------------------------------------------


def test_s3_mb_ls_rb(aws, bucket_name):
    out = aws("s3", "mb", f"s3://{bucket_name}").stdout_text
    assert f"make_bucket: {bucket_name}" in out
    assert bucket_name in aws("s3", "ls").stdout_text
    aws("s3", "rb", f"s3://{bucket_name}")
    assert bucket_name not in aws("s3", "ls").stdout_text


@pytest.mark.parametrize("size", ROUND_TRIP_SIZES)
def test_s3_cp_round_trip(aws, bucket, tmp_path, size):
    data = content(size, 11)
    src = tmp_path / "src"
    src.write_bytes(data)
    aws("s3", "cp", str(src), f"s3://{bucket}/dir/f{size}", "--content-type", "text/x-test",
        "--metadata", "color=blue")
    dst = tmp_path / "dst"
    aws("s3", "cp", f"s3://{bucket}/dir/f{size}", str(dst))
    assert dst.read_bytes() == data
    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", f"dir/f{size}")
    assert head["ContentLength"] == size
    assert head["ETag"] == f'"{md5_hex(data)}"'
    assert head["ContentType"] == "text/x-test"
    assert head["Metadata"] == {"color": "blue"}


def test_s3_cp_stdin_stdout(aws, bucket):
    aws("s3", "cp", "-", f"s3://{bucket}/stream", input_bytes=b"from stdin")
    assert aws("s3", "cp", f"s3://{bucket}/stream", "-").stdout == b"from stdin"


def test_s3_ls_sync_mv_rm(aws, bucket, tmp_path):
    up = tmp_path / "up"
    (up / "sub").mkdir(parents=True)
    files = {"a.txt": content(10, 1), "sub/b.bin": content(MIB + 1, 2), "sub/c": b""}
    for name, data in files.items():
        (up / name).write_bytes(data)
    aws("s3", "sync", str(up), f"s3://{bucket}/tree")
    listing = aws("s3", "ls", f"s3://{bucket}/tree/").stdout_text
    assert "PRE sub/" in listing and "a.txt" in listing
    recursive = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout_text
    assert sorted(line.split()[-1] for line in recursive.splitlines()) == sorted(f"tree/{n}" for n in files)
    # A second sync has nothing to do.
    assert aws("s3", "sync", str(up), f"s3://{bucket}/tree").stdout_text.strip() == ""
    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/tree", str(down))
    for name, data in files.items():
        assert (down / name).read_bytes() == data
    # `aws s3 mv` between keys copies on the server (CopyObject), then deletes.
    aws("s3", "mv", f"s3://{bucket}/tree/a.txt", f"s3://{bucket}/moved.txt")
    assert aws("s3", "cp", f"s3://{bucket}/moved.txt", "-").stdout == files["a.txt"]
    aws("s3", "rm", "--recursive", f"s3://{bucket}/tree")
    assert aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout_text.split()[-1] == "moved.txt"


def test_s3_rb_non_empty_and_force(aws, bucket):
    aws("s3", "cp", "-", f"s3://{bucket}/k", input_bytes=b"x")
    aws.fails("s3", "rb", f"s3://{bucket}", code="BucketNotEmpty")
    aws("s3", "rb", "--force", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls").stdout_text


def test_s3_presign(aws, bucket):
    aws("s3", "cp", "-", f"s3://{bucket}/p", input_bytes=b"presigned")
    url = aws("s3", "presign", f"s3://{bucket}/p", "--expires-in", "300").stdout_text.strip()
    r = anonymous_get(url)
    assert r.status_code == 200
    assert r.content == b"presigned"


def test_s3_missing_objects(aws, bucket, tmp_path):
    proc = aws("s3", "cp", f"s3://{bucket}/missing", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0
    assert "404" in proc.stderr_text or "Not Found" in proc.stderr_text
    aws.fails("s3", "ls", f"s3://{bucket}-missing", code="NoSuchBucket")


# ---- aws s3api -----------------------------------------------------------------------


def test_s3api_bucket_operations(aws, bucket_name):
    aws("s3api", "create-bucket", "--bucket", bucket_name, "--acl", "public-read")
    aws("s3api", "head-bucket", "--bucket", bucket_name)
    acl = aws.json("s3api", "get-bucket-acl", "--bucket", bucket_name)
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in acl["Grants"])
    aws("s3api", "put-bucket-acl", "--bucket", bucket_name, "--acl", "private")
    acl = aws.json("s3api", "get-bucket-acl", "--bucket", bucket_name)
    assert not [g for g in acl["Grants"] if g["Grantee"].get("URI", "").endswith("/AllUsers")]
    loc = aws.json("s3api", "get-bucket-location", "--bucket", bucket_name)
    assert "LocationConstraint" in loc
    names = [b["Name"] for b in aws.json("s3api", "list-buckets")["Buckets"]]
    assert bucket_name in names
    aws.fails("s3api", "create-bucket", "--bucket", "Bad_Name", code="InvalidBucketName")
    aws("s3api", "delete-bucket", "--bucket", bucket_name)
    proc = aws("s3api", "head-bucket", "--bucket", bucket_name, check=False)
    assert proc.returncode != 0 and "404" in proc.stderr_text


def test_s3api_object_operations(aws, bucket, tmp_path):
    data = content(1000, 5)
    src = tmp_path / "body"
    src.write_bytes(data)
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "o", "--body", str(src),
                   "--content-type", "application/x-o", "--metadata", "a=1,b=two")
    assert put["ETag"] == f'"{md5_hex(data)}"'
    out = tmp_path / "out"
    got = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "o", "--range", "bytes=100-199", str(out))
    assert got["ContentRange"] == "bytes 100-199/1000"
    assert out.read_bytes() == data[100:200]
    got = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "o", "--range", "bytes=-10", str(out))
    assert out.read_bytes() == data[-10:]
    got = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "o",
                   "--response-content-type", "text/override", str(out))
    assert got["ContentType"] == "text/override"
    assert got["Metadata"] == {"a": "1", "b": "two"}
    aws.fails("s3api", "get-object", "--bucket", bucket, "--key", "o", "--range", "bytes=5000-", str(out),
              code="InvalidRange")
    aws.fails("s3api", "get-object", "--bucket", bucket, "--key", "o", "--if-match", '"0000"', str(out),
              code="PreconditionFailed")
    proc = aws("s3api", "get-object", "--bucket", bucket, "--key", "o", "--if-none-match", put["ETag"], str(out),
               check=False)
    assert proc.returncode != 0 and "304" in proc.stderr_text
    aws.fails("s3api", "put-object", "--bucket", bucket, "--key", "bad", "--body", str(src),
              "--content-md5", md5_b64(b"other"), code="BadDigest")
    aws.fails("s3api", "get-object", "--bucket", bucket, "--key", "missing", str(out), code="NoSuchKey")
    aws("s3api", "delete-object", "--bucket", bucket, "--key", "o")
    aws.fails("s3api", "get-object", "--bucket", bucket, "--key", "o", str(out), code="NoSuchKey")


def test_s3api_list_and_delete_objects(aws, bucket):
    keys = ["a/1", "a/2", "b/3", "c"]
    for k in keys:
        aws("s3", "cp", "-", f"s3://{bucket}/{k}", input_bytes=k.encode())
    r = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--delimiter", "/")
    assert [o["Key"] for o in r["Contents"]] == ["c"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/"]
    # awscli follows continuation tokens itself; --page-size makes it send max-keys=1.
    r = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "1")
    assert [o["Key"] for o in r["Contents"]] == keys
    r = aws.json("s3api", "list-objects", "--bucket", bucket, "--page-size", "1")
    assert [o["Key"] for o in r["Contents"]] == keys
    r = aws.json("s3api", "list-objects", "--bucket", bucket, "--prefix", "a/", "--marker", "a/1")
    assert [o["Key"] for o in r["Contents"]] == ["a/2"]
    r = aws.json("s3api", "list-objects-v2", "--bucket", bucket, "--start-after", "a/2")
    assert [o["Key"] for o in r["Contents"]] == ["b/3", "c"]
    r = aws.json("s3api", "delete-objects", "--bucket", bucket, "--delete",
                 json.dumps({"Objects": [{"Key": "a/1"}, {"Key": "a/2"}]}))
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a/1", "a/2"]
    r = aws.json("s3api", "delete-objects", "--bucket", bucket, "--delete",
                 json.dumps({"Objects": [{"Key": "b/3"}], "Quiet": True}))
    assert not r.get("Deleted") and not r.get("Errors")
    r = aws.json("s3api", "list-objects-v2", "--bucket", bucket)
    assert [o["Key"] for o in r["Contents"]] == ["c"]


def test_s3api_object_acl(aws, anon, bucket):
    aws("s3", "cp", "-", f"s3://{bucket}/shared", input_bytes=b"shared")
    anon.fails("s3api", "get-object", "--bucket", bucket, "--key", "shared", "/dev/null", code="AccessDenied")
    aws("s3api", "put-object-acl", "--bucket", bucket, "--key", "shared", "--acl", "public-read")
    acl = aws.json("s3api", "get-object-acl", "--bucket", bucket, "--key", "shared")
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ" for g in acl["Grants"])
    assert anon("s3", "cp", f"s3://{bucket}/shared", "-").stdout == b"shared"


# ---- authentication and access -------------------------------------------------------


def test_wrong_secret_and_unknown_key(endpoint, s3_region, creds, bucket, tmp_path):
    bad = Aws(endpoint, s3_region, type(creds)(creds.access_key_id, creds.secret + "x"), tmp_path)
    bad.fails("s3api", "list-objects-v2", "--bucket", bucket, code="SignatureDoesNotMatch")
    unknown = Aws(endpoint, s3_region, type(creds)("RSNOSUCHKEY000000000", creds.secret), tmp_path)
    unknown.fails("s3api", "list-objects-v2", "--bucket", bucket, code="InvalidAccessKeyId")


def test_anonymous_public_read_and_private(aws, anon, bucket, bucket_name):
    aws("s3", "cp", "-", f"s3://{bucket}/private", input_bytes=b"p")
    anon.fails("s3api", "get-object", "--bucket", bucket, "--key", "private", "/dev/null", code="AccessDenied")
    anon.fails("s3", "ls", f"s3://{bucket}", code="AccessDenied")
    public = bucket_name + "-pub"
    aws("s3api", "create-bucket", "--bucket", public, "--acl", "public-read")
    aws("s3", "cp", "-", f"s3://{public}/x", input_bytes=b"public bytes")
    assert anon("s3", "cp", f"s3://{public}/x", "-").stdout == b"public bytes"
    assert "x" in anon("s3", "ls", f"s3://{public}").stdout_text
    anon.fails("s3", "cp", "-", f"s3://{public}/y", code="AccessDenied")


def test_other_user_denied(aws, endpoint, s3_region, other_creds, bucket, tmp_path):
    aws("s3", "cp", "-", f"s3://{bucket}/mine", input_bytes=b"mine")
    other = Aws(endpoint, s3_region, other_creds, tmp_path)
    other.fails("s3api", "get-object", "--bucket", bucket, "--key", "mine", "/dev/null", code="AccessDenied")
    other.fails("s3", "cp", "-", f"s3://{bucket}/theirs", code="AccessDenied")
    other.fails("s3", "rb", f"s3://{bucket}", code="AccessDenied")
    assert bucket not in other("s3", "ls").stdout_text
