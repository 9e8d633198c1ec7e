"""Statistical reports checked row by row: real CSV and XLSX files, hostile ones too."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import os
import tracemalloc
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from edms.portal import tables
from edms.portal.catalogue import XLSX, ColumnSpec, ReportSpec, load_directory
from edms.portal.forms import validate_all
from edms.portal.tables import FORMULA, MAX_ERRORS, CellError, TableResult, check_table

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
SPEC = {s.code: s for s in load_directory(ROOT / "config" / "services")}["statistical_report"]
assert SPEC.report is not None
REPORT: ReportSpec = SPEC.report
HEADER = ["region_code", "activity", "employees", "wages", "revenue", "period_end"]
ROW = ["1726", "C", "10", "1500.5", "", "2026-03-31"]
UNREADABLE = "the file is not a readable XLSX workbook; save it again from Excel"
# The form that goes with the sample files (see data/README).
SAMPLE_FORM = {
    "year": "2026",
    "quarter": "1",
    "total_employees": "845",
    "total_wages": "7264800,75",
    "contact_person": "Dilshod Karimov",
    "contact_email": "hisobot@example.uz",
    "agree": "on",
}


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", sep: str = ",") -> bytes:
    """The rows as a CSV file, written by the csv module (quoting where needed)."""
    out = io.StringIO()
    csv.writer(out, delimiter=sep).writerows(rows)
    return out.getvalue().encode(encoding)


def check(
    data: bytes,
    media_type: str = "text/csv",
    report: ReportSpec = REPORT,
    form: dict[str, Any] | None = None,
) -> TableResult:
    return check_table(io.BytesIO(data), media_type, report, form or {})


def noise_bytes(size: int, seed: bytes = b"noise") -> bytes:
    """Bytes that look random, the same on every run."""
    blocks = (hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def found(result: TableResult) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.reason) for e in result.errors]


def xlsx_bytes(rows: list[list[Any]], formats: dict[str, str] | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cell_name, number_format in (formats or {}).items():
        sheet[cell_name].number_format = number_format
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def names_report(**changes: Any) -> ReportSpec:
    """A small report with a text column, for encodings."""
    columns = (
        ColumnSpec(
            "district",
            {"en": "District"},
            "string",
            required=True,
            pattern="^[А-Яа-яЁёЎўҚқҒғҲҳ‘ -]+$",
        ),
        ColumnSpec("people", {"en": "People"}, "integer", required=True, minimum=0),
    )
    return dataclasses.replace(ReportSpec("table", columns, max_rows=1000), **changes)


# --- valid files --------------------------------------------------------------------


def test_a_utf8_csv() -> None:
    rows = [HEADER, ROW, ["1703", "A", "5", "700", "100", "2026-03-31"]]
    result = check(csv_bytes(rows), form={"total_employees": 15, "total_wages": 2200.5})
    assert result == TableResult(
        rows=2, errors=[], errors_total=0, sums={"employees": 15, "wages": 2200.5, "revenue": 100}
    )
    assert result.ok


def test_a_utf8_csv_with_a_bom_and_media_type_parameters() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes([HEADER, ROW])
    result = check(data, "text/csv; charset=utf-8")
    assert result.ok
    assert result.rows == 1


def test_a_cp1251_csv_with_cyrillic() -> None:
    rows = [["district", "people"], ["Юнусабад", "120"], ["Мирзо Улугбек", "30"], ["Чиланзар", "5"]]
    data = csv_bytes(rows, "cp1251", ";")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = check(data, report=names_report())
    assert found(result) == []
    assert result.sums == {"people": 155}


def test_a_utf16_csv_with_a_bom() -> None:
    rows = [["district", "people"], ["Юнусабад", "120"]]
    result = check(csv_bytes(rows, "utf-16"), report=names_report())
    assert result.ok
    assert result.rows == 1


def test_a_semicolon_csv_with_decimal_commas() -> None:
    rows = [HEADER, ["1726", "C", "1 200", "1 500,5", "0,25", "31.03.2026"]]
    result = check(csv_bytes(rows, sep=";"))
    assert found(result) == []
    assert result.sums == {"employees": 1200, "wages": 1500.5, "revenue": 0.25}


def test_a_tab_separated_file_and_quoted_cells() -> None:
    data = b"region_code\tactivity\temployees\twages\trevenue\tperiod_end\r\n"
    data += b'"1726"\tC\t10\t"1500.5"\t\t2026-03-31\r\n'
    result = check(data)
    assert result.ok
    assert result.sums["wages"] == 1500.5


def test_the_header_in_any_order_and_case() -> None:
    header = ["  Period_End", "REVENUE", "wages ", "employees", "Activity", "region_code"]
    rows = [header, ["2026-03-31", "", "1500.5", "10", "C", "1726"]]
    result = check(csv_bytes(rows))
    assert result.ok
    assert result.sums["employees"] == 10


def test_empty_rows_are_skipped_and_rows_keep_their_numbers() -> None:
    rows = [HEADER, ROW, [""] * 6, [" "] * 6, ["1726", "C", "x", "1", "", "2026-03-31"]]
    data = csv_bytes(rows) + b"\r\n\r\n"
    result = check(data)
    assert result.rows == 2
    assert found(result) == [(5, "employees", "enter a whole number")]


def test_a_quoted_cell_over_two_lines_is_one_row() -> None:
    report = names_report(columns=(*names_report().columns, ColumnSpec("note", {}, "string")))
    data = 'district,people,note\r\nЮнусабад,1,"two\r\nlines"\r\nЧиланзар,x,\r\n'.encode()
    assert found(check(data, report=report)) == [(3, "people", "enter a whole number")]


def test_only_a_header_is_an_empty_report() -> None:
    result = check(csv_bytes([HEADER]), form={"total_employees": 0})
    assert result.ok
    assert result.rows == 0
    assert result.sums == {"employees": 0, "wages": 0, "revenue": 0}


# --- cells --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("region_code", "170", "is not in the expected format"),
        ("region_code", "", "enter a value"),
        ("activity", "Z", "must be one of: " + ", ".join(REPORT.column("activity").values)),
        ("activity", "c", "must be one of: " + ", ".join(REPORT.column("activity").values)),
        ("employees", "1.5", "enter a whole number"),
        ("employees", "1e3", "enter a whole number"),
        ("employees", "-5", "must be at least 0"),
        ("employees", "1000001", "must be at most 1000000"),
        ("wages", "abc", "enter a number"),
        ("wages", "1,234.5", "enter a number"),
        ("wages", "-0.5", "must be at least 0"),
        ("period_end", "2026-02-30", "must be a date like 2026-01-31"),
        ("period_end", "31/03/2026", "must be a date like 2026-01-31"),
        ("period_end", "", "enter a value"),
    ],
)
def test_cell_errors(column: str, value: str, reason: str) -> None:
    row = list(ROW)
    row[HEADER.index(column)] = value
    result = check(csv_bytes([HEADER, row]))
    assert found(result) == [(2, column, reason)]
    assert result.errors_total == 1
    assert not result.ok


def test_messages_never_repeat_the_cell() -> None:
    row = ["SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6"]
    result = check(csv_bytes([HEADER, row]))
    assert result.errors_total == 6
    assert not any("SECRET" in e.reason for e in result.errors)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("wages", '=HYPERLINK("http://evil.example","click")'),
        ("wages", "+1+1"),
        ("wages", "@SUM(A1:A2)"),
        ("wages", "-A1"),
        ("wages", " =1+1"),
        ("region_code", "=1726"),
        ("activity", "\t=C"),
        ("period_end", "\r2026-03-31"),
    ],
)
def test_formulas_in_a_csv_are_refused(column: str, value: str) -> None:
    row = list(ROW)
    row[HEADER.index(column)] = value
    assert found(check(csv_bytes([HEADER, row]))) == [(2, column, FORMULA)]


def test_a_negative_number_is_not_a_formula() -> None:
    report = dataclasses.replace(
        REPORT,
        columns=tuple(
            dataclasses.replace(c, minimum=None) if c.name in ("employees", "wages") else c
            for c in REPORT.columns
        ),
    )
    row = ["1726", "C", "-5", "-0.5", "", "2026-03-31"]
    result = check(csv_bytes([HEADER, row]), report=report)
    assert found(result) == []
    assert result.sums["employees"] == -5
    assert result.sums["wages"] == -0.5
    # With the shipped minimum of 0 it is a range error, not a formula.
    assert found(check(csv_bytes([HEADER, row]))) == [
        (2, "employees", "must be at least 0"),
        (2, "wages", "must be at least 0"),
    ]


def test_control_characters_and_long_text() -> None:
    report = names_report(
        columns=(
            ColumnSpec("district", {}, "string", max_length=10),
            ColumnSpec("people", {}, "integer"),
        )
    )
    data = b'district,people\r\nab\x07c,1\r\nabcdefghijk,2\r\n"two\r\nlines",3\r\n'
    assert found(check(data, report=report)) == [
        (2, "district", "must not contain control characters"),
        (3, "district", "must be at most 10 characters"),
    ]


def test_extra_values_beyond_the_named_columns() -> None:
    data = csv_bytes([HEADER, [*ROW, "extra"], [*ROW, "", " "]])
    assert found(check(data)) == [(2, "", "the row has values beyond the named columns")]


def test_a_short_row_has_empty_cells() -> None:
    data = csv_bytes([HEADER, ["1726", "C", "10"]])
    assert found(check(data)) == [(2, "wages", "enter a value"), (2, "period_end", "enter a value")]


# --- the header ---------------------------------------------------------------------


def test_wrong_columns_are_named_in_one_error_on_row_1() -> None:
    header = ["region_code", "activity", "staff", "wages", "Revenue", "Notes"]
    result = check(csv_bytes([header, ROW, ROW]))
    assert result.rows == 0
    assert found(result) == [
        (
            1,
            "",
            "the columns do not match the report: missing employees, period_end; "
            "unknown staff, Notes (the first row must name the columns: "
            "region_code, activity, employees, wages, revenue, period_end)",
        )
    ]


def test_a_column_twice_and_a_column_without_a_name() -> None:
    header = ["region_code", "activity", "employees", "", "wages", "revenue", "period_end", "WAGES"]
    [error] = check(csv_bytes([header, ROW])).errors
    assert error.row == 1
    assert "named twice wages" in error.reason
    assert "without a name: column 4" in error.reason


def test_an_empty_file() -> None:
    for data in (b"", b"\r\n\r\n", b"   "):
        assert found(check(data)) == [
            (
                1,
                "",
                "the file is empty: the first row must name the columns: "
                "region_code, activity, employees, wages, revenue, period_end",
            )
        ]


# --- limits -------------------------------------------------------------------------


def test_too_many_rows_stops_naming_the_limit() -> None:
    report = dataclasses.replace(REPORT, max_rows=3)
    result = check(csv_bytes([HEADER, *[ROW] * 5]), report=report, form={"total_employees": 50})
    assert result.rows == 3
    assert found(result) == [
        (5, "", "the report has more than 3 rows; send at most 3 rows of data")
    ]


def test_errors_are_counted_beyond_the_list() -> None:
    bad = ["1726", "C", "x", "1", "", "2026-03-31"]
    result = check(csv_bytes([HEADER, *[bad] * (MAX_ERRORS + 500)]))
    assert result.errors_total == MAX_ERRORS + 500
    assert len(result.errors) == MAX_ERRORS
    assert result.errors[-1] == CellError(MAX_ERRORS + 1, "employees", "enter a whole number")


def test_a_nul_byte_and_an_endless_line(monkeypatch: pytest.MonkeyPatch) -> None:
    data = csv_bytes([HEADER, ROW]) + b"1726,C,1\x00,1,,2026-03-31\r\n"
    assert found(check(data)) == [
        (0, "", "the file contains NUL characters: it is not a CSV text file")
    ]
    monkeypatch.setattr(tables, "MAX_LINE_CHARS", 100)
    data = csv_bytes([HEADER, ROW]) + b"1726," + b"9" * 500 + b"\r\n"
    assert found(check(data)) == [(0, "", "a line of the file is longer than 100 characters")]


def test_binary_garbage_is_not_a_csv() -> None:
    noise = noise_bytes(5000)
    [error] = check(noise).errors
    assert error.column == ""
    assert "not a CSV text file" in error.reason or "do not match" in error.reason


def test_an_encoding_that_changes_after_the_sample() -> None:
    head = csv_bytes([HEADER, *[ROW] * 3000])  # more than the 64 KB sample, all ASCII
    assert len(head) > tables.SAMPLE_BYTES
    data = head + "1726,C,1,1,,2026-03-31,Ташкент\r\n".encode("cp1251")
    result = check(data)
    assert result.errors_total == 1
    assert found(result) == [
        (3002, "", "the file is not valid UTF-8 text at row 3002; save it as CSV UTF-8")
    ]
    assert result.rows == 3000


def test_a_file_that_is_not_a_table() -> None:
    assert found(check(b"%PDF-1.7", "application/pdf")) == [
        (0, "", "the file is not a table: send it as CSV or XLSX")
    ]


# --- totals -------------------------------------------------------------------------


def test_totals_match() -> None:
    rows = [
        HEADER,
        ROW,
        ["1703", "A", "5", "0,1", "", "2026-03-31"],
        ["1703", "B", "0", "0.2", "", "2026-03-31"],
    ]
    result = check(csv_bytes(rows), form={"total_employees": 15, "total_wages": 1500.8})
    assert result.ok  # 1500.5 + 0.1 + 0.2 added exactly


def test_a_totals_mismatch_names_both_numbers() -> None:
    rows = [HEADER, ROW, ["1703", "A", "5", "700", "", "2026-03-31"]]
    result = check(csv_bytes(rows), form={"total_employees": 16, "total_wages": "2200.5"})
    assert found(result) == [
        (0, "employees", "the column adds up to 15, but the form says 16 (total_employees)")
    ]


def test_totals_of_a_column_with_errors_or_a_field_without_value_are_not_compared() -> None:
    rows = [HEADER, ROW, ["1703", "A", "x", "700", "", "2026-03-31"]]
    result = check(csv_bytes(rows), form={"total_employees": 99, "total_wages": None})
    assert found(result) == [(3, "employees", "enter a whole number")]
    assert result.sums["employees"] == 10


# --- XLSX ---------------------------------------------------------------------------


def test_an_xlsx_with_numbers_dates_and_text() -> None:
    rows: list[list[Any]] = [
        HEADER,
        ["1726", "C", 10, 1500.5, None, date(2026, 3, 31)],
        [1703, "A", 3.0, 700, 12, datetime(2026, 3, 31)],
        ["1706", "F", "4", "1 000,5", "", "2026-03-31"],
    ]
    result = check(xlsx_bytes(rows), XLSX, form={"total_employees": 17})
    assert found(result) == []
    assert result.sums == {"employees": 17, "wages": 3201, "revenue": 12}


def test_xlsx_cell_errors() -> None:
    rows: list[list[Any]] = [
        HEADER,
        ["1726", "C", 1.5, 1, None, datetime(2026, 3, 31, 12, 30)],
        [101, "C", True, "=SUM(A1:A2)", None, 46000],
        ["1726", "C", 1, 1, "#DIV/0!", "=TODAY()"],
    ]
    result = check(xlsx_bytes(rows), XLSX)
    assert found(result) == [
        (2, "employees", "enter a whole number"),
        (2, "period_end", "must be a date without a time of day"),
        (3, "region_code", "is not in the expected format (format the column as Text in Excel)"),
        (3, "employees", "enter a whole number"),
        (3, "wages", FORMULA),
        (3, "period_end", "must be a date like 2026-01-31 (format the cell as a date)"),
        (4, "revenue", "the cell shows an error; enter the value"),
        (4, "period_end", FORMULA),
    ]


def test_an_xlsx_formula_cell_is_refused() -> None:
    rows: list[list[Any]] = [
        HEADER,
        ["1726", "C", 1, 2, None, date(2026, 3, 31)],
        ["1726", "C", "=SUM(C2:C2)", 1, None, date(2026, 3, 31)],
    ]
    assert found(check(xlsx_bytes(rows), XLSX)) == [(3, "employees", FORMULA)]


def test_an_xlsx_text_cell_that_looks_like_a_formula_is_refused_too() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["1726", "C", 1, 1, None, date(2026, 3, 31)])
    sheet["A2"].value = "=1+1"
    sheet["A2"].data_type = "s"  # stored as text, as a CSV import would
    out = io.BytesIO()
    workbook.save(out)
    assert found(check(out.getvalue(), XLSX)) == [(2, "region_code", FORMULA)]


def test_xlsx_rows_keep_their_numbers_across_gaps() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["1726", "C", 1, 1, None, date(2026, 3, 31)])
    for i, value in enumerate(["1726", "C", "x", 1, None, date(2026, 3, 31)], start=1):
        sheet.cell(row=7, column=i, value=value)
        sheet.cell(row=9, column=i, value=1 if i in (3, 4) else value)
    sheet.cell(row=9, column=9, value="far away")
    out = io.BytesIO()
    workbook.save(out)
    result = check(out.getvalue(), XLSX)
    assert result.rows == 3
    assert found(result) == [
        (7, "employees", "enter a whole number"),
        (9, "", "the row has values beyond the named columns"),
    ]


def test_only_the_first_sheet_is_read() -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.append(HEADER)
    first.append(["1726", "C", 1, 1, None, date(2026, 3, 31)])
    workbook.create_sheet("Notes").append(["anything", "at", "all"])
    out = io.BytesIO()
    workbook.save(out)
    assert check(out.getvalue(), XLSX).ok


def test_an_xlsx_from_a_stream_that_cannot_seek() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: Any) -> int:
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = xlsx_bytes([HEADER, ["1726", "C", 1, 1, None, date(2026, 3, 31)]])
    result = check_table(io.BufferedReader(Pipe(data)), XLSX, REPORT, {})
    assert result.ok
    assert result.rows == 1
    csv_result = check_table(
        io.BufferedReader(Pipe(csv_bytes([HEADER, ROW]))), "text/csv", REPORT, {}
    )
    assert csv_result.ok
    assert csv_result.rows == 1


def test_wrong_columns_in_an_xlsx() -> None:
    [error] = check(xlsx_bytes([["region_code", 2026, None, None]]), XLSX).errors
    assert error.row == 1
    assert "unknown 2026" in error.reason
    assert "missing activity" in error.reason


def test_an_empty_workbook() -> None:
    assert found(check(xlsx_bytes([]), XLSX))[0][2].startswith("the file is empty")


@pytest.mark.parametrize(
    "data",
    [
        noise_bytes(3000, seed=b"xlsx"),
        b"",
        b"PK\x03\x04" + b"\x00" * 100,
    ],
    ids=["random bytes", "empty", "a zip header only"],
)
def test_broken_xlsx(data: bytes) -> None:
    assert found(check(data, XLSX)) == [(0, "", UNREADABLE)]


def test_a_truncated_xlsx() -> None:
    data = xlsx_bytes([HEADER, *[["1726", "C", 1, 1, None, date(2026, 3, 31)]] * 200])
    for cut in (len(data) // 2, len(data) - 30):
        assert found(check(data[:cut], XLSX)) == [(0, "", UNREADABLE)]


def test_a_zip_that_is_not_a_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hello")
    assert found(check(out.getvalue(), XLSX)) == [(0, "", UNREADABLE)]


def test_a_workbook_with_a_damaged_sheet() -> None:
    good = xlsx_bytes([HEADER, ["1726", "C", 1, 1, None, date(2026, 3, 31)]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]  # XML cut in the middle
            target.writestr(info, content)
    assert found(check(out.getvalue(), XLSX)) == [(0, "", UNREADABLE)]


def _bomb(size: int) -> bytes:
    """A workbook whose sheet XML inflates to ``size`` bytes of nothing."""
    good = xlsx_bytes([HEADER])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info, source.read(info.filename))
        with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            chunk = b" " * (1024 * 1024)
            for _ in range(size // len(chunk)):
                sheet.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_openpyxl(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("openpyxl must not open a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    bomb = _bomb(tables.MAX_UNPACKED + 8 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    assert found(check(bomb, XLSX)) == [
        (0, "", "the workbook unpacks to more than 200 MB; send a smaller report, or split it")
    ]
    # Below the total limit, packed far too well.
    assert found(check(_bomb(20 * 1024 * 1024), XLSX)) == [
        (
            0,
            "",
            "the workbook is packed suspiciously well (a zip bomb?); save it again from Excel",
        )
    ]


# --- the sample files ---------------------------------------------------------------


def test_the_sample_form_data_is_valid_for_the_service() -> None:
    data, errors = validate_all(SPEC.form, SAMPLE_FORM)
    assert errors == {}
    assert data["total_employees"] == 845
    assert data["total_wages"] == 7264800.75


@pytest.mark.parametrize(
    ("name", "media_type"), [("report-ok.csv", "text/csv"), ("report-ok.xlsx", XLSX)]
)
def test_the_valid_samples(name: str, media_type: str) -> None:
    form, _errors = validate_all(SPEC.form, SAMPLE_FORM)
    with (DATA / name).open("rb") as f:
        result = check_table(f, media_type, REPORT, form)
    assert result == TableResult(
        rows=8,
        errors=[],
        errors_total=0,
        sums={"employees": 845, "wages": 7264800.75, "revenue": 16370000.75},
    )


def test_the_bad_sample() -> None:
    form, _errors = validate_all(SPEC.form, SAMPLE_FORM)
    with (DATA / "report-bad.csv").open("rb") as f:
        result = check_table(f, "text/csv", REPORT, form)
    assert found(result) == [
        (3, "region_code", "is not in the expected format"),
        (4, "activity", "must be one of: " + ", ".join(REPORT.column("activity").values)),
        (5, "employees", "enter a whole number"),
        (6, "wages", FORMULA),
        (7, "revenue", "must be at least 0"),
        (7, "period_end", "must be a date like 2026-01-31"),
        (8, "employees", "enter a value"),
    ]


def test_table_result_defaults() -> None:
    empty = TableResult()
    assert (empty.rows, empty.errors, empty.errors_total, empty.sums, empty.ok) == (
        0,
        [],
        0,
        {},
        True,
    )


# --- memory -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_200k_row_csv_is_read_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = 200_000
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(HEADER) + "\r\n")
        for i in range(rows):
            f.write(f"17{10 + i % 30},{'ABC'[i % 3]},{i % 50},{i % 1000}.5,,2026-03-31\r\n")
    size = os.path.getsize(path)
    report = dataclasses.replace(REPORT, max_rows=rows)
    tracemalloc.start()
    try:
        with path.open("rb") as f:
            result = check_table(f, "text/csv", report, {})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    assert result.rows == rows
    assert result.sums["employees"] == sum(i % 50 for i in range(rows))
    assert size > 5_000_000
    assert peak < 1_000_000, (peak, size)  # about 0.3 MB for a 5.7 MB file


@pytest.mark.slow
def test_a_large_xlsx_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    rows = 20_000
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append(
            [f"17{10 + i % 30}", "ABC"[i % 3], i % 50, i % 1000 + 0.5, None, date(2026, 3, 31)]
        )
    workbook.save(path)
    report = dataclasses.replace(REPORT, max_rows=rows)
    tracemalloc.start()
    try:
        with path.open("rb") as f:
            result = check_table(f, XLSX, report, {})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found(result) == []
    assert result.rows == rows
    # About 0.5 MB whatever the size; openpyxl's own read-only sheets took 100 bytes a row.
    assert peak < 1_200_000, peak
