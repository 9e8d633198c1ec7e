"""Benchmark: ``storage.S3Store`` against the raw ``minio`` client on the same endpoint.

In one run: 200 objects of 1 MB and one of 500 MB, written and read back through
``ObjectStore.put``/``open`` and through ``Minio.put_object``/``get_object``,
reporting MB/s for both and the ratio (target: ours >= 0.9 of raw), as the median
of three rounds. Then the peak
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
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
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


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def read_all(stream: Any) -> int:
    n = 0
    while chunk := stream.read(MB):
        n += len(chunk)
    return n


def raw_get(raw: Minio, bucket: str, name: str) -> int:
    response = raw.get_object(bucket, name)
    try:
        return read_all(response)
    finally:
        response.close()
        response.release_conn()


def our_get(ours: storage.S3Store, key: str) -> int:
    with ours.open(key) as fh:
        return read_all(fh)


def one_round(
    raw: Minio, ours: storage.S3Store, bucket: str, count: int, large: int, round_no: int
) -> dict[str, float]:
    """One measurement of every case; fresh bytes each round, so nothing is stored already."""
    base = round_no * 100_000
    blobs = [Pattern(MB, seed=base + i).read() for i in range(count)]
    alt = [Pattern(MB, seed=base + 50_000 + i).read() for i in range(count)]
    names = [f"raw/{round_no}/{i}" for i in range(count)]
    keys: list[str] = []
    seconds = {
        "small_raw_put": timed(
            lambda: [
                raw.put_object(bucket, n, io.BytesIO(d), len(d))
                for n, d in zip(names, blobs, strict=True)
            ]
        ),
        "small_our_put": timed(lambda: keys.extend(ours.put(io.BytesIO(d)).key for d in alt)),
        "small_raw_get": timed(lambda: [raw_get(raw, bucket, n) for n in names]),
        "small_our_get": timed(lambda: [our_get(ours, k) for k in keys]),
    }
    large_name = f"raw/{round_no}/large"
    large_key: list[str] = []
    seconds["large_raw_put"] = timed(
        lambda: raw.put_object(
            bucket, large_name, Pattern(large, seed=base + 1), large, part_size=16 * MB
        )
    )
    # Unknown length, as an upload arrives.
    seconds["large_our_put"] = timed(
        lambda: large_key.append(ours.put(Pattern(large, seed=base + 2)).key)
    )
    seconds["large_raw_get"] = timed(lambda: raw_get(raw, bucket, large_name))
    seconds["large_our_get"] = timed(lambda: our_get(ours, large_key[0]))
    for name in [*names, large_name]:  # keep the server's memory in check between rounds
        raw.remove_object(bucket, name)
    for key in [*keys, *large_key]:
        ours.delete(key)
    sizes = {"small": count * MB, "large": large}
    return {case: rate(sizes[case.split("_")[0]], secs) for case, secs in seconds.items()}


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
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    args = parser.parse_args()
    with endpoint() as (host, access_key, secret_key, secure, description):
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        url = f"s3://{host}/{bucket}?secure={str(secure).lower()}&create=true"
        ours = storage.from_url(url, access_key=access_key, secret_key=secret_key)
        assert isinstance(ours, storage.S3Store)
        ours.check()
        raw = Minio(host, access_key=access_key, secret_key=secret_key, secure=secure)
        print(f"endpoint: {description}; bucket {bucket}")
        rounds = [
            one_round(raw, ours, bucket, args.small, args.large_mb * MB, n)
            for n in range(args.rounds)
        ]
        before, after = peak_rss(url, access_key, secret_key, args.large_mb)
    # The median of the rounds: one slow moment of the server does not decide.
    med = {case: statistics.median(r[case] for r in rounds) for case in rounds[0]}

    print(f"median of {args.rounds} rounds, raw and ours alternating within each round")
    print()
    print(f"{'case':<28}{'raw MB/s':>10}{'ours MB/s':>11}{'ratio':>8}")
    rows = [
        (f"{args.small} x 1 MB put", med["small_raw_put"], med["small_our_put"]),
        (f"{args.small} x 1 MB get", med["small_raw_get"], med["small_our_get"]),
        (f"1 x {args.large_mb} MB put", med["large_raw_put"], med["large_our_put"]),
        (f"1 x {args.large_mb} MB get", med["large_raw_get"], med["large_our_get"]),
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
