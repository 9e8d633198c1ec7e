"""Small PDFs made by hand for the signing tests (no PDF library involved)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def _objects(pages: int, text: str, extra_stream: int = 0) -> list[bytes]:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font = 3 + 2 * pages
    for i in range(pages):
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        stream = f"BT /F1 24 Tf 72 760 Td ({text} {i + 1}) Tj ET".encode()
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return objs


def _write(out: BinaryIO, objs: list[bytes], blob_size: int = 0) -> None:
    written = 0

    def put(data: bytes) -> None:
        nonlocal written
        out.write(data)
        written += len(data)

    put(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, 1):
        offsets.append(written)
        put(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    count = len(objs)
    if blob_size:
        # An unreferenced-by-pages but valid stream object: makes the file big.
        offsets.append(written)
        count += 1
        put(b"%d 0 obj\n<< /Length %d >>\nstream\n" % (count, blob_size))
        chunk = os.urandom(1 << 20)
        left = blob_size
        while left:
            part = chunk[: min(left, len(chunk))]
            put(part)
            left -= len(part)
        put(b"\nendstream\nendobj\n")
    xref = written
    put(b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1))
    for offset in offsets:
        put(b"%010d 00000 n \n" % offset)
    put(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count + 1, xref))


def minimal_pdf(pages: int = 1, text: str = "Test document") -> bytes:
    """A valid PDF of ``pages`` A4 pages with one line of Helvetica text each."""
    import io

    buffer = io.BytesIO()
    _write(buffer, _objects(pages, text))
    return buffer.getvalue()


def big_pdf(path: Path, size: int) -> Path:
    """A valid one-page PDF padded with a random stream to about ``size`` bytes."""
    with path.open("wb") as out:
        _write(out, _objects(1, "Big document"), blob_size=size)
    return path


def encrypted_pdf() -> bytes:
    """A password-protected PDF (AES-256, by pyHanko's writer)."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(minimal_pdf())))
    writer.encrypt("owner-pw", "user-pw")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
