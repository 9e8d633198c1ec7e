"""Content-addressed object storage, free of any web framework.

Use :func:`from_url` to build a store from configuration::

    store = from_url("file:///var/lib/edms/files")
    stored = store.put(stream, size_limit=512 * 1024 * 1024)
    with store.open(stored.key) as fh: ...
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from storage._base import (
    CHUNK_SIZE,
    ObjectInfo,
    ObjectStore,
    StoredObject,
    check_key,
    content_disposition,
)
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
from storage._s3 import S3Store
from storage._signing import UrlSigner

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
    "S3Store",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "UrlSigner",
    "check_key",
    "content_disposition",
    "from_url",
]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_S3_OPTIONS: dict[str, type] = {
    "secure": bool,
    "region": str,
    "create": bool,
    "encrypt": bool,
    "retention_days": int,
    "retention_mode": str,
    "timeout": float,
    "retries": int,
    "part_size_mb": int,
}


def _s3_option(name: str, raw: str) -> Any:
    kind = _S3_OPTIONS.get(name)
    if kind is None:
        known = ", ".join(_S3_OPTIONS)
        raise InvalidStorageURL(f"unknown S3 option {name!r}; known options: {known}")
    if kind is bool:
        if raw.lower() not in _TRUE + _FALSE:
            raise InvalidStorageURL(f"S3 option {name} must be true or false")
        return raw.lower() in _TRUE
    try:
        value = kind(raw)
    except ValueError:
        raise InvalidStorageURL(f"S3 option {name} must be a {kind.__name__}") from None
    if kind in (int, float) and value < 0:
        raise InvalidStorageURL(f"S3 option {name} must not be negative")
    return value


def _s3_from_url(url: str, access_key: str | None, secret_key: str | None) -> S3Store:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InvalidStorageURL(
            "do not put S3 credentials in the URL; set the access and secret keys separately"
        )
    path = unquote(parts.path).strip("/")
    bucket, _, prefix = path.partition("/")
    if not parts.hostname or not bucket:
        raise InvalidStorageURL("an S3 storage URL looks like s3://host:9000/bucket[/prefix]")
    options = {name: _s3_option(name, raw) for name, raw in parse_qsl(parts.query)}
    part_size_mb = options.pop("part_size_mb", 16)
    try:
        return S3Store(
            parts.netloc,
            bucket,
            access_key=access_key,
            secret_key=secret_key,
            secure=options.pop("secure", True),
            region=options.pop("region", None),
            prefix=prefix,
            create_bucket=options.pop("create", False),
            encrypt=options.pop("encrypt", False),
            retention_days=options.pop("retention_days", 0),
            retention_mode=options.pop("retention_mode", "GOVERNANCE"),
            timeout=options.pop("timeout", 60.0),
            retries=options.pop("retries", 3),
            part_size=part_size_mb * 1024 * 1024,
        )
    except ValueError as exc:
        raise InvalidStorageURL(str(exc)) from None


def from_url(
    url: str,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    signer: UrlSigner | None = None,
) -> ObjectStore:
    """Build a store from its URL.

    - ``file:///absolute/path``: :class:`LocalStore`.
    - ``s3://host:port/bucket[/prefix]?secure=false&region=..&create=true&encrypt=true``
      ``&retention_days=N&retention_mode=GOVERNANCE|COMPLIANCE&timeout=S&retries=N``
      ``&part_size_mb=N``: :class:`S3Store`; credentials come as arguments, never in the URL.

    ``signer`` makes download URLs of the backends that cannot presign (local, memory).
    - ``memory://``: :class:`MemoryStore`.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise InvalidStorageURL("a file storage URL looks like file:///absolute/path")
        return LocalStore(unquote(parts.path), signer=signer)
    if parts.scheme == "s3":
        return _s3_from_url(url, access_key, secret_key)
    if parts.scheme == "memory":
        return MemoryStore(signer=signer)
    raise InvalidStorageURL(
        f"unknown storage URL scheme {parts.scheme!r}; use file://, s3:// or memory://"
    )
