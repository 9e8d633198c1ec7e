"""A store on the local file system with atomic, durable writes."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from storage._base import HashingReader, ObjectInfo, StoredObject, check_key
from storage._errors import InvalidKey, ObjectNotFound, StorageUnavailable
from storage._signing import SignedUrls, UrlSigner


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StorageUnavailable(f"cannot write to the storage: {exc.strerror}") from exc


class _RangeReader(io.RawIOBase):
    """A read-only view of ``length`` bytes of an open file."""

    def __init__(self, fh: BinaryIO, length: int | None) -> None:
        self._fh = fh
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = len(buffer)
        if self._left is not None:
            want = min(want, self._left)
        if want <= 0:
            return 0
        data = self._fh.read(want)
        n = len(data)
        buffer[:n] = data
        if self._left is not None:
            self._left -= n
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


class LocalStore(SignedUrls):
    """Objects as files under ``root``, sharded by the first bytes of the key.

    A put writes a temporary file in the same file system, fsyncs it, renames
    it into place and fsyncs the directory, so an object either exists whole
    or not at all, even after a crash.
    """

    def __init__(self, root: str | os.PathLike[str], signer: UrlSigner | None = None) -> None:
        self.root = Path(root)
        self.signer = signer
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"

    def _path(self, key: str) -> Path:
        check_key(key)
        return self._objects / key[:2] / key[2:4] / key

    def _ensure(self) -> None:
        try:
            self._objects.mkdir(parents=True, exist_ok=True)
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot create the storage directory: {exc.strerror}"
            ) from exc

    def put(self, stream: BinaryIO, *, size_limit: int | None = None) -> StoredObject:
        self._ensure()
        reader = HashingReader(stream, size_limit)
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            # Errors reading the source stream are the caller's and pass through as they are;
            # only failures to write here mean the storage is unavailable.
            with _writing():
                out = open(tmp, "xb")  # noqa: SIM115 - closed by the with block below
            with out:
                for chunk in reader.chunks():
                    with _writing():
                        out.write(chunk)
                with _writing():
                    out.flush()
                    os.fsync(out.fileno())
            key = reader.sha256
            target = self._path(key)
            if target.exists():
                return StoredObject(key, reader.size, key, created=False)
            with _writing():
                self._rename_into_place(tmp, target)
            return StoredObject(key, reader.size, key, created=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    @staticmethod
    def _rename_into_place(tmp: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def open(self, key: str, *, start: int = 0, length: int | None = None) -> BinaryIO:
        path = self._path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - the caller closes the returned stream
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read from the storage: {exc.strerror}") from exc
        if start:
            fh.seek(start)
        if length is None:
            return fh
        return io.BufferedReader(_RangeReader(fh, length))

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        return ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def keys(self) -> Iterator[str]:
        if not self._objects.is_dir():
            return
        for first in sorted(self._objects.iterdir()):
            for second in sorted(first.iterdir()):
                for item in sorted(second.iterdir()):
                    yield item.name

    def check(self) -> None:
        self._ensure()
        try:
            with tempfile.TemporaryFile(dir=self._tmp) as probe:
                probe.write(b"ok")
        except OSError as exc:
            raise StorageUnavailable(
                f"the storage directory is not writable: {exc.strerror}"
            ) from exc

    def incomplete(self, older_than: timedelta) -> Iterator[str]:
        if not self._tmp.is_dir():
            return
        cutoff = datetime.now(UTC) - older_than
        for item in sorted(self._tmp.iterdir()):
            try:
                modified = datetime.fromtimestamp(item.stat().st_mtime, UTC)
            except FileNotFoundError:
                continue
            if modified < cutoff:
                yield item.name

    def remove_incomplete(self, name: str) -> None:
        if "/" in name or name.startswith(".") or not name.endswith(".part"):
            raise InvalidKey(f"not a leftover of this store: {name!r:.80}")
        with contextlib.suppress(FileNotFoundError):
            (self._tmp / name).unlink()

    def describe(self) -> str:
        return f"file://{self.root.resolve()}"

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"
