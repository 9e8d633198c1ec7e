"""A store on S3-compatible object storage (MinIO, AWS S3, Ceph ...) through ``minio``."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, NoReturn

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE, ComposeSource
from minio.datatypes import Part
from minio.error import MinioException, S3Error
from minio.retention import Retention
from minio.sse import SseS3

from storage._base import CHUNK_SIZE, HashingReader, ObjectInfo, StoredObject, check_key
from storage._errors import InvalidKey, ObjectNotFound, StorageError, StorageUnavailable

logger = logging.getLogger(__name__)

OBJECTS = "objects/"
INCOMING = "incoming/"
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


class S3Store:
    """Objects under ``<prefix>objects/<sha256>`` in one bucket.

    A stream that fits in ``part_size`` is hashed in memory and written once to
    its final key. A larger one goes up as a multipart upload to a temporary
    ``incoming/`` key, hashed on the way, and is then copied server-side to its
    final key; memory stays at a few parts whatever the size. A half-written
    object is never under a final key. Optional: SSE-S3 encryption, object-lock
    retention (WORM) for buckets created with object lock.
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
        part_size: int = 16 * 1024 * 1024,
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

    def _name(self, key: str) -> str:
        return f"{self.prefix}{OBJECTS}{check_key(key)}"

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

    def _write_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.encrypt:
            options["sse"] = SseS3()
        if self.retention_days:
            until = datetime.now(UTC) + timedelta(days=self.retention_days)
            options["retention"] = Retention(self.retention_mode, until)
        return options

    # ObjectStore -----------------------------------------------------------

    def put(self, stream: BinaryIO, *, size_limit: int | None = None) -> StoredObject:
        self._ensure()
        reader = HashingReader(stream, size_limit)
        chunks = reader.chunks(CHUNK_SIZE)
        head = bytearray()
        for chunk in chunks:
            head += chunk
            if len(head) > self.part_size:
                return self._put_large(bytes(head), reader)
        key = reader.sha256
        if self.exists(key):
            return StoredObject(key, reader.size, key, created=False)
        # The server checks the body against our SHA-256 (object lock also demands a checksum).
        checksum = {
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(key)).decode(),
        }
        try:
            self._client.put_object(
                self.bucket,
                self._name(key),
                io.BytesIO(head),
                len(head),
                metadata=checksum,  # type: ignore[arg-type]
                **self._write_options(),
            )
        except Exception as exc:
            self._fail(exc)
        return StoredObject(key, reader.size, key, created=True)

    def _put_large(self, head: bytes, reader: HashingReader) -> StoredObject:
        temp = f"{self.prefix}{INCOMING}{uuid.uuid4().hex}"
        self._upload_parts(temp, head, reader)
        try:
            key = reader.sha256
            created = not self.exists(key)
            if created:
                options = self._write_options()
                retention = options.pop("retention", None)
                name = self._name(key)
                self._client.compose_object(
                    self.bucket, name, [ComposeSource(self.bucket, temp)], **options
                )
                if retention is not None:
                    # Set apart from the copy: some servers want a checksum on a copy with
                    # lock headers, which a copy has no body for. Not referenced before this.
                    self._client.set_object_retention(self.bucket, name, retention)
        except Exception as exc:
            self._fail(exc)
        finally:
            self._remove_quietly(temp)
        return StoredObject(key, reader.size, key, created=created)

    def _parts(self, head: bytes, reader: HashingReader) -> Iterator[bytes]:
        """``head`` and the rest of the stream in parts of ``part_size`` (the last may be short)."""
        buffer = bytearray(head)
        for chunk in reader.chunks(CHUNK_SIZE):
            buffer += chunk
            while len(buffer) >= self.part_size:
                yield bytes(buffer[: self.part_size])
                del buffer[: self.part_size]
        if buffer:
            yield bytes(buffer)

    def _upload_parts(self, name: str, head: bytes, reader: HashingReader) -> None:
        """A multipart upload holding one part in memory at a time; aborted on any error.

        Errors of the caller's stream (and the size limit) pass through unchanged.
        Each part carries its MD5, so the server refuses a part damaged on the way.
        """
        headers: dict[str, Any] = {"Content-Type": "application/octet-stream"}
        if self.encrypt:
            headers.update(SseS3().headers())
        client: Any = self._client  # minio has no public part-by-part upload
        try:
            upload_id = client._create_multipart_upload(self.bucket, name, headers)
        except Exception as exc:
            self._fail(exc)
        parts: list[Part] = []
        try:
            for number, data in enumerate(self._parts(head, reader), start=1):
                md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - S3's checksum
                try:
                    etag = client._upload_part(
                        self.bucket, name, data, {"Content-MD5": md5}, upload_id, number
                    )
                except Exception as exc:
                    self._fail(exc)
                parts.append(Part(number, etag))
            try:
                client._complete_multipart_upload(self.bucket, name, upload_id, parts)
            except Exception as exc:
                self._fail(exc)
        except BaseException:
            try:
                client._abort_multipart_upload(self.bucket, name, upload_id)
            except Exception as exc:  # left for `edms storage gc`
                logger.warning("could not abort upload of %s: %s", name, type(exc).__name__)
            raise

    def _remove_quietly(self, name: str) -> None:
        try:
            self._client.remove_object(self.bucket, name)
        except Exception as exc:  # left for `edms storage gc`; never hides the real outcome
            logger.warning("could not remove temporary object %s: %s", name, type(exc).__name__)

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
        """Temporary objects under ``incoming/`` and unfinished multipart uploads.

        Names are ``object:<name>`` and ``upload:<upload id>:<name>``. One call
        lists up to a thousand unfinished uploads; the next call finds the rest.
        """
        self._ensure()
        cutoff = datetime.now(UTC) - older_than
        prefix = f"{self.prefix}{INCOMING}"
        client: Any = self._client
        try:
            for item in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if item.last_modified is not None and item.last_modified < cutoff:
                    yield f"object:{item.object_name}"
            uploads = client._list_multipart_uploads(self.bucket, prefix=prefix)
        except Exception as exc:
            self._fail(exc)
        for upload in uploads.uploads:
            if upload.initiated_time is not None and upload.initiated_time < cutoff:
                yield f"upload:{upload.upload_id}:{upload.object_name}"

    def remove_incomplete(self, name: str) -> None:
        kind, _, rest = name.partition(":")
        incoming = f"{self.prefix}{INCOMING}"
        client: Any = self._client
        try:
            if kind == "object" and rest.startswith(incoming):
                self._client.remove_object(self.bucket, rest)
                return
            upload_id, _, object_name = rest.partition(":")
            if kind == "upload" and upload_id and object_name.startswith(incoming):
                client._abort_multipart_upload(self.bucket, object_name, upload_id)
                return
        except Exception as exc:
            self._fail(exc)
        raise InvalidKey(f"not a leftover of this store: {name!r:.80}")

    def describe(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"s3://{self.endpoint}/{self.bucket}/{self.prefix} ({scheme})"

    def url(self, key: str, *, expires: timedelta, filename: str | None = None) -> str:
        """A presigned GET URL valid for ``expires``."""
        headers: dict[str, str | list[str] | tuple[str]] = {}
        if filename:
            quoted = filename.replace("\\", "_").replace('"', "_")
            headers["response-content-disposition"] = f'attachment; filename="{quoted}"'
        try:
            return self._client.presigned_get_object(
                self.bucket, self._name(key), expires=expires, response_headers=headers or None
            )
        except Exception as exc:
            self._fail(exc, key)

    def __repr__(self) -> str:
        return f"S3Store({self.describe()!r})"
