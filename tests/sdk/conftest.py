"""Fixtures shared by the SDK conformance tests.

The tests speak to a running `ringstore serve` through its HTTP adapter, as a user of each
SDK would. `tests/tests/sdk.rs` starts the daemon and sets the environment; to run them
by hand against a daemon of your own, set:

  RS_HTTP_ENDPOINT         http://127.0.0.1:PORT of the HTTP adapter
  RS_ACCESS_KEY_ID         key of the owner of the buckets the tests create
  RS_SECRET_ACCESS_KEY
  RS_OTHER_ACCESS_KEY_ID   key of a second, ordinary user (for the denial tests); when
  RS_OTHER_SECRET_ACCESS_KEY  unset, those tests are skipped with RS_OTHER_SKIP_REASON
  RS_OSS_REGION            region in OSS V4 signatures (default cn-hangzhou)
  RS_S3_REGION             region in S3 SigV4 signatures (default us-east-1)
"""

import base64
import hashlib
import os
import random
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest
import requests

MIB = 1024 * 1024
# Round-trip sizes: empty, one byte, just past the 1 MiB chunking, and one multi-MiB object
# (below the 8 MiB multipart threshold of boto3 and awscli, so every SDK sends one PUT).
ROUND_TRIP_SIZES = [0, 1, MIB + 1, 6 * MIB + 7]


@dataclass(frozen=True)
class Creds:
    access_key_id: str
    secret: str


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite from tests/tests/sdk.rs or set it (see conftest.py)")
    return value


@pytest.fixture(scope="session")
def endpoint():
    return _env("RS_HTTP_ENDPOINT").rstrip("/")


@pytest.fixture(scope="session")
def creds():
    return Creds(_env("RS_ACCESS_KEY_ID"), _env("RS_SECRET_ACCESS_KEY"))


@pytest.fixture(scope="session")
def other_creds():
    """A second, ordinary user's key; the tests that need it skip while users are missing."""
    key = os.environ.get("RS_OTHER_ACCESS_KEY_ID")
    secret = os.environ.get("RS_OTHER_SECRET_ACCESS_KEY")
    if not key or not secret:
        pytest.skip(os.environ.get("RS_OTHER_SKIP_REASON", "RS_OTHER_ACCESS_KEY_ID is not set"))
    return Creds(key, secret)


@pytest.fixture(scope="session")
def oss_region():
    return os.environ.get("RS_OSS_REGION", "cn-hangzhou")


@pytest.fixture(scope="session")
def s3_region():
    return os.environ.get("RS_S3_REGION", "us-east-1")


@pytest.fixture
def bucket_name(request):
    """A fresh, valid bucket name per test (lowercase, digits and '-', at most 63)."""
    stem = request.node.name.replace("_", "-").replace("[", "-").replace("]", "")
    stem = "".join(c for c in stem.lower() if c.isalnum() or c == "-").strip("-")[:40]
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def content(size, seed=0):
    """Deterministic test bytes."""
    return random.Random(seed * 7919 + size).randbytes(size)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def crc64ecma(data):
    """CRC-64/XZ (ECMA-182 polynomial, reflected), as OSS sends in x-oss-hash-crc64ecma."""
    import crcmod

    fn = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
    return fn(data)


def error_code(body):
    """The <Code> of an XML error document."""
    root = ET.fromstring(body)
    return root.findtext("Code")


def anonymous_get(url, headers=None):
    """A plain HTTP GET with no credentials, as a browser or curl would send it."""
    return requests.get(url, headers=headers or {}, timeout=60)


def tool(name):
    """Path of a console script installed in this venv (aws, s3cmd)."""
    import sys

    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    assert found, f"{name} is not installed in the SDK venv"
    return found


def run(cmd, env=None, input_bytes=None, check=True):
    """Runs a CLI; returns CompletedProcess with text stdout/stderr."""
    proc = subprocess.run(cmd, env=env, input=input_bytes, capture_output=True, timeout=300)
    proc.stdout_text = proc.stdout.decode(errors="replace")
    proc.stderr_text = proc.stderr.decode(errors="replace")
    if check:
        assert proc.returncode == 0, (
            f"{cmd!r} exited {proc.returncode}\nstdout: {proc.stdout_text}\nstderr: {proc.stderr_text}"
        )
    return proc
