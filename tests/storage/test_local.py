"""What only the local file system backend does."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import storage
from storage import LocalStore, MemoryStore


def test_objects_are_sharded_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    stored = store.put(io.BytesIO(b"hello"))
    path = tmp_path / "objects" / stored.key[:2] / stored.key[2:4] / stored.key
    assert path.read_bytes() == b"hello"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = LocalStore(blocker / "store")
    with pytest.raises(storage.StorageUnavailable):
        store.check()
    with pytest.raises(storage.StorageUnavailable):
        store.put(io.BytesIO(b"data"))


def test_from_url(tmp_path: Path) -> None:
    local = storage.from_url(tmp_path.as_uri())
    assert isinstance(local, LocalStore)
    assert local.root == tmp_path
    assert isinstance(storage.from_url("memory://"), MemoryStore)
    for bad in ("ftp://host/x", "file://otherhost/x", "nonsense"):
        with pytest.raises(storage.InvalidStorageURL):
            storage.from_url(bad)


def test_memory_store_outage() -> None:
    store = MemoryStore()
    store.available = False
    with pytest.raises(storage.StorageUnavailable):
        store.put(io.BytesIO(b"x"))
    with pytest.raises(storage.StorageUnavailable):
        store.check()


def test_leftovers_of_interrupted_puts(tmp_path: Path) -> None:
    import os
    import time
    from datetime import timedelta

    store = LocalStore(tmp_path)
    store.check()
    old = tmp_path / "tmp" / "dead.part"
    old.write_bytes(b"half")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    (tmp_path / "tmp" / "live.part").write_bytes(b"still uploading")
    assert list(store.incomplete(timedelta(minutes=30))) == ["dead.part"]
    store.remove_incomplete("dead.part")
    assert not old.exists()
    for bad in ("../objects", ".hidden.part", "x/y.part", "notapart"):
        with pytest.raises(storage.InvalidKey):
            store.remove_incomplete(bad)
