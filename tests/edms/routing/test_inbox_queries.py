"""The inbox takes the same number of queries for 10 tasks as for 100 (no N+1)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from edms.db import db
from edms.documents import services as documents
from edms.routing import services as routing
from tests.conftest import login
from tests.edms.routing.conftest import Org
from tests.edms.ui.conftest import text_of


@contextmanager
def count_statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    engine = app.extensions["edms.db"]["engine"]
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def reports(org: Org, definitions: dict[str, Any]) -> Callable[[int], None]:
    """Give the statistician ``n`` more open tasks, each on a document of its own."""
    made = 0

    def make(n: int) -> None:
        nonlocal made
        for _ in range(n):
            made += 1
            doc = documents.register(
                org.clerk,
                {
                    "title": f"Report {made}",
                    "journal": org.incoming.code,
                    "document_type": "report",
                },
                documents.Upload(f"r{made}.txt", io.BytesIO(f"report {made}".encode())),
            )
            routing.start(org.clerk, doc, "statistical_report")
        db.session.commit()

    return make


def _queries(app: Flask, client: FlaskClient, url: str, **kwargs: Any) -> int:
    """Statements of one request (asked twice: the first may note the token's last use)."""
    client.get(url, **kwargs).get_data()
    with count_statements(app) as statements:
        reply = client.get(url, **kwargs)
        reply.get_data()
    assert reply.status_code == 200
    return len(statements)


def test_the_inbox_query_count_does_not_grow(
    app: Flask,
    client: FlaskClient,
    org: Org,
    reports: Callable[[int], None],
    token_for: Callable[..., str],
) -> None:
    bearer = {"Authorization": f"Bearer {token_for(org.statistician)}"}
    login(client, org.statistician)
    counts: dict[int, tuple[int, int, int]] = {}
    for more, total in ((10, 10), (90, 100)):
        reports(more)
        db.session.expire_all()
        with count_statements(app) as statements:
            page = routing.inbox(org.statistician, {"per_page": "200"})
            for task in page.items:  # what the page and the API read of each task
                assert task.document.registration_number
                assert task.instance.definition.code == "statistical_report"
                assert task.on_behalf_of is None
                assert task.decided_by is None
        assert page.total == len(page.items) == total
        service = len(statements)
        html = client.get("/inbox?per_page=200").get_data(as_text=True)
        assert text_of(html).count("Report ") == total
        pages = _queries(app, client, "/inbox?per_page=200")
        api = _queries(app, client, "/api/v1/tasks?per_page=200", headers=bearer)
        counts[total] = (service, pages, api)
    assert counts[10] == counts[100], counts
