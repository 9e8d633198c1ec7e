"""The clerk's registry pages through the browser: register, list, read, download, change."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.http import parse_options_header

from edms.audit.models import AuditEvent
from edms.auth.models import Department, Role, User
from edms.db import db
from edms.documents import services
from edms.documents.models import Document
from edms.registry.models import Journal
from tests.conftest import csrf_token, login
from tests.edms.ui.conftest import text_of

PDF = b"%PDF-1.4\n% a test document\n"
NO_FILE = object()


def _count_documents() -> int:
    return db.session.scalar(select(func.count()).select_from(Document)) or 0


def _register(client: FlaskClient, journal_code: str, file: Any = None, **fields: str) -> Any:
    data: dict[str, Any] = {
        "csrf_token": csrf_token(client, "/documents/new"),
        "journal": journal_code,
        "title": "Request for statistical data",
        "document_type": "letter",
        "language": "uz",
        "confidentiality": "internal",
        "correspondent_kind": "",
        "correspondent_name": "",
        "correspondent_tin": "",
        "correspondent_pinfl": "",
        "summary": "",
        "reply_to": "",
    }
    if file is None:
        data["file"] = (io.BytesIO(PDF), "letter.pdf")
    elif file is not NO_FILE:
        data["file"] = file
    data.update(fields)
    return client.post("/documents/new", data=data, content_type="multipart/form-data")


def _fetch(client: FlaskClient, url: str) -> Any:
    """GET ``url`` and close the reply (a download holds the stored file open until then)."""
    reply = client.get(url)
    reply.get_data()
    reply.close()
    return reply


def _summary(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert match, "the page has an error summary"
    return match.group(0)


@pytest.fixture
def journal(make_journal: Callable[..., Journal]) -> Journal:
    return make_journal("IN", prefix="IN")


# Registering ------------------------------------------------------------------------


def test_register_page_offers_the_choices(clerk_client: FlaskClient, journal: Journal) -> None:
    html = clerk_client.get("/documents/new").get_data(as_text=True)
    # No journal is chosen for the clerk: the number it gives is for life.
    assert '<option value="">Choose a journal</option>' in html
    assert f'<option value="{journal.code}">' in html
    assert 'enctype="multipart/form-data"' in html
    assert '<option selected value="general">General</option>' in html


def test_register_a_document_with_its_file(
    clerk_client: FlaskClient, clerk: User, journal: Journal, store: Any
) -> None:
    reply = _register(
        clerk_client,
        journal.code,
        title="Request for statistical data",
        correspondent_kind="organisation",
        correspondent_name="Uzstat agency",
        correspondent_tin="201234567",
    )
    assert reply.status_code == 302, _summary(reply.get_data(as_text=True))
    doc = db.session.scalar(
        select(Document).where(Document.title == "Request for statistical data")
    )
    assert doc is not None
    assert reply.headers["Location"] == f"/documents/{doc.id}"
    assert doc.registration_number.startswith("IN-")
    assert doc.department_id == clerk.department_id
    assert doc.correspondent_tin == "201234567"
    assert len(list(store.keys())) == 1

    page = clerk_client.get(reply.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"Document registered as {doc.registration_number}." in html
    assert f'<span class="regno">{doc.registration_number}</span>' in html
    assert "letter.pdf" in html


@pytest.mark.parametrize(
    ("fields", "file", "field", "message"),
    [
        ({"title": ""}, None, "title", "Title: is required"),
        ({"title": "   "}, None, "title", "Title: is required"),
        ({}, NO_FILE, "file", "File: a file is required"),
        ({}, (io.BytesIO(b""), "empty.pdf"), "file", "File: the file is empty"),
        ({}, (io.BytesIO(PDF), "../../etc/passwd"), "file", "must not contain a path"),
        ({}, (io.BytesIO(PDF), "bad\x07name.pdf"), "file", "must not contain control characters"),
        (
            {
                "correspondent_kind": "organisation",
                "correspondent_name": "Acme",
                "correspondent_tin": "12345",
            },
            None,
            "correspondent_tin",
            "TIN (9 digits): a TIN is exactly 9 digits",
        ),
        (
            {
                "correspondent_kind": "organisation",
                "correspondent_name": "Acme",
                "correspondent_tin": "012345678",
            },
            None,
            "correspondent_tin",
            "a TIN does not start with 0",
        ),
        (
            {
                "correspondent_kind": "person",
                "correspondent_name": "Ali",
                "correspondent_pinfl": "71234567890123",
            },
            None,
            "correspondent_pinfl",
            "PINFL (14 digits): a PINFL starts with a digit from 1 to 6",
        ),
        (
            {
                "correspondent_kind": "person",
                "correspondent_name": "Ali",
                "correspondent_pinfl": "3123",
            },
            None,
            "correspondent_pinfl",
            "a PINFL is exactly 14 digits",
        ),
        ({"journal": "NOPE"}, None, "journal", "Journal: unknown journal NOPE"),
        ({"journal": ""}, None, "journal", "Journal: is required"),
    ],
    ids=[
        "no-title",
        "blank-title",
        "no-file",
        "empty-file",
        "path-in-name",
        "control-char-in-name",
        "short-tin",
        "tin-starting-0",
        "bad-pinfl",
        "short-pinfl",
        "unknown-journal",
        "no-journal",
    ],
)
def test_register_rejects_bad_input(
    clerk_client: FlaskClient,
    journal: Journal,
    store: Any,
    fields: dict[str, str],
    file: Any,
    field: str,
    message: str,
) -> None:
    before = _count_documents()
    reply = _register(clerk_client, journal.code, file=file, **fields)
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    summary = _summary(html)
    assert f'href="#{field}"' in summary
    assert message in text_of(summary)
    # The field says what is wrong, and assistive technology hears it.
    assert f'id="{field}-error"' in html
    assert re.search(rf'<(input|select)[^>]*id="{field}"', html)
    assert re.search(rf'aria-describedby="[^"]*{field}-error', html)
    # Nothing was kept.
    assert _count_documents() == before
    assert list(store.keys()) == []


def test_register_keeps_what_was_entered_after_an_error(
    clerk_client: FlaskClient, journal: Journal
) -> None:
    reply = _register(clerk_client, journal.code, file=NO_FILE, title="Keep <this> title")
    assert reply.status_code == 422
    assert 'value="Keep &lt;this&gt; title"' in reply.get_data(as_text=True)


def test_only_clerks_and_admins_register(
    client: FlaskClient, make_user: Callable[..., User], journal: Journal
) -> None:
    approver = make_user(Role.APPROVER)
    login(client, approver)
    assert client.get("/documents/new").status_code == 403
    html = client.get("/documents").get_data(as_text=True)
    assert 'href="/documents/new"' not in html


# Listing ----------------------------------------------------------------------------


def test_titles_are_escaped_on_list_and_detail(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk, title='<script>alert("x")</script> & <b>bold</b>')
    for url in ("/documents", f"/documents/{doc.id}"):
        html = clerk_client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(" in html
        assert "&amp; &lt;b&gt;bold&lt;/b&gt;" in html


def _numbers_on(html: str) -> list[str]:
    return re.findall(r'<td class="nowrap"><a href="/documents/[^"]+">([^<]+)</a></td>', html)


def test_list_filters(
    clerk_client: FlaskClient,
    clerk: User,
    make_document: Callable[..., Document],
    make_journal: Callable[..., Journal],
) -> None:
    incoming = make_journal("IN", direction="incoming", prefix="IN")
    outgoing = make_journal("OUT", direction="outgoing", prefix="OUT")
    letter = make_document(
        clerk, journal=incoming, title="Letter about roads", document_type="letter"
    )
    order = make_document(clerk, journal=incoming, title="Order on holidays", document_type="order")
    reply = make_document(
        clerk, journal=outgoing, title="Reply about roads", document_type="letter"
    )

    def numbers(query: str) -> set[str]:
        page = clerk_client.get(f"/documents?{query}")
        assert page.status_code == 200
        return set(_numbers_on(page.get_data(as_text=True)))

    everything = {d.registration_number for d in (letter, order, reply)}
    assert numbers("") == everything
    assert numbers("q=roads") == {letter.registration_number, reply.registration_number}
    assert numbers("q=ROADS") == {letter.registration_number, reply.registration_number}
    assert numbers("journal=OUT") == {reply.registration_number}
    assert numbers("direction=incoming") == {letter.registration_number, order.registration_number}
    assert numbers("document_type=order") == {order.registration_number}
    assert numbers("status=registered") == everything
    assert numbers("status=archived") == set()
    assert numbers(f"number={order.registration_number}") == {order.registration_number}
    assert numbers("q=%25") == set()  # a LIKE wildcard is searched for literally

    html = clerk_client.get("/documents?journal=OUT&q=roads").get_data(as_text=True)
    assert '<option value="OUT" selected>' in html  # the filter form keeps the choice
    assert 'value="roads"' in html
    assert "1 document" in text_of(html)


def test_list_sorts(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    make_document(clerk, title="Bravo")
    make_document(clerk, title="Alpha")
    make_document(clerk, title="Charlie")
    html = clerk_client.get("/documents?sort=title").get_data(as_text=True)
    titles = [t for t in ("Alpha", "Bravo", "Charlie") if t in html]
    assert titles == ["Alpha", "Bravo", "Charlie"]
    assert [html.index(t) for t in titles] == sorted(html.index(t) for t in titles)
    html = clerk_client.get("/documents?sort=-title").get_data(as_text=True)
    assert html.index("Charlie") < html.index("Bravo") < html.index("Alpha")
    assert 'aria-sort="descending"' in html


def test_list_pages(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    docs = [make_document(clerk, title=f"Paged {n}") for n in range(5)]
    first = clerk_client.get("/documents?per_page=2&q=Paged").get_data(as_text=True)
    assert len(_numbers_on(first)) == 2
    assert "Page 1 of 3" in first
    assert "5 documents" in text_of(first)
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert next_link
    second_url = next_link.group(1).replace("&amp;", "&")
    assert "q=Paged" in second_url  # the filters stay when paging
    second = clerk_client.get(second_url).get_data(as_text=True)
    assert "Page 2 of 3" in second
    assert 'rel="prev"' in second
    last = clerk_client.get("/documents?per_page=2&q=Paged&page=3").get_data(as_text=True)
    assert len(_numbers_on(last)) == 1
    assert 'rel="next"' not in last
    seen = set(_numbers_on(first)) | set(_numbers_on(second)) | set(_numbers_on(last))
    assert seen == {d.registration_number for d in docs}


def test_list_names_a_bad_filter(clerk_client: FlaskClient) -> None:
    reply = clerk_client.get("/documents?date_from=yesterday&status=lost")
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    summary = text_of(_summary(html))
    assert "Registered from: must be a date like 2026-01-31" in summary
    assert "Status: must be one of" in summary
    assert 'href="#f-date_from"' in html
    assert 'aria-describedby="f-date_from-error"' in html


# The document page -------------------------------------------------------------------


def test_detail_shows_versions_history_links_and_comments(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk, title="Original letter")
    services.add_version(
        clerk, doc, services.Upload("letter-v2.pdf", io.BytesIO(PDF + b"v2")), "Signed copy"
    )
    services.add_comment(clerk, doc, "Please answer by Friday.\nThanks.")
    db.session.commit()
    answer = make_document(clerk, title="Our answer", reply_to=doc.registration_number)

    html = clerk_client.get(f"/documents/{doc.id}").get_data(as_text=True)
    text = text_of(html)
    assert "letter.pdf" in text
    assert "letter-v2.pdf" in text
    assert "Signed copy" in text
    assert "Please answer by Friday." in text
    assert "Answered by" in text
    assert answer.registration_number in text
    # History in words, not codes.
    assert f"Registered as {doc.registration_number}" in text
    assert "Version 2 added" in text
    assert "Comment added" in text
    assert "document.register" not in html
    assert "document.version_add" not in html
    assert f"/documents/{doc.id}/versions/1/download" in html
    assert f"/documents/{doc.id}/versions/2/download" in html

    other_side = clerk_client.get(f"/documents/{answer.id}").get_data(as_text=True)
    assert "In reply to" in other_side


def test_download_a_version(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    # The type comes from the content: this "PDF" is plain text.
    doc = make_document(clerk, content=b"just some words\n", filename='Отчёт "итог".pdf')
    services.add_version(clerk, doc, services.Upload("v2.pdf", io.BytesIO(PDF)))
    db.session.commit()

    first = _fetch(clerk_client, f"/documents/{doc.id}/versions/1/download")
    assert first.status_code == 200
    assert first.data == b"just some words\n"
    assert first.mimetype == "text/plain"
    disposition, params = parse_options_header(first.headers["Content-Disposition"])
    assert disposition == "attachment"
    assert params["filename"] == 'Отчёт "итог".pdf'  # from filename*, in UTF-8
    assert "filename=document.pdf;" in first.headers["Content-Disposition"]  # ASCII fallback
    assert "\n" not in first.headers["Content-Disposition"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in first.headers["Content-Security-Policy"]

    second = _fetch(clerk_client, f"/documents/{doc.id}/versions/2/download")
    assert second.data == PDF
    assert second.mimetype == "application/pdf"
    assert _fetch(clerk_client, f"/documents/{doc.id}/versions/3/download").status_code == 404


def test_add_a_version_through_the_form(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document], store: Any
) -> None:
    doc = make_document(clerk)
    url = f"/documents/{doc.id}/versions/new"
    page = clerk_client.get(url)
    assert page.status_code == 200
    reply = clerk_client.post(
        url,
        data={
            "csrf_token": csrf_token(clerk_client, url),
            "file": (io.BytesIO(PDF + b"%% second\n"), "letter-signed.pdf"),
            "comment": "With the signature",
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 302
    html = clerk_client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Version 2 added." in html
    assert "letter-signed.pdf" in html
    assert len(list(store.keys())) == 2

    empty = clerk_client.post(
        url,
        data={"csrf_token": csrf_token(clerk_client, url), "comment": "no file"},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 422
    assert "File: a file is required" in text_of(_summary(empty.get_data(as_text=True)))
    assert len(list(store.keys())) == 2


def test_edit_metadata_is_audited(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk, title="Draft title", summary="Old summary")
    url = f"/documents/{doc.id}/edit"
    form = clerk_client.get(url).get_data(as_text=True)
    assert 'value="Draft title"' in form
    reply = clerk_client.post(
        url,
        data={
            "csrf_token": csrf_token(clerk_client, url),
            "title": "Final title",
            "document_type": "order",
            "summary": "Old summary",
            "language": "ru",
            "confidentiality": "internal",
            "correspondent_kind": "",
            "correspondent_name": "",
            "correspondent_tin": "",
            "correspondent_pinfl": "",
        },
    )
    assert reply.status_code == 302
    event = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "document.update", AuditEvent.object_id == str(doc.id)
        )
    )
    assert event is not None
    assert event.details["changes"]["title"] == {"old": "Draft title", "new": "Final title"}
    assert event.actor_name == clerk.username
    html = clerk_client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "The document has been updated." in html
    assert "Final title" in html
    assert "Details changed: Title, Document type, Language" in text_of(html)


def test_edit_rejects_a_bad_tin(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk, title="Keep me")
    url = f"/documents/{doc.id}/edit"
    reply = clerk_client.post(
        url,
        data={
            "csrf_token": csrf_token(clerk_client, url),
            "title": "Changed",
            "document_type": "general",
            "language": "uz",
            "confidentiality": "internal",
            "correspondent_kind": "organisation",
            "correspondent_name": "Acme",
            "correspondent_tin": "12",
        },
    )
    assert reply.status_code == 422
    assert 'href="#correspondent_tin"' in reply.get_data(as_text=True)
    db.session.refresh(doc)
    assert doc.title == "Keep me"


def test_comment(
    clerk_client: FlaskClient, clerk: User, make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk)
    url = f"/documents/{doc.id}/comments"
    token = csrf_token(clerk_client, f"/documents/{doc.id}")
    reply = clerk_client.post(url, data={"csrf_token": token, "body": "Looks <i>fine</i>"})
    assert reply.status_code == 302
    assert reply.headers["Location"].endswith("#comments")
    html = clerk_client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert "Looks &lt;i&gt;fine&lt;/i&gt;" in html
    assert "Comment added." in html

    empty = clerk_client.post(url, data={"csrf_token": token, "body": "  "})
    assert empty.status_code == 422
    assert 'href="#body"' in _summary(empty.get_data(as_text=True))


# Sharing and visibility --------------------------------------------------------------


@pytest.fixture
def outsider(make_user: Callable[..., User], make_department: Callable[..., Department]) -> User:
    """A clerk of another department."""
    return make_user(Role.CLERK, department=make_department())


def _urls(doc: Document) -> list[str]:
    return [
        f"/documents/{doc.id}",
        f"/documents/{doc.id}/versions/1/download",
        f"/documents/{doc.id}/edit",
        f"/documents/{doc.id}/versions/new",
    ]


def test_clerk_of_another_department_sees_nothing(
    app: Any,
    clerk: User,
    outsider: User,
    make_document: Callable[..., Document],
) -> None:
    doc = make_document(clerk, title="Internal matter")
    browser = app.test_client()
    login(browser, outsider)
    for url in _urls(doc):
        assert _fetch(browser, url).status_code == 404, url
    token = csrf_token(browser, "/documents")
    assert (
        browser.post(
            f"/documents/{doc.id}/comments", data={"csrf_token": token, "body": "hi"}
        ).status_code
        == 404
    )
    assert (
        browser.post(
            f"/documents/{doc.id}/share", data={"csrf_token": token, "username": outsider.username}
        ).status_code
        == 404
    )
    assert "Internal matter" not in browser.get("/documents").get_data(as_text=True)
    denied = db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "access.denied", AuditEvent.object_id == str(doc.id))
    )
    assert denied >= 4


def test_share_with_a_clerk_of_another_department(
    app: Any,
    clerk_client: FlaskClient,
    clerk: User,
    outsider: User,
    make_document: Callable[..., Document],
) -> None:
    doc = make_document(clerk, title="Shared matter")
    other = app.test_client()
    login(other, outsider)
    assert other.get(f"/documents/{doc.id}").status_code == 404

    token = csrf_token(clerk_client, f"/documents/{doc.id}")
    unknown = clerk_client.post(
        f"/documents/{doc.id}/share", data={"csrf_token": token, "username": "nobody"}
    )
    assert unknown.status_code == 422
    assert "There is no user with that name." in text_of(_summary(unknown.get_data(as_text=True)))

    reply = clerk_client.post(
        f"/documents/{doc.id}/share", data={"csrf_token": token, "username": outsider.username}
    )
    assert reply.status_code == 302
    html = clerk_client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert f"Shared with {outsider.username}" in text_of(html)

    assert other.get(f"/documents/{doc.id}").status_code == 200
    assert _fetch(other, f"/documents/{doc.id}/versions/1/download").status_code == 200
    assert "Shared matter" in other.get("/documents").get_data(as_text=True)
    # Seeing is not changing.
    assert other.get(f"/documents/{doc.id}/edit").status_code == 403
    page = other.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert f"/documents/{doc.id}/edit" not in page


@pytest.mark.parametrize("role", [Role.RECORDS_OFFICER, Role.ADMIN])
def test_records_officers_and_admins_see_everything(
    app: Any,
    clerk: User,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    role: Role,
) -> None:
    doc = make_document(clerk, title="Seen by all")
    browser = app.test_client()
    login(browser, make_user(role))
    assert "Seen by all" in browser.get("/documents").get_data(as_text=True)
    assert browser.get(f"/documents/{doc.id}").status_code == 200
    assert _fetch(browser, f"/documents/{doc.id}/versions/1/download").status_code == 200


def test_applicants_may_not_open_the_registry(
    app: Any, clerk: User, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    doc = make_document(clerk)
    browser = app.test_client()
    login(browser, make_user(Role.APPLICANT))
    assert browser.get("/documents").status_code == 403
    assert browser.get(f"/documents/{doc.id}").status_code == 403
    assert browser.get("/documents/new").status_code == 403


def test_unknown_document_is_404(clerk_client: FlaskClient) -> None:
    assert clerk_client.get("/documents/not-a-uuid").status_code == 404
    assert clerk_client.get("/documents/00000000-0000-0000-0000-000000000000").status_code == 404
