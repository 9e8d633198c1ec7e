"""Benchmark: the server's memory must not grow with the size of an upload.

Starts EDMS under gunicorn (1 worker, 2 threads) on a throw-away data directory,
streams one large multipart upload to ``POST /api/v1/documents`` and samples the
worker's resident set size every 20 ms. Prints the baseline and peak RSS, the
increase, the upload throughput and its ratio to a raw baseline (the same bytes
written straight to a file while hashing them with SHA-256), then a PASS/FAIL
line for the target "peak RSS increase < 64 MB".

This is a benchmark, not a test: it exits 0 whatever the figures, and non-zero
only if something crashed (the server did not start, the upload was refused).

Usage: ``.venv/bin/python bench/upload.py [--size-mb 200]`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
CHUNK = MB
SAMPLE_INTERVAL = 0.020
TARGET_INCREASE_MB = 64
WARMUP_SIZE = MB
SERVER_START_TIMEOUT = 60.0
UPLOAD_TIMEOUT = 900.0

# A PDF header and trailer around filler, so content sniffing sees a real document type.
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 >>\nstream\n"
PDF_TAIL = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


class BenchError(Exception):
    """Something that makes the measurement impossible (as opposed to a bad figure)."""


# Payload ---------------------------------------------------------------------


def payload(size: int) -> Iterator[bytes]:
    """Yield exactly ``size`` bytes of a PDF-looking file, one ``CHUNK`` at a time.

    The filler is one random megabyte repeated: incompressible enough to be honest,
    cheap enough that generating it does not dominate either measurement.
    """
    if size < len(PDF_HEAD) + len(PDF_TAIL):
        raise ValueError(f"size must be at least {len(PDF_HEAD) + len(PDF_TAIL)} bytes")
    block = os.urandom(CHUNK)
    yield PDF_HEAD
    remaining = size - len(PDF_HEAD) - len(PDF_TAIL)
    while remaining > 0:
        piece = block if remaining >= CHUNK else block[:remaining]
        remaining -= len(piece)
        yield piece
    yield PDF_TAIL


class MultipartBody:
    """A ``multipart/form-data`` body produced piece by piece, never held in memory.

    It has a length, so ``requests`` sends a Content-Length header up front instead of
    chunked transfer encoding, and it hashes the file part as it goes so the result can
    be compared with what the server stored.
    """

    def __init__(self, fields: Mapping[str, str], filename: str, size: int) -> None:
        self.boundary = "edms-bench-" + os.urandom(12).hex()
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self.size = size
        self.sha256 = hashlib.sha256()
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
            for name, value in fields.items()
        )
        self._head = (
            head
            + (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: application/pdf\r\n\r\n"
            ).encode()
        )
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        return len(self._head) + self.size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        for chunk in payload(self.size):
            self.sha256.update(chunk)
            yield chunk
        yield self._tail


def raw_baseline(directory: Path, size: int) -> float:
    """Seconds to write ``size`` payload bytes to a file while hashing them."""
    path = directory / "raw-baseline.bin"
    digest = hashlib.sha256()
    start = time.perf_counter()
    with open(path, "wb") as fh:
        for chunk in payload(size):
            digest.update(chunk)
            fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


# Server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_environment(data_dir: Path, size_mb: int) -> dict[str, str]:
    """The process environment with every EDMS_* setting replaced by the bench's own.

    A developer's EDMS_DATABASE_URL or EDMS_CONFIG must never point the bench at real data.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDMS_")}
    env.update(
        EDMS_DATA_DIR=str(data_dir),
        EDMS_DEMO="true",
        EDMS_LOG_LEVEL="WARNING",
        EDMS_MAX_UPLOAD_MB=str(max(512, size_mb + 16)),
    )
    return env


def edms_command() -> list[str]:
    """The ``edms`` console script of the interpreter running this file."""
    beside = Path(sys.executable).parent / "edms"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("edms")
    if found is None:
        raise BenchError("the `edms` command is not installed (run `make install`)")
    return [found]


def run_edms(env: Mapping[str, str], *args: str) -> str:
    """Run ``edms ARGS`` and return its standard output; raise with its output on failure."""
    result = subprocess.run(
        [*edms_command(), *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(
            f"`edms {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def gunicorn_extra_args() -> list[str]:
    """Options of newer gunicorn releases that the bench wants when they exist."""
    from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

    flags = {flag for setting in KNOWN_SETTINGS for flag in setting.cli or ()}
    # Recent gunicorn opens a control socket at one fixed path in $HOME by default; a bench
    # running next to `make run` must not take it over.
    return ["--no-control-socket"] if "--no-control-socket" in flags else []


class Server:
    """gunicorn serving EDMS on a loopback port (one worker), its output kept in a log file."""

    def __init__(self, env: Mapping[str, str], log_path: Path, threads: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "1",
                "--threads",
                str(threads),
                "--graceful-timeout",
                "5",
                "--timeout",
                "300",
                "--bind",
                f"127.0.0.1:{self.port}",
                *gunicorn_extra_args(),
                "edms:create_app()",
            ],
            env=dict(env),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> psutil.Process:
        """Wait until the server answers HTTP; return its (single) worker process."""
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                requests.get(self.url + "/", timeout=2, allow_redirects=False)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            workers = psutil.Process(self.process.pid).children()
            if len(workers) == 1:
                return workers[0]
            time.sleep(0.1)
        raise BenchError(f"gunicorn did not answer within {SERVER_START_TIMEOUT:.0f} s")

    def log(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class RssSampler(threading.Thread):
    """Samples a process's resident set size every ``SAMPLE_INTERVAL`` seconds."""

    def __init__(self, process: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.samples: list[int] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append(self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            self._stop_event.wait(SAMPLE_INTERVAL)

    def stop(self) -> list[int]:
        self._stop_event.set()
        self.join()
        return self.samples


def idle_rss(process: psutil.Process, seconds: float = 0.5) -> int:
    """The worker's median RSS over a short idle period."""
    sampler = RssSampler(process)
    sampler.start()
    time.sleep(seconds)
    samples = sorted(sampler.stop())
    return samples[len(samples) // 2]


def find_key(data: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a JSON document."""
    found: list[Any] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key:
                found.append(v)
            found.extend(find_key(v, key))
    elif isinstance(data, list):
        for item in data:
            found.extend(find_key(item, key))
    return found


def upload(url: str, token: str, title: str, size: int) -> tuple[float, bool]:
    """POST one document of ``size`` bytes.

    Return the seconds it took and whether the reply showed the file's SHA-256 (a
    different digest in the reply is an error).
    """
    body = MultipartBody({"title": title, "journal": "IN"}, "bench.pdf", size)
    start = time.perf_counter()
    response = requests.post(
        url + "/api/v1/documents",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": body.content_type,
            "Accept": "application/json",
        },
        timeout=UPLOAD_TIMEOUT,
    )
    elapsed = time.perf_counter() - start
    if not response.ok:
        raise BenchError(
            f"upload of {size} bytes refused: {response.status_code} {response.text[:2000]}"
        )
    digests: list[Any] = []
    with contextlib.suppress(ValueError):
        digests = find_key(response.json(), "sha256")
    if digests and body.sha256.hexdigest() not in digests:
        raise BenchError(f"the server stored other bytes: sha256 {digests} in the reply")
    return elapsed, bool(digests)


# Main ------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / MB:8.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--size-mb", type=int, default=200, help="size of the uploaded file (default 200)"
    )
    args = parser.parse_args(argv)
    if args.size_mb < 1:
        parser.error("--size-mb must be at least 1")
    size = args.size_mb * MB

    print(
        f"upload benchmark: {args.size_mb} MB file, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    with tempfile.TemporaryDirectory(prefix="edms-bench-") as tmp:
        tmpdir = Path(tmp)
        raw_seconds = raw_baseline(tmpdir, size)
        raw_rate = size / MB / raw_seconds
        print(f"raw baseline (write + sha256): {raw_seconds:6.2f} s  {raw_rate:8.1f} MB/s")

        env = bench_environment(tmpdir / "data", args.size_mb)
        run_edms(env, "db", "upgrade")
        run_edms(env, "demo")
        token = run_edms(env, "user", "token", "clerk").strip().splitlines()[-1].strip()

        server = Server(env, tmpdir / "gunicorn.log")
        try:
            worker = server.wait_ready()
            print(f"server: gunicorn at {server.url}, worker pid {worker.pid}")
            # One small upload first, so one-time costs (imports, libmagic, connections)
            # do not count as growth with upload size.
            upload(server.url, token, "Bench warm-up", WARMUP_SIZE)
            baseline = idle_rss(worker)

            sampler = RssSampler(worker)
            sampler.start()
            seconds, verified = upload(server.url, token, "Bench upload", size)
            samples = sampler.stop()
        except BaseException:
            print(f"--- gunicorn log (last lines) ---\n{server.log()}", file=sys.stderr)
            raise
        finally:
            server.stop()

    peak = max(samples, default=baseline)
    increase = peak - baseline
    rate = size / MB / seconds
    print(f"worker RSS baseline:          {mb(baseline)}")
    print(f"worker RSS peak during upload:{mb(peak)}  ({len(samples)} samples)")
    print(f"worker RSS increase:          {mb(increase)}")
    if verified:
        print("the reply's sha256 matches the bytes sent")
    print(f"upload: {seconds:6.2f} s  {rate:8.1f} MB/s  (ours/raw = {rate / raw_rate:.2f})")
    verdict = "PASS" if increase < TARGET_INCREASE_MB * MB else "FAIL"
    print(
        f"{verdict}: peak RSS increase {increase / MB:.1f} MB "
        f"(target < {TARGET_INCREASE_MB} MB for a {args.size_mb} MB upload)"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/upload.py: {exc}", file=sys.stderr)
        sys.exit(1)
