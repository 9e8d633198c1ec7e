"""Filling DOCX templates: the shipped templates, escaping, missing data, broken files."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import os
import zipfile
from copy import deepcopy
from pathlib import Path
from typing import Any

import docx
import pytest

from signing import _templates
from signing._errors import TemplateError
from signing._templates import render_template, template_variables

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "config" / "templates"
TEMPLATES = ["letter", "licence", "permit", "certificate", "decision"]

CYRILLIC = "Ўзбекистон Республикаси"
RUSSIAN = "Министерство"
UZBEK_LATIN = "Oʻzbekiston, gʻalla, o‘quv"
HOSTILE = '<script>alert("x")</script> & <b>Co</b>'

# Everything any shipped template uses (config/templates/README.md).
CONTEXT: dict[str, Any] = {
    "organisation": {"name": f"{CYRILLIC} Адлия вазирлиги"},
    "document": {
        "title": f"{RUSSIAN} юстиции",
        "reg_number": "01-12/345",
        "reg_date": dt.date(2025, 3, 7),
        "body": f"{UZBEK_LATIN}.\n\nIkkinchi xatboshi: {HOSTILE}\nUchinchi xatboshi.",
    },
    "addressee": {"name": "Toshkent shahar hokimligi", "address": "Mustaqillik maydoni, 5"},
    "signatory": {"name": "A. Karimov", "position": "Boshqarma boshlig‘i"},
    "applicant": {"name": "«Gʻalla Savdo» MChJ", "tin": "301234567"},
    "licence": {"activity": "Taʼlim faoliyati", "valid_until": dt.date(2030, 3, 7)},
    "permit": {"activity": "Qurilish ishlari", "valid_until": "31.12.2026"},
    "person": {"name": "Каримов Алишер"},
    "purpose": "ish joyiga taqdim etish uchun",
    "decision": {"text": "1. Ariza qanoatlantirilsin.\n2. Nazorat yuklansin."},
}


def context(**changes: Any) -> dict[str, Any]:
    """The sample context with some top-level entries replaced (None removes one)."""
    result = deepcopy(CONTEXT)
    for key, value in changes.items():
        if value is None:
            result.pop(key)
        else:
            result[key] = value
    return result


def template_path(name: str) -> Path:
    return TEMPLATES_DIR / f"{name}.docx"


def make_template(*paragraphs: str, title: str = "") -> bytes:
    """A DOCX whose body is ``paragraphs`` (each may hold placeholders)."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.core_properties.title = title
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def texts(data: bytes) -> list[str]:
    """Every paragraph of a DOCX: body, tables, headers and footers."""
    document = docx.Document(io.BytesIO(data))
    found = [p.text for p in document.paragraphs]
    for table in document.tables:
        found += [p.text for cell in table._cells for p in cell.paragraphs]
    for section in document.sections:
        for part in (section.header, section.first_page_header, section.footer):
            if not part.is_linked_to_previous:  # else reading it would create it
                found += [p.text for p in part.paragraphs]
    return found


@pytest.mark.parametrize("name", TEMPLATES)
def test_shipped_template_renders(name: str) -> None:
    filled = render_template(template_path(name), CONTEXT)
    text = "\n".join(texts(filled))
    for expected in (CYRILLIC, RUSSIAN, UZBEK_LATIN, HOSTILE, "01-12/345", "07.03.2025"):
        assert expected in text
    assert "A. Karimov" in text
    assert "{{" not in text
    assert "{%" not in text
    document = docx.Document(io.BytesIO(filled))
    assert document.core_properties.title == f"{RUSSIAN} юстиции"
    section = document.sections[0]
    assert section.page_width is not None
    assert section.page_height is not None
    assert (section.page_width.mm, section.page_height.mm) == pytest.approx((210, 297), abs=0.1)


@pytest.mark.parametrize("name", TEMPLATES)
def test_shipped_templates_need_only_documented_data(name: str) -> None:
    def paths(value: Any, prefix: str = "") -> set[str]:
        if isinstance(value, dict):
            return {p for key, item in value.items() for p in paths(item, f"{prefix}{key}.")}
        return {prefix[:-1]}

    needed = template_variables(template_path(name))
    assert needed <= paths(CONTEXT)
    assert {"organisation.name", "document.title", "document.body", "signatory.name"} <= needed


def test_template_variables_are_dotted_paths() -> None:
    assert template_variables(template_path("letter")) == {
        "organisation.name",
        "document.title",
        "document.reg_number",
        "document.reg_date",
        "document.body",
        "addressee.name",
        "addressee.address",
        "signatory.name",
        "signatory.position",
    }
    assert "purpose" in template_variables(template_path("certificate"))


def test_template_from_a_stream() -> None:
    with template_path("letter").open("rb") as fh:
        assert CYRILLIC in "\n".join(texts(render_template(fh, CONTEXT)))


def test_missing_data_is_named() -> None:
    data = context(signatory={"position": "Boshliq"}, purpose=None)
    data["document"].pop("reg_number")
    with pytest.raises(TemplateError) as caught:
        render_template(template_path("certificate"), data)
    message = str(caught.value)
    assert "certificate.docx" in message
    for missing in ("document.reg_number", "signatory.name", "purpose"):
        assert missing in message


def test_missing_top_level_name() -> None:
    with pytest.raises(TemplateError, match=r"needs organisation(?!\.)"):
        render_template(template_path("letter"), context(organisation=None))


def test_data_is_text_not_markup() -> None:
    template = make_template("{{ a }}", "[{{ b }}]", title="{{ a }}")
    filled = render_template(io.BytesIO(template), {"a": HOSTILE, "b": "x]]></w:t><w:t>&amp;"})
    assert texts(filled) == [HOSTILE, "[x]]></w:t><w:t>&amp;]"]
    # The core properties (the PDF's title) are escaped once, not twice.
    assert docx.Document(io.BytesIO(filled)).core_properties.title == HOSTILE


def test_values_are_formatted() -> None:
    template = make_template(
        "[{{ nothing }}]", "{{ day }}", "{{ moment }}", "{{ number }}", "{{ control }}"
    )
    filled = render_template(
        io.BytesIO(template),
        {
            "nothing": None,
            "day": dt.date(2025, 1, 9),
            "moment": dt.datetime(2025, 1, 9, 14, 5),
            "number": 42,
            "control": "a\x00b\x0cc\x07d",
        },
    )
    assert texts(filled) == ["[]", "09.01.2025", "09.01.2025 14:05", "42", "abcd"]


def test_paragraphs_filter_and_line_breaks() -> None:
    template = make_template(
        "{%p for para in body|paragraphs %}", "{{ para }}", "{%p endfor %}", "{{ address }}"
    )
    filled = render_template(
        io.BytesIO(template),
        {"body": "first\r\n\n  second  \n\n\nthird", "address": "line 1\nline 2"},
    )
    paragraphs = texts(filled)
    assert paragraphs[:3] == ["first", "second", "third"]
    # A newline inside a value is a line break within its paragraph.
    assert paragraphs[3] == "line 1\nline 2"
    with zipfile.ZipFile(io.BytesIO(filled)) as archive:
        assert b"<w:br/>" in archive.read("word/document.xml")


def test_paragraphs_filter_takes_a_list() -> None:
    template = make_template("{%p for para in body|paragraphs %}", "{{ para }}", "{%p endfor %}")
    filled = render_template(io.BytesIO(template), {"body": ["one", "", "two"]})
    assert texts(filled) == ["one", "two"]


def test_template_cannot_reach_python_internals() -> None:
    template = make_template("{{ a.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match="unsafe"):
        render_template(io.BytesIO(template), {"a": "x"})


@pytest.mark.parametrize(
    "text", ["{{ document.title }", "{% if x %}no end", "{{ x | no_such_filter }}"]
)
def test_syntax_error(text: str) -> None:
    template = make_template("Hello", text)
    with pytest.raises(TemplateError, match="placeholder error"):
        render_template(io.BytesIO(template), {"document": {"title": "t"}, "x": 1})
    with pytest.raises(TemplateError, match="placeholder error"):
        template_variables(io.BytesIO(template))


def test_missing_template_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.docx"
    for call in (lambda: render_template(missing, CONTEXT), lambda: template_variables(missing)):
        with pytest.raises(TemplateError, match=r"nowhere\.docx does not exist"):
            call()
    with pytest.raises(TemplateError, match="cannot read template"):
        render_template(tmp_path, CONTEXT)


def _not_docx_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a document")
    return out.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(os.urandom(4096), id="random"),
        pytest.param(b"", id="empty"),
        pytest.param(_not_docx_zip(), id="zip-not-docx"),
        pytest.param(make_template("{{ a }}")[:3000], id="truncated"),
    ],
)
def test_broken_template(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(content)
    with pytest.raises(TemplateError, match=r"broken\.docx"):
        render_template(path, {"a": 1})
    with pytest.raises(TemplateError, match=r"broken\.docx"):
        template_variables(path)


def test_corrupt_part(tmp_path: Path) -> None:
    data = bytearray(make_template("{{ a }}" * 200))
    # Flip bytes inside the compressed body of the first member: CRC mismatch.
    data[200:210] = bytes(b ^ 0xFF for b in data[200:210])
    path = tmp_path / "corrupt.docx"
    path.write_bytes(bytes(data))
    with pytest.raises(TemplateError, match=r"corrupt\.docx"):
        render_template(path, {"a": 1})


def test_template_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_templates, "MAX_TEMPLATE_BYTES", 1000)
    with pytest.raises(TemplateError, match="larger than"):
        render_template(template_path("letter"), CONTEXT)


def test_shipped_templates_match_build_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("templates_build", TEMPLATES_DIR / "build.py")
    assert spec is not None
    assert spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    written = build.build(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{name}.docx" for name in TEMPLATES)
    for path in written:
        assert path.read_bytes() == (TEMPLATES_DIR / path.name).read_bytes(), (
            f"{path.name} is stale: run config/templates/build.py"
        )
