"""Build the DOCX templates for outgoing documents shipped in this folder.

Run from the repository root after changing it, and commit the .docx files::

    .venv/bin/python config/templates/build.py

The output is byte-for-byte reproducible (fixed dates, fixed ZIP timestamps), so
a rebuild without changes leaves git clean. The templates can also be edited in
Word or LibreOffice; this script is the reference for the layout. What each
placeholder means is in README.md next to this file.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

HERE = Path(__file__).resolve().parent

# Has Cyrillic (Ў, Қ, Ғ, Ҳ) and the Uzbek Latin letters ʻ (U+02BB) and ‘, and ships
# with LibreOffice installs (fonts-dejavu). Liberation Serif 1.x lacks U+02BB.
FONT = "DejaVu Serif"
SIZE = Pt(12)
TEXT_WIDTH = Mm(210 - 30 - 15)  # A4 less the left and right margins
STAMP_ROOM = Mm(60)  # empty at the end of the last page, for signature stamps
BUILT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
LANGUAGE = "uz-Latn-UZ"


def new_document(title_hint: str) -> DocumentObject:
    """An empty A4 document with the house fonts, styles, letterhead and page numbers."""
    doc = Document()
    _defaults(doc)
    _styles(doc)

    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.header_distance, section.footer_distance = Mm(10), Mm(10)

    # Letterhead on the first page; the page number on the following ones.
    section.different_first_page_header_footer = True
    letterhead = section.first_page_header.paragraphs[0]
    letterhead.style = doc.styles["EDMS Letterhead"]
    letterhead.add_run("{{ organisation.name }}")
    number = section.header.paragraphs[0]
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_number(number)

    props = doc.core_properties
    props.title = "{{ document.title }}"
    props.author = "{{ organisation.name }}"
    props.subject = title_hint
    props.comments = ""
    props.keywords = ""
    props.category = ""
    props.last_modified_by = "EDMS"
    props.language = LANGUAGE
    props.revision = 1
    props.created = props.modified = BUILT
    props.last_printed = BUILT
    return doc


def _defaults(doc: DocumentObject) -> None:
    # Explicit fonts in the document defaults: the theme fonts python-docx's
    # default template refers to are not there, and LibreOffice would substitute.
    r_pr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = r_pr.find(qn("w:rFonts"))
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)
    r_pr.find(qn("w:sz")).set(qn("w:val"), str(int(SIZE.pt * 2)))
    r_pr.find(qn("w:szCs")).set(qn("w:val"), str(int(SIZE.pt * 2)))
    lang = r_pr.find(qn("w:lang"))
    lang.set(qn("w:val"), LANGUAGE)
    lang.set(qn("w:eastAsia"), LANGUAGE)

    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = SIZE
    fmt = normal.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.line_spacing = 1.0


def _styles(doc: DocumentObject) -> None:
    """Named styles, so whoever edits a template in Word keeps the layout consistent."""
    letterhead = doc.styles.add_style("EDMS Letterhead", WD_STYLE_TYPE.PARAGRAPH)
    letterhead.base_style = doc.styles["Normal"]
    letterhead.font.bold = True
    letterhead.font.size = Pt(13)
    letterhead.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    letterhead.paragraph_format.space_after = Pt(6)
    _bottom_border(letterhead)

    title = doc.styles.add_style("EDMS Title", WD_STYLE_TYPE.PARAGRAPH)
    title.base_style = doc.styles["Normal"]
    title.font.bold = True
    title.font.size = Pt(13)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(18)
    title.paragraph_format.space_after = Pt(12)
    title.paragraph_format.keep_with_next = True

    body = doc.styles.add_style("EDMS Body", WD_STYLE_TYPE.PARAGRAPH)
    body.base_style = doc.styles["Normal"]
    body.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    body.paragraph_format.first_line_indent = Mm(12.5)
    body.paragraph_format.space_after = Pt(6)
    body.paragraph_format.line_spacing = 1.15
    body.paragraph_format.widow_control = True

    field = doc.styles.add_style("EDMS Field", WD_STYLE_TYPE.PARAGRAPH)
    field.base_style = doc.styles["Normal"]
    field.paragraph_format.space_after = Pt(3)
    field.paragraph_format.keep_with_next = True

    heading = doc.styles.add_style("EDMS Heading", WD_STYLE_TYPE.PARAGRAPH)
    heading.base_style = doc.styles["Normal"]
    heading.font.bold = True
    heading.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    heading.paragraph_format.space_before = Pt(12)
    heading.paragraph_format.space_after = Pt(6)
    heading.paragraph_format.keep_with_next = True

    signature = doc.styles.add_style("EDMS Signature", WD_STYLE_TYPE.PARAGRAPH)
    signature.base_style = doc.styles["Normal"]
    signature.font.bold = True
    signature.paragraph_format.keep_with_next = True
    signature.paragraph_format.keep_together = True
    signature.paragraph_format.space_before = Pt(30)
    signature.paragraph_format.tab_stops.add_tab_stop(TEXT_WIDTH, WD_TAB_ALIGNMENT.RIGHT)

    stamps = doc.styles.add_style("EDMS Stamp area", WD_STYLE_TYPE.PARAGRAPH)
    stamps.base_style = doc.styles["Normal"]
    stamps.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    stamps.paragraph_format.line_spacing = STAMP_ROOM


def _bottom_border(style: Any) -> None:
    p_pr = style.element.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "8"), ("w:space", "4"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    p_pr.append(borders)


def _page_number(paragraph: Paragraph) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _no_borders(table: Table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    table._tbl.tblPr.append(borders)


def _table(doc: DocumentObject, widths_mm: tuple[float, ...]) -> Table:
    table = doc.add_table(rows=1, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    _no_borders(table)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=True):
            cell.width = Mm(width)
            cell.paragraphs[0].style = doc.styles["Normal"]
    return table


def registration(doc: DocumentObject, *, addressee: bool) -> None:
    """The registration number and date; with ``addressee``, the addressee to their right."""
    if not addressee:
        doc.add_paragraph("№ {{ document.reg_number }}")
        doc.add_paragraph("{{ document.reg_date }}")
        return
    table = _table(doc, (75, 90))
    left = table.cell(0, 0)
    left.paragraphs[0].add_run("№ {{ document.reg_number }}")
    left.add_paragraph("{{ document.reg_date }}")
    right = table.cell(0, 1)
    right.paragraphs[0].add_run("{{ addressee.name }}").bold = True
    right.add_paragraph("{{ addressee.address }}")


def title(doc: DocumentObject, *, align: WD_ALIGN_PARAGRAPH | None = None) -> None:
    """The document title."""
    paragraph = doc.add_paragraph("{{ document.title }}", style="EDMS Title")
    if align is not None:
        paragraph.alignment = align


def fields(doc: DocumentObject, rows: list[tuple[str, str]]) -> None:
    """Labelled values, one per line: ``Label: value``."""
    for label, placeholder in rows:
        paragraph = doc.add_paragraph(style="EDMS Field")
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(placeholder)


def paragraphs(doc: DocumentObject, expression: str, *, last_with_signature: bool = False) -> None:
    """One body paragraph per paragraph of the text (docxtpl's ``{%p %}`` loop).

    With ``last_with_signature`` the last paragraph is kept on the page of the
    signature, so a signature never stands alone on a page.
    """
    doc.add_paragraph(f"{{%p for para in {expression}|paragraphs %}}")
    if last_with_signature:
        doc.add_paragraph("{%p if not loop.last %}")
        doc.add_paragraph("{{ para }}", style="EDMS Body")
        doc.add_paragraph("{%p else %}")
        doc.add_paragraph("{{ para }}", style="EDMS Body").paragraph_format.keep_with_next = True
        doc.add_paragraph("{%p endif %}")
    else:
        doc.add_paragraph("{{ para }}", style="EDMS Body")
    doc.add_paragraph("{%p endfor %}")


def signature(doc: DocumentObject) -> None:
    """Position on the left, name on the right, then the room for signature stamps."""
    # Paragraphs rather than a table: LibreOffice keeps a paragraph with the next
    # one, not a table. A long position can carry line breaks (newlines in the data).
    paragraph = doc.add_paragraph(style="EDMS Signature")
    paragraph.add_run("{{ signatory.position }}")
    paragraph.add_run("\t")
    paragraph.add_run("{{ signatory.name }}")
    # The last 60 mm of the last page stay empty for the stamps added when the
    # document is signed; the signature above moves along with this block.
    doc.add_paragraph(style="EDMS Stamp area")


def letter(doc: DocumentObject) -> None:
    """Outgoing letter."""
    registration(doc, addressee=True)
    title(doc, align=WD_ALIGN_PARAGRAPH.LEFT)
    paragraphs(doc, "document.body", last_with_signature=True)
    signature(doc)


def licence(doc: DocumentObject) -> None:
    """Licence for an activity."""
    title(doc)
    registration(doc, addressee=False)
    doc.add_paragraph()
    fields(
        doc,
        [
            ("Litsenziat", "{{ applicant.name }}"),
            ("STIR", "{{ applicant.tin }}"),
            ("Faoliyat turi", "{{ licence.activity }}"),
            ("Amal qilish muddati", "{{ licence.valid_until }}"),
        ],
    )
    doc.add_paragraph()
    paragraphs(doc, "document.body", last_with_signature=True)
    signature(doc)


def permit(doc: DocumentObject) -> None:
    """Permit."""
    title(doc)
    registration(doc, addressee=False)
    doc.add_paragraph()
    fields(
        doc,
        [
            ("Ruxsatnoma oluvchi", "{{ applicant.name }}"),
            ("STIR", "{{ applicant.tin }}"),
            ("Ruxsat berilgan faoliyat", "{{ permit.activity }}"),
            ("Amal qilish muddati", "{{ permit.valid_until }}"),
        ],
    )
    doc.add_paragraph()
    paragraphs(doc, "document.body", last_with_signature=True)
    signature(doc)


def certificate(doc: DocumentObject) -> None:
    """Reference letter (maʼlumotnoma) about a person."""
    registration(doc, addressee=False)
    title(doc)
    fields(doc, [("Berildi", "{{ person.name }}")])
    doc.add_paragraph()
    paragraphs(doc, "document.body")
    fields(doc, [("Taqdim etish uchun", "{{ purpose }}")])
    signature(doc)


def decision(doc: DocumentObject) -> None:
    """Decision on an application."""
    title(doc)
    registration(doc, addressee=False)
    doc.add_paragraph()
    fields(doc, [("Ariza beruvchi", "{{ applicant.name }}")])
    doc.add_paragraph()
    paragraphs(doc, "document.body")
    doc.add_paragraph("QAROR QILINDI:", style="EDMS Heading")
    paragraphs(doc, "decision.text", last_with_signature=True)
    signature(doc)


TEMPLATES: dict[str, tuple[str, Callable[[DocumentObject], None]]] = {
    "letter.docx": ("Chiquvchi xat", letter),
    "licence.docx": ("Litsenziya", licence),
    "permit.docx": ("Ruxsatnoma", permit),
    "certificate.docx": ("Maʼlumotnoma", certificate),
    "decision.docx": ("Qaror", decision),
}


def reproducible(data: bytes) -> bytes:
    """The same ZIP with fixed timestamps, so an unchanged template rebuilds identically."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def build(target: Path = HERE) -> list[Path]:
    """Write every template into ``target``; returns the paths written."""
    written = []
    for filename, (kind, fill) in TEMPLATES.items():
        doc = new_document(kind)
        fill(doc)
        buffer = io.BytesIO()
        doc.save(buffer)
        path = target / filename
        path.write_bytes(reproducible(buffer.getvalue()))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)
