"""With the file storage down, uploads answer 503 and leave nothing behind."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from edms.db import db
from edms.documents.models import Document
from storage import MemoryStore
from tests.conftest import bearer, csrf_token, login


def _outage(app) -> None:
    down = MemoryStore()
    down.available = False
    app.extensions["edms.storage"] = down


def _documents() -> int:
    return db.session.scalar(select(func.count()).select_from(Document)) or 0


def test_api_upload_during_an_outage(app, client, ctx, make_user, make_journal) -> None:
    from edms.auth.services import create_token

    clerk = make_user("clerk")
    journal = make_journal()
    _, token = create_token(clerk)
    db.session.commit()
    _outage(app)
    reply = client.post(
        "/api/v1/documents",
        headers=bearer(token),
        data={"title": "T", "journal": journal.code, "file": (io.BytesIO(b"%PDF-1.4\n"), "a.pdf")},
    )
    assert reply.status_code == 503
    assert reply.mimetype == "application/problem+json"
    assert "storage" in reply.get_json()["detail"]
    assert _documents() == 0
    assert client.get("/healthz").status_code == 503


def test_form_upload_during_an_outage(app, client, ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    login(client, clerk)
    token = csrf_token(client, "/documents/new")
    _outage(app)
    reply = client.post(
        "/documents/new",
        data={
            "csrf_token": token,
            "title": "T",
            "journal": journal.code,
            "file": (io.BytesIO(b"%PDF-1.4\n"), "a.pdf"),
        },
    )
    assert reply.status_code == 503
    assert "storage is unavailable" in reply.get_data(as_text=True)
    assert _documents() == 0
