"""Bad input: a problem that names what is wrong, and nothing left behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from edms.audit.models import AuditEvent
from edms.db import db
from edms.documents.models import Document, DocumentVersion
from tests.edms.api.conftest import PDF, fresh, multipart_body, problem, snapshot, upload


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


@pytest.fixture
def token(clerk, token_for):
    return token_for(clerk)


@pytest.fixture
def journal(make_journal):
    return make_journal("INC", prefix="IN")


GOOD = {"title": "Letter", "journal": "INC"}


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({**upload(), "journal": "INC"}, ["title"]),
        ({**upload(), **GOOD, "title": "   "}, ["title"]),
        ({**upload(), **GOOD, "title": "bell\x07"}, ["title"]),
        ({**upload(), **GOOD, "title": "x" * 501}, ["title"]),
        ({**upload(), **GOOD, "journal": "NOPE"}, ["journal"]),
        ({**upload(), "title": "Letter"}, ["journal"]),
        (GOOD, ["file"]),
        ({**upload(b""), **GOOD}, ["file"]),
        ({**upload(PDF, "../../etc/passwd"), **GOOD}, ["file"]),
        ({**upload(PDF, "bell\x07.pdf"), **GOOD}, ["file"]),
        ({**upload(PDF, "rtl\u202efdp.exe"), **GOOD}, ["file"]),
        ({**upload(PDF, "x" * 300 + ".pdf"), **GOOD}, ["file"]),
        ({**GOOD, "file": "a text part, not a file"}, ["file"]),
        ({**upload(), **GOOD, "document_type": "nope"}, ["document_type"]),
        ({**upload(), **GOOD, "department": "NOPE"}, ["department"]),
        ({**upload(), **GOOD, "language": "klingon"}, ["language"]),
        ({**upload(), **GOOD, "confidentiality": "secret"}, ["confidentiality"]),
        ({**upload(), **GOOD, "correspondent_kind": "alien"}, ["correspondent_kind"]),
        ({**upload(), **GOOD, "reply_to": "IN-1999/000001"}, ["reply_to"]),
        ({**upload(), **GOOD, "tittle": "typo"}, ["tittle"]),
        ({**upload(), "journal": "NOPE", "title": ""}, ["journal", "title"]),
        ({**upload(PDF, "../x.pdf"), "journal": "NOPE"}, ["file", "journal", "title"]),
    ],
)
def test_bad_registrations(api, token, journal, store, form, fields) -> None:
    before = snapshot(store)
    response = api.post("/documents", token, data=form, content_type="multipart/form-data")
    problem(response, 422, *fields)
    assert snapshot(store) == before


def test_a_backslash_in_the_file_name(api, token, journal, store) -> None:
    body = multipart_body(
        "b", [("title", None, b"t"), ("journal", None, b"INC"), ("file", "..\\evil.pdf", PDF)]
    )
    response = api.post(
        "/documents", token, data=body, content_type="multipart/form-data; boundary=b"
    )
    assert "path" in problem(response, 422, "file")["detail"]
    assert snapshot(store) == (0, [])


def test_a_file_part_wins_over_a_text_part_of_the_same_name(api, token, journal) -> None:
    form = MultiDict([("file", "text"), *upload().items(), *GOOD.items()])
    response = api.post("/documents", token, data=form)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["versions"][0]["original_filename"] == "letter.pdf"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("correspondent_tin", "12345"),
        ("correspondent_tin", "012345678"),
        ("correspondent_tin", "30123456X"),
        ("correspondent_pinfl", "123"),
        ("correspondent_pinfl", "71234567890123"),
    ],
)
def test_bad_identifiers_are_named_but_not_echoed(api, token, journal, store, field, value) -> None:
    before = snapshot(store)
    form = {**upload(), **GOOD, "correspondent_name": "Someone", field: value}
    body = problem(api.post("/documents", token, data=form), 422, field)
    assert value not in str(body)
    assert snapshot(store) == before


def test_an_identifier_of_the_wrong_kind(api, token, journal, store) -> None:
    form = {
        **upload(),
        **GOOD,
        "correspondent_kind": "person",
        "correspondent_name": "Ali",
        "correspondent_tin": "301234567",
    }
    problem(api.post("/documents", token, data=form), 422, "correspondent_tin")
    assert snapshot(store) == (0, [])


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"json": {**GOOD}}, 415, "multipart/form-data"),
        ({"data": {**GOOD}}, 415, "multipart/form-data"),  # urlencoded
        ({}, 415, "multipart/form-data"),
        (
            {
                "data": multipart_body("right", [("title", None, b"t"), ("file", "a.pdf", PDF)]),
                "content_type": "multipart/form-data; boundary=wrong",
            },
            400,
            "not valid multipart/form-data",
        ),
        (
            {
                # Cut inside the first part: werkzeug leaves a file part it gave up on unclosed.
                "data": multipart_body("b", [("title", None, b"t" * 50), ("file", "a.pdf", PDF)])[
                    :60
                ],
                "content_type": "multipart/form-data; boundary=b",
            },
            400,
            "not valid multipart/form-data",
        ),
        (
            {"data": b"just some bytes", "content_type": "multipart/form-data; boundary=b"},
            400,
            "not valid multipart/form-data",
        ),
        (
            {"data": multipart_body("b", []), "content_type": "multipart/form-data"},
            400,
            "boundary",
        ),
    ],
    ids=["json", "urlencoded", "no-body", "wrong-boundary", "truncated", "garbage", "no-boundary"],
)
def test_a_body_that_is_not_multipart(api, token, journal, store, kwargs, status, words) -> None:
    before = snapshot(store)
    body = problem(api.post("/documents", token, **kwargs), status)
    assert words in body["detail"]
    assert snapshot(store) == before


def _big_form(content: bytes, *, card: bool = True) -> dict:
    """A raw multipart body: the test client would spool a big one to a file it never closes."""
    parts: list[tuple[str, str | None, bytes]] = []
    if card:
        parts += [("title", None, b"Big"), ("journal", None, b"INC")]
    parts.append(("file", "big.pdf", content))
    return {"data": multipart_body("b", parts), "content_type": "multipart/form-data; boundary=b"}


def test_over_the_request_limit_is_413(app, api, token, journal, store, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    response = api.post("/documents", token, **_big_form(b"%PDF-1.4\n" + b"0" * 20_000))
    problem(response, 413)
    assert snapshot(store) == (0, [])


def test_over_the_file_limit_is_413(app, api, token, journal, store, monkeypatch) -> None:
    monkeypatch.setitem(app.config["EDMS"], "max_upload_mb", 1)
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024)
    body = problem(api.post("/documents", token, **_big_form(big)), 413)
    assert body["detail"].startswith("file:")
    assert snapshot(store) == (0, [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "two"}, "page"),
        ({"page": "0"}, "page"),
        ({"per_page": "1.5"}, "per_page"),
        ({"per_page": "100000"}, "per_page"),
        ({"direction": "sideways"}, "direction"),
        ({"status": "lost"}, "status"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-02-30"}, "date_to"),
        ({"sort": "-password"}, "sort"),
        ({"jurnal": "INC"}, "jurnal"),
    ],
)
def test_bad_filters_name_the_parameter(api, token, query, field) -> None:
    problem(api.get("/documents", token, query_string=query), 422, field)


@pytest.fixture
def doc(clerk, journal, make_document):
    return make_document(clerk, content=PDF, journal=journal)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"registration_number": "IN-2026/999999"}, ["registration_number"]),
        ({"title": "ok", "status": "archived"}, ["status"]),
        ({"title": None}, ["title"]),
        ({"title": ""}, ["title"]),
        ({"title": 42}, ["title"]),
        ({"language": "xx"}, ["language"]),
        ({"document_type": "nope"}, ["document_type"]),
        ({"correspondent_tin": "123"}, ["correspondent_tin", "correspondent_name"]),
        ([], ["_schema"]),
    ],
)
def test_bad_changes(api, token, doc, changes, fields) -> None:
    problem(api.patch(f"/documents/{doc.id}", token, json=changes), 422, *fields)
    assert fresh(Document, doc.id).title == "A test document"
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "document.update")
    ).all()


def test_a_patch_that_is_not_json(api, token, doc) -> None:
    problem(api.patch(f"/documents/{doc.id}", token, data={"title": "x"}), 415)
    body = problem(
        api.patch(f"/documents/{doc.id}", token, data="{not json", content_type="application/json"),
        400,
        "_",
    )
    assert "JSON" in body["detail"]


def _versions(doc: Document) -> int | None:
    return db.session.scalar(
        select(func.count())
        .select_from(DocumentVersion)
        .where(DocumentVersion.document_id == doc.id)
    )


@pytest.mark.parametrize(
    ("form", "status", "fields"),
    [
        ({}, 400, []),
        ({"comment": "no file"}, 422, ["file"]),
        (upload(b""), 422, ["file"]),
        (upload(PDF, "../x.pdf"), 422, ["file"]),
        ({**upload(b"%PDF-1.4\n%new\n"), "comment": "bell\x07"}, 422, ["comment"]),
        ({**upload(b"%PDF-1.4\n%new\n"), "extra": "x"}, 422, ["extra"]),
    ],
)
def test_bad_versions(api, token, doc, store, form, status, fields) -> None:
    before = sorted(store.keys())
    response = api.post(
        f"/documents/{doc.id}/versions", token, data=form, content_type="multipart/form-data"
    )
    problem(response, status, *fields)
    assert _versions(doc) == 1
    assert sorted(store.keys()) == before


def test_an_oversized_version_is_413(app, api, token, doc, store, monkeypatch) -> None:
    monkeypatch.setitem(app.config["EDMS"], "max_upload_mb", 1)
    big = b"%PDF-1.4\n" + b"1" * (1024 * 1024)
    problem(api.post(f"/documents/{doc.id}/versions", token, **_big_form(big, card=False)), 413)
    assert _versions(doc) == 1
    assert len(list(store.keys())) == 1
