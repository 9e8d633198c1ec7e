"""The public /verify page and POST /api/v1/verify: by code, by file, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from edms.auth.models import Role, User
from edms.auth.services import create_token
from edms.db import db
from edms.documents.models import Document
from tests.conftest import bearer, csrf_token, login
from tests.edms.api.conftest import multipart_body, problem
from tests.edms.signing.conftest import flip_byte, upload, version_bytes
from tests.edms.ui.conftest import text_of
from tests.edms.ui.test_accessibility import check_page
from tests.signing.pdfs import encrypted_pdf, minimal_pdf

URL = "/verify"
API = "/api/v1/verify"


def _post_file(client: FlaskClient, content: bytes | None, **extra: str) -> TestResponse:
    data: dict[str, Any] = {"csrf_token": csrf_token(client, URL), **extra}
    if content is not None:
        data["file"] = upload(content)
    return client.post(URL, data=data, content_type="multipart/form-data")


# The page ---------------------------------------------------------------------------


def test_a_code_shows_the_registration_but_not_the_title(
    client: FlaskClient, signed_document: Document
) -> None:
    code = signed_document.verification_code
    assert code is not None
    typed = code.lower().replace("-", " ").replace("0", "o")
    reply = client.get(URL, query_string={"code": typed})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    assert signed_document.registration_number in text
    assert signed_document.title not in text
    assert "Valid signature" in text
    assert "Signer 1, Ministry (demo)" in text
    assert "PAdES B-T" in text
    assert "this signature certifies the document" in text
    assert "Compare a file with the registered document" in text


def test_an_uploaded_copy_is_compared_with_the_registered_document(
    client: FlaskClient, signed_document: Document
) -> None:
    code = signed_document.verification_code
    assert code is not None
    data = version_bytes(signed_document)
    reply = _post_file(client, data, document_code=code)
    assert reply.status_code == 200
    assert "This file is identical to the registered document." in text_of(
        reply.get_data(as_text=True)
    )
    reply = _post_file(client, minimal_pdf(), document_code=code)
    text = text_of(reply.get_data(as_text=True))
    assert "This file is not identical to the registered document" in text
    assert "This PDF carries no electronic signature." in text


def test_an_upload_is_checked_and_a_changed_byte_is_found(
    client: FlaskClient, signed_document: Document
) -> None:
    data = version_bytes(signed_document)
    reply = _post_file(client, data)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert "Valid signature" in text_of(html)
    assert signed_document.registration_number not in html  # a file alone names no document

    reply = _post_file(client, flip_byte(data))
    assert reply.status_code == 200
    text = text_of(reply.get_data(as_text=True))
    assert "Invalid signature" in text
    assert "the document was changed after signing" in text


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"GIF89a not a pdf at all", 422, "This file is not a PDF we can read."),
        (encrypted_pdf(), 422, "protected by a password"),
        (minimal_pdf(), 422, "carries no electronic signature"),
        (b"", 422, "the file is empty"),
        (None, 422, "a file is required"),
    ],
    ids=["garbage", "encrypted", "unsigned", "empty", "no file"],
)
def test_files_that_cannot_be_checked_get_a_clear_message(
    client: FlaskClient, content: bytes | None, status: int, words: str
) -> None:
    reply = _post_file(client, content)
    assert reply.status_code == status
    html = reply.get_data(as_text=True)
    assert words in text_of(html)
    check_page(html, "en")


def test_a_file_over_the_limit_is_refused(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config["EDMS"], "signing_verify_max_mb", 1)
    # The body is written by hand: the test client spools large ones to a file it never closes.
    boundary = "verify-boundary"
    body = multipart_body(
        boundary,
        [
            ("csrf_token", None, csrf_token(client, URL).encode()),
            ("file", "big.pdf", b"%PDF-1.7\n" + b"0" * (1024 * 1024)),
        ],
    )
    reply = client.post(URL, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert reply.status_code == 413
    assert "larger than the limit of 1 MB" in text_of(reply.get_data(as_text=True))


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("ZZZZ-ZZZZ-ZZZZ", 404, "No document has this verification code."),
        ("not a code", 422, "must be 12 letters and digits"),
    ],
)
def test_unknown_and_malformed_codes(
    client: FlaskClient, code: str, status: int, words: str
) -> None:
    reply = client.get(URL, query_string={"code": code})
    assert reply.status_code == status
    assert words in text_of(reply.get_data(as_text=True))


def test_the_page_is_public_and_translated(client: FlaskClient) -> None:
    reply = client.get(URL, headers={"Accept-Language": "ru"})
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    check_page(html, "ru")
    assert "Проверить" in html


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    reply = client.post(
        URL, data={"file": upload(minimal_pdf())}, content_type="multipart/form-data"
    )
    assert reply.status_code in (400, 422)


# The API --------------------------------------------------------------------------------


def test_the_api_verifies_a_file_and_a_code(client: FlaskClient, signed_document: Document) -> None:
    data = version_bytes(signed_document)
    reply = client.post(API, data={"file": upload(data)}, content_type="multipart/form-data")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["indication"] == "TOTAL_PASSED"
    assert body["certified"] is True
    seal, sig = body["signatures"]
    assert seal["field"] == "Certification"
    assert seal["certification"] == "FILL_FORMS"
    assert seal["signer"]["common_name"] == "Ministry (demo) (e-seal)"
    assert sig["field"] == "Visa"
    assert sig["signer"]["common_name"] == "Signer 1"
    assert sig["etsi_report"] is None
    assert "document" not in body

    code = signed_document.verification_code
    reply = client.post(API, json={"code": code, "format": "etsi"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["document"] == {
        "registration_number": signed_document.registration_number,
        "registered_on": signed_document.registration_date.isoformat(),
    }
    assert "title" not in str(body)
    assert "ValidationReport" in body["signatures"][0]["etsi_report"]

    reply = client.post(
        f"{API}?xml=1",
        data={"file": upload(flip_byte(data)), "code": str(code)},
        content_type="multipart/form-data",
    )
    body = reply.get_json()
    assert body["identical_to_registered"] is False
    assert body["indication"] == "TOTAL_FAILED"
    assert body["signatures"][0]["sub_indication"] == "HASH_FAILURE"
    assert body["signatures"][0]["etsi_report"]


def test_api_errors_are_problems_naming_the_field(client: FlaskClient) -> None:
    problem(client.post(API, json={}), 422, "file")
    problem(client.post(API, json={"code": "ZZZZ-ZZZZ-ZZZZ"}), 404)
    problem(client.post(API, json={"code": "nope"}), 422, "code")
    body = problem(
        client.post(API, data={"file": upload(b"garbage")}, content_type="multipart/form-data"),
        422,
        "file",
    )
    assert body["problem"] == "NOT_A_PDF"
    problem(client.post(f"{API}?debug=1", json={"code": "ZZZZ-ZZZZ-ZZZZ"}), 422, "debug")
    # No token is needed; a token that does not work is refused rather than ignored.
    problem(client.post(API, json={"code": "nope"}, headers=bearer("edms_not-a-token")), 401)


def test_the_api_accepts_a_valid_token_and_is_documented(
    client: FlaskClient, ctx: Flask, make_user: Callable[..., User], signed_document: Document
) -> None:
    _, token = create_token(make_user(Role.CLERK), "tests")
    db.session.commit()
    reply = client.post(
        API, json={"code": signed_document.verification_code}, headers=bearer(token)
    )
    assert reply.status_code == 200
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/verify"]["post"]
    assert operation["security"] == []
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/json"}


def test_other_departments_learn_only_the_registration(
    client: FlaskClient, make_user: Callable[..., User], signed_document: Document
) -> None:
    """/verify is public: a stranger to the document sees its number and date, no more."""
    login(client, make_user(Role.CLERK))
    reply = client.get(URL, query_string={"code": signed_document.verification_code})
    assert reply.status_code == 200
    text = text_of(reply.get_data(as_text=True))
    assert signed_document.registration_number in text
    assert signed_document.title not in text
    assert f"/documents/{signed_document.id}" not in reply.get_data(as_text=True)
