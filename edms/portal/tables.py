"""Row-by-row validation of a statistical report (CSV or XLSX) against its ``ReportSpec``.

``check_table(stream, media_type, report, form_data)`` reads the file once, row by
row, and returns a ``TableResult``: the data rows read, the errors (each a
``CellError`` with the row as the person sees it in a spreadsheet, the header being
row 1; row 0 means the file as a whole), how many errors there were in all (the list
keeps the first ``MAX_ERRORS``) and the sum of each integer and number column.
Memory stays flat whatever the size of the file (for XLSX, apart from its table of
shared strings, which is read whole and may unpack to ``MAX_SIDE_MEMBER``).

The header row names the columns: every column of the report, in any order, ignoring
case and surrounding spaces. Missing and unknown columns are reported together, on
row 1, and nothing more is read. Rows that are completely empty are skipped.

CSV: the encoding is UTF-8 (with or without a BOM), UTF-16 with a BOM, or what
charset-normalizer finds among the Cyrillic code pages (cp1251 is what Excel writes
here; cp866 and KOI8-R are also recognised) when the first 64 KB are not UTF-8. The
delimiter is ``,``, ``;`` or a tab (``csv.Sniffer`` on the first lines, checked
against the header; ``,`` when in doubt). Lines longer than ``MAX_LINE_CHARS`` and NUL
characters stop the reading.

XLSX: the first worksheet, after a look at the zip's directory that refuses a
workbook unpacking to more than ``MAX_UNPACKED`` bytes in all, or packed suspiciously
well (a zip bomb), before openpyxl opens anything. The rows are read with openpyxl's
worksheet parser, streaming, each row dropped once checked (``load_workbook`` in
read-only mode would keep memory in step with the sheet); the row numbers are the
sheet's own. A stream that cannot seek is copied to a temporary file first. Anything
that goes wrong while reading is one file-level error, never a traceback.

Cells:

- Formulas are refused: an XLSX formula cell, and text (CSV, or an XLSX text cell)
  starting with ``=``, ``+``, ``@``, a tab or a carriage return, or with ``-``
  followed by something other than a digit (``-5`` is a number, ``-A1`` is not):
  spreadsheets would run such text when the table is opened again (CSV injection).
- ``integer``: ``12``, ``-5``, ``1 234`` (thousands grouped by spaces); not ``1.5``.
  An XLSX number with no fraction (3.0) is fine.
- ``number``: ``1234.5``, ``1234,5`` and ``1 234,5`` all mean 1234.5 (a comma is the
  decimal separator, as in Uzbekistan and Russia; never a thousands separator).
- ``date``: ``2026-01-31``, or ``31.01.2026`` (the day first, as written here), or an
  XLSX date cell without a time of day.
- ``enum``: one of the values exactly (surrounding spaces ignored).
- ``string``: any text without control characters (line breaks inside a cell are
  fine), up to ``max_length`` (10,000 at most); ``pattern`` is searched as in JSON
  Schema. An XLSX number in a text column counts as its digits.

Totals: when the form has a value for a rule's field, the column's sum must equal it.
A column with cell errors, or a file not read to its end, is not added up against
the form: the sum would be of part of the column. Numbers are added exactly
(``Decimal``); ``sums`` holds an ``int`` or a ``float``.

Messages never repeat a cell's value (it may be personal data); they say what is
expected.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any, BinaryIO, Final
from xml.etree import ElementTree

from edms.portal.catalogue import CSV, MAX_STRING, XLSX, ColumnSpec, ReportSpec
from edms.portal.forms import parse_decimal, parse_integer

__all__ = [
    "FORMULA",
    "MAX_ERRORS",
    "MAX_LINE_CHARS",
    "MAX_UNPACKED",
    "UNREADABLE_XLSX",
    "CellError",
    "TableResult",
    "check_table",
]

logger = logging.getLogger(__name__)

MAX_ERRORS: Final = 1000
SAMPLE_BYTES: Final = 64 * 1024
MAX_LINE_CHARS: Final = 1_000_000
#: What the members of an XLSX may unpack to, in all.
MAX_UNPACKED: Final = 200 * 1024 * 1024
#: A member other than a worksheet (shared strings and styles are read whole).
MAX_SIDE_MEMBER: Final = 64 * 1024 * 1024
#: Members larger than 1 MB may be at most this many times smaller packed.
MAX_RATIO: Final = 200
MAX_MEMBERS: Final = 10_000
#: The largest file copied to a temporary file when the stream cannot seek (XLSX).
MAX_SPOOL: Final = 512 * 1024 * 1024
EXCEL_ROWS: Final = 1_048_576
#: Columns of an XLSX row looked at one by one (a report has at most 100).
MAX_COLUMNS: Final = 1000

CSV_TYPES: Final = frozenset({CSV, "text/plain", "application/csv"})
_CYRILLIC: Final = ["cp1251", "cp866", "koi8_r"]
# First characters of a cell that may make it a formula (see _looks_like_formula).
_SUSPECT: Final = frozenset("=+@-\t\r \u00a0")
_DMY_RE: Final = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")

UNREADABLE_XLSX: Final = "the file is not a readable XLSX workbook; save it again from Excel"
FORMULA: Final = "formulas are not accepted; enter the value"
ENTER: Final = "enter a value"
WHOLE: Final = "enter a whole number"
NUMBER: Final = "enter a number"
DATE: Final = "must be a date like 2026-01-31"
CONTROL: Final = "must not contain control characters"


@dataclass(frozen=True)
class CellError:
    """One problem: ``row`` as numbered in a spreadsheet (the header is row 1; 0 is the
    file as a whole), ``column`` the column's name (``""`` for the whole row or file)."""

    row: int
    column: str
    reason: str


@dataclass
class TableResult:
    """What ``check_table`` found; ``errors`` keeps the first ``MAX_ERRORS`` of
    ``errors_total``."""

    rows: int = 0
    errors: list[CellError] = field(default_factory=list)
    errors_total: int = 0
    sums: dict[str, int | float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.errors_total == 0


class _Stop(Exception):
    """Reading stops: a file-level problem (``row`` 0 unless given)."""

    def __init__(self, reason: str, row: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row


# --- cells --------------------------------------------------------------------------


def _looks_like_formula(value: str) -> bool:
    if value[:1] in ("\t", "\r"):
        return True
    stripped = value.strip()
    if not stripped:
        return False
    first = stripped[0]
    if first in "=+@":
        return True
    return first == "-" and len(stripped) > 1 and stripped[1] not in "0123456789"


def _control(value: str) -> bool:
    if value.isprintable():  # the usual case, in C
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\r\t" for ch in value)


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_date(value: str) -> date | None:
    value = value.strip()
    try:
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            return date.fromisoformat(value)
        match = _DMY_RE.fullmatch(value)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        return None
    return None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Checker:
    """The state of one check: the columns, the errors, the sums."""

    def __init__(self, report: ReportSpec, result: TableResult) -> None:
        self.report = report
        self.result = result
        self.by_name = {c.name.casefold(): c for c in report.columns}
        self.patterns = {
            c.name: re.compile(c.pattern) for c in report.columns if c.pattern is not None
        }
        self.limits = {
            c.name: (
                Decimal(str(c.minimum)) if c.minimum is not None else None,
                Decimal(str(c.maximum)) if c.maximum is not None else None,
            )
            for c in report.columns
        }
        self.sums: dict[str, Decimal] = {
            c.name: Decimal(0) for c in report.columns if c.type in ("integer", "number")
        }
        self.bad_columns: set[str] = set()
        self.index: list[ColumnSpec] = []
        self.width = 0
        self.checks: dict[str, Callable[[ColumnSpec, Any, bool], str | None]] = {
            "integer": self.integer,
            "number": self.number,
            "date": self.date,
            "enum": self.enum,
            "string": self.string,
        }

    def error(self, row: int, column: str, reason: str) -> None:
        self.result.errors_total += 1
        if column:
            self.bad_columns.add(column)
        if len(self.result.errors) < MAX_ERRORS:
            self.result.errors.append(CellError(row, column, reason))

    # header

    def header(self, cells: list[Any]) -> bool:
        """Map the header's positions to columns; False (and an error) if it does not fit."""
        names = ["" if c is None else str(c).strip() for c in cells]
        while names and not names[-1]:
            names.pop()
        expected = ", ".join(c.name for c in self.report.columns)
        if not names:
            self.error(1, "", f"the first row must name the columns: {expected}")
            return False
        unknown: list[str] = []
        unnamed: list[int] = []
        twice: list[str] = []
        seen: set[str] = set()
        index: list[ColumnSpec] = []
        for position, name in enumerate(names, start=1):
            spec = self.by_name.get(name.casefold())
            if not name:
                unnamed.append(position)
            elif spec is None:
                unknown.append("".join(ch if ch.isprintable() else "?" for ch in name[:40]))
            elif spec.name in seen:
                twice.append(spec.name)
            else:
                seen.add(spec.name)
                index.append(spec)
        missing = [c.name for c in self.report.columns if c.name not in seen]
        if not (missing or unknown or unnamed or twice):
            self.index = index
            self.width = len(index)
            return True
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            parts.append("unknown " + shown)
        if twice:
            parts.append("named twice " + ", ".join(twice))
        if unnamed:
            parts.append("without a name: column " + ", ".join(str(p) for p in unnamed[:10]))
        self.error(
            1,
            "",
            f"the columns do not match the report: {'; '.join(parts)} "
            f"(the first row must name the columns: {expected})",
        )
        return False

    # rows

    def row(self, number: int, values: list[Any], types: list[str] | None) -> None:
        """Check one data row; ``types`` are the XLSX cells' data types (None for CSV)."""
        count = len(values)
        xlsx = types is not None
        for i, spec in enumerate(self.index):
            value = values[i] if i < count else None
            if types is not None:
                kind = types[i] if i < len(types) else "n"
                if kind == "f":
                    self.error(number, spec.name, FORMULA)
                    continue
                if kind == "e":
                    self.error(number, spec.name, "the cell shows an error; enter the value")
                    continue
            if isinstance(value, str):
                # Most cells start with a digit or a letter: the full test only for the rest.
                if value and value[0] in _SUSPECT and _looks_like_formula(value):
                    self.error(number, spec.name, FORMULA)
                    continue
                value = value.strip()
            if value is None or value == "":
                if spec.required:
                    self.error(number, spec.name, ENTER)
                continue
            reason = self.checks[spec.type](spec, value, xlsx)
            if reason is not None:
                self.error(number, spec.name, reason)
        if count > self.width and not all(_empty(v) for v in values[self.width :]):
            self.error(number, "", "the row has values beyond the named columns")

    def _bounds(self, spec: ColumnSpec, value: Decimal) -> str | None:
        low, high = self.limits[spec.name]
        if low is not None and value < low:
            return f"must be at least {_number_text(spec.minimum or 0)}"
        if high is not None and value > high:
            return f"must be at most {_number_text(spec.maximum or 0)}"
        return None

    def integer(self, spec: ColumnSpec, value: Any, xlsx: bool) -> str | None:
        parsed: int | None = None
        if isinstance(value, bool):
            return WHOLE
        if isinstance(value, int):
            parsed = value
        elif isinstance(value, float) and value.is_integer():
            parsed = int(value)
        elif isinstance(value, str):
            parsed = parse_integer(value)
        if parsed is None:
            return WHOLE
        number = Decimal(parsed)
        problem = self._bounds(spec, number)
        if problem is None:
            self.sums[spec.name] += number
        return problem

    def number(self, spec: ColumnSpec, value: Any, xlsx: bool) -> str | None:
        parsed: Decimal | None = None
        if isinstance(value, bool):
            return NUMBER
        if isinstance(value, int | float):
            try:
                parsed = Decimal(str(value))
            except InvalidOperation:  # pragma: no cover - openpyxl gives finite numbers
                parsed = None
            if parsed is not None and not parsed.is_finite():
                parsed = None
        elif isinstance(value, str):
            parsed = parse_decimal(value)
        if parsed is None:
            return NUMBER
        problem = self._bounds(spec, parsed)
        if problem is None:
            self.sums[spec.name] += parsed
        return problem

    @staticmethod
    def date(spec: ColumnSpec, value: Any, xlsx: bool) -> str | None:
        if isinstance(value, datetime):
            return None if value.time() == time(0) else "must be a date without a time of day"
        if isinstance(value, date):
            return None
        if isinstance(value, str) and _parse_date(value) is not None:
            return None
        if isinstance(value, int | float | timedelta) and not isinstance(value, bool):
            return f"{DATE} (format the cell as a date)"
        return DATE

    @staticmethod
    def enum(spec: ColumnSpec, value: Any, xlsx: bool) -> str | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = _number_text(value)
        if isinstance(value, str) and value in spec.values:
            return None
        listed = ", ".join(spec.values)
        if len(listed) <= 200:
            return f"must be one of: {listed}"
        return "is not one of the values allowed"

    def string(self, spec: ColumnSpec, value: Any, xlsx: bool) -> str | None:
        from_number = False
        if isinstance(value, bool):
            return "must be text"
        if isinstance(value, int | float):
            value = _number_text(value)
            from_number = True
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        elif not isinstance(value, str):
            return "must be text"
        if _control(value):
            return CONTROL
        limit = min(spec.max_length or MAX_STRING, MAX_STRING)
        if len(value) > limit:
            return f"must be at most {limit} characters"
        pattern = self.patterns.get(spec.name)
        if pattern is not None and pattern.search(value) is None:
            if xlsx and from_number:
                return "is not in the expected format (format the column as Text in Excel)"
            return "is not in the expected format"
        return None

    # the end

    def finish(self, form_data: Mapping[str, Any], complete: bool) -> None:
        kinds = {c.name: c.type for c in self.report.columns}
        for name, total in self.sums.items():
            if kinds[name] == "integer" or total == total.to_integral_value():
                self.result.sums[name] = int(total)
            else:
                self.result.sums[name] = float(total)
        if not complete:
            return
        for rule in self.report.totals:
            wanted = form_data.get(rule.field)
            if wanted is None or isinstance(wanted, bool) or rule.column in self.bad_columns:
                continue
            try:
                expected = Decimal(str(wanted))
            except InvalidOperation:
                continue
            if not expected.is_finite() or rule.column not in self.sums:
                continue
            total = self.sums[rule.column]
            if total != expected:
                self.error(
                    0,
                    rule.column,
                    f"the column adds up to {_decimal_text(total)}, but the form says "
                    f"{_decimal_text(expected)} ({rule.field})",
                )


def _decimal_text(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


# --- CSV ----------------------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """The bytes already read (``head``), then the rest of ``stream``; never closes it."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head = memoryview(head)
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self.head:
            n = min(len(view), len(self.head))
            view[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(view))
        n = len(data)
        view[:n] = data
        return n


def _read_head(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _encoding(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in head:
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(head, cp_isolation=_CYRILLIC).best()
    return best.encoding if best is not None else None


def _delimiter(sample: str, report: ReportSpec) -> str:
    lines = sample.splitlines()[:20]
    if not lines:
        return ","
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        sniffed = ","
    names = {c.name.casefold() for c in report.columns}

    def fit(delimiter: str) -> int:
        try:
            header = next(csv.reader([lines[0]], delimiter=delimiter), [])
        except csv.Error:
            return 0
        return sum(1 for cell in header if cell.strip().casefold() in names)

    return max([sniffed, ",", ";", "\t"], key=fit)  # the sniffed one wins a tie


def _checked(line: str) -> str:
    if "\x00" in line:
        raise _Stop("the file contains NUL characters: it is not a CSV text file")
    return line


def _text_lines(text: IO[str]) -> Iterator[str]:
    """Lines of a decoded stream (UTF-16), none longer than ``MAX_LINE_CHARS``."""
    while True:
        line = text.readline(MAX_LINE_CHARS)
        if not line:
            return
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise _Stop(f"a line of the file is longer than {MAX_LINE_CHARS} characters")
        yield _checked(line)


def _byte_lines(raw: IO[bytes], encoding: str) -> Iterator[str]:
    """Lines of a stream in an encoding where b"\\n" is always a line end (UTF-8 and the
    one-byte code pages), each decoded on its own so that a bad byte has a row."""
    while True:
        line = raw.readline(MAX_LINE_CHARS)
        if not line:
            return
        if len(line) >= MAX_LINE_CHARS and not line.endswith((b"\n", b"\r")):
            raise _Stop(f"a line of the file is longer than {MAX_LINE_CHARS} characters")
        yield _checked(line.decode(encoding))


def _csv_rows(stream: IO[bytes], report: ReportSpec) -> Iterator[list[str]]:
    head = _read_head(stream, SAMPLE_BYTES)
    if not head.strip():
        return
    encoding = _encoding(head)
    if encoding is None:
        raise _Stop("the file is not a CSV text file (its encoding is not recognised)")
    sample = head.decode(encoding, errors="replace")
    if len(head) == SAMPLE_BYTES:  # the last line may be cut
        sample = sample[: max(sample.rfind("\n"), 0)]
    delimiter = _delimiter(sample, report)
    if encoding == "utf-8-sig":
        head, encoding = head[len(codecs.BOM_UTF8) :], "utf-8"
    raw = io.BufferedReader(_Prefixed(head, stream), buffer_size=SAMPLE_BYTES)
    lines: Iterator[str]
    if encoding == "utf-16":
        lines = _text_lines(io.TextIOWrapper(raw, encoding=encoding, newline=""))
    else:
        lines = _byte_lines(raw, encoding)
    reader = csv.reader(lines, delimiter=delimiter)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            name = "UTF-8" if encoding == "utf-8" else encoding
            raise _Stop(
                f"the file is not valid {name} text at row {number + 1}; save it as CSV UTF-8",
                number + 1,
            ) from None
        except csv.Error as exc:
            raise _Stop(f"the CSV cannot be read at row {number + 1}: {exc}", number + 1) from None
        number += 1
        yield row


# --- XLSX ---------------------------------------------------------------------------


def _seekable(stream: IO[bytes]) -> IO[bytes]:
    try:
        if stream.seekable():
            return stream
    except (AttributeError, OSError, ValueError):
        pass
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    copied = 0
    while chunk := stream.read(1024 * 1024):
        copied += len(chunk)
        if copied > MAX_SPOOL:
            spool.close()
            raise _Stop(f"the file is larger than {MAX_SPOOL // (1024 * 1024)} MB")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _zip_problem(f: IO[bytes]) -> str | None:
    """Why the zip should not be opened (a bomb, not a workbook), or None."""
    start = f.tell()
    try:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return UNREADABLE_XLSX
    finally:
        f.seek(start)
    if len(infos) > MAX_MEMBERS:
        return f"the workbook has more than {MAX_MEMBERS} parts; it is not a plain table"
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED:
        return (
            f"the workbook unpacks to more than {MAX_UNPACKED // (1024 * 1024)} MB; "
            "send a smaller report, or split it"
        )
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return (
                "the workbook is packed suspiciously well (a zip bomb?); save it again from Excel"
            )
        is_sheet = info.filename.startswith("xl/worksheets/")
        if not is_sheet and info.file_size > MAX_SIDE_MEMBER:
            return (
                f"a part of the workbook ({info.filename[:60]}) unpacks to more than "
                f"{MAX_SIDE_MEMBER // (1024 * 1024)} MB"
            )
    if not any(i.filename == "xl/workbook.xml" for i in infos):
        return UNREADABLE_XLSX
    return None


def _sheet_rows(source: IO[bytes], parser: Any) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """``(row number, cells)`` of a worksheet's XML, each row dropped from the tree once
    parsed: openpyxl's own read-only reader keeps every parsed row element in the tree
    (about 100 bytes a row), so memory would grow with the sheet."""
    from openpyxl.worksheet._reader import ROW_TAG

    path: list[Any] = []
    # The parser openpyxl uses; expat limits entity expansion (billion laughs) and
    # ElementTree resolves no external entities.
    events = ElementTree.iterparse(source, events=("start", "end"))  # noqa: S314
    for event, element in events:
        if event == "start":
            path.append(element)
            continue
        path.pop()
        if element.tag == ROW_TAG and len(path) == 2:  # worksheet > sheetData > row
            yield parser.parse_row(element)
            path[-1].remove(element)
        elif len(path) == 1:  # a part of the worksheet that is done with
            path[0].remove(element)


def _first_sheet(f: IO[bytes]) -> tuple[Any, IO[bytes], Any]:
    """The workbook's reader, the XML of its first worksheet and a parser for its rows.

    ``load_workbook(read_only=True)`` would size every sheet first, and a sheet without
    a ``<dimension>`` (as many programs write them) is then parsed whole, the tree of
    its rows kept until the end: memory as large as the sheet. So only what the rows
    need is read: the shared strings, the workbook (the date epoch), the styles (which
    numbers are dates).
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        reader = ExcelReader(f, read_only=True, data_only=False)
    except Exception as exc:  # a damaged workbook fails in many ways
        logger.info("unreadable XLSX: %s", type(exc).__name__)
        raise _Stop(UNREADABLE_XLSX) from None
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        targets = [
            rel.target
            for _sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type
        ]
        if not targets:
            raise _Stop("the workbook has no worksheet")
        source = reader.archive.open(targets[0])
        parser = WorkSheetParser(
            source,
            reader.shared_strings,
            data_only=False,
            epoch=reader.wb.epoch,
            date_formats=reader.wb._date_formats,
            timedelta_formats=reader.wb._timedelta_formats,
        )
    except _Stop:
        reader.archive.close()
        raise
    except Exception as exc:
        reader.archive.close()
        logger.info("unreadable XLSX: %s", type(exc).__name__)
        raise _Stop(UNREADABLE_XLSX) from None
    return reader, source, parser


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[Any], list[str]]]:
    """``(row number, values, data types)`` of the first worksheet; at most
    ``MAX_COLUMNS`` values, then a marker if any cell further right has a value."""
    f = _seekable(stream)
    try:
        problem = _zip_problem(f)
        if problem is not None:
            raise _Stop(problem)
        reader, source, parser = _first_sheet(f)
        try:
            rows = _sheet_rows(source, parser)
            while True:
                try:
                    number, cells = next(rows)
                except StopIteration:
                    return
                except Exception as exc:
                    logger.info("unreadable XLSX row: %s", type(exc).__name__)
                    raise _Stop(UNREADABLE_XLSX) from None
                yield (number, *_row_values(cells))
        finally:
            source.close()
            reader.archive.close()
    finally:
        if f is not stream:
            f.close()


def _row_values(cells: list[dict[str, Any]]) -> tuple[list[Any], list[str]]:
    width = 0
    far = False
    for cell in cells:
        column = cell["column"]
        if column > MAX_COLUMNS:
            far = far or not _empty(cell["value"])
        elif column > width:
            width = column
    values: list[Any] = [None] * width
    types = ["n"] * width
    for cell in cells:
        column = cell["column"]
        if column <= MAX_COLUMNS:
            values[column - 1] = cell["value"]
            types[column - 1] = cell["data_type"]
    if far:
        values.append("(a value far to the right)")
        types.append("s")
    return values, types


# --- the check ----------------------------------------------------------------------


def _base_type(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def check_table(
    stream: BinaryIO | IO[bytes],
    media_type: str,
    report: ReportSpec,
    form_data: Mapping[str, Any] | None = None,
) -> TableResult:
    """Check the table in ``stream`` (``text/csv`` or XLSX, by ``media_type``) row by
    row against ``report``; totals against ``form_data``. See the module docstring."""
    result = TableResult()
    checker = _Checker(report, result)
    kind = _base_type(media_type)
    complete = False
    try:
        rows: Iterator[tuple[int, list[Any], list[str] | None]]
        if kind == XLSX:
            rows = _xlsx_rows(stream)
        elif kind in CSV_TYPES:
            rows = (
                (number, values, None)
                for number, values in enumerate(_csv_rows(stream, report), start=1)
            )
        else:
            raise _Stop("the file is not a table: send it as CSV or XLSX")
        header_seen = False
        for number, values, types in rows:
            if number > EXCEL_ROWS:
                raise _Stop(f"the sheet has more than {EXCEL_ROWS} rows", number)
            if not header_seen:
                header_seen = True
                if not checker.header(values if number == 1 else []):
                    break
                continue
            if (not "".join(values).strip()) if types is None else all(map(_empty, values)):
                continue
            if result.rows >= report.max_rows:
                raise _Stop(
                    f"the report has more than {report.max_rows} rows; "
                    f"send at most {report.max_rows} rows of data",
                    number,
                )
            result.rows += 1
            checker.row(number, values, types)
        else:
            if not header_seen:
                expected = ", ".join(c.name for c in report.columns)
                raise _Stop(
                    f"the file is empty: the first row must name the columns: {expected}", 1
                )
            complete = True
    except _Stop as stop:
        checker.error(stop.row, "", stop.reason)
    checker.finish(form_data or {}, complete)
    return result
