"""An in-memory store: the test double shipped with the library."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from storage._base import HashingReader, ObjectInfo, StoredObject, check_key
from storage._errors import InvalidKey, ObjectNotFound, StorageUnavailable
from storage._signing import SignedUrls, UrlSigner


class MemoryStore(SignedUrls):
    """Keeps objects in a dict. ``available = False`` simulates an outage."""

    def __init__(self, signer: UrlSigner | None = None) -> None:
        self.signer = signer
        self._objects: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()
        self.available = True

    def _up(self) -> None:
        if not self.available:
            raise StorageUnavailable("the memory store is switched off")

    def put(self, stream: BinaryIO, *, size_limit: int | None = None) -> StoredObject:
        self._up()
        reader = HashingReader(stream, size_limit)
        data = b"".join(reader.chunks())
        key = reader.sha256
        with self._lock:
            created = key not in self._objects
            if created:
                self._objects[key] = (data, datetime.now(UTC))
        return StoredObject(key, reader.size, key, created)

    def _get(self, key: str) -> tuple[bytes, datetime]:
        check_key(key)
        self._up()
        try:
            return self._objects[key]
        except KeyError:
            raise ObjectNotFound(key) from None

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        data, _ = self._get(key)
        end = None if length is None else start + length
        return io.BytesIO(data[start:end])

    def stat(self, key: str) -> ObjectInfo:
        data, modified = self._get(key)
        return ObjectInfo(key, len(data), modified)

    def exists(self, key: str) -> bool:
        check_key(key)
        self._up()
        return key in self._objects

    def delete(self, key: str) -> None:
        check_key(key)
        self._up()
        with self._lock:
            self._objects.pop(key, None)

    def keys(self) -> Iterator[str]:
        self._up()
        yield from sorted(self._objects)

    def check(self) -> None:
        self._up()

    def incomplete(self, older_than: timedelta) -> Iterator[str]:
        return iter(())  # a put either completes or leaves nothing

    def remove_incomplete(self, name: str) -> None:
        raise InvalidKey(f"not a leftover of this store: {name!r:.80}")

    def describe(self) -> str:
        return "memory://"

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._objects)} objects)"
