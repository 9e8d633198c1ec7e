"""An S3 server on loopback for the tests: a real MinIO when EDMS_TEST_S3_URL names one,
otherwise moto's standalone server started in this process."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port
    secure: bool
    access_key: str
    secret_key: str
    is_moto: bool

    def url(self, bucket: str | None = None, **options: str) -> str:
        bucket = bucket or f"edms-test-{uuid.uuid4().hex[:12]}"
        query = "&".join(
            f"{k}={v}" for k, v in {"secure": str(self.secure).lower(), **options}.items()
        )
        return f"s3://{self.endpoint}/{bucket}?{query}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[S3Server]:
    external = os.environ.get("EDMS_TEST_S3_URL")
    if external:
        parts = urlsplit(external)
        yield S3Server(
            endpoint=parts.netloc,
            secure=parts.scheme == "https",
            access_key=os.environ["EDMS_TEST_S3_ACCESS_KEY"],
            secret_key=os.environ["EDMS_TEST_S3_SECRET_KEY"],
            is_moto=False,
        )
        return
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"127.0.0.1:{port}", False, "testing", "testing-secret", is_moto=True)
    finally:
        server.stop()
