"""The route pages: the inbox, the decision page, the route section of a document."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edms.db import db, utcnow
from edms.documents.models import Document
from edms.routing import services as routing
from edms.routing.models import Task, WorkflowInstance
from tests.conftest import csrf_token, login
from tests.edms.api.conftest import fresh
from tests.edms.routing.conftest import Org, open_task
from tests.edms.ui.conftest import Page, text_of
from tests.edms.ui.test_accessibility import check_page


@pytest.fixture(scope="module", autouse=True)
def _compiled(app: Flask) -> None:
    from edms.extensions import babel
    from tests.edms.ui.conftest import compile_catalogues

    compile_catalogues()
    with app.app_context():
        babel.domain_instance.cache.clear()


def _start(org: Org, doc: Document, code: str = "outgoing_letter") -> WorkflowInstance:
    instance = routing.start(org.clerk, doc, code)
    db.session.commit()
    return instance


def test_a_clerk_starts_and_cancels_a_route_on_the_document_page(
    client: FlaskClient, org: Org, letter: Document
) -> None:
    login(client, org.clerk)
    url = f"/documents/{letter.id}"
    html = client.get(url).get_data(as_text=True)
    page = check_page(html, "en")
    assert page.find("select", id="definition")
    assert 'value="outgoing_letter"' in html
    token = csrf_token(client, url)

    # Without the CSRF token nothing starts.
    assert client.post(f"{url}/route", data={"definition": "outgoing_letter"}).status_code == 400
    assert routing.current_instance(letter) is None

    reply = client.post(f"{url}/route", data={"csrf_token": token, "definition": "nope"})
    assert reply.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "unknown workflow definition" in html
    assert routing.current_instance(letter) is None

    reply = client.post(f"{url}/route", data={"csrf_token": token, "definition": "outgoing_letter"})
    assert reply.status_code == 302
    assert reply.headers["Location"].endswith(f"{url}#route")
    html = client.get(url).get_data(as_text=True)
    check_page(html, "en")
    assert "Route “Outgoing letter” started." in html
    page = Page(html)
    svg = page.find("svg", role="img")
    assert svg
    assert svg[0]["aria-labelledby"]
    words = text_of(html)
    assert "Stages and decisions" in words
    assert "Visas — Current stage" in words
    assert "Test approver: To decide" in words  # the lawyer's visa
    assert "Route started" in words or "Route “Outgoing letter” started" in words
    assert page.find("input", id="reason")

    # A second start is refused with a message, not an error page.
    reply = client.post(f"{url}/route", data={"csrf_token": token, "definition": "outgoing_letter"})
    html = client.get(url).get_data(as_text=True)
    assert "already running" in html

    reply = client.post(f"{url}/route/cancel", data={"csrf_token": token, "reason": "Oops"})
    assert reply.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "The route has been cancelled." in html
    assert "Route cancelled" in text_of(html)  # the history
    assert fresh(Document, letter.id).status == "registered"


def test_readers_see_the_route_but_no_buttons(
    client: FlaskClient, org: Org, letter: Document
) -> None:
    _start(org, letter)
    login(client, org.head)  # same department, an approver: may read, not route
    html = client.get(f"/documents/{letter.id}").get_data(as_text=True)
    check_page(html, "en")
    assert 'role="img"' in html
    assert 'id="definition"' not in html
    assert "Cancel the route" not in html


def test_inbox_shows_overdue_first_and_on_behalf_of(
    client: FlaskClient,
    org: Org,
    definitions: dict[str, Any],
    make_document: Callable[..., Document],
) -> None:
    now = utcnow()
    first = make_document(
        org.clerk, journal=org.incoming, title="Fresh report", document_type="report"
    )
    late = make_document(
        org.clerk, journal=org.incoming, title="Late report", document_type="report"
    )
    routing.start(org.clerk, first, "statistical_report", now=now)
    routing.start(org.clerk, late, "statistical_report", now=now - timedelta(days=30))
    db.session.commit()

    login(client, org.statistician)
    html = client.get("/inbox").get_data(as_text=True)
    check_page(html, "en")
    words = text_of(html)
    assert words.index("Late report") < words.index("Fresh report")
    assert "Overdue" in words
    assert "You have 2 open tasks. 1 of them is overdue." in words
    # The header counter, for screen readers in words.
    assert "Inbox 2 1 ! (2 open tasks, 1 overdue)" in words

    html = client.get("/inbox?overdue=true").get_data(as_text=True)
    assert "Late report" in html
    assert "Fresh report" not in html
    html = client.get("/inbox?stage=visas").get_data(as_text=True)
    assert "No tasks match these filters." in html
    reply = client.get("/inbox?status=weird")
    assert reply.status_code == 422
    check_page(reply.get_data(as_text=True), "en")
    assert 'href="#status"' in reply.get_data(as_text=True)


def test_decision_page_shows_the_pdf_inline_and_records_a_decision(
    client: FlaskClient, org: Org, letter: Document
) -> None:
    instance = _start(org, letter)
    task = open_task(instance, "lawyer")
    login(client, org.lawyer)
    url = f"/tasks/{task.id}"
    html = client.get(url).get_data(as_text=True)
    page = check_page(html, "en")
    frames = page.find("iframe")
    assert frames
    assert frames[0]["src"] == f"/documents/{letter.id}/view"
    assert frames[0]["title"]
    assert page.find("svg", role="img")
    assert [r["value"] for r in page.find("input", type="radio")] == ["approve", "reject", "return"]
    assert "No decisions yet." in html

    shown = client.get(f"/documents/{letter.id}/view", buffered=True)
    assert shown.status_code == 200
    assert shown.mimetype == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith("inline")
    policy = shown.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy  # loads nothing, runs nothing of this site
    assert "frame-ancestors 'self'" in policy  # framed only here
    assert "sandbox" not in policy  # browsers refuse their PDF viewer in a sandbox

    token = csrf_token(client, url)
    assert client.post(url, data={"decision": "approve"}).status_code == 400  # no CSRF token
    assert fresh(Task, task.id).status == "open"

    reply = client.post(url, data={"csrf_token": token, "decision": "", "comment": "x"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert 'href="#decision"' in html

    reply = client.post(
        url, data={"csrf_token": token, "decision": "approve", "return_to": "", "comment": "Fine"}
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert fresh(Task, task.id).decision == "approve"
    html = client.get(url).get_data(as_text=True)
    check_page(html, "en")
    assert "Your decision is recorded: Approved." in html
    words = text_of(html)
    assert "Visas Test approver Approved Fine" in words  # the decisions table
    assert 'type="radio"' not in html  # decided: no form any more

    # The head's visa now; a repeated POST of the old task is a 409 page.
    reply = client.post(url, data={"csrf_token": token, "decision": "approve"})
    assert reply.status_code == 409
    assert "not open any more" in reply.get_data(as_text=True)


def test_a_file_that_is_not_pdf_is_offered_for_download(
    client: FlaskClient,
    org: Org,
    definitions: dict[str, Any],
    make_document: Callable[..., Document],
) -> None:
    doc = make_document(
        org.clerk, content=b"plain words\n", filename="note.txt", journal=org.incoming
    )
    instance = _start(org, doc, "statistical_report")
    login(client, org.statistician)
    html = client.get(f"/tasks/{open_task(instance, 'statistician').id}").get_data(as_text=True)
    assert "<iframe" not in html
    assert "This file cannot be shown in the browser." in html
    assert "Download note.txt" in text_of(html)
    reply = client.get(f"/documents/{doc.id}/view", buffered=True)
    assert reply.headers["Content-Disposition"].startswith("attachment")


def test_return_to_an_earlier_stage_and_resubmit_in_the_pages(
    client: FlaskClient, org: Org, letter: Document
) -> None:
    instance = _start(org, letter)
    for name in ("lawyer", "head"):
        routing.decide(getattr(org, name), open_task(instance, name).id, "approve")
        db.session.commit()
    signature = open_task(instance, "head")
    login(client, org.head)
    url = f"/tasks/{signature.id}"
    html = client.get(url).get_data(as_text=True)
    check_page(html, "en")
    assert [r["value"] for r in Page(html).find("input", type="radio")] == [
        "sign",
        "reject",
        "return",
    ]
    assert "This stage needs your signature" in html
    assert "You have no signing credential yet." in html
    assert 'value="visas"' in html

    token = csrf_token(client, url)
    reply = client.post(url, data={"csrf_token": token, "decision": "sign"})
    assert reply.status_code == 409
    assert "no signing credential" in reply.get_data(as_text=True)

    reply = client.post(url, data={"csrf_token": token, "decision": "return", "comment": "Redo"})
    assert reply.status_code == 302
    assert fresh(WorkflowInstance, instance.id).status == "returned"

    login(client, org.clerk)
    doc_url = f"/documents/{letter.id}"
    html = client.get(doc_url).get_data(as_text=True)
    check_page(html, "en")
    assert "Resubmit" in html
    token = csrf_token(client, doc_url)
    reply = client.post(f"{doc_url}/route/resubmit", data={"csrf_token": token})
    assert reply.status_code == 302
    assert fresh(WorkflowInstance, instance.id).status == "running"
    assert "The document has been sent on again." in client.get(doc_url).get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "heading"), [("ru", "Входящие задачи"), ("uz", "Kiruvchi vazifalar")]
)
def test_the_inbox_speaks_the_users_language(
    client: FlaskClient, org: Org, letter: Document, lang: str, heading: str
) -> None:
    instance = _start(org, letter)
    login(client, org.lawyer)
    token = csrf_token(client, "/inbox")
    client.post("/language", data={"csrf_token": token, "lang": lang, "next": "/inbox"})
    html = client.get("/inbox").get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in html
    task_html = client.get(f"/tasks/{open_task(instance, 'lawyer').id}").get_data(as_text=True)
    check_page(task_html, lang)
    assert re.search(r"Визы|Vizalar", task_html)


def test_licence_request_decided_in_the_pages(
    client: FlaskClient,
    org: Org,
    definitions: dict[str, Any],
    make_document: Callable[..., Document],
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Licence", document_type="licence")
    login(client, org.clerk)
    token = csrf_token(client, f"/documents/{doc.id}")
    reply = client.post(
        f"/documents/{doc.id}/route", data={"csrf_token": token, "definition": "licence_request"}
    )
    assert reply.status_code == 302
    instance = routing.current_instance(doc)
    assert instance is not None
    # Two approvals of three carry the review; a rejection only counts against them.
    for name, decision in (
        ("lawyer", "approve"),
        ("licensor", "reject"),
        ("statistician", "approve"),
    ):
        login(client, getattr(org, name))
        url = f"/tasks/{open_task(instance, name).id}"
        reply = client.post(url, data={"csrf_token": csrf_token(client, url), "decision": decision})
        assert reply.status_code == 302, reply.get_data(as_text=True)
    login(client, org.head)
    html = client.get("/inbox").get_data(as_text=True)
    assert "Licence request: Decision" in text_of(html)
    url = f"/tasks/{open_task(instance, 'head').id}"
    html = client.get(url).get_data(as_text=True)
    words = text_of(html)
    assert "Review Test approver Approved" in words
    assert "Review Test approver Rejected" in words
    reply = client.post(
        url, data={"csrf_token": csrf_token(client, url), "decision": "approve", "comment": "Yes"}
    )
    assert reply.status_code == 302
    assert fresh(WorkflowInstance, instance.id).status == "approved"
    assert fresh(Document, doc.id).status == "completed"
