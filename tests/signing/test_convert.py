"""DOCX to PDF/A-2b through LibreOffice: text, fonts, conformance, failures, clean-up."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from signing._convert import Converter
from signing._errors import ConversionError, ConversionTimeout, ConverterMissing
from signing._templates import render_template
from tests.signing.test_templates import (
    CONTEXT,
    CYRILLIC,
    HOSTILE,
    RUSSIAN,
    TEMPLATES,
    UZBEK_LATIN,
    make_template,
    template_path,
)

POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdfinfo", "pdffonts"))
needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice (soffice) is not installed: apt install libreoffice-writer-nogui",
)
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils is not installed")

MM = 72 / 25.4  # points per millimetre
RTF = rb"{\rtf1\ansi\deff0{\fonttbl{\f0 DejaVu Serif;}}\f0 Salom, dunyo.\par}"


def poppler(*args: object) -> str:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def leftovers(root: Path) -> list[str]:
    """LibreOffice processes still working somewhere under ``root``."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(str(root) in part for part in cmdline):
            found.append(f"{process.info['pid']}: {' '.join(cmdline)}")
    return found


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """The converter's temporary root; empty, and no process left in it, after the test."""
    root = tmp_path / "work"
    root.mkdir()
    children = {child.pid for child in psutil.Process().children(recursive=True)}
    yield root
    assert list(root.iterdir()) == []
    assert leftovers(root) == []
    new = [c for c in psutil.Process().children(recursive=True) if c.pid not in children]
    assert [c for c in new if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []


@needs_soffice
@needs_poppler
@pytest.mark.parametrize("name", TEMPLATES)
def test_shipped_template_to_pdfa(name: str, tmp_path: Path, work: Path) -> None:
    # One conversion per template, every check on it, so the suite stays fast.
    pdf = Converter(tmp_root=work).to_pdf(render_template(template_path(name), CONTEXT))
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)

    text = poppler("pdftotext", "-enc", "UTF-8", path, "-")
    for expected in (CYRILLIC, RUSSIAN, UZBEK_LATIN, HOSTILE, "A. Karimov"):
        assert expected in text

    meta = poppler("pdfinfo", "-meta", path)
    assert re.search(r"<pdfaid:part>2</pdfaid:part>", meta)
    assert re.search(r"<pdfaid:conformance>B</pdfaid:conformance>", meta)
    assert f"{RUSSIAN} юстиции" in poppler("pdfinfo", path)  # the title, from the template

    fonts = poppler("pdffonts", path).splitlines()[2:]
    assert fonts
    for line in fonts:
        assert line.split()[-5] == "yes", f"font not embedded: {line}"
        assert "DejaVuSerif" in line.split()[0]

    # Room for signature stamps: nothing in the last 60 mm of the last page's text area.
    pages = int(re.search(r"Pages:\s+(\d+)", poppler("pdfinfo", path)).group(1))  # type: ignore[union-attr]
    bbox = poppler("pdftotext", "-bbox", "-f", pages, "-l", pages, path, "-")
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', bbox).group(1))  # type: ignore[union-attr]
    lowest = max(float(y) for y in re.findall(r'<word [^>]*yMax="([\d.]+)"', bbox))
    assert lowest <= height - (20 + 60) * MM + 1


@needs_soffice
@pytest.mark.slow
def test_parallel_conversions_wait_for_their_slot(
    tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converter = Converter(max_parallel=1, tmp_root=work)
    running = 0
    most = 0
    lock = threading.Lock()
    real_run = converter._run

    def counting_run(*args: Any) -> bytes:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return real_run(*args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(converter, "_run", counting_run)
    docx_path = tmp_path / "letter.docx"
    docx_path.write_bytes(render_template(template_path("letter"), CONTEXT))
    jobs: list[tuple[Any, str | None]] = [
        (docx_path, None),  # a path: the format from its suffix
        (io.BytesIO(RTF), ".rtf"),  # a stream
        (RTF, "rtf"),  # bytes
    ]
    with ThreadPoolExecutor(3) as pool:
        pdfs = list(pool.map(lambda job: converter.to_pdf(job[0], suffix=job[1]), jobs))
    assert all(pdf.startswith(b"%PDF-") for pdf in pdfs)
    assert most == 1


def _not_docx_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a document")
    return out.getvalue()


@needs_soffice
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(os.urandom(4096), "not a DOCX document", id="random"),
        pytest.param(_not_docx_zip(), "could not be loaded", id="zip-not-docx"),
        pytest.param(make_template("x" * 5000)[:4000], "could not be loaded", id="truncated"),
    ],
)
def test_broken_input(content: bytes, reason: str, work: Path) -> None:
    with pytest.raises(ConversionError, match=reason):
        Converter(tmp_root=work).to_pdf(content)


@needs_soffice
def test_timeout_kills_libreoffice(work: Path) -> None:
    with pytest.raises(ConversionTimeout, match=r"longer than 0\.01 s"):
        Converter(timeout=0.01, tmp_root=work).to_pdf(RTF, suffix=".rtf")


def test_missing_libreoffice(work: Path) -> None:
    converter = Converter(soffice="/nonexistent/soffice", tmp_root=work)
    assert not converter.available
    with pytest.raises(ConverterMissing, match="libreoffice-writer-nogui"):
        converter.to_pdf(RTF, suffix=".rtf")


def test_size_limit(work: Path) -> None:
    converter = Converter(max_bytes=len(RTF) - 1, tmp_root=work)
    with pytest.raises(ConversionError, match="larger than the conversion limit"):
        converter.to_pdf(RTF, suffix=".rtf")
    with pytest.raises(ConversionError, match="larger than the conversion limit"):
        converter.to_pdf(io.BytesIO(RTF), suffix=".rtf")


def test_unsupported_format(work: Path) -> None:
    with pytest.raises(ConversionError, match=r"cannot convert \.html files"):
        Converter(tmp_root=work).to_pdf(b"<html></html>", suffix=".html")


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="cannot read"):
        Converter().to_pdf(tmp_path / "missing.docx")


@pytest.mark.parametrize(
    "options", [{"timeout": 0}, {"max_parallel": 0}, {"max_bytes": 0}], ids=str
)
def test_invalid_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Converter(**options)
