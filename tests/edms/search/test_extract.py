"""Text extraction: real files of every supported type, and broken or hostile ones."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import zipfile
from pathlib import Path

import docx
import openpyxl
import psutil
import pytest

from edms.search.extract import Extracted, extract, supported
from tests.signing.pdfs import encrypted_pdf, minimal_pdf

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler's pdftotext is not installed"
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def failed(result: Extracted, *words: str) -> None:
    assert result.status == "failed", result
    assert result.text == ""
    assert result.reason
    for word in words:
        assert word in result.reason


# --- PDF ---------------------------------------------------------------------------------


@needs_pdftotext
def test_pdf_text_layer(tmp_path: Path) -> None:
    result = extract(write(tmp_path / "a.pdf", minimal_pdf(2, "Hello registry")), PDF)
    assert result.status == "ok"
    assert result.reason is None
    assert "Hello registry 1" in result.text
    assert "Hello registry 2" in result.text
    assert "\f" not in result.text


@needs_pdftotext
def test_pdf_truncated_at_max_chars(tmp_path: Path) -> None:
    result = extract(write(tmp_path / "a.pdf", minimal_pdf(3, "Hello")), PDF, max_chars=7)
    assert result == Extracted("Hello 1", "truncated", "the text was cut at 7 characters")


@needs_pdftotext
def test_pdf_encrypted(tmp_path: Path) -> None:
    failed(extract(write(tmp_path / "a.pdf", encrypted_pdf()), PDF), "encrypted")


@needs_pdftotext
def test_pdf_cut_in_half(tmp_path: Path) -> None:
    data = minimal_pdf()
    failed(extract(write(tmp_path / "a.pdf", data[: len(data) // 2]), PDF), "PDF")


@needs_pdftotext
def test_random_bytes_as_pdf(tmp_path: Path) -> None:
    failed(extract(write(tmp_path / "a.pdf", os.urandom(20_000)), PDF), "PDF")


@needs_pdftotext
def test_timeout_kills_the_child_and_leaves_nothing(tmp_path: Path) -> None:
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    path = write(tmp_path / "a.pdf", minimal_pdf(5, "Slow"))
    failed(extract(path, PDF, timeout=0.001), "took longer than 0.001 s")
    failed(extract(path, DOCX, timeout=0.001), "took longer than")
    # Only processes reading our files count: other threads of this test process (an
    # indexer of another test, say) may have children of their own meanwhile.
    leftover = []
    for child in me.children(recursive=True):
        if child.pid in before:
            continue
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if str(tmp_path) in " ".join(child.cmdline()):
                leftover.append(child)
    assert leftover == []


def test_pdftotext_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    failed(extract(write(tmp_path / "a.pdf", minimal_pdf()), PDF), "pdftotext")


# --- DOCX --------------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("Bodyword before the table")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Cellalpha"
    table.cell(0, 1).text = "Cellbeta"
    merged = table.cell(1, 0).merge(table.cell(1, 1))
    merged.text = "Mergedgamma"
    inner = table.cell(0, 0).add_table(rows=1, cols=1)
    inner.cell(0, 0).text = "Nesteddelta"
    document.add_paragraph("Afterword")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Headerepsilon"
    section.footer.paragraphs[0].text = "Footerzeta"
    section.different_first_page_header_footer = True
    section.first_page_header.paragraphs[0].text = "Firstpageeta"
    second = document.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "Secondheadertheta"
    document.add_paragraph("Oʻzbekiston Ўзбекистон")
    document.save(str(path))
    return path


def test_docx_body_tables_headers_footers(tmp_path: Path) -> None:
    result = extract(make_docx(tmp_path / "a.docx"), DOCX)
    assert result.status == "ok", result
    for word in (
        "Bodyword",
        "Cellalpha",
        "Cellbeta",
        "Mergedgamma",
        "Nesteddelta",
        "Afterword",
        "Headerepsilon",
        "Footerzeta",
        "Firstpageeta",
        "Secondheadertheta",
        "Oʻzbekiston Ўзбекистон",
    ):
        assert word in result.text
    # In reading order, and a merged cell once.
    assert result.text.index("Bodyword") < result.text.index("Cellalpha")
    assert result.text.index("Cellalpha") < result.text.index("Afterword")
    assert result.text.count("Mergedgamma") == 1
    # The first section's header is not repeated for the second section (linked).
    assert result.text.count("Headerepsilon") == 1


def test_docx_truncated(tmp_path: Path) -> None:
    result = extract(make_docx(tmp_path / "a.docx"), DOCX, max_chars=8)
    assert result == Extracted("Bodyword", "truncated", "the text was cut at 8 characters")


def test_docx_without_text_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.docx"
    docx.Document().save(str(path))
    result = extract(path, DOCX)
    assert result.status == "empty"
    assert result.text == ""
    assert result.reason


def test_docx_zip_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    zeros = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            for _ in range(48):
                member.write(zeros)
    assert path.stat().st_size < 1 << 20
    failed(extract(path, DOCX), "zip bomb")


def test_docx_not_a_zip(tmp_path: Path) -> None:
    failed(extract(write(tmp_path / "a.docx", b"PK\3\4" + os.urandom(5000)), DOCX), "DOCX")


def test_docx_with_broken_xml(tmp_path: Path) -> None:
    good = make_docx(tmp_path / "good.docx")
    path = tmp_path / "a.docx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    failed(extract(path, DOCX), "not a readable DOCX")


# --- XLSX --------------------------------------------------------------------------------


def test_xlsx_every_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Kirish"
    first.append(["Raqam", "Mavzu"])
    first.append([17, "Oʻquv reja"])
    second = workbook.create_sheet("Chiqish")
    second["C5"] = "Farovonlik"
    second["A1"] = 3.5
    path = tmp_path / "a.xlsx"
    workbook.save(path)
    result = extract(path, XLSX)
    assert result.status == "ok", result
    lines = result.text.splitlines()
    assert "Kirish" in lines
    assert "Raqam\tMavzu" in lines
    assert "17\tOʻquv reja" in lines
    assert "Chiqish" in lines
    assert "3.5" in lines
    assert "Farovonlik" in lines


def test_xlsx_that_is_not_a_zip(tmp_path: Path) -> None:
    failed(extract(write(tmp_path / "a.xlsx", b"Name,Amount\nA,1\n"), XLSX), "XLSX")


# --- CSV, HTML, text ---------------------------------------------------------------------


def test_csv_in_windows_1251(tmp_path: Path) -> None:
    text = 'Ф.И.О.;Город;Сумма\nИванов Пётр;Ташкент;100\n"Юсупова; Малика";Самарканд;250\n'
    result = extract(write(tmp_path / "a.csv", text.encode("cp1251")), "text/csv")
    assert result.status == "ok", result
    assert result.text.splitlines() == [
        "Ф.И.О.\tГород\tСумма",
        "Иванов Пётр\tТашкент\t100",
        "Юсупова; Малика\tСамарканд\t250",
    ]


def test_csv_utf8_with_bom_and_declared_charset(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "\ufeffraqam,mavzu\n1,Oʻzbekiston\n".encode())
    assert extract(path, "text/csv").text == "raqam\tmavzu\n1\tOʻzbekiston\n"
    path = write(tmp_path / "b.csv", "a,b\nэ,ю\n".encode("koi8-r"))
    assert extract(path, "text/csv; charset=KOI8-R").text == "a\tb\nэ\tю\n"


def test_csv_with_a_huge_field_is_truncated(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b'a,"' + b"x" * 50_000 + b'"\n')
    result = extract(path, "text/csv", max_chars=1000)
    assert result.status == "truncated"
    assert len(result.text) == 1000


def test_html_text_without_scripts(tmp_path: Path) -> None:
    html = (
        "<!doctype html><html><head><title>Sarlavha</title>"
        "<style>body { color: red }</style>"
        "<script>var secret = 'scriptword';</script></head>"
        "<body><p>Salom&nbsp;dunyo &amp; do&#x02BB;stlar</p><div>Ikkinchi</div>"
        "<script type='module'>alert('scriptword2')</script><noscript>noscriptword</noscript>"
        "</body></html>"
    )
    result = extract(write(tmp_path / "a.html", html.encode()), "text/html; charset=utf-8")
    assert result.status == "ok", result
    assert "Sarlavha" in result.text
    assert "Salom\xa0dunyo & doʻstlar" in result.text
    assert "Ikkinchi" in result.text
    for hidden in ("scriptword", "color", "noscriptword"):
        assert hidden not in result.text
    assert "<" not in result.text


def test_plain_text_utf8_with_uzbek_apostrophes(tmp_path: Path) -> None:
    text = "Oʻzbekiston Respublikasi\nG‘alaba koʻchasi, 5\n"
    result = extract(write(tmp_path / "a.txt", text.encode()), "text/plain")
    assert result == Extracted(text, "ok", None)
    result = extract(write(tmp_path / "a.md", b"# Sarlavha\n"), "text/markdown")
    assert result.text == "# Sarlavha\n"


def test_plain_text_in_windows_1251(tmp_path: Path) -> None:
    text = "Уважаемый коллега! Прошу рассмотреть обращение гражданина о выдаче справки.\n"
    result = extract(write(tmp_path / "a.txt", text.encode("cp1251")), "text/plain")
    assert result == Extracted(text, "ok", None)


def test_nul_characters_are_dropped(tmp_path: Path) -> None:
    result = extract(write(tmp_path / "a.txt", b"a\0b"), "text/plain")
    assert result.text == "ab"


def test_whitespace_only_is_empty(tmp_path: Path) -> None:
    result = extract(write(tmp_path / "a.txt", b" \n\t\n"), "text/plain")
    assert result.status == "empty"
    assert result.text == ""


# --- everything else ---------------------------------------------------------------------


def test_unsupported_media_types(tmp_path: Path) -> None:
    path = write(tmp_path / "a.png", b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    for media_type in ("image/png", "application/zip", "application/octet-stream"):
        result = extract(path, media_type)
        assert result.status == "unsupported"
        assert result.text == ""
        assert media_type in (result.reason or "")
        assert not supported(media_type)
    assert supported("TEXT/CSV; charset=windows-1251")
    assert supported(DOCX)


def test_larger_than_max_bytes_is_not_parsed(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", b"x" * 2000)
    failed(extract(path, "text/plain", max_bytes=1000), "larger than")


def test_missing_file(tmp_path: Path) -> None:
    failed(extract(tmp_path / "nothing.txt", "text/plain"), "could not be read")


def test_empty_file(tmp_path: Path) -> None:
    assert extract(write(tmp_path / "a.pdf", b""), PDF).status == "empty"


@pytest.mark.parametrize(
    "media_type", [DOCX, XLSX, "text/csv", "text/tab-separated-values", "text/html", "text/plain"]
)
def test_random_bytes_never_raise(tmp_path: Path, media_type: str) -> None:
    result = extract(write(tmp_path / "junk", os.urandom(30_000)), media_type)
    assert result.status in ("ok", "failed", "empty"), result


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_chars"):
        extract(tmp_path / "a.txt", "text/plain", max_chars=0)


def test_no_temporary_files_and_one_log_line_without_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_docx(tmp_path / "Karimov_Alisher_ariza.docx")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the child's temporary directory
    with caplog.at_level(logging.DEBUG, logger="edms.search.extract"):
        assert extract(path, DOCX).status == "ok"
    assert list(scratch.iterdir()) == []
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert DOCX in message
    assert "ok" in message
    assert "Karimov" not in message
    assert "Bodyword" not in message
