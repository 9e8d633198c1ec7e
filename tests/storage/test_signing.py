"""App-signed download URLs: only the exact link, and only until it expires."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

import storage
from storage import UrlSigner

KEY = "ab" * 32


def _parts(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path.rsplit("/", 1)[1], dict(parse_qsl(parts.query))


def test_round_trip_and_tampering() -> None:
    signer = UrlSigner(b"0123456789abcdef", "/files/")
    url = signer.sign(KEY, timedelta(minutes=10), "a.pdf", "application/pdf", now=1000)
    assert url.startswith(f"/files/{KEY}?")
    key, q = _parts(url)
    ok = (key, q["expires"], q["signature"], "a.pdf", "application/pdf")
    assert signer.verify(*ok, now=1000)
    assert not signer.verify(*ok, now=1000 + 601)  # expired
    assert not signer.verify(
        key, q["expires"], q["signature"], "b.pdf", "application/pdf", now=1000
    )
    assert not signer.verify(key, q["expires"], q["signature"], "a.pdf", "text/html", now=1000)
    assert not signer.verify(
        key, str(int(q["expires"]) + 999), q["signature"], "a.pdf", "application/pdf", now=1000
    )
    assert not signer.verify(
        "cd" * 32, q["expires"], q["signature"], "a.pdf", "application/pdf", now=1000
    )
    assert not signer.verify(key, "soon", q["signature"], now=1000)
    assert not signer.verify("../etc", q["expires"], q["signature"], now=1000)
    other = UrlSigner(b"another secret key!", "/files")
    assert not other.verify(*ok, now=1000)


def test_short_secrets_and_missing_signers() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        UrlSigner(b"short", "/files")
    with pytest.raises(storage.StorageError, match="signer"):
        storage.MemoryStore().url(KEY, expires=timedelta(minutes=1))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", {"filename": "report.pdf"}),
        ('say "hi".txt', {"filename": 'say "hi".txt'}),
        (
            "Письмо.pdf",
            {
                "filename": "document.pdf",
                "filename*": "UTF-8''%D0%9F%D0%B8%D1%81%D1%8C%D0%BC%D0%BE.pdf",
            },
        ),
        (
            "O‘zbek xat.docx",
            {"filename": "Ozbek xat.docx", "filename*": "UTF-8''O%E2%80%98zbek%20xat.docx"},
        ),
        ("файл", {"filename": "document", "filename*": "UTF-8''%D1%84%D0%B0%D0%B9%D0%BB"}),
    ],
)
def test_content_disposition(name: str, expected: dict[str, str]) -> None:
    assert storage.content_disposition(name) == expected
