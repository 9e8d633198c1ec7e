"""Fixtures and helpers of the API tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from edms.auth.models import User
from edms.auth.services import create_token
from edms.db import db
from edms.documents.models import Document
from storage import LocalStore
from tests.conftest import bearer

M = TypeVar("M")

V1 = "/api/v1"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PROBLEM = "application/problem+json"


class ApiClient:
    """The test client with a token, the /api/v1 prefix and buffered replies.

    Its requests run in application contexts of their own (``IsolatedClient``), so
    their end (rollback, removal of an orphan file, deferred audit writes) happens
    as in production.
    """

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def open(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers.update(bearer(token))
        url = path if path.startswith("/api/") else V1 + path
        response: TestResponse = self.client.open(
            url, method=method, headers=headers, buffered=True, **kwargs
        )
        return response

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.open("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.open("POST", path, token, **kwargs)

    def patch(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.open("PATCH", path, token, **kwargs)

    def delete(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.open("DELETE", path, token, **kwargs)


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def make_user(make_user: Callable[..., User]) -> Callable[..., User]:
    """Users without a password: API clients use tokens, and hashing one is slow."""

    def make(*args: Any, **kwargs: Any) -> User:
        kwargs.setdefault("password", None)
        return make_user(*args, **kwargs)

    return make


@pytest.fixture
def token_for(ctx: Any) -> Callable[[User], str]:
    def make(user: User) -> str:
        _, plain = create_token(user, "tests")
        db.session.commit()
        return plain

    return make


def upload(content: bytes = PDF, filename: str = "letter.pdf", **fields: Any) -> dict[str, Any]:
    """A multipart form: the file and the other fields."""
    return {"file": (io.BytesIO(content), filename), **fields}


def multipart_body(boundary: str, parts: Sequence[tuple[str, str | None, bytes]]) -> bytes:
    """A multipart/form-data body written by hand: (name, file name or None, content) parts.

    Names are written as given (quotes escaped with a backslash), unlike the test
    client, so tests control exactly what the server parses.
    """
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
            disposition += f'; filename="{escaped}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def problem(response: TestResponse, status: int, *fields: str) -> dict[str, Any]:
    """Check an RFC 9457 reply and that ``errors`` names exactly ``fields``; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.path
    named = sorted(error["field"] for error in body.get("errors", []))
    assert named == sorted(fields), body
    return body


def snapshot(store: LocalStore) -> tuple[int, list[str]]:
    """How many documents there are and which files are stored."""
    count = db.session.scalar(select(func.count()).select_from(Document)) or 0
    return count, sorted(store.keys())


def fresh(model: type[M], key: object) -> M:
    """The row as the database has it now, not as the test's session remembers it."""
    row = db.session.get(model, key, populate_existing=True)
    assert row is not None
    return row
