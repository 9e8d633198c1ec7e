"""What only the S3 backend does: URLs, outages, encryption, object lock, presigned URLs."""

from __future__ import annotations

import io
import os
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from minio import Minio

import storage
from storage import S3Store
from tests.conftest import make_s3_store
from tests.s3server import S3Server


def _raw(server: S3Server) -> Minio:
    return Minio(
        server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=server.secure,
    )


def test_url_options() -> None:
    store = storage.from_url(
        "s3://minio.internal:9000/records/edms?secure=false&region=uz-1&create=true"
        "&encrypt=true&retention_days=30&retention_mode=compliance&timeout=5&retries=1"
        "&part_size_mb=8",
        access_key="AKIA",
        secret_key="very-secret",
    )
    assert isinstance(store, S3Store)
    assert (store.endpoint, store.bucket, store.prefix) == (
        "minio.internal:9000",
        "records",
        "edms/",
    )
    assert store.encrypt
    assert store.retention_days == 30
    assert store.retention_mode == "COMPLIANCE"
    assert store.part_size == 8 * 1024 * 1024
    assert "very-secret" not in store.describe()
    assert "AKIA" not in repr(store)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://key:secret@host:9000/bucket", "credentials"),
        ("s3://host:9000/", "bucket"),
        ("s3://host:9000/bucket?colour=red", "colour"),
        ("s3://host:9000/bucket?secure=maybe", "secure"),
        ("s3://host:9000/bucket?timeout=-1", "timeout"),
        ("s3://host:9000/bucket?retries=many", "retries"),
        ("s3://host:9000/bucket?retention_mode=forever", "retention_mode"),
    ],
)
def test_bad_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(storage.InvalidStorageURL, match=message):
        storage.from_url(url)


def test_unreachable_server_is_unavailable() -> None:
    from tests.s3server import _free_port

    port = _free_port()  # nothing listens there
    store = storage.from_url(f"s3://127.0.0.1:{port}/bucket?secure=false&timeout=2&retries=0")
    with pytest.raises(storage.StorageUnavailable, match="cannot reach"):
        store.check()
    with pytest.raises(storage.StorageUnavailable):
        store.put(io.BytesIO(b"data"))


def test_missing_bucket_is_not_created_unless_allowed(s3: S3Server) -> None:
    store = storage.from_url(s3.url(), access_key=s3.access_key, secret_key=s3.secret_key)
    with pytest.raises(storage.StorageUnavailable, match="does not exist"):
        store.check()
    created = make_s3_store(s3)
    created.check()


def test_server_side_encryption(s3: S3Server) -> None:
    store = make_s3_store(s3, encrypt="true")
    assert isinstance(store, S3Store)
    stored = store.put(io.BytesIO(b"secret minutes"))
    info = _raw(s3).stat_object(store.bucket, f"objects/{stored.key}")
    assert info.metadata.get("x-amz-server-side-encryption") == "AES256"


@pytest.mark.parametrize("size", [100, 12 * 1024 * 1024], ids=["small", "multipart"])
def test_object_lock_retention(s3: S3Server, size: int) -> None:
    store = make_s3_store(s3, retention_days="7", retention_mode="GOVERNANCE", part_size_mb="5")
    assert isinstance(store, S3Store)
    stored = store.put(io.BytesIO(os.urandom(size)))
    headers = _raw(s3).stat_object(store.bucket, f"objects/{stored.key}").metadata
    assert headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    until = datetime.fromisoformat(headers["x-amz-object-lock-retain-until-date"])
    assert until > datetime.now(UTC) + timedelta(days=6)


def test_retention_needs_an_object_lock_bucket(s3: S3Server) -> None:
    plain = make_s3_store(s3)
    plain.check()
    assert isinstance(plain, S3Store)
    locked = storage.from_url(
        s3.url(plain.bucket, retention_days="7"),
        access_key=s3.access_key,
        secret_key=s3.secret_key,
    )
    with pytest.raises(storage.StorageError, match="object lock"):
        locked.check()


def test_presigned_url(s3: S3Server) -> None:
    store = make_s3_store(s3)
    assert isinstance(store, S3Store)
    stored = store.put(io.BytesIO(b"download me"))
    url = store.url(stored.key, expires=timedelta(minutes=5), filename="report.pdf")
    assert "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback test server
        assert reply.read() == b"download me"
        assert "report.pdf" in reply.headers.get("Content-Disposition", "")


def test_prefix_keeps_objects_apart(s3: S3Server) -> None:
    first = make_s3_store(s3)
    assert isinstance(first, S3Store)
    first.check()
    second = storage.from_url(
        s3.url(f"{first.bucket}/tenant-b"), access_key=s3.access_key, secret_key=s3.secret_key
    )
    a = first.put(io.BytesIO(b"a"))
    b = second.put(io.BytesIO(b"b"))
    assert list(second.keys()) == [b.key]
    assert a.key in list(first.keys())


def test_leftovers_of_interrupted_puts(s3: S3Server) -> None:
    store = make_s3_store(s3)
    assert isinstance(store, S3Store)
    store.check()
    raw: Any = _raw(s3)
    name = f"objects/{'ab' * 32}"
    upload_id = raw._create_multipart_upload(store.bucket, name, {})
    raw._create_multipart_upload(store.bucket, "elsewhere/not-ours", {})
    recent = list(store.incomplete(timedelta(hours=1)))
    if s3.is_moto:  # moto reports every upload as initiated in 2010; MinIO tells the truth
        assert recent == [f"upload:{upload_id}:{name}"]
    else:
        assert recent == []
    found = list(store.incomplete(timedelta(0)))
    assert found == [f"upload:{upload_id}:{name}"]
    store.remove_incomplete(found[0])
    assert list(store.incomplete(timedelta(0))) == []
    for bad in ("upload:x:elsewhere/not-ours", "object:objects/x", "nonsense"):
        with pytest.raises(storage.InvalidKey):
            store.remove_incomplete(bad)


class _Failing(BaseHTTPRequestHandler):
    """An S3 endpoint that is down for maintenance: every request is a 503."""

    hits = 0

    def _fail(self) -> None:
        type(self).hits += 1
        body = b"<Error><Code>SlowDown</Code><Message>busy</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = _fail

    def log_message(self, *args: Any) -> None:
        pass


def test_transient_errors_are_retried_then_reported() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        store = storage.from_url(
            f"s3://127.0.0.1:{port}/bucket?secure=false&retries=2&timeout=5",
            access_key="k",
            secret_key="secret-key",
        )
        with pytest.raises(storage.StorageUnavailable):
            store.check()
        assert _Failing.hits == 3  # the first try and two retries, with backoff between
    finally:
        server.shutdown()
        server.server_close()
