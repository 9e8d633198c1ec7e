"""Text extraction for the search index: the words of an uploaded file, or why there are none.

``extract(path, media_type)`` returns an :class:`Extracted` and never raises for a bad
file: a broken, hostile or unsupported file gives ``status`` ``"failed"`` or
``"unsupported"`` with a ``reason`` in plain words, so the upload that triggered it is
stored and registered all the same.

Supported: PDF (the text layer, by poppler's ``pdftotext``), DOCX (body paragraphs,
tables including nested ones, headers and footers of every section), XLSX/XLSM (every
sheet), CSV/TSV, HTML and plain text (any ``text/*``, JSON, XML). Images and scanned
PDFs are not read: OCR is out of scope, so an image is ``"unsupported"`` and a PDF
without a text layer is ``"empty"``.

Parsing never happens in the caller's process. A child Python process (this file run as
a script) sets resource limits (address space, CPU time, no core dumps) and then either
parses the file itself or replaces itself with ``pdftotext``. The caller reads its output
up to a cap and kills the child's whole process group when the time limit passes, so a
file that makes a parser loop, eat memory or crash costs at most ``timeout`` seconds.
Nothing is written to disk.

Statuses: ``"ok"``; ``"truncated"`` (the text reached ``max_chars`` and was cut there);
``"empty"`` (a readable file without text); ``"unsupported"`` (a media type with no
extractor); ``"failed"`` (too big, unreadable, encrypted, too slow, ...).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, Final, NoReturn, cast

__all__ = ["Extracted", "extract", "supported"]

logger = logging.getLogger(__name__)

# Limits of the child process (lowered only: an existing lower limit is kept).
_MEMORY_LIMIT: Final = 1 << 30  # bytes of address space
# Zip containers (DOCX, XLSX): refuse before parsing when the declared sizes are absurd.
# zipfile checks the declared sizes while inflating, so the declaration cannot lie.
_MAX_UNZIPPED: Final = 512 << 20  # total uncompressed bytes of all members
_MAX_MEMBERS: Final = 10_000
_MAX_RATIO: Final = 200  # uncompressed / compressed, for members above _RATIO_FROM bytes
_RATIO_FROM: Final = 8 << 20
_STDERR_CAP: Final = 64 << 10

_DOCX: Final = "docx"
_XLSX: Final = "xlsx"
_CSV: Final = "csv"
_TSV: Final = "tsv"
_HTML: Final = "html"
_TEXT: Final = "text"
_PDF: Final = "pdf"

_KINDS: Final[dict[str, str]] = {
    "application/pdf": _PDF,
    "application/x-pdf": _PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _XLSX,
    "application/vnd.ms-excel.sheet.macroenabled.12": _XLSX,
    "text/csv": _CSV,
    "application/csv": _CSV,
    "text/comma-separated-values": _CSV,
    "text/tab-separated-values": _TSV,
    "text/html": _HTML,
    "application/xhtml+xml": _HTML,
    "application/json": _TEXT,
    "application/xml": _TEXT,
}

_LABELS: Final = {
    _PDF: "PDF",
    _DOCX: "DOCX",
    _XLSX: "XLSX",
    _CSV: "CSV",
    _TSV: "TSV",
    _HTML: "HTML",
    _TEXT: "text",
}


@dataclass(frozen=True)
class Extracted:
    """The text of a file and how its extraction went.

    ``text`` is ``""`` unless ``status`` is ``"ok"`` or ``"truncated"``; ``reason`` says
    in plain words why the status is not ``"ok"`` (``None`` when it is).
    """

    text: str
    status: str  # "ok" | "truncated" | "failed" | "unsupported" | "empty"
    reason: str | None


def supported(media_type: str) -> bool:
    """Whether :func:`extract` has an extractor for ``media_type``."""
    return _kind(media_type) is not None


def extract(
    path: str | os.PathLike[str],
    media_type: str,
    *,
    max_chars: int = 1_000_000,
    timeout: float = 20.0,
    max_bytes: int = 200 * 1024 * 1024,
) -> Extracted:
    """Extract the text of the file at ``path`` of type ``media_type`` (parameters allowed).

    The text is cut at ``max_chars`` characters (status ``"truncated"``); files larger
    than ``max_bytes`` are not parsed; parsing that takes longer than ``timeout`` seconds
    (wall clock) is stopped. Never raises for a bad file; see the module docstring.
    """
    if max_chars < 1 or timeout <= 0 or max_bytes < 0:
        raise ValueError("max_chars, timeout and max_bytes must be positive")
    started = time.monotonic()
    size = -1
    kind = _kind(media_type)
    try:
        size = os.stat(path).st_size
    except OSError:
        result = Extracted("", "failed", "the file could not be read")
    else:
        if kind is None:
            result = Extracted("", "unsupported", f"no text extraction for {_base(media_type)}")
        elif size > max_bytes:
            result = Extracted(
                "", "failed", f"the file is larger than the extraction limit of {_size(max_bytes)}"
            )
        elif size == 0:
            result = Extracted("", "empty", "the file is empty")
        else:
            result = _extract(os.fspath(path), kind, _charset(media_type), max_chars, timeout)
    elapsed = (time.monotonic() - started) * 1000
    logger.log(
        logging.DEBUG if result.status in ("ok", "truncated", "empty") else logging.INFO,
        "text extraction of %s (%d bytes): %s in %.0f ms%s",
        _base(media_type),
        size,
        result.status,
        elapsed,
        f" ({result.reason})" if result.reason and result.status != "ok" else "",
    )
    return result


# --- the caller's side --------------------------------------------------------------------


def _base(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _charset(media_type: str) -> str:
    """The ``charset`` parameter of a media type if it names a known codec, else ``""``."""
    for param in media_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip('"').strip()
            try:
                return codecs.lookup(value).name
            except LookupError:
                return ""
    return ""


def _kind(media_type: str) -> str | None:
    base = _base(media_type)
    kind = _KINDS.get(base)
    if kind is None and (base.startswith("text/") or base.endswith(("+xml", "+json"))):
        kind = _TEXT
    return kind


# Lowers the resource limits (argv: address space, CPU seconds) and becomes the program
# named by the rest of argv. The same rules as _limit_resources, without importing this
# module (whose imports would cost the PDF path tens of milliseconds).
_EXEC_LIMITED: Final = """\
import os, sys
try:
    import resource
except ImportError:
    resource = None
if resource is not None:
    for which, value in ((resource.RLIMIT_AS, int(sys.argv[1])),
                         (resource.RLIMIT_CPU, int(sys.argv[2])), (resource.RLIMIT_CORE, 0)):
        soft, hard = resource.getrlimit(which)
        value = min(v for v in (value, soft, hard) if v != resource.RLIM_INFINITY)
        try:
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):
            pass
os.execv(sys.argv[3], sys.argv[3:])
"""


def _limits(timeout: float) -> list[str]:
    """The child's limits as arguments: address space and CPU seconds (hard stop: the
    wall-clock timeout normally strikes first)."""
    return [str(_MEMORY_LIMIT), str(math.ceil(timeout) + 1)]


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} bytes"


def _extract(path: str, kind: str, charset: str, max_chars: int, timeout: float) -> Extracted:
    label = _LABELS[kind]
    if kind == _PDF:
        pdftotext = shutil.which("pdftotext")
        if pdftotext is None:
            return Extracted("", "failed", "pdftotext (poppler-utils) is not installed")
        # -S as well: the launcher needs no site-packages, so it starts in milliseconds.
        command = [sys.executable, "-I", "-S", "-c", _EXEC_LIMITED, *_limits(timeout)]
        command += [pdftotext, "-enc", "UTF-8", "-nopgbrk", path, "-"]
    else:
        # -I: no PYTHON* variables, no user site, no script directory on sys.path.
        command = [sys.executable, "-I", os.path.abspath(__file__), *_limits(timeout)]
        command += [kind, path, str(max_chars), charset]
    # UTF-8 takes at most 4 bytes a character; a little room for the header line.
    run = _run(command, timeout, max_chars * 4 + 4096)
    if run.timed_out:
        return Extracted("", "failed", f"took longer than {timeout:g} s")
    if kind == _PDF:
        return _pdf_result(run, max_chars)
    header, _, body = run.stdout.partition(b"\n")
    try:
        head = json.loads(header)
        status, reason = str(head["status"]), head["reason"]
    except (ValueError, KeyError, TypeError):
        return Extracted("", "failed", _crash(run.returncode, label))
    if status not in ("ok", "truncated", "failed", "empty"):
        return Extracted("", "failed", _crash(run.returncode, label))
    if status == "failed":
        return Extracted("", "failed", str(reason) if reason else f"not a readable {label}")
    if run.returncode != 0 or run.overflow:
        # The header was written but the child died while writing the text.
        return Extracted("", "failed", _crash(run.returncode, label))
    return _finish(body.decode("utf-8", "replace"), status == "truncated", max_chars, label)


def _pdf_result(run: _Run, max_chars: int) -> Extracted:
    if run.returncode != 0 and not run.overflow:
        errors = run.stderr.decode("utf-8", "replace")
        if "Incorrect password" in errors:
            return Extracted("", "failed", "the PDF is encrypted")
        if "May not be a PDF file" in errors:
            return Extracted("", "failed", "not a PDF file")
        if run.returncode in (1, 3, 99):  # pdftotext's own exit statuses
            return Extracted("", "failed", "not a readable PDF")
        return Extracted("", "failed", _crash(run.returncode, "PDF"))
    text = run.stdout.decode("utf-8", "replace")
    if run.overflow:
        text = text.rstrip("\ufffd")  # a character cut in the middle
    return _finish(text, run.overflow, max_chars, "PDF")


def _finish(text: str, truncated: bool, max_chars: int, label: str) -> Extracted:
    text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if len(text) > max_chars:
        text, truncated = text[:max_chars], True
    if not text.strip():
        if label == "PDF":
            return Extracted("", "empty", "the PDF has no text layer (a scan? OCR is not done)")
        return Extracted("", "empty", f"the {label} file contains no text")
    if truncated:
        return Extracted(text, "truncated", f"the text was cut at {max_chars} characters")
    return Extracted(text, "ok", None)


def _crash(returncode: int, label: str) -> str:
    if returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
        return "used more processor time or memory than allowed"
    if returncode < 0:
        return f"the {label} reader crashed ({signal.Signals(-returncode).name})"
    return f"the {label} reader failed (exit status {returncode})"


@dataclass
class _Run:
    stdout: bytes
    stderr: bytes
    returncode: int
    timed_out: bool
    overflow: bool  # stdout reached the cap and the process was stopped


def _run(command: list[str], timeout: float, max_out: int) -> _Run:
    """Run ``command`` in a new process group; read at most ``max_out`` bytes of stdout.

    The whole group is killed when ``timeout`` passes or the output reaches the cap.
    """
    out, err = bytearray(), bytearray()
    timed_out = overflow = False
    process = subprocess.Popen(  # noqa: S603 (our own arguments, no shell)
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as a whole
    )
    deadline = time.monotonic() + timeout
    stdout, stderr = cast(IO[bytes], process.stdout), cast(IO[bytes], process.stderr)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ, out)
            selector.register(stderr, selectors.EVENT_READ, err)
            while selector.get_map() and not overflow:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    buffer: bytearray = key.data
                    cap = max_out if buffer is out else _STDERR_CAP
                    buffer += chunk[: max(0, cap - len(buffer))]
                    if buffer is out and len(out) >= max_out:
                        overflow = True
        if not (timed_out or overflow):
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if process.returncode is None:
            # Not yet reaped, so the group id is still ours to kill.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stdout.close()
        stderr.close()
    return _Run(bytes(out), bytes(err), process.returncode, timed_out, overflow)


# --- the child's side ---------------------------------------------------------------------


class _Full(Exception):
    """The text reached the cap: stop reading the file."""


class _Sink:
    """Collects text up to ``limit`` characters, then raises :class:`_Full`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        self.count += len(text)
        if self.count > self.limit:
            raise _Full

    def text(self) -> str:
        return "".join(self.parts)[: self.limit]


class _Refused(Exception):
    """The file is refused with a reason for the user."""


def _limit_resources(memory: int, cpu_seconds: int) -> None:
    """Lower (never raise) the address space and CPU time limits; no core dumps."""
    try:
        import resource
    except ImportError:  # not a POSIX system: the caller's time limit still holds
        return
    for which, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_CORE, 0),
    ):
        soft, hard = resource.getrlimit(which)
        value = min(v for v in (value, soft, hard) if v != resource.RLIM_INFINITY)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, hard))


def _check_zip(path: str, label: str) -> None:
    """Refuse zip bombs and non-zips before a library inflates anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _Refused(f"not a readable {label} (not a zip container)") from exc
    if len(members) > _MAX_MEMBERS:
        raise _Refused(f"not a readable {label} (too many parts)")
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size > _RATIO_FROM and member.file_size > _MAX_RATIO * max(
            1, member.compress_size
        ):
            raise _Refused(f"the {label} looks like a zip bomb (a part is compressed too well)")
    if total > _MAX_UNZIPPED:
        raise _Refused(f"the {label} unpacks to more than {_size(_MAX_UNZIPPED)}")


def _docx(path: str, sink: _Sink, charset: str) -> None:
    _check_zip(path, "DOCX")
    import docx
    from docx.table import Table

    document = docx.Document(path)

    def blocks(items: Iterable[Any]) -> None:
        for item in items:
            if isinstance(item, Table):
                table(item)
            else:
                sink.add(item.text + "\n")

    def table(item: Table) -> None:
        seen: set[int] = set()  # a merged cell is returned once per grid column it spans
        for row in item.rows:
            for cell in row.cells:
                if id(cell._tc) in seen:
                    continue
                seen.add(id(cell._tc))
                blocks(cell.iter_inner_content())
                sink.add("\t")
            sink.add("\n")

    blocks(document.iter_inner_content())
    for section in document.sections:
        for part in (
            section.header,
            section.first_page_header,
            section.even_page_header,
            section.footer,
            section.first_page_footer,
            section.even_page_footer,
        ):
            # A part linked to the previous section has no content of its own.
            if not part.is_linked_to_previous:
                blocks(part.iter_inner_content())


def _xlsx(path: str, sink: _Sink, charset: str) -> None:
    _check_zip(path, "XLSX")
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        for sheet in workbook.worksheets:
            sink.add(f"{sheet.title}\n")
            if hasattr(sheet, "reset_dimensions"):
                # The declared dimensions may be huge; pad rows only to their own cells.
                sheet.reset_dimensions()
            for row in sheet.iter_rows(values_only=True):
                cells = [str(value) for value in row if value is not None and value != ""]
                if cells:
                    sink.add("\t".join(cells) + "\n")
            sink.add("\n")
    finally:
        workbook.close()


def _decode(data: bytes, charset: str) -> str:
    """Bytes to text: the declared charset, UTF-8, the detected one, then Windows-1251."""
    for encoding in (charset, "utf-8-sig"):
        if encoding:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("cp1251", "replace")


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _csv(path: str, sink: _Sink, charset: str, delimiter: str | None = None) -> None:
    import csv
    import io

    text = _decode(_read(path), charset)
    # The whole text is in memory already: a field may be as long as the text.
    csv.field_size_limit(len(text) + 1)
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    if delimiter is None:
        with contextlib.suppress(csv.Error):
            dialect = csv.Sniffer().sniff(text[: 16 << 10], delimiters=",;\t|")
    else:
        dialect = csv.excel_tab
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            cells = [cell.strip() for cell in row if cell.strip()]
            if cells:
                sink.add("\t".join(cells) + "\n")
    except csv.Error as exc:
        raise _Refused(f"not a readable CSV ({exc})") from exc


def _tsv(path: str, sink: _Sink, charset: str) -> None:
    _csv(path, sink, charset, delimiter="\t")


def _html(path: str, sink: _Sink, charset: str) -> None:
    from html.parser import HTMLParser

    skipped = {"script", "style", "template", "noscript"}
    breaks = {
        "p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "section", "article", "header", "footer", "blockquote", "pre", "title",
        "dt", "dd", "hr",
    }  # fmt: skip

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.skipping: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in skipped:
                self.skipping.append(tag)
            if tag in breaks:
                sink.add("\n")

        def handle_endtag(self, tag: str) -> None:
            if self.skipping and tag == self.skipping[-1]:
                self.skipping.pop()
            if tag in breaks:
                sink.add("\n")

        def handle_data(self, data: str) -> None:
            if not self.skipping:
                sink.add(data)

    parser = Parser()
    parser.feed(_decode(_read(path), charset))
    parser.close()


def _text(path: str, sink: _Sink, charset: str) -> None:
    sink.add(_decode(_read(path), charset))


_READERS: Final[dict[str, Callable[[str, _Sink, str], None]]] = {
    _DOCX: _docx,
    _XLSX: _xlsx,
    _CSV: _csv,
    _TSV: _tsv,
    _HTML: _html,
    _TEXT: _text,
}


def _child(argv: list[str], out: IO[bytes]) -> int:
    """The child process; ``argv``: memory bytes, CPU seconds, kind, path, max chars,
    charset (possibly empty).

    Writes one JSON header line (status and reason) and then the text, in UTF-8.
    """
    _limit_resources(int(argv[0]), int(argv[1]))
    kind, path, limit, charset = argv[2], argv[3], int(argv[4]), argv[5]
    label = _LABELS[kind]
    sink = _Sink(limit)
    status, reason = "ok", None
    try:
        _READERS[kind](path, sink, charset)
    except _Full:
        status = "truncated"
    except _Refused as exc:
        status, reason = "failed", str(exc)
    except MemoryError:
        status, reason = "failed", "needs more memory than allowed"
    except RecursionError:
        status, reason = "failed", f"the {label} is nested too deeply"
    except OSError:
        status, reason = "failed", "the file could not be read"
    except Exception as exc:  # any parser error means the file is not what it claims
        status, reason = "failed", f"not a readable {label} ({type(exc).__name__})"
    header = {"status": status, "reason": reason}
    out.write(json.dumps(header).encode() + b"\n")
    if status != "failed":
        out.write(sink.text().encode("utf-8", "replace"))
    out.flush()
    return 0


def _main() -> NoReturn:
    sys.exit(_child(sys.argv[1:], sys.stdout.buffer))


if __name__ == "__main__":
    _main()
