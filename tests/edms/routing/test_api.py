"""The workflow API: routes of documents, the inbox, decisions, definitions (problem+json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.auth.models import User
from edms.db import db
from edms.documents.models import Document
from edms.routing.models import Task, WorkflowInstance
from tests.edms.api.conftest import ApiClient, fresh, problem
from tests.edms.routing.conftest import Org


@pytest.fixture
def tokens(org: Org, token_for: Callable[[User], str]) -> dict[str, str]:
    names = ("clerk", "clerk2", "head", "lawyer", "licensor", "statistician", "outsider")
    return {name: token_for(getattr(org, name)) for name in names}


def _start(api: ApiClient, token: str, doc: Document, definition: str) -> dict[str, Any]:
    reply = api.post(f"/documents/{doc.id}/workflow", token, json={"definition": definition})
    assert reply.status_code == 201, reply.get_data(as_text=True)
    assert reply.headers["Location"].endswith(f"/api/v1/documents/{doc.id}/workflow")
    body: dict[str, Any] = reply.get_json()
    return body


def _my_task(api: ApiClient, token: str, **query: str) -> dict[str, Any]:
    reply = api.get("/tasks", token, query_string=query)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    items = reply.get_json()["items"]
    assert len(items) == 1, items
    item: dict[str, Any] = items[0]
    return item


def _decide(api: ApiClient, token: str, task_id: int, decision: str, **body: Any) -> Any:
    return api.post(f"/tasks/{task_id}/decision", token, json={"decision": decision, **body})


def test_outgoing_letter_through_the_api(
    api: ApiClient, org: Org, letter: Document, tokens: dict[str, str]
) -> None:
    started = _start(api, tokens["clerk"], letter, "outgoing_letter")
    assert started["definition"]["code"] == "outgoing_letter"
    assert started["definition"]["version"] == 1
    assert started["status"] == "running"
    assert started["stage"] == "visas"
    assert [(t["key"], t["status"], t["assignee"]) for t in started["tasks"]] == [
        ("visas:1:1", "open", "lawyer"),
        ("visas:1:2", "waiting", "head"),
    ]
    assert started["state"]["definition_code"] == "outgoing_letter"

    visa = _my_task(api, tokens["lawyer"])
    assert visa["document"]["registration_number"] == letter.registration_number
    assert visa["overdue"] is False
    reply = _decide(api, tokens["lawyer"], visa["id"], "approve", comment="Fine.")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["decision"] == "approve"
    assert reply.get_json()["decided_by"] == "lawyer"

    head_visa = _my_task(api, tokens["head"])
    assert _decide(api, tokens["head"], head_visa["id"], "approve").status_code == 200
    signature = _my_task(api, tokens["head"])
    assert signature["stage"] == "signature"

    body = problem(_decide(api, tokens["head"], signature["id"], "sign"), 409)
    assert "no signing credential" in body["detail"]
    problem(_decide(api, tokens["head"], signature["id"], "approve"), 422, "decision")
    reply = _decide(api, tokens["head"], signature["id"], "return", comment="Date is wrong.")
    assert reply.status_code == 200

    route = api.get(f"/documents/{letter.id}/workflow", tokens["clerk"]).get_json()
    assert route["status"] == "returned"
    reply = api.post(f"/documents/{letter.id}/workflow/resubmit", tokens["clerk"])
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["status"] == "running"
    assert reply.get_json()["round"] == 2
    assert _my_task(api, tokens["head"])["key"] == "signature:2:1"


def test_licence_request_quorum_through_the_api(
    api: ApiClient,
    org: Org,
    definitions: dict[str, Any],
    tokens: dict[str, str],
    make_document: Callable[..., Document],
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Licence", document_type="licence")
    _start(api, tokens["clerk"], doc, "licence_request")
    for name, decision in (("lawyer", "approve"), ("licensor", "reject")):
        task = _my_task(api, tokens[name])
        assert _decide(api, tokens[name], task["id"], decision).status_code == 200
    task = _my_task(api, tokens["statistician"])
    assert _decide(api, tokens["statistician"], task["id"], "approve").status_code == 200
    final = _my_task(api, tokens["head"])
    assert final["stage"] == "decision"
    assert _decide(api, tokens["head"], final["id"], "approve").status_code == 200
    route = api.get(f"/documents/{doc.id}/workflow", tokens["clerk"]).get_json()
    assert route["status"] == "approved"
    assert route["finished_at"]
    assert api.get(f"/documents/{doc.id}", tokens["clerk"]).get_json()["status"] == "completed"
    # Nothing left to do; decided tasks are in the "done" list.
    assert api.get("/tasks", tokens["head"]).get_json()["total"] == 0
    done = api.get("/tasks", tokens["head"], query_string={"status": "done"}).get_json()
    assert [t["decision"] for t in done["items"]] == ["approve"]


def test_cancel_and_bad_requests(
    api: ApiClient, org: Org, letter: Document, tokens: dict[str, str]
) -> None:
    path = f"/documents/{letter.id}/workflow"
    problem(api.get(path, tokens["clerk"]), 404)
    problem(api.post(path, tokens["clerk"], json={"definition": "nope"}), 422, "definition")
    problem(api.post(path, tokens["clerk"], json={}), 422, "definition")
    problem(
        api.post(path, tokens["clerk"], json={"definition": "outgoing_letter", "x": 1}), 422, "x"
    )
    problem(api.post(path, tokens["clerk"], data="definition=outgoing_letter"), 415)
    # The head may read the document but not route it.
    problem(api.post(path, tokens["head"], json={"definition": "outgoing_letter"}), 403)

    _start(api, tokens["clerk"], letter, "outgoing_letter")
    body = problem(api.post(path, tokens["clerk"], json={"definition": "outgoing_letter"}), 409)
    assert "already running" in body["detail"]

    visa = _my_task(api, tokens["lawyer"])
    problem(_decide(api, tokens["lawyer"], visa["id"], "acknowledge"), 422, "decision")
    problem(_decide(api, tokens["lawyer"], visa["id"], "return", return_to="x"), 422, "return_to")
    problem(api.post(f"/tasks/{visa['id']}/decision", tokens["lawyer"], json={}), 422, "decision")
    body = problem(_decide(api, tokens["clerk"], visa["id"], "approve"), 409)
    assert "assigned to" in body["detail"]

    problem(api.delete(path, tokens["lawyer"]), 403)
    reply = api.delete(path, tokens["clerk"], query_string={"reason": "Wrong letter"})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["status"] == "cancelled"
    problem(api.delete(path, tokens["clerk"]), 409)
    body = problem(_decide(api, tokens["lawyer"], visa["id"], "approve"), 409)
    assert "cancelled" in body["detail"]
    problem(api.post(f"{path}/resubmit", tokens["clerk"]), 409)
    assert api.get(f"/documents/{letter.id}", tokens["clerk"]).get_json()["status"] == "registered"
    cancel = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "workflow.cancel")
    ).one()
    assert cancel.details["reason"] == "Wrong letter"
    assert cancel.actor_id == org.clerk.id


def test_another_department_gets_404(
    api: ApiClient, org: Org, letter: Document, tokens: dict[str, str]
) -> None:
    _start(api, tokens["clerk"], letter, "outgoing_letter")
    visa = _my_task(api, tokens["lawyer"])
    outsider = tokens["outsider"]
    path = f"/documents/{letter.id}/workflow"
    problem(api.get(path, outsider), 404)
    problem(api.get(f"{path}.svg", outsider), 404)
    problem(api.post(path, outsider, json={"definition": "outgoing_letter"}), 404)
    problem(api.delete(path, outsider), 404)
    problem(api.post(f"{path}/resubmit", outsider), 404)
    problem(api.get(f"/tasks/{visa['id']}", outsider), 404)
    problem(_decide(api, outsider, visa["id"], "approve"), 404)
    problem(_decide(api, outsider, 987654, "approve"), 404)
    assert api.get("/tasks", outsider).get_json()["total"] == 0
    # The assignee of another department sees the document and its route.
    assert api.get(f"/documents/{letter.id}", tokens["lawyer"]).status_code == 200
    assert api.get(path, tokens["lawyer"]).status_code == 200
    assert fresh(Task, visa["id"]).status == "open"


def test_the_picture_and_the_definitions(
    api: ApiClient, org: Org, letter: Document, tokens: dict[str, str]
) -> None:
    _start(api, tokens["clerk"], letter, "outgoing_letter")
    reply = api.get(f"/documents/{letter.id}/workflow.svg", tokens["clerk"])
    assert reply.status_code == 200
    assert reply.mimetype == "image/svg+xml"
    assert "sandbox" in reply.headers["Content-Security-Policy"]
    svg = reply.get_data(as_text=True)
    assert svg.startswith("<svg")
    assert 'role="img"' in svg
    assert "<script" not in svg
    russian = api.get(f"/documents/{letter.id}/workflow.svg?lang=ru", tokens["clerk"])
    assert "Визы" in russian.get_data(as_text=True)
    problem(api.get(f"/documents/{letter.id}/workflow.svg?lang=fr", tokens["clerk"]), 422, "lang")

    listed = api.get("/workflows", tokens["clerk"]).get_json()
    assert [d["code"] for d in listed] == [
        "certificate_request",
        "incoming_letter",
        "licence_request",
        "outgoing_letter",
        "permit_request",
        "signed_document",
        "statistical_report",
    ]
    outgoing = listed[3]
    assert outgoing["version"] == 1
    assert outgoing["name"]["uz"] == "Chiquvchi xat"
    assert [s["id"] for s in outgoing["stages"]] == ["visas", "signature", "dispatch"]
    assert outgoing["stages"][1]["signature"] is True


def test_inbox_filters(
    api: ApiClient,
    org: Org,
    definitions: dict[str, Any],
    tokens: dict[str, str],
    make_document: Callable[..., Document],
) -> None:
    for title in ("First", "Second"):
        doc = make_document(org.clerk, journal=org.incoming, title=title, document_type="report")
        _start(api, tokens["clerk"], doc, "statistical_report")
    token = tokens["statistician"]
    assert api.get("/tasks", token).get_json()["total"] == 2
    assert api.get("/tasks", token, query_string={"stage": "review"}).get_json()["total"] == 2
    assert api.get("/tasks", token, query_string={"stage": "visas"}).get_json()["total"] == 0
    assert api.get("/tasks", token, query_string={"overdue": "true"}).get_json()["total"] == 0
    page = api.get("/tasks", token, query_string={"per_page": "1", "page": "2"}).get_json()
    assert (page["total"], page["pages"], len(page["items"])) == (2, 2, 1)
    problem(api.get("/tasks", token, query_string={"status": "weird"}), 422, "status")
    problem(api.get("/tasks", token, query_string={"overdue": "maybe"}), 422, "overdue")
    problem(api.get("/tasks", token, query_string={"page": "0"}), 422, "page")
    problem(api.get("/tasks", token, query_string={"colour": "red"}), 422, "colour")


def test_every_decision_is_audited_with_both_names(
    api: ApiClient, org: Org, letter: Document, tokens: dict[str, str]
) -> None:
    _start(api, tokens["clerk"], letter, "outgoing_letter")
    visa = _my_task(api, tokens["lawyer"])
    _decide(api, tokens["lawyer"], visa["id"], "return", comment="Please fix.")
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "workflow.decision")
    ).one()
    assert event.object_type == "document"
    assert event.object_id == str(letter.id)
    assert event.actor_id == org.lawyer.id
    assert event.details["decision"] == "return"
    assert event.details["decided_by"] == "lawyer"
    assert "on_behalf_of" not in event.details
    instance = db.session.scalars(select(WorkflowInstance)).one()
    assert fresh(WorkflowInstance, instance.id).status == "returned"


def test_incoming_letter_and_statistical_report_through_the_api(
    api: ApiClient,
    org: Org,
    definitions: dict[str, Any],
    tokens: dict[str, str],
    make_document: Callable[..., Document],
) -> None:
    letter = make_document(org.clerk, journal=org.incoming, title="From a citizen")
    _start(api, tokens["clerk"], letter, "incoming_letter")
    registration = _my_task(api, tokens["clerk2"])
    assert _decide(api, tokens["clerk2"], registration["id"], "acknowledge").status_code == 200
    assert api.get("/tasks", tokens["clerk"]).get_json()["total"] == 0  # no longer needed
    resolution = _my_task(api, tokens["head"])
    assert resolution["stage"] == "resolution"
    assert _decide(api, tokens["head"], resolution["id"], "approve").status_code == 200
    execution = _my_task(api, tokens["head"])
    assert execution["stage"] == "execution"
    assert _decide(api, tokens["head"], execution["id"], "acknowledge").status_code == 200
    route = api.get(f"/documents/{letter.id}/workflow", tokens["clerk"]).get_json()
    assert route["status"] == "approved"

    report = make_document(org.clerk, journal=org.incoming, title="Q4", document_type="report")
    _start(api, tokens["clerk"], report, "statistical_report")
    review = _my_task(api, tokens["statistician"])
    reply = _decide(api, tokens["statistician"], review["id"], "return", comment="Fix row 3")
    assert reply.status_code == 200
    path = f"/documents/{report.id}/workflow"
    assert api.get(path, tokens["clerk"]).get_json()["status"] == "returned"
    problem(api.post(f"{path}/resubmit", tokens["statistician"]), 403)
    assert api.post(f"{path}/resubmit", tokens["clerk"]).status_code == 200
    review = _my_task(api, tokens["statistician"])
    assert review["key"] == "review:2:1"
    assert _decide(api, tokens["statistician"], review["id"], "approve").status_code == 200
    route = api.get(path, tokens["clerk"]).get_json()
    assert route["status"] == "approved"
    assert [(t["key"], t["decision"]) for t in route["tasks"]] == [
        ("review:1:1", "return"),
        ("review:2:1", "approve"),
    ]
