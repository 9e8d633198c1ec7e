"""A store on S3-compatible object storage (MinIO, AWS S3, Ceph ...) through ``minio``."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, NoReturn

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.datatypes import Part
from minio.error import MinioException, S3Error
from minio.helpers import genheaders
from minio.retention import Retention
from minio.sse import SseS3

from storage._base import (
    CHUNK_SIZE,
    HashingReader,
    ObjectInfo,
    StoredObject,
    check_key,
    content_disposition,
)
from storage._errors import InvalidKey, ObjectNotFound, StorageError, StorageUnavailable

logger = logging.getLogger(__name__)

OBJECTS = "objects/"
MAX_PARTS = 10_000  # S3's limit on the parts of one upload
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
# What urllib3 raises when the server cannot be reached or the connection breaks.
_TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError)
_BACKEND_ERRORS = (*_TRANSPORT_ERRORS, MinioException)


class _Response(io.RawIOBase):
    """An object's body as a stream; closing it returns the connection to the pool."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def readable(self) -> bool:
        return True

    def readall(self) -> bytes:
        try:
            data: bytes = self._response.read()
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"reading from S3 failed: {exc}") from exc
        return data

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._response.read(len(buffer))
        except _TRANSPORT_ERRORS as exc:
            raise StorageUnavailable(f"reading from S3 failed: {exc}") from exc
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _regular_file(stream: BinaryIO) -> BinaryIO | None:
    """The stream if it is a seekable regular file with a descriptor, else None."""
    try:
        fd = stream.fileno()
        stream.tell()
    except (AttributeError, OSError, ValueError):
        return None
    return stream if stat.S_ISREG(os.fstat(fd).st_mode) else None


class S3Store:
    """Objects under ``<prefix>objects/<sha256>`` in one bucket.

    See :meth:`put` for how streams of unknown length reach their content
    address; a half-written object never appears under a key. Optional: SSE-S3
    encryption, object-lock retention (WORM) for buckets made with object lock.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        secure: bool = True,
        region: str | None = None,
        prefix: str = "",
        create_bucket: bool = False,
        encrypt: bool = False,
        retention_days: int = 0,
        retention_mode: str = "GOVERNANCE",
        timeout: float = 60.0,
        retries: int = 3,
        part_size: int = 8 * 1024 * 1024,
        parallel: int = 3,
        spool_dir: str | None = None,
    ) -> None:
        if retention_mode.upper() not in (GOVERNANCE, COMPLIANCE):
            raise ValueError("retention_mode must be GOVERNANCE or COMPLIANCE")
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.create_bucket = create_bucket
        self.encrypt = encrypt
        self.retention_days = retention_days
        self.retention_mode = retention_mode.upper()
        self.part_size = max(part_size, 5 * 1024 * 1024)
        self.parallel = max(parallel, 1)
        self.spool_dir = spool_dir
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            maxsize=16,
            retries=urllib3.Retry(
                total=retries,
                backoff_factor=0.3,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=None,  # every method: minio sends whole parts, safe to resend
                raise_on_status=False,
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )
        self._ready = False

    # Names -----------------------------------------------------------------

    @property
    def _objects(self) -> str:
        return f"{self.prefix}{OBJECTS}"

    def _name(self, key: str) -> str:
        return f"{self._objects}{check_key(key)}"

    # Errors ----------------------------------------------------------------

    def _fail(self, exc: Exception, key: str | None = None) -> NoReturn:
        """Raise the storage error that ``exc`` means; errors of other origins pass unchanged."""
        if isinstance(exc, StorageError):
            raise exc
        if isinstance(exc, S3Error):
            if exc.code in _NOT_FOUND and key is not None:
                raise ObjectNotFound(key) from None
            if exc.code == "NoSuchBucket":
                raise StorageUnavailable(f"the bucket {self.bucket} does not exist") from exc
            raise StorageUnavailable(f"S3 refused the request: {exc.code}") from exc
        if isinstance(exc, _BACKEND_ERRORS):
            raise StorageUnavailable(
                f"cannot reach S3 at {self.endpoint}: {type(exc).__name__}"
            ) from exc
        raise exc

    def _ensure(self) -> None:
        if self._ready:
            return
        try:
            if not self._client.bucket_exists(self.bucket):
                if not self.create_bucket:
                    raise StorageUnavailable(f"the bucket {self.bucket} does not exist")
                self._client.make_bucket(self.bucket, object_lock=self.retention_days > 0)
                logger.info("created bucket %s", self.bucket)
            if self.retention_days and not self._object_lock_enabled():
                raise StorageError(
                    f"retention is configured but bucket {self.bucket} has no object lock"
                )
        except Exception as exc:
            self._fail(exc)
        self._ready = True

    def _object_lock_enabled(self) -> bool:
        try:
            self._client.get_object_lock_config(self.bucket)
        except S3Error as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                return False
            raise
        return True

    def _headers(self, *, with_retention: bool = True) -> dict[str, Any]:
        """Headers of a new object: SSE, and object-lock retention unless told otherwise."""
        retention = None
        if with_retention and self.retention_days:
            until = datetime.now(UTC) + timedelta(days=self.retention_days)
            retention = Retention(self.retention_mode, until)
        headers: dict[str, Any] = genheaders(
            {"Content-Type": "application/octet-stream"},
            SseS3() if self.encrypt else None,
            None,
            retention,
            False,
        )
        return headers

    # ObjectStore -----------------------------------------------------------

    def put(self, stream: BinaryIO, *, size_limit: int | None = None) -> StoredObject:
        """Store a stream of any length, by the SHA-256 of its content.

        Up to ``part_size`` bytes are hashed in memory and written with one
        conditional PUT (If-None-Match), so existing content is never rewritten.
        Anything longer goes to its final key as a multipart upload of parallel
        parts read from a file: the stream itself when it is a regular file
        (an upload the web server spooled already), else an anonymous temporary
        file it is spooled to while hashed. Memory stays at a few parts, and the
        object appears whole or not at all.
        """
        self._ensure()
        source = _regular_file(stream)
        if source is not None:
            return self._put_file(source, size_limit)
        reader = HashingReader(stream, size_limit)
        chunks = reader.chunks(CHUNK_SIZE)
        head = bytearray()
        for chunk in chunks:
            head += chunk
            if len(head) > self.part_size:
                with tempfile.TemporaryFile(dir=self.spool_dir) as spool:
                    spool.write(head)
                    del head
                    for rest in chunks:
                        spool.write(rest)
                    spool.flush()
                    return self._put_parts(spool.fileno(), 0, reader.sha256, reader.size)
        return self._put_small(bytes(head), reader.sha256)

    def _put_small(self, data: bytes, key: str) -> StoredObject:
        headers = self._headers()
        headers["If-None-Match"] = "*"
        # minio already makes the server check the body (signed SHA-256 over HTTP, MD5 over
        # HTTPS). Object-lock buckets demand a checksum header of their own: ours is free.
        if self.retention_days:
            headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
            headers["x-amz-checksum-sha256"] = base64.b64encode(bytes.fromhex(key)).decode()
        client: Any = self._client  # minio's put_object cannot send If-None-Match
        try:
            client._put_object(self.bucket, self._name(key), data, headers)
        except S3Error as exc:
            if exc.code == "PreconditionFailed":  # the same content is stored already
                return StoredObject(key, len(data), key, created=False)
            self._fail(exc)
        except Exception as exc:
            self._fail(exc)
        return StoredObject(key, len(data), key, created=True)

    def _put_file(self, source: BinaryIO, size_limit: int | None) -> StoredObject:
        """Hash a regular file from its position to its end, then upload it from there."""
        source.flush()  # pread below sees the file, not the stream's buffer
        start = source.tell()
        reader = HashingReader(source, size_limit)
        for _ in reader.chunks(CHUNK_SIZE):
            pass
        if reader.size <= self.part_size:
            source.seek(start)
            return self._put_small(source.read(), reader.sha256)
        return self._put_parts(source.fileno(), start, reader.sha256, reader.size)

    def _put_parts(self, fd: int, start: int, key: str, size: int) -> StoredObject:
        if self.exists(key):
            return StoredObject(key, size, key, created=False)
        self._upload_parts(self._name(key), fd, start, size)
        return StoredObject(key, size, key, created=True)

    def _upload_parts(self, name: str, fd: int, start: int, size: int) -> None:
        """Multipart upload of ``size`` bytes of a file from ``start``, ``parallel`` parts at a
        time; aborted on any error. The file is read with pread, so it is shared safely."""
        part_size = max(self.part_size, -(-size // MAX_PARTS))
        count = -(-size // part_size)
        client: Any = self._client  # minio has no public part-by-part upload
        # Over plain HTTP minio signs each part's SHA-256 but sends no MD5, which servers
        # demand for object-lock buckets; over HTTPS minio adds the MD5 itself.
        md5 = self.retention_days > 0 and not self.secure

        def send(number: int) -> Part:
            offset = (number - 1) * part_size
            data = os.pread(fd, min(part_size, size - offset), start + offset)
            headers = {}
            if md5:
                digest = hashlib.md5(data).digest()  # noqa: S324 - the checksum S3 asks for
                headers["Content-MD5"] = base64.b64encode(digest).decode()
            etag = client._upload_part(self.bucket, name, data, headers, upload_id, number)
            return Part(number, etag)

        try:
            # Retention is set once the object exists: not every server takes it here.
            upload_id = client._create_multipart_upload(
                self.bucket, name, self._headers(with_retention=False)
            )
        except Exception as exc:
            self._fail(exc)
        try:
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                parts = list(pool.map(send, range(1, count + 1)))
            client._complete_multipart_upload(self.bucket, name, upload_id, parts)
            if self.retention_days:
                until = datetime.now(UTC) + timedelta(days=self.retention_days)
                self._client.set_object_retention(
                    self.bucket, name, Retention(self.retention_mode, until)
                )
        except BaseException as exc:
            try:
                client._abort_multipart_upload(self.bucket, name, upload_id)
            except Exception as abort_exc:  # left for `edms storage gc`
                logger.warning("could not abort upload of %s: %s", name, type(abort_exc).__name__)
            if isinstance(exc, Exception):
                self._fail(exc)
            raise

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        name = self._name(key)
        try:
            response = self._client.get_object(self.bucket, name, offset=start, length=length or 0)
        except Exception as exc:
            self._fail(exc, key)
        if length == 0:
            response.close()
            response.release_conn()
            return io.BytesIO(b"")
        return io.BufferedReader(_Response(response), buffer_size=CHUNK_SIZE)

    def stat(self, key: str) -> ObjectInfo:
        try:
            info = self._client.stat_object(self.bucket, self._name(key))
        except Exception as exc:
            self._fail(exc, key)
        modified = info.last_modified or datetime.now(UTC)
        return ObjectInfo(key, int(info.size or 0), modified)

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            self._client.remove_object(self.bucket, self._name(key))
        except Exception as exc:
            self._fail(exc, key)

    def keys(self) -> Iterator[str]:
        self._ensure()
        start = len(self.prefix) + len(OBJECTS)
        try:
            for item in self._client.list_objects(
                self.bucket, prefix=f"{self.prefix}{OBJECTS}", recursive=True
            ):
                yield str(item.object_name)[start:]
        except Exception as exc:
            self._fail(exc)

    def check(self) -> None:
        self._ready = False
        self._ensure()

    def incomplete(self, older_than: timedelta) -> Iterator[str]:
        """Unfinished multipart uploads, named ``upload:<upload id>:<object name>``.

        One call lists up to a thousand of them; the next call finds the rest.
        """
        self._ensure()
        cutoff = datetime.now(UTC) - older_than
        client: Any = self._client
        try:
            uploads = client._list_multipart_uploads(self.bucket, prefix=self._objects)
        except Exception as exc:
            self._fail(exc)
        for upload in uploads.uploads:
            if upload.initiated_time is not None and upload.initiated_time < cutoff:
                yield f"upload:{upload.upload_id}:{upload.object_name}"

    def remove_incomplete(self, name: str) -> None:
        kind, _, rest = name.partition(":")
        upload_id, _, object_name = rest.partition(":")
        if kind != "upload" or not upload_id or not object_name.startswith(self._objects):
            raise InvalidKey(f"not a leftover of this store: {name!r:.80}")
        client: Any = self._client
        try:
            client._abort_multipart_upload(self.bucket, object_name, upload_id)
        except Exception as exc:
            self._fail(exc)

    def describe(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"s3://{self.endpoint}/{self.bucket}/{self.prefix} ({scheme})"

    def url(
        self,
        key: str,
        *,
        expires: timedelta,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """A presigned GET URL valid for ``expires``."""
        headers: dict[str, str | list[str] | tuple[str]] = {}
        if filename:
            headers["response-content-disposition"] = "attachment; " + "; ".join(
                f"{k}={v}" if k.endswith("*") else f'{k}="{_quoted(v)}"'
                for k, v in content_disposition(filename).items()
            )
        if content_type:
            headers["response-content-type"] = content_type
        try:
            return self._client.presigned_get_object(
                self.bucket, self._name(key), expires=expires, response_headers=headers or None
            )
        except Exception as exc:
            self._fail(exc, key)

    def __repr__(self) -> str:
        return f"S3Store({self.describe()!r})"
