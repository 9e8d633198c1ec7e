"""Content-addressed object storage, free of any web framework.

Use :func:`from_url` to build a store from configuration::

    store = from_url("file:///var/lib/edms/files")
    stored = store.put(stream, size_limit=512 * 1024 * 1024)
    with store.open(stored.key) as fh: ...
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from storage._base import CHUNK_SIZE, ObjectInfo, ObjectStore, StoredObject, check_key
from storage._errors import (
    InvalidKey,
    InvalidStorageURL,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
    StorageUnavailable,
)
from storage._local import LocalStore
from storage._memory import MemoryStore

__all__ = [
    "CHUNK_SIZE",
    "InvalidKey",
    "InvalidStorageURL",
    "LocalStore",
    "MemoryStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectTooLarge",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "check_key",
    "from_url",
]


def from_url(url: str) -> ObjectStore:
    """Build a store from ``file:///path`` or ``memory://``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise InvalidStorageURL("a file storage URL looks like file:///absolute/path")
        return LocalStore(unquote(parts.path))
    if parts.scheme == "memory":
        return MemoryStore()
    raise InvalidStorageURL(
        f"unknown storage URL scheme {parts.scheme!r}; use file:// or memory://"
    )
