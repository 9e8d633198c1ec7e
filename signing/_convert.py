"""Converting office documents to PDF/A-2b with LibreOffice (``soffice --headless``).

Each conversion runs in a fresh temporary directory holding the input, the
output, LibreOffice's own temporary files and a LibreOffice user profile of
its own, so conversions running side by side never share state. The
directory and every LibreOffice process are gone when :meth:`Converter.to_pdf`
returns or raises.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from signing._errors import ConversionError, ConversionTimeout, ConverterMissing

__all__ = ["Converter"]

logger = logging.getLogger(__name__)

# The import filter is forced: without it LibreOffice opens a file it does not
# recognise as plain text and "converts" random bytes without complaint.
_IMPORT_FILTERS = {
    ".docx": "MS Word 2007 XML",
    ".odt": "writer8",
    ".doc": "MS Word 97",
    ".rtf": "Rich Text Format",
}
_SIGNATURES = {
    ".docx": (b"PK\x03\x04",),
    ".odt": (b"PK\x03\x04",),
    ".doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    ".rtf": (b"{\\rtf",),
}
# PDF/A-2b (SelectPdfVersion 2), tagged for screen readers. The JSON form of
# filter options needs LibreOffice 7.4 or later; older versions ignore it and
# write plain PDF, which the check on the output catches.
_EXPORT = (
    "pdf:writer_pdf_Export:{"
    '"SelectPdfVersion":{"type":"long","value":"2"},'
    '"UseTaggedPDF":{"type":"boolean","value":"true"}}'
)
_PDFA_2B = (
    re.compile(rb"pdfaid:part(?:>|=['\"])2\b"),
    re.compile(rb"pdfaid:conformance(?:>|=['\"])B\b"),
)
_INSTALL_HINT = (
    "install LibreOffice (on Debian or Ubuntu: apt install libreoffice-writer-nogui) "
    "or give the path to soffice"
)


class Converter:
    """Turns DOCX, ODT, DOC and RTF documents into PDF/A-2b through LibreOffice.

    ``soffice`` is the LibreOffice executable (a path or a name looked up on the
    ``PATH``; by default ``soffice``). It is looked up at each conversion, so a
    converter can be built where LibreOffice is missing: :attr:`available` tells.

    ``timeout`` (seconds) bounds each LibreOffice run; the run is then stopped,
    every process it started is killed, and :class:`~signing.ConversionTimeout`
    raised. Waiting for a free slot is bounded by the same ``timeout``.
    At most ``max_parallel`` conversions run at once per converter (LibreOffice
    takes a few hundred megabytes each); further callers wait for a slot.
    Inputs over ``max_bytes`` are refused. Working directories are created
    under ``tmp_root`` (the system temporary directory by default).

    Safe to share between threads.
    """

    def __init__(
        self,
        soffice: str | os.PathLike[str] | None = None,
        timeout: float = 120,
        max_parallel: int = 2,
        *,
        max_bytes: int = 50 * 1024 * 1024,
        tmp_root: str | os.PathLike[str] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.soffice = os.fspath(soffice) if soffice is not None else "soffice"
        self.timeout = timeout
        self.max_parallel = max_parallel
        self.max_bytes = max_bytes
        self.tmp_root = os.fspath(tmp_root) if tmp_root is not None else None
        self._slots = threading.BoundedSemaphore(max_parallel)

    @property
    def available(self) -> bool:
        """Whether the LibreOffice executable is there."""
        return shutil.which(self.soffice) is not None

    def to_pdf(
        self, source: bytes | BinaryIO | str | os.PathLike[str], *, suffix: str | None = None
    ) -> bytes:
        """Convert a document to PDF/A-2b and return the PDF.

        ``source`` is the document's bytes, a binary file object (read from its
        current position), or a path (``str`` or path object). ``suffix`` names
        its format: ``.docx`` (the default), ``.odt``, ``.doc`` or ``.rtf``; for
        a path it defaults to the path's suffix.

        Raises :class:`~signing.ConversionError` for an unsupported format, an
        input over ``max_bytes``, or a document LibreOffice cannot read (with
        LibreOffice's reason); :class:`~signing.ConverterMissing` when LibreOffice
        is not installed; :class:`~signing.ConversionTimeout` when it takes longer
        than ``timeout``.
        """
        suffix = _suffix(source, suffix)
        data = self._read(source)
        kind = suffix[1:].upper()
        if not data.startswith(_SIGNATURES[suffix]):
            raise ConversionError(
                f"the file is not a {kind} document (it is damaged or of another type)"
            )
        soffice = shutil.which(self.soffice)
        if soffice is None:
            raise ConverterMissing(
                f"LibreOffice is not installed (no {self.soffice}): {_INSTALL_HINT}"
            )
        started = time.monotonic()
        if not self._slots.acquire(timeout=self.timeout):
            raise ConversionTimeout(
                f"all {self.max_parallel} conversion slots stayed busy for {self.timeout:g} s; "
                "try again later"
            )
        try:
            pdf = self._run(soffice, data, suffix)
        except ConversionError as exc:
            logger.warning(
                "%s to PDF/A failed after %.1f s: %s", kind, time.monotonic() - started, exc
            )
            raise
        finally:
            self._slots.release()
        logger.info(
            "converted %s of %d bytes to PDF/A-2b of %d bytes in %.1f s",
            kind,
            len(data),
            len(pdf),
            time.monotonic() - started,
        )
        return pdf

    def _read(self, source: bytes | BinaryIO | str | os.PathLike[str]) -> bytes:
        if isinstance(source, bytes | bytearray):
            data = bytes(source)
        elif isinstance(source, str | os.PathLike):
            try:
                with open(source, "rb") as fh:
                    data = fh.read(self.max_bytes + 1)
            except OSError as exc:
                raise ConversionError(f"cannot read {os.fspath(source)}: {exc.strerror}") from exc
        else:
            data = source.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise ConversionError(
                f"the document is larger than the conversion limit of {_size(self.max_bytes)}"
            )
        return data

    def _run(self, soffice: str, data: bytes, suffix: str) -> bytes:
        workdir = Path(tempfile.mkdtemp(prefix="edms-convert-", dir=self.tmp_root)).resolve()
        process: subprocess.Popen[bytes] | None = None
        try:
            source = workdir / f"document{suffix}"
            source.write_bytes(data)
            outdir = workdir / "out"
            scratch = workdir / "tmp"
            scratch.mkdir()
            command = [
                soffice,
                f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
                "--headless",
                "--invisible",
                "--nodefault",
                "--nologo",
                "--nolockcheck",
                "--norestore",
                f"--infilter={_IMPORT_FILTERS[suffix]}",
                "--convert-to",
                _EXPORT,
                "--outdir",
                str(outdir),
                str(source),
            ]
            # LibreOffice's own temporary files go inside the working directory too.
            env = {**os.environ, "TMPDIR": str(scratch), "TMP": str(scratch), "TEMP": str(scratch)}
            try:
                process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    env=env,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            except OSError as exc:
                raise ConverterMissing(
                    f"cannot start {soffice} ({exc.strerror}): {_INSTALL_HINT}"
                ) from exc
            try:
                output, _ = process.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise ConversionTimeout(
                    f"the conversion took longer than {self.timeout:g} s and was stopped"
                ) from None
            result = outdir / "document.pdf"
            if not result.is_file():
                # LibreOffice exits with 0 when it cannot load the input: only the
                # missing output and its "Error: ..." line tell.
                raise ConversionError(
                    f"LibreOffice could not convert the {suffix[1:].upper()} document: "
                    f"{_reason(output, process.returncode)}"
                )
            pdf = result.read_bytes()
        finally:
            if process is not None:
                _stop(process)
            shutil.rmtree(workdir, ignore_errors=True)
            if workdir.exists():
                logger.warning("could not remove the conversion directory %s", workdir)
        if not pdf.startswith(b"%PDF-"):
            raise ConversionError("LibreOffice wrote something that is not a PDF")
        if not all(pattern.search(pdf) for pattern in _PDFA_2B):
            raise ConversionError(
                "LibreOffice did not produce PDF/A-2b; LibreOffice 7.4 or later is needed"
            )
        return pdf


def _suffix(source: object, suffix: str | None) -> str:
    if suffix is None:
        suffix = Path(source).suffix if isinstance(source, str | os.PathLike) else ""
        suffix = suffix or ".docx"
    suffix = suffix.lower()
    if not suffix.startswith("."):
        suffix = "." + suffix
    if suffix not in _IMPORT_FILTERS:
        raise ConversionError(
            f"cannot convert {suffix} files; supported: {', '.join(sorted(_IMPORT_FILTERS))}"
        )
    return suffix


def _reason(output: bytes, returncode: int) -> str:
    lines = output.decode("utf-8", "replace").splitlines()
    errors = [line.strip() for line in lines if line.strip().lower().startswith("error")]
    if errors:
        return "; ".join(errors)[:500]
    return f"no output written (exit status {returncode})"


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} bytes"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the LibreOffice process group and reap the process."""
    # soffice starts oosplash which starts soffice.bin, all in the group of the
    # new session; killing the group reaches a soffice.bin left by a crashed parent.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is empty: LibreOffice finished
    except PermissionError:
        pass  # the id is no longer ours
    if process.returncode is None:
        process.communicate()
