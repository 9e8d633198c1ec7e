"""The object store protocol and what it returns."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote

from storage._errors import InvalidKey, ObjectTooLarge

CHUNK_SIZE = 1024 * 1024
_KEY_RE = re.compile(r"[0-9a-f]{64}")


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid object key (a SHA-256 hex digest), else raise."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid object key: {key!r:.80}")
    return key


@dataclass(frozen=True)
class StoredObject:
    """What ``put`` stored: its content address, size and whether it is new."""

    key: str
    size: int
    sha256: str
    created: bool


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of a stored object."""

    key: str
    size: int
    modified: datetime


@runtime_checkable
class ObjectStore(Protocol):
    """A content-addressed store of immutable byte streams.

    Keys are the SHA-256 hex digests of the content, so identical content is
    stored once and an object can never be overwritten with other bytes.
    """

    def put(self, stream: BinaryIO, *, size_limit: int | None = None) -> StoredObject:
        """Store the stream (length need not be known) and return its address."""
        ...

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        """Open the object for reading, optionally a byte range of it."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Return the object's metadata or raise ``ObjectNotFound``."""
        ...

    def exists(self, key: str) -> bool:
        """Tell whether an object is stored under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""
        ...

    def keys(self) -> Iterator[str]:
        """Yield every stored key."""
        ...

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the backend can be used now."""
        ...

    def incomplete(self, older_than: timedelta) -> Iterator[str]:
        """Yield the names of leftovers of interrupted puts older than ``older_than``.

        They are never objects (no key refers to them); only space is lost.
        """
        ...

    def remove_incomplete(self, name: str) -> None:
        """Remove one leftover named by :meth:`incomplete`."""
        ...

    def describe(self) -> str:
        """A printable description of the backend with no secrets in it."""
        ...

    def url(
        self,
        key: str,
        *,
        expires: timedelta,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """A URL that downloads the object until ``expires`` has passed.

        Presigned by S3 itself; signed for the application to serve for the others
        (which need a :class:`UrlSigner`, else ``StorageError``).
        """
        ...


class HashingReader:
    """Reads a stream in chunks, hashing and counting, enforcing a size limit."""

    def __init__(self, stream: BinaryIO, size_limit: int | None = None) -> None:
        self._stream = stream
        self._limit = size_limit
        self._hash = hashlib.sha256()
        self.size = 0

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        while True:
            chunk = self._stream.read(chunk_size)
            if not chunk:
                return
            self.size += len(chunk)
            if self._limit is not None and self.size > self._limit:
                raise ObjectTooLarge(self._limit)
            self._hash.update(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def content_disposition(filename: str) -> dict[str, str]:
    """Parameters of a Content-Disposition header for ``filename``.

    ``filename`` is an ASCII fallback for old clients (an all-Cyrillic name
    becomes ``document.pdf``, not a bare ``.pdf``); a non-ASCII name is also
    given as ``filename*`` in UTF-8 (RFC 6266). The values are not quoted yet.
    """
    if filename.isascii():
        return {"filename": filename}
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()-]+", "", ascii_name).strip()
    stem, dot, ext = ascii_name.rpartition(".")
    if not any(ch.isalnum() for ch in (stem if dot else ascii_name)):
        ascii_name = f"document.{ext}" if dot and ext.isalnum() else "document"
    return {"filename": ascii_name, "filename*": "UTF-8''" + quote(filename, safe="")}
