"""Benchmark: ``storage.S3Store`` against the raw ``minio`` client on the same endpoint.

In one run: 200 objects of 1 MB and one of 500 MB, written and read back through
``ObjectStore.put``/``open`` and through ``Minio.put_object``/``get_object``,
reporting MB/s for both and the ratio (target: ours >= 0.9 of raw). Then the peak
RSS of a fresh process that streams 500 MB through ``S3Store.put`` from a source of
unknown length (target: under 100 MB).

The endpoint is moto's standalone S3 server started here on loopback, or a real
MinIO named by EDMS_BENCH_S3_URL (http://host:9000) with EDMS_BENCH_S3_ACCESS_KEY and
EDMS_BENCH_S3_SECRET_KEY. This is a benchmark, not a test: it exits 0 whatever the
figures, and non-zero only when it cannot measure.

Usage: ``.venv/bin/python bench/storage.py [--small 200] [--large-mb 500]``
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from minio import Minio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402

MB = 1024 * 1024


class Pattern(io.RawIOBase):
    """``size`` deterministic bytes of unknown length to the reader, made on the fly."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self._left = size
        self._block = hashlib.sha256(str(seed).encode()).digest() * (MB // 32)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left, len(self._block))
        buffer[:n] = self._block[:n]
        self._left -= n
        return n


@contextlib.contextmanager
def endpoint() -> Iterator[tuple[str, str, str, bool, str]]:
    """(host:port, access key, secret key, secure, description)."""
    external = os.environ.get("EDMS_BENCH_S3_URL")
    if external:
        parts = urlsplit(external)
        yield (
            parts.netloc,
            os.environ["EDMS_BENCH_S3_ACCESS_KEY"],
            os.environ["EDMS_BENCH_S3_SECRET_KEY"],
            parts.scheme == "https",
            f"MinIO at {parts.netloc}",
        )
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.1)
        else:
            raise SystemExit("moto_server did not start")
        yield f"127.0.0.1:{port}", "bench", "bench-secret", False, "moto_server (separate process)"
    finally:
        server.terminate()
        server.wait(timeout=30)


def rate(total_bytes: int, seconds: float) -> float:
    return total_bytes / MB / seconds


def bench_small(raw: Minio, ours: storage.S3Store, bucket: str, count: int) -> dict[str, float]:
    blobs = [Pattern(MB, seed=i).read() for i in range(count)]
    alt = [Pattern(MB, seed=10_000 + i).read() for i in range(count)]  # new bytes for ours
    names = [f"raw/{i}" for i in range(count)]
    start = time.perf_counter()
    for name, data in zip(names, blobs, strict=True):
        raw.put_object(bucket, name, io.BytesIO(data), len(data))
    raw_put = time.perf_counter() - start
    start = time.perf_counter()
    keys = [ours.put(io.BytesIO(data)).key for data in alt]
    our_put = time.perf_counter() - start
    start = time.perf_counter()
    for name in names:
        response = raw.get_object(bucket, name)
        response.read()
        response.close()
        response.release_conn()
    raw_get = time.perf_counter() - start
    start = time.perf_counter()
    for key in keys:
        with ours.open(key) as fh:
            fh.read()
    our_get = time.perf_counter() - start
    total = count * MB
    return {
        "raw_put": rate(total, raw_put),
        "our_put": rate(total, our_put),
        "raw_get": rate(total, raw_get),
        "our_get": rate(total, our_get),
    }


def read_all(stream: io.RawIOBase | io.BufferedIOBase | object) -> int:
    n = 0
    while chunk := stream.read(MB):  # type: ignore[attr-defined]
        n += len(chunk)
    return n


def bench_large(raw: Minio, ours: storage.S3Store, bucket: str, size_mb: int) -> dict[str, float]:
    size = size_mb * MB
    start = time.perf_counter()
    raw.put_object(bucket, "raw/large", Pattern(size, seed=1), size, part_size=16 * MB)
    raw_put = time.perf_counter() - start
    start = time.perf_counter()
    stored = ours.put(Pattern(size, seed=2))  # unknown length, as an upload arrives
    our_put = time.perf_counter() - start
    start = time.perf_counter()
    response = raw.get_object(bucket, "raw/large")
    read_all(response)
    response.close()
    response.release_conn()
    raw_get = time.perf_counter() - start
    start = time.perf_counter()
    with ours.open(stored.key) as fh:
        read_all(fh)
    our_get = time.perf_counter() - start
    return {
        "raw_put": rate(size, raw_put),
        "our_put": rate(size, our_put),
        "raw_get": rate(size, raw_get),
        "our_get": rate(size, our_get),
    }


# VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forking parent.
RSS_CHILD = """
import sys
sys.path.insert(0, {root!r})
import storage
from bench.storage import Pattern

def hwm():
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith("VmHWM"))
    return int(line.split()[1]) // 1024

store = storage.from_url({url!r}, access_key={ak!r}, secret_key={sk!r})
store.check()
before = hwm()
stored = store.put(Pattern({size}, seed=3))
print(before, hwm(), stored.size)
"""


def peak_rss(url: str, access_key: str, secret_key: str, size_mb: int) -> tuple[int, int]:
    code = RSS_CHILD.format(
        root=str(ROOT), url=url, ak=access_key, sk=secret_key, size=size_mb * MB
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=1800
    ).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="number of 1 MB objects")
    parser.add_argument("--large-mb", type=int, default=500, help="size of the large object")
    args = parser.parse_args()
    with endpoint() as (host, access_key, secret_key, secure, description):
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        url = f"s3://{host}/{bucket}?secure={str(secure).lower()}&create=true"
        ours = storage.from_url(url, access_key=access_key, secret_key=secret_key)
        assert isinstance(ours, storage.S3Store)
        ours.check()
        raw = Minio(host, access_key=access_key, secret_key=secret_key, secure=secure)
        print(f"endpoint: {description}; bucket {bucket}")
        small = bench_small(raw, ours, bucket, args.small)
        large = bench_large(raw, ours, bucket, args.large_mb)
        before, after = peak_rss(url, access_key, secret_key, args.large_mb)

    print()
    print(f"{'case':<28}{'raw MB/s':>10}{'ours MB/s':>11}{'ratio':>8}")
    rows = [
        (f"{args.small} x 1 MB put", small["raw_put"], small["our_put"]),
        (f"{args.small} x 1 MB get", small["raw_get"], small["our_get"]),
        (f"1 x {args.large_mb} MB put", large["raw_put"], large["our_put"]),
        (f"1 x {args.large_mb} MB get", large["raw_get"], large["our_get"]),
    ]
    for label, raw_rate, our_rate in rows:
        print(f"{label:<28}{raw_rate:>10.1f}{our_rate:>11.1f}{our_rate / raw_rate:>8.2f}")
    print()
    print(
        f"peak RSS of a {args.large_mb} MB streamed put: {after} MB (before the put: {before} MB)"
    )
    ratios = [our / raw_ for _, raw_, our in rows]
    print(
        f"target ratio >= 0.9: {'PASS' if min(ratios) >= 0.9 else 'FAIL'} (lowest {min(ratios):.2f})"
    )
    print(f"target peak RSS < 100 MB: {'PASS' if after < 100 else 'FAIL'}")


if __name__ == "__main__":
    main()
