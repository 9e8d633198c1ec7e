"""Drafting outgoing documents from the shipped DOCX templates."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest

from edms.db import db
from edms.documents import services as documents
from edms.drafting import services as drafting
from tests.conftest import csrf_token, login


def _document_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as docx:
        return docx.read("word/document.xml").decode()


def test_a_licence_is_drafted_with_registry_data_and_typed_fields(
    client, make_user, make_document
) -> None:
    clerk = make_user("clerk")
    doc = make_document(clerk, title="Licence for Oʻzbekiston Savdo LLC", direction="outgoing")
    login(client, clerk)
    url = f"/documents/{doc.id}/draft"
    page = client.get(f"{url}?template=licence").get_data(as_text=True)
    assert "licence.activity" in page  # the template's own fields are asked for
    token = csrf_token(client, url)
    form = {
        "csrf_token": token,
        "template": "licence",
        "action": "draft",
        "body": "Первый абзац.\nIkkinchi xatboshi: o‘quv <script>alert(1)</script> & co.",
    }
    for line in page.splitlines():
        if 'name="' in line and "__" in line and "<input" in line:
            name = line.split('name="', 1)[1].split('"', 1)[0]
            form[name] = "Savdo faoliyati"
    reply = client.post(url, data=form)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    db.session.expire_all()
    latest = documents.get_version(doc)
    assert latest.number == 2
    assert latest.original_filename.endswith(".docx")
    assert "wordprocessingml" in latest.media_type
    with documents.open_version(latest) as fh:
        xml = _document_xml(fh.read())
    assert doc.registration_number in xml
    assert "Первый абзац." in xml
    assert "o‘quv" in xml
    assert "&lt;script&gt;" in xml  # data is text, never markup
    assert "Savdo faoliyati" in xml


def test_missing_fields_are_named_and_nothing_is_added(client, make_user, make_document) -> None:
    clerk = make_user("clerk")
    doc = make_document(clerk)
    login(client, clerk)
    url = f"/documents/{doc.id}/draft"
    token = csrf_token(client, url)
    reply = client.post(
        url, data={"csrf_token": token, "template": "licence", "action": "draft", "body": ""}
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert "There is a problem" in html
    assert "licence.activity" in html
    db.session.expire_all()
    assert len(doc.versions) == 1


def test_other_departments_cannot_draft(client, make_user, make_document) -> None:
    owner = make_user("clerk")
    stranger = make_user("clerk")
    doc = make_document(owner)
    login(client, stranger)
    assert client.get(f"/documents/{doc.id}/draft").status_code == 404


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)
def test_a_drafted_docx_is_converted_to_pdf_a_for_signing(ctx, make_user, make_document) -> None:
    clerk = make_user("clerk")
    doc = make_document(clerk, title="Маълумотнома")
    drafting.generate(
        clerk,
        doc,
        "certificate",
        "Ушбу маълумотнома berildi.",
        {"person.name": "Aziz", "purpose": "bank"},
    )
    db.session.commit()
    version = drafting.pdf_version(clerk, doc)
    db.session.commit()
    assert version.number == 3
    assert version.media_type == "application/pdf"
    with documents.open_version(version) as fh:
        data = fh.read()
    assert data.startswith(b"%PDF-")
    assert b'pdfaid:part="2"' in data or b"<pdfaid:part>2</pdfaid:part>" in data  # PDF/A-2
    # Already a PDF: nothing more is made.
    assert drafting.pdf_version(clerk, doc).id == version.id
