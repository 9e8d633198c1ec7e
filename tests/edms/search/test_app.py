"""Search in the application: the queue, the indexer, rights, the page, the API, the CLI."""

from __future__ import annotations

import io
import os
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from edms.auth.models import Role, User
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import AccessReason, Document
from edms.errors import ValidationError
from edms.search import services
from edms.search.models import DocumentText, SavedSearch, SearchQueue
from tests.conftest import bearer, csrf_token, login
from tests.edms.ui.test_accessibility import check_page


@pytest.fixture(params=["whoosh", "postgres"])
def index(app: Flask, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh index for the test, of each backend (the database rolls back after each
    test; an index shared between tests would keep their entries). The PostgreSQL
    backend gets a schema of its own (it writes through its own connections)."""
    settings = app.config["EDMS"]
    before = (settings["search_index_dir"], settings["search_backend"])
    settings["search_index_dir"] = str(tmp_path / "search")
    app.extensions.pop("edms.search", None)
    pg = None
    if request.param == "postgres":
        url = os.environ.get("EDMS_TEST_DATABASE_URL", "")
        if not url.startswith("postgresql"):
            pytest.skip("the PostgreSQL backend needs EDMS_TEST_DATABASE_URL (PostgreSQL)")
        from edms.search.pg_backend import PostgresBackend

        pg = PostgresBackend.for_tests(url)
        settings["search_backend"] = "postgres"
        app.extensions["edms.search"] = {"backend": pg, "pid": os.getpid()}
    try:
        yield tmp_path / "search"
    finally:
        settings["search_index_dir"], settings["search_backend"] = before
        app.extensions.pop("edms.search", None)
        if pg is not None:
            pg.drop()


@pytest.fixture
def whoosh_index(index: Path, app: Flask) -> Path:
    if app.config["EDMS"]["search_backend"] != "whoosh":
        pytest.skip("a Whoosh directory only")
    return index


def _register(
    user: User, journal: Any, title: str, body: bytes, filename: str = "a.txt"
) -> Document:
    doc = documents.register(
        user,
        {"title": title, "journal": journal.code},
        documents.Upload(filename, io.BytesIO(body)),
    )
    db.session.commit()
    return doc


def _search(user: User, **raw: Any) -> tuple[int, list[str]]:
    _query, results, docs = services.search(user, raw)
    return results.total, [d.title for d in docs]


def test_changes_are_queued_in_the_same_transaction_and_indexed(
    ctx: Flask, index: Path, make_user: Callable[..., User], make_journal: Callable[..., Any]
) -> None:
    clerk = make_user(Role.CLERK)
    journal = make_journal()
    doc = _register(clerk, journal, "Annual report", "Yillik hisobot: gʻalla va paxta.".encode())
    queued = list(db.session.scalars(select(SearchQueue).where(SearchQueue.document_id == doc.id)))
    assert queued
    assert any(q.extract for q in queued)
    assert services.drain_all() >= 1
    assert db.session.scalar(select(func.count()).select_from(SearchQueue)) == 0
    text = db.session.get(DocumentText, doc.id)
    assert text is not None
    assert text.status == "ok"
    # Found by a word of the file, in another spelling of the apostrophe and in Cyrillic.
    assert _search(clerk, q="g'alla") == (1, ["Annual report"])
    assert _search(clerk, q="ғалла")[0] == 1
    assert _search(clerk, q="hisob*")[0] == 1
    _query, results, _docs = services.search(clerk, {"q": "paxta"})
    assert "<mark>" in results.hits[0].snippet
    # An edit of the card is queued too and reaches the index.
    documents.update_metadata(clerk, doc, {"title": "Quarterly report"})
    db.session.commit()
    services.drain_all()
    assert _search(clerk, q="quarterly")[1] == ["Quarterly report"]


def test_results_counts_and_facets_only_show_what_the_user_may_see(
    ctx: Flask, index: Path, make_user: Callable[..., User], make_journal: Callable[..., Any]
) -> None:
    owner = make_user(Role.CLERK)
    stranger = make_user(Role.CLERK)
    archivist = make_user(Role.RECORDS_OFFICER)
    journal = make_journal()
    doc = _register(owner, journal, "Secret tender", b"tender for the new bridge")
    services.drain_all()
    assert _search(owner, q="bridge")[0] == 1
    assert _search(archivist, q="bridge")[0] == 1
    _query, results, docs = services.search(stranger, {"q": "bridge"})
    assert (results.total, docs) == (0, [])
    assert all(not counts for counts in results.facets.values())
    # Shared with the stranger: the right reaches the index.
    documents.grant_access(owner, doc, stranger, AccessReason.SHARED)
    db.session.commit()
    services.drain_all()
    assert _search(stranger, q="bridge")[0] == 1


def test_a_hostile_file_is_registered_and_found_by_its_title(
    ctx: Flask, index: Path, make_user: Callable[..., User], make_journal: Callable[..., Any]
) -> None:
    clerk = make_user(Role.CLERK)
    journal = make_journal()
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document>" + "A" * (60 * 1024 * 1024))
    doc = _register(clerk, journal, "Broken contract", bomb.getvalue(), "contract.docx")
    services.drain_all()
    text = db.session.get(DocumentText, doc.id)
    assert text is not None
    assert text.status == "failed"
    assert text.reason
    assert _search(clerk, q="contract")[1] == ["Broken contract"]


def test_bad_queries_are_named(ctx: Flask, index: Path, make_user: Callable[..., User]) -> None:
    clerk = make_user(Role.CLERK)
    with pytest.raises(ValidationError) as bad:
        services.search(clerk, {"q": "ab*"})
    assert "q" in bad.value.errors
    with pytest.raises(ValidationError) as bad:
        services.search(clerk, {"date_from": "yesterday", "sort": "size"})
    assert set(bad.value.errors) == {"date_from", "sort"}
    # SQL and markup are words like any other.
    assert _search(clerk, q="'; DROP TABLE documents; --")[0] == 0
    assert _search(clerk, q="<script>alert(1)</script>")[0] == 0


def test_a_deleted_index_is_rebuilt_from_the_database(
    ctx: Flask, whoosh_index: Path, make_user: Callable[..., User], make_journal: Callable[..., Any]
) -> None:
    clerk = make_user(Role.CLERK)
    journal = make_journal()
    _register(clerk, journal, "Water supply", b"pipes and pumps")
    services.drain_all()
    assert _search(clerk, q="pumps")[0] == 1
    shutil.rmtree(whoosh_index)
    # Never a 500: an empty answer that says the index is being rebuilt...
    _query, results, _docs = services.search(clerk, {"q": "pumps"})
    assert (results.total, results.note) == (0, services.REBUILDING)
    # ... which the indexer does in its next round, from the database.
    services.drain()
    assert _search(clerk, q="pumps")[0] == 1
    assert services.reindex() == 1  # `edms search reindex` does the same on demand
    assert _search(clerk, q="pumps")[0] == 1


def test_the_api_and_the_page(
    client: FlaskClient,
    index: Path,
    make_user: Callable[..., User],
    make_journal: Callable[..., Any],
) -> None:
    from edms.auth.services import create_token

    clerk = make_user(Role.CLERK)
    journal = make_journal()
    _register(clerk, journal, "Licence for <b>Savdo</b>", b"licence granted to Savdo LLC")
    services.drain_all()
    _, token = create_token(clerk, "tests")
    db.session.commit()
    reply = client.get("/api/v1/search?q=savdo", headers=bearer(token))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert body["total"] == 1
    [hit] = body["hits"]
    assert hit["title"] == "Licence for <b>Savdo</b>"
    assert "<mark>" in hit["snippet"]
    assert body["facets"]["year"]
    reply = client.get("/api/v1/search?q=ab*", headers=bearer(token))
    assert reply.status_code == 422
    assert reply.mimetype == "application/problem+json"
    assert [e["field"] for e in reply.get_json()["errors"]] == ["q"]
    assert client.get("/api/v1/search?q=x").status_code == 401

    login(client, clerk)
    page = client.get("/search?q=savdo")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_page(html, "en")  # one h1, labelled controls, landmarks, no duplicate ids
    assert "Licence for &lt;b&gt;Savdo&lt;/b&gt;" in html
    assert "<mark>" in html
    token = csrf_token(client, "/search?q=savdo")
    reply = client.post("/search/saved", data={"csrf_token": token, "name": "Savdo", "q": "savdo"})
    assert reply.status_code == 302
    [saved] = db.session.scalars(select(SavedSearch).where(SavedSearch.user_id == clerk.id))
    assert saved.params == {"q": "savdo"}
    other = make_user(Role.CLERK)
    login(client, other)
    token = csrf_token(client, "/search")
    assert (
        client.post(f"/search/saved/{saved.id}/delete", data={"csrf_token": token}).status_code
        == 404
    )


def test_concurrent_uploads_all_become_searchable(committing_app: Flask, tmp_path: Path) -> None:
    from edms.auth import services as auth
    from edms.registry import services as registry

    app = committing_app
    app.config["EDMS"]["search_index_dir"] = str(tmp_path / "search")
    app.extensions.pop("edms.search", None)
    with app.app_context():
        auth.create_department("D1", "Department")
        clerk = auth.create_user("clerk1", [Role.CLERK], password=None, department_code="D1")
        registry.create_journal("J1", "J1", "Journal", "incoming")
        db.session.commit()
        clerk_id = clerk.id
    stop = threading.Event()
    errors: list[BaseException] = []

    def indexer() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    services.drain()
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                    return
                stop.wait(0.05)

    def upload(n: int) -> None:
        try:
            with app.app_context():
                user = db.session.get(User, clerk_id)
                assert user is not None
                for i in range(5):
                    _register(
                        user, registry.get_journal("J1"), f"Upload {n}-{i}", f"word{n}x{i}".encode()
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=indexer)
    worker.start()
    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    worker.join()
    assert errors == []
    with app.app_context():
        services.drain_all()
        user = db.session.get(User, clerk_id)
        assert user is not None
        assert services.backend().count() == 20
        assert _search(user, q="word3x4")[0] == 1


def test_the_indexer_thread_makes_a_new_document_searchable_within_two_seconds(
    committing_app: Flask, tmp_path: Path
) -> None:
    import time

    from edms.auth import services as auth
    from edms.registry import services as registry
    from edms.search.runner import start_indexer, stop_indexer

    app = committing_app
    app.config["EDMS"]["search_index_dir"] = str(tmp_path / "search")
    app.extensions.pop("edms.search", None)
    with app.app_context():
        auth.create_department("D1", "Department")
        auth.create_user("clerk1", [Role.CLERK], password=None, department_code="D1")
        journal = registry.create_journal("J1", "J1", "Journal", "incoming")
        db.session.commit()
    start_indexer(app, force=True)
    try:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == "clerk1"))
            assert user is not None
            _register(user, journal, "Fresh letter", b"zarafshon vodiysi")
            saved = time.monotonic()
            found = 0
            while time.monotonic() - saved < 2.0 and not found:
                found = _search(user, q="zarafshon")[0]
                # End the transaction as a request does (on SQLite it holds the lock).
                db.session.commit()
                if not found:
                    time.sleep(0.05)
            assert found == 1, "not searchable within 2 s"
    finally:
        stop_indexer(app, timeout=60)
