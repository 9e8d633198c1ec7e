"""One contract, every backend: what any ObjectStore must do."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

import storage
from storage import LocalStore, MemoryStore, ObjectStore
from tests.conftest import make_s3_store


@pytest.fixture(params=["local", "memory", "s3", "s3-small-parts"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store", signer=SIGNER)
    if request.param == "memory":
        return MemoryStore(signer=SIGNER)
    server = request.getfixturevalue("s3")
    if request.param == "s3-small-parts":
        # 5 MB parts (the S3 minimum): streams past one part take the multipart path.
        return make_s3_store(server, part_size_mb="5")
    return make_s3_store(server)


SIGNER = storage.UrlSigner(b"contract-test-secret", "https://edms.example/files")


def fetch(backend: ObjectStore, url: str) -> tuple[bytes, str]:
    """Follow a download URL: over HTTP for S3, through the signer for the others."""
    if isinstance(backend, storage.S3Store):
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback server
            return reply.read(), reply.headers.get("Content-Disposition", "")
    parts = urlsplit(url)
    key = parts.path.rsplit("/", 1)[1]
    query = dict(parse_qsl(parts.query))
    assert SIGNER.verify(
        key, query["expires"], query["signature"], query.get("filename"), query.get("content_type")
    )
    with backend.open(key) as fh:
        return fh.read(), query.get("filename", "")


class Unsized(io.RawIOBase):
    """A stream of unknown length handed out in odd-sized pieces."""

    def __init__(self, data: bytes, piece: int = 7777) -> None:
        self._data = data
        self._pos = 0
        self._piece = piece

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._piece if size < 0 else min(size, self._piece)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def test_put_returns_content_address(backend: ObjectStore) -> None:
    data = os.urandom(300_000)
    stored = backend.put(Unsized(data))
    digest = hashlib.sha256(data).hexdigest()
    assert stored.key == stored.sha256 == digest
    assert stored.size == len(data)
    assert stored.created is True
    with backend.open(stored.key) as fh:
        assert fh.read() == data


def test_identical_content_is_stored_once(backend: ObjectStore) -> None:
    first = backend.put(io.BytesIO(b"same bytes"))
    second = backend.put(io.BytesIO(b"same bytes"))
    assert first.key == second.key
    assert second.created is False
    assert list(backend.keys()) == [first.key]


def test_byte_ranges(backend: ObjectStore) -> None:
    stored = backend.put(io.BytesIO(b"0123456789"))
    with backend.open(stored.key, start=3, length=4) as fh:
        assert fh.read() == b"3456"
    with backend.open(stored.key, start=8) as fh:
        assert fh.read() == b"89"


def test_stat_exists_delete(backend: ObjectStore) -> None:
    stored = backend.put(io.BytesIO(b"abc"))
    assert backend.exists(stored.key)
    assert backend.stat(stored.key).size == 3
    backend.delete(stored.key)
    assert not backend.exists(stored.key)
    backend.delete(stored.key)  # deleting twice is fine
    with pytest.raises(storage.ObjectNotFound):
        backend.stat(stored.key)
    with pytest.raises(storage.ObjectNotFound):
        backend.open(stored.key)


def test_size_limit_keeps_nothing(backend: ObjectStore) -> None:
    with pytest.raises(storage.ObjectTooLarge):
        backend.put(io.BytesIO(b"x" * 1001), size_limit=1000)
    assert list(backend.keys()) == []
    assert backend.put(io.BytesIO(b"x" * 1000), size_limit=1000).size == 1000


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "/etc/passwd", "ABC", "a" * 63, "a" * 65, "", "aa/../../" + "a" * 55],
)
def test_invalid_keys_are_refused(backend: ObjectStore, key: str) -> None:
    with pytest.raises(storage.InvalidKey):
        backend.open(key)
    with pytest.raises(storage.InvalidKey):
        backend.exists(key)
    with pytest.raises(storage.InvalidKey):
        backend.delete(key)


def test_keys_lists_everything(backend: ObjectStore) -> None:
    keys = {backend.put(io.BytesIO(str(i).encode())).key for i in range(20)}
    assert set(backend.keys()) == keys


def test_check_and_describe(backend: ObjectStore) -> None:
    backend.check()
    assert "://" in backend.describe()


def test_empty_stream(backend: ObjectStore) -> None:
    stored = backend.put(io.BytesIO(b""))
    assert stored.size == 0
    assert stored.key == hashlib.sha256(b"").hexdigest()


class Exploding(io.RawIOBase):
    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 3:
            raise ConnectionResetError("client went away")
        return b"y" * 1000


def test_failed_stream_leaves_nothing(backend: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(ConnectionResetError):
        backend.put(Exploding())
    assert list(backend.keys()) == []
    if isinstance(backend, LocalStore):
        assert list((backend.root / "tmp").iterdir()) == []


class BigThenBroken(io.RawIOBase):
    """Twelve megabytes (past one 5 MB part), then the client goes away."""

    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent >= 12 * 1024 * 1024:
            raise ConnectionResetError("client went away")
        self.sent += 1024 * 1024
        return os.urandom(1024 * 1024)


def test_failed_large_stream_leaves_nothing(backend: ObjectStore) -> None:
    with pytest.raises(ConnectionResetError):
        backend.put(BigThenBroken())
    assert list(backend.keys()) == []


def test_large_stream_over_the_limit_leaves_nothing(backend: ObjectStore) -> None:
    with pytest.raises(storage.ObjectTooLarge):
        backend.put(BigThenBroken(), size_limit=11 * 1024 * 1024)
    assert list(backend.keys()) == []


def test_large_object_round_trip(backend: ObjectStore) -> None:
    data = os.urandom(13 * 1024 * 1024 + 17)
    stored = backend.put(Unsized(data, piece=1 << 20))
    assert stored.key == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    with backend.open(stored.key, start=6 * 1024 * 1024, length=100) as fh:
        assert fh.read() == data[6 * 1024 * 1024 : 6 * 1024 * 1024 + 100]
    again = backend.put(io.BytesIO(data))
    assert again.created is False
    assert list(backend.keys()) == [stored.key]


@pytest.mark.parametrize("size", [1000, 13 * 1024 * 1024 + 5], ids=["small", "large"])
def test_put_from_a_file_reads_from_its_position(
    backend: ObjectStore, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    path = tmp_path / "upload.bin"
    path.write_bytes(b"HEADER" + data)
    with open(path, "rb") as fh:
        fh.seek(6)  # what is before the position is not part of the object
        stored = backend.put(fh)
    assert stored.key == hashlib.sha256(data).hexdigest()
    assert stored.size == size
    with backend.open(stored.key) as fh:
        assert fh.read() == data
    with open(path, "rb") as fh, pytest.raises(storage.ObjectTooLarge):
        backend.put(fh, size_limit=size - 1)


def test_download_url(backend: ObjectStore) -> None:
    stored = backend.put(io.BytesIO(b"linked bytes"))
    url = backend.url(
        stored.key, expires=timedelta(minutes=5), filename="Хат.pdf", content_type="application/pdf"
    )
    body, name = fetch(backend, url)
    assert body == b"linked bytes"
    assert "pdf" in name
