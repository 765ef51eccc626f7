"""s3cmd 2.4 (SigV4, path style: host_base = host_bucket = the endpoint) against the S3
dialect. Uploads come from files: s3cmd sends stdin as a multipart upload, which is not
part of this issue. s3cmd compares each download's MD5 with the ETag and each upload's ETag with the
local MD5 by itself; the tests compare the bytes as well.

Exit codes (S3/ExitCodes.py): 12 not found, 13 conflict, 64 usage, 77 access denied.
"""

import os
import urllib.parse

import pytest

from conftest import MIB, ROUND_TRIP_SIZES, anonymous_get, content, md5_hex, run, tool

EX_NOTFOUND = 12
EX_USAGE = 64
EX_CONFLICT = 13
EX_ACCESSDENIED = 77


class S3cmd:
    def __init__(self, endpoint, region, creds, tmp_path, name="s3cfg"):
        host = urllib.parse.urlparse(endpoint).netloc
        self.endpoint = endpoint
        self.config = tmp_path / name
        self.config.write_text(
            "[default]\n"
            f"access_key = {creds.access_key_id}\n"
            f"secret_key = {creds.secret}\n"
            f"host_base = {host}\n"
            f"host_bucket = {host}\n"
            f"bucket_location = {region}\n"
            "use_https = False\n"
            "signature_v2 = False\n"
            "progress_meter = False\n"
        )
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}

    def __call__(self, *args, check=True, input_bytes=None):
        return run([tool("s3cmd"), "-c", str(self.config), *args], env=self.env, input_bytes=input_bytes, check=check)

    def put_bytes(self, data, uri, *options):
        """Uploads `data` from a file (s3cmd sends stdin as a multipart upload)."""
        self.count = getattr(self, "count", 0) + 1
        src = self.config.parent / f"upload-{self.config.name}-{self.count}"
        src.write_bytes(data)
        return self("put", *options, str(src), uri)

    def fails(self, *args, exit_code, code=None):
        proc = self(*args, check=False)
        assert proc.returncode == exit_code, (proc.returncode, proc.stdout_text, proc.stderr_text)
        if code:
            assert code in proc.stderr_text, proc.stderr_text
        return proc


@pytest.fixture
def s3cmd(endpoint, s3_region, creds, tmp_path):
    return S3cmd(endpoint, s3_region, creds, tmp_path)


@pytest.fixture
def bucket(s3cmd, bucket_name):
    s3cmd("mb", f"s3://{bucket_name}")
    return bucket_name


def test_mb_ls_info_rb(s3cmd, bucket_name):
    out = s3cmd("mb", f"s3://{bucket_name}").stdout_text
    assert f"Bucket 's3://{bucket_name}/' created" in out
    assert f"s3://{bucket_name}" in s3cmd("ls").stdout_text
    info = s3cmd("info", f"s3://{bucket_name}").stdout_text
    assert "Location:" in info
    assert "ACL:" in info
    s3cmd("rb", f"s3://{bucket_name}")
    assert f"s3://{bucket_name}" not in s3cmd("ls").stdout_text
    s3cmd.fails("ls", f"s3://{bucket_name}", exit_code=EX_NOTFOUND, code="NoSuchBucket")


@pytest.mark.parametrize("size", ROUND_TRIP_SIZES)
def test_put_get_info_round_trip(s3cmd, bucket, tmp_path, size):
    data = content(size, 21)
    src = tmp_path / "src"
    src.write_bytes(data)
    s3cmd("put", str(src), f"s3://{bucket}/dir/f{size}", "--mime-type=application/x-s3cmd",
          "--add-header=x-amz-meta-color:blue")
    dst = tmp_path / "dst"
    s3cmd("get", "--force", f"s3://{bucket}/dir/f{size}", str(dst))
    assert dst.read_bytes() == data
    info = s3cmd("info", f"s3://{bucket}/dir/f{size}").stdout_text
    assert f"File size: {size}" in info
    assert f"MD5 sum:   {md5_hex(data)}" in info
    assert "MIME type: application/x-s3cmd" in info
    assert "x-amz-meta-color: blue" in info


def test_get_to_stdout(s3cmd, bucket):
    s3cmd.put_bytes(b"s3cmd to stdout", f"s3://{bucket}/stream")
    assert s3cmd("get", f"s3://{bucket}/stream", "-").stdout == b"s3cmd to stdout"


def test_ls_sync_and_recursive_delete(s3cmd, bucket, tmp_path):
    up = tmp_path / "up"
    (up / "sub").mkdir(parents=True)
    files = {"a.txt": content(10, 1), "sub/b.bin": content(MIB + 1, 2), "sub/c": b"c"}
    for name, data in files.items():
        (up / name).write_bytes(data)
    s3cmd("sync", f"{up}/", f"s3://{bucket}/tree/")
    top = s3cmd("ls", f"s3://{bucket}/tree/").stdout_text
    assert any(line.split() == ["DIR", f"s3://{bucket}/tree/sub/"] for line in top.splitlines()), top
    assert f"s3://{bucket}/tree/a.txt" in top
    recursive = s3cmd("ls", "--recursive", f"s3://{bucket}").stdout_text
    assert sorted(line.split()[-1] for line in recursive.splitlines()) == sorted(
        f"s3://{bucket}/tree/{n}" for n in files
    )
    down = tmp_path / "down"
    down.mkdir()
    s3cmd("sync", f"s3://{bucket}/tree/", f"{down}/")
    for name, data in files.items():
        assert (down / name).read_bytes() == data
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}/tree/sub/")
    recursive = s3cmd("ls", "--recursive", f"s3://{bucket}").stdout_text
    assert [line.split()[-1] for line in recursive.splitlines()] == [f"s3://{bucket}/tree/a.txt"]


def test_del_and_missing(s3cmd, bucket, tmp_path):
    s3cmd.put_bytes(b"x", f"s3://{bucket}/d")
    s3cmd("del", f"s3://{bucket}/d")
    # s3cmd looks the object up (HEAD) before it downloads, and reports a 404 as a usage error.
    s3cmd.fails("get", f"s3://{bucket}/d", str(tmp_path / "x"), exit_code=EX_USAGE, code="does not exist")
    s3cmd.fails("info", f"s3://{bucket}/d", exit_code=EX_NOTFOUND)
    s3cmd.fails("ls", f"s3://{bucket}-missing", exit_code=EX_NOTFOUND, code="NoSuchBucket")


def test_rb_non_empty(s3cmd, bucket):
    s3cmd.put_bytes(b"x", f"s3://{bucket}/k")
    s3cmd.fails("rb", f"s3://{bucket}", exit_code=EX_CONFLICT, code="BucketNotEmpty")
    s3cmd("rb", "--recursive", "--force", f"s3://{bucket}")
    assert f"s3://{bucket}" not in s3cmd("ls").stdout_text


def test_setacl_public_and_private(s3cmd, endpoint, bucket):
    s3cmd.put_bytes(b"acl test", f"s3://{bucket}/obj")
    url = f"{endpoint}/{bucket}/obj"
    assert anonymous_get(url).status_code == 403
    s3cmd("setacl", "--acl-public", f"s3://{bucket}")
    info = s3cmd("info", f"s3://{bucket}").stdout_text
    assert "*anon*: READ" in info
    r = anonymous_get(url)
    assert r.status_code == 200 and r.content == b"acl test"
    s3cmd("setacl", "--acl-private", f"s3://{bucket}")
    assert anonymous_get(url).status_code == 403
    s3cmd.put_bytes(b"public object", f"s3://{bucket}/public-obj", "--acl-public")
    r = anonymous_get(f"{endpoint}/{bucket}/public-obj")
    assert r.status_code == 200 and r.content == b"public object"


def test_wrong_secret_and_unknown_key(endpoint, s3_region, creds, bucket, tmp_path):
    bad = S3cmd(endpoint, s3_region, type(creds)(creds.access_key_id, creds.secret + "x"), tmp_path, "bad")
    bad.fails("ls", f"s3://{bucket}", exit_code=EX_ACCESSDENIED, code="SignatureDoesNotMatch")
    unknown = S3cmd(endpoint, s3_region, type(creds)("RSNOSUCHKEY000000000", creds.secret), tmp_path, "unknown")
    unknown.fails("ls", f"s3://{bucket}", exit_code=EX_ACCESSDENIED, code="InvalidAccessKeyId")


def test_other_user_denied(s3cmd, endpoint, s3_region, other_creds, bucket, tmp_path):
    s3cmd.put_bytes(b"mine", f"s3://{bucket}/mine")
    other = S3cmd(endpoint, s3_region, other_creds, tmp_path, "other")
    # s3cmd looks the object up with HEAD first: a 403 without a body, so no code to show.
    other.fails("get", f"s3://{bucket}/mine", "-", exit_code=EX_ACCESSDENIED)
    src = tmp_path / "theirs"
    src.write_bytes(b"theirs")
    other.fails("put", str(src), f"s3://{bucket}/theirs", exit_code=EX_ACCESSDENIED, code="AccessDenied")
    other.fails("ls", f"s3://{bucket}", exit_code=EX_ACCESSDENIED, code="AccessDenied")
    other.fails("rb", f"s3://{bucket}", exit_code=EX_ACCESSDENIED, code="AccessDenied")
    assert f"s3://{bucket}" not in other("ls").stdout_text


def test_signurl(s3cmd, bucket):
    s3cmd.put_bytes(b"signed", f"s3://{bucket}/signed")
    url = s3cmd("signurl", f"s3://{bucket}/signed", "+300").stdout_text.strip()
    r = anonymous_get(url)
    assert r.status_code == 200, r.text
    assert r.content == b"signed"
    r = anonymous_get(url.replace("Signature=", "Signature=0"))
    assert r.status_code == 403
