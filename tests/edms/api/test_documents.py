"""The document routes of the API when things go right."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.db import db
from edms.documents.models import Document
from tests.edms.api.conftest import PDF, fresh, multipart_body, problem, snapshot, upload


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


@pytest.fixture
def journal(make_journal):
    return make_journal("INC", direction="incoming", prefix="IN")


def test_register_list_get_and_download(api, clerk, journal, token_for, store) -> None:
    token = token_for(clerk)
    name = "Xat №5 (final).pdf"
    created = api.post(
        "/documents",
        token,
        data=upload(
            PDF,
            name,
            title="Request for statistics",
            journal="inc",
            correspondent_name="Acme LLC",
            correspondent_tin="301234567",
            summary="Quarterly figures",
        ),
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    doc_id = body["id"]
    assert created.headers["Location"] == f"/api/v1/documents/{doc_id}"
    sha = hashlib.sha256(PDF).hexdigest()
    assert body["sha256"] == sha
    assert body["registration_number"].startswith("IN-")
    assert body["journal"] == "INC"
    assert body["direction"] == "incoming"
    assert body["department"] == clerk.department.code
    assert body["document_type"] == "general"
    assert body["status"] == "registered"
    assert body["correspondent_kind"] == "organisation"
    assert body["correspondent_tin"] == "301234567"
    assert body["links"] == []
    [version] = body["versions"]
    assert version["number"] == 1
    assert version["original_filename"] == name
    assert version["media_type"] == "application/pdf"
    assert version["size"] == len(PDF)
    assert version["author"] == clerk.username
    assert snapshot(store) == (1, [sha])

    listed = api.get("/documents", token)
    assert listed.status_code == 200
    page = listed.get_json()
    assert {k: page[k] for k in ("total", "page", "per_page", "pages")} == {
        "total": 1,
        "page": 1,
        "per_page": 25,
        "pages": 1,
    }
    [item] = page["items"]
    assert item["id"] == doc_id
    assert item["registration_number"] == body["registration_number"]
    assert "correspondent_tin" not in item  # personal identifiers only in the detail

    detail = api.get(f"/documents/{doc_id}", token)
    assert detail.status_code == 200
    assert detail.get_json() == body

    download = api.get(f"/documents/{doc_id}/file", token)
    assert download.status_code == 200
    assert download.data == PDF
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Xat%20%E2%84%965%20%28final%29.pdf" in disposition
    assert download.headers["ETag"] == f'"{sha}"'
    assert download.headers["Content-Length"] == str(len(PDF))
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    again = api.get(f"/documents/{doc_id}/file", token, headers={"If-None-Match": f'"{sha}"'})
    assert again.status_code == 304
    first = api.get(f"/documents/{doc_id}/versions/1/file", token)
    assert first.data == PDF
    assert first.headers["Content-Disposition"].startswith("attachment;")


def test_a_file_name_with_quotes_is_quoted(api, clerk, journal, token_for) -> None:
    token = token_for(clerk)
    body = multipart_body(
        "b0undary",
        [("title", None, b"t"), ("journal", None, b"INC"), ("file", 'report "v2"; x.pdf', PDF)],
    )
    created = api.post(
        "/documents", token, data=body, content_type="multipart/form-data; boundary=b0undary"
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["versions"][0]["original_filename"] == 'report "v2"; x.pdf'
    download = api.get(f"/documents/{created.get_json()['id']}/file", token)
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="report \\"v2\\"; x.pdf"'
    )


def test_new_version(api, clerk, journal, token_for, make_document, store) -> None:
    token = token_for(clerk)
    doc = make_document(clerk, content=PDF, journal=journal)
    text = b"Corrected text of the letter.\n"
    added = api.post(
        f"/documents/{doc.id}/versions",
        token,
        data=upload(text, "letter.txt", comment="typo fixed"),
    )
    assert added.status_code == 201, added.get_data(as_text=True)
    version = added.get_json()
    assert version["number"] == 2
    assert version["comment"] == "typo fixed"
    assert version["media_type"] == "text/plain"
    assert version["sha256"] == hashlib.sha256(text).hexdigest()
    assert version["author"] == clerk.username
    assert api.get(f"/documents/{doc.id}/file", token).data == text
    assert api.get(f"/documents/{doc.id}/versions/1/file", token).data == PDF
    assert api.get(f"/documents/{doc.id}/versions/2/file", token).data == text
    problem(api.get(f"/documents/{doc.id}/versions/3/file", token), 404)
    detail = api.get(f"/documents/{doc.id}", token).get_json()
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert detail["sha256"] == version["sha256"]
    assert len(list(store.keys())) == 2


def test_patch_changes_and_audits(api, clerk, journal, token_for, make_document) -> None:
    token = token_for(clerk)
    doc = make_document(
        clerk, journal=journal, correspondent_name="Acme", correspondent_tin="301234567"
    )
    changed = api.patch(
        f"/documents/{doc.id}",
        token,
        json={"title": "New title", "language": "ru", "correspondent_tin": "401234567"},
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    body = changed.get_json()
    assert (body["title"], body["language"], body["correspondent_tin"]) == (
        "New title",
        "ru",
        "401234567",
    )
    assert fresh(Document, doc.id).title == "New title"
    [event] = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "document.update", AuditEvent.object_id == str(doc.id)
        )
    )
    assert event.actor_id == clerk.id
    changes = event.details["changes"]
    assert changes["title"] == {"old": "A test document", "new": "New title"}
    assert changes["correspondent_tin"] == "changed"  # never the identifier itself


def test_patch_nothing_changes_nothing(api, clerk, journal, token_for, make_document) -> None:
    token = token_for(clerk)
    doc = make_document(clerk, journal=journal)
    same = api.patch(f"/documents/{doc.id}", token, json={"title": "A test document"})
    assert same.status_code == 200
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "document.update")
    ).all()


def test_html_in_the_title_is_stored_as_text(api, clerk, journal, token_for) -> None:
    title = '<script>alert("x")</script> & <b>bold</b>'
    created = api.post("/documents", token_for(clerk), data=upload(title=title, journal="INC"))
    assert created.status_code == 201
    assert created.mimetype == "application/json"
    assert created.headers["X-Content-Type-Options"] == "nosniff"
    assert created.get_json()["title"] == title  # JSON carries text; escaping is the reader's
    assert fresh(Document, uuid.UUID(created.get_json()["id"])).title == title


def test_reply_to_links_both_documents(api, clerk, journal, token_for, make_document) -> None:
    token = token_for(clerk)
    first = make_document(clerk, journal=journal)
    reply = api.post(
        "/documents",
        token,
        data=upload(title="Answer", journal="INC", reply_to=first.registration_number),
    ).get_json()
    assert reply["links"] == [
        {
            "kind": "reply_to",
            "id": str(first.id),
            "registration_number": first.registration_number,
            "title": first.title,
        }
    ]
    back = api.get(f"/documents/{first.id}", token).get_json()["links"]
    assert [(link["kind"], link["id"]) for link in back] == [("reply_to_of", reply["id"])]


def test_list_filters_sorts_and_pages(api, clerk, make_journal, token_for, make_document) -> None:
    token = token_for(clerk)
    inc = make_journal("INC", direction="incoming", prefix="IN")
    out = make_journal("OUT", direction="outgoing", prefix="OUT")
    a = make_document(clerk, journal=inc, title="Alpha report")
    b = make_document(clerk, journal=out, title="Beta letter")
    c = make_document(clerk, journal=inc, title="Gamma report", content=b"%PDF-1.4\n%c\n")

    def ids(**query):
        response = api.get("/documents", token, query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["id"] for item in response.get_json()["items"]]

    assert set(ids(journal="inc")) == {str(a.id), str(c.id)}
    assert ids(direction="outgoing") == [str(b.id)]
    assert set(ids(q="report")) == {str(a.id), str(c.id)}
    assert ids(number=b.registration_number) == [str(b.id)]
    assert ids(sort="title") == [str(a.id), str(b.id), str(c.id)]
    assert ids(sort="-title") == [str(c.id), str(b.id), str(a.id)]
    page = api.get("/documents", token, query_string={"sort": "title", "per_page": 2, "page": 2})
    assert page.get_json()["items"][0]["id"] == str(c.id)
    assert {k: page.get_json()[k] for k in ("total", "page", "per_page", "pages")} == {
        "total": 3,
        "page": 2,
        "per_page": 2,
        "pages": 2,
    }


def test_journals(api, clerk, make_journal, token_for) -> None:
    make_journal("OUT7", direction="outgoing", prefix="CHQ")
    response = api.get("/journals", token_for(clerk))
    assert response.status_code == 200
    assert {"code": "OUT7", "prefix": "CHQ", "name": "Journal OUT7", "direction": "outgoing"} in (
        response.get_json()
    )


def test_me(api, clerk, token_for) -> None:
    response = api.get("/me", token_for(clerk))
    assert response.status_code == 200
    assert response.get_json() == {
        "username": clerk.username,
        "full_name": clerk.full_name,
        "roles": ["clerk"],
        "department": clerk.department.code,
    }
