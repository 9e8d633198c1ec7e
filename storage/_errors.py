"""Errors raised by :mod:`storage`.

``StorageError`` is the root of the tree:

- ``InvalidKey``: a key that is not a lowercase SHA-256 hex digest.
- ``ObjectNotFound``: no object under that key.
- ``ObjectTooLarge``: the stream went past the size limit; nothing was kept.
- ``StorageUnavailable``: the backend cannot be reached or refused to work.
- ``InvalidStorageURL``: a storage URL that names no known backend or is malformed.
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of every error this library raises."""


class InvalidKey(StorageError, ValueError):
    """The key is not a valid object key."""


class ObjectNotFound(StorageError, KeyError):
    """No object is stored under the key."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class ObjectTooLarge(StorageError):
    """The stream is larger than the allowed size; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the stream is larger than the limit of {limit} bytes")
        self.limit = limit


class StorageUnavailable(StorageError):
    """The backend cannot be reached or cannot write."""


class InvalidStorageURL(StorageError, ValueError):
    """The storage URL is malformed or names an unknown backend."""
