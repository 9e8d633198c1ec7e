"""Resolutions through the API: the whole cycle, sub-resolutions, extensions, permissions, input."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.auth.services import set_department_head
from edms.blobs import services as blobs
from edms.db import db
from edms.resolutions.models import Assignment, AssignmentReport, Resolution
from tests.edms.api.conftest import PDF, ApiClient, problem
from tests.edms.resolutions.conftest import Cast, Clock, executors, notifications_of

MISSING = object()
YESTERDAY = object()


def _write(api: ApiClient, token: str, cast: Cast, **body: object) -> object:
    return api.post(f"/documents/{cast.doc.id}/resolutions", token, json=body)


def _resolution(api: ApiClient, tokens: dict[str, str], cast: Cast, clock: Clock) -> dict:
    reply = _write(
        api,
        tokens["boss"],
        cast,
        text="Prepare the statistics and answer the applicant.",
        due_date=clock.day(7),
        executors=executors("lead", "helper"),
    )
    assert reply.status_code == 201, reply.get_data(as_text=True)
    body: dict = reply.get_json()
    return body


def _part(body: dict, username: str) -> dict:
    return next(a for a in body["assignments"] if a["executor"] == username)


def _actions(resolution_id: int) -> list[str]:
    """The changes recorded for a resolution (not the refused attempts)."""
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.object_type == "resolution",
                AuditEvent.object_id == str(resolution_id),
                AuditEvent.action != "access.denied",
            )
            .order_by(AuditEvent.id)
        )
    )


def test_write_report_return_report_accept_closes(api, cast, tokens, clock) -> None:
    body = _resolution(api, tokens, cast, clock)
    assert body["status"] == "open"
    assert body["author"] == "boss"
    assert [(a["executor"], a["responsible"]) for a in body["assignments"]] == [
        ("lead", True),
        ("helper", False),
    ]
    lead_part = _part(body, "lead")
    assert lead_part["status"] == "open"
    assert lead_part["due_date"] == clock.day(7)
    assert notifications_of(cast.lead, "resolution.assigned")
    assert notifications_of(cast.helper, "resolution.assigned")

    # The executor sees it among their assignments, with the document.
    mine = api.get("/assignments", tokens["lead"]).get_json()
    assert [a["id"] for a in mine] == [lead_part["id"]]
    assert mine[0]["document"]["registration_number"] == cast.doc.registration_number

    # Report with a file; the author returns it; report again; the author accepts.
    reply = api.post(
        f"/assignments/{lead_part['id']}/report",
        tokens["lead"],
        data={"text": "Draft answer attached.", "file": (io.BytesIO(PDF), "answer.pdf")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 201, reply.get_data(as_text=True)
    report = reply.get_json()
    assert report["file_name"] == "answer.pdf"
    assert report["outcome"] == "pending"
    assert notifications_of(cast.boss, "resolution.reported")
    key = db.session.scalar(
        select(AssignmentReport.storage_key).where(AssignmentReport.id == report["id"])
    )
    assert key in blobs.referenced_keys()  # the garbage collector keeps it

    problem(
        api.post(
            f"/assignments/{lead_part['id']}/report",
            tokens["lead"],
            data={"text": "again"},
            content_type="multipart/form-data",
        ),
        409,
    )
    reply = api.post(
        f"/assignments/{lead_part['id']}/return",
        tokens["boss"],
        json={"comment": "Add the figures for March."},
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["status"] == "open"
    assert reply.get_json()["reports"][0]["outcome"] == "returned"
    assert notifications_of(cast.lead, "resolution.returned")

    reply = api.post(
        f"/assignments/{lead_part['id']}/report",
        tokens["lead"],
        data={"text": "With the March figures."},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 201
    reply = api.post(f"/assignments/{lead_part['id']}/accept", tokens["boss"], json={})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    accepted = reply.get_json()
    assert accepted["status"] == "accepted"
    assert accepted["completed_on"] == clock.day(0)

    tree = api.get(f"/documents/{cast.doc.id}/resolutions", tokens["boss"]).get_json()
    assert tree[0]["status"] == "closed"
    assert tree[0]["closed_at"]
    # The co-executor had not reported: their part is withdrawn with the closing.
    assert _part(tree[0], "helper")["status"] == "cancelled"
    assert _actions(body["id"]) == [
        "resolution.create",
        "resolution.report",
        "resolution.return",
        "resolution.report",
        "resolution.accept",
        "resolution.close",
    ]
    # Nothing more can be reported on a closed resolution.
    problem(
        api.post(
            f"/assignments/{_part(tree[0], 'helper')['id']}/report",
            tokens["helper"],
            data={"text": "late"},
            content_type="multipart/form-data",
        ),
        409,
    )


def test_co_executors_are_accepted_one_by_one(api, cast, tokens, clock) -> None:
    body = _resolution(api, tokens, cast, clock)
    lead_id, helper_id = _part(body, "lead")["id"], _part(body, "helper")["id"]
    for assignment_id, token in ((helper_id, tokens["helper"]), (lead_id, tokens["lead"])):
        reply = api.post(
            f"/assignments/{assignment_id}/report",
            token,
            data={"text": "Done."},
            content_type="multipart/form-data",
        )
        assert reply.status_code == 201
    # A co-executor's report waits: the responsible one cannot close the resolution yet.
    problem(api.post(f"/assignments/{lead_id}/accept", tokens["boss"], json={}), 409)
    reply = api.post(f"/assignments/{helper_id}/accept", tokens["boss"], json={"comment": "Thanks"})
    assert reply.status_code == 200
    tree = api.get(f"/resolutions/{body['id']}", tokens["boss"]).get_json()
    assert tree["status"] == "open"  # a co-executor's acceptance does not close it
    assert api.post(f"/assignments/{lead_id}/accept", tokens["boss"], json={}).status_code == 200
    tree = api.get(f"/resolutions/{body['id']}", tokens["boss"]).get_json()
    assert tree["status"] == "closed"
    assert {a["executor"]: a["status"] for a in tree["assignments"]} == {
        "lead": "accepted",
        "helper": "accepted",
    }


def test_only_the_author_accepts_or_returns(api, cast, tokens, clock, make_user) -> None:
    body = _resolution(api, tokens, cast, clock)
    lead_id = _part(body, "lead")["id"]
    api.post(
        f"/assignments/{lead_id}/report",
        tokens["lead"],
        data={"text": "Done."},
        content_type="multipart/form-data",
    )
    for name in ("lead", "helper", "clerk", "officer"):
        problem(api.post(f"/assignments/{lead_id}/accept", tokens[name], json={}), 403)
        problem(
            api.post(f"/assignments/{lead_id}/return", tokens[name], json={"comment": "x"}), 403
        )
    problem(api.post(f"/assignments/{lead_id}/accept", tokens["outsider"], json={}), 404)
    # Returning needs a comment.
    problem(api.post(f"/assignments/{lead_id}/return", tokens["boss"], json={}), 422, "comment")
    # Only the executor reports.
    helper_id = _part(body, "helper")["id"]
    problem(
        api.post(
            f"/assignments/{helper_id}/report",
            tokens["boss"],
            data={"text": "x"},
            content_type="multipart/form-data",
        ),
        403,
    )


def test_an_executor_of_another_department_sees_the_document_only_through_the_assignment(
    api, cast, tokens, clock
) -> None:
    doc_url = f"/documents/{cast.doc.id}"
    problem(api.get(doc_url, tokens["lead"]), 404)
    problem(api.get(f"{doc_url}/resolutions", tokens["lead"]), 404)
    body = _resolution(api, tokens, cast, clock)
    assert api.get(doc_url, tokens["lead"]).status_code == 200
    assert api.get(f"{doc_url}/resolutions", tokens["lead"]).status_code == 200
    # Someone unrelated sees nothing of it.
    for path in (
        doc_url,
        f"{doc_url}/resolutions",
        f"/resolutions/{body['id']}",
        f"/assignments/{_part(body, 'lead')['id']}",
    ):
        problem(api.get(path, tokens["outsider"]), 404)
    problem(api.get("/resolutions/999999", tokens["boss"]), 404)
    assert api.get("/assignments", tokens["outsider"]).get_json() == []


def test_who_writes_resolutions(api, cast, tokens, clock) -> None:
    body = {"text": "Look into it.", "due_date": clock.day(3), "executors": executors("worker")}
    # A clerk of the owning department may see the document, but is no executive.
    problem(_write(api, tokens["clerk"], cast, **body), 403)
    problem(_write(api, tokens["outsider"], cast, **body), 404)
    # The head of the document's department is.
    set_department_head(cast.a.code, cast.clerk.username)
    db.session.commit()
    assert _write(api, tokens["clerk"], cast, **body).status_code == 201


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"due_date": "yesterday"}, ["due_date"]),
        ({"due_date": YESTERDAY}, ["due_date"]),
        ({"due_date": MISSING}, ["due_date"]),
        ({"text": "  "}, ["text"]),
        ({"text": MISSING}, ["text"]),
        ({"executors": []}, ["executors"]),
        ({"executors": MISSING}, ["executors"]),
        ({"executors": [{"user": "worker"}]}, ["executors"]),
        (
            {
                "executors": [
                    {"user": "worker", "responsible": True},
                    {"user": "lead", "responsible": True},
                ]
            },
            ["executors"],
        ),
        ({"executors": executors("nobody")}, ["executors.0.user"]),
        ({"executors": executors("worker", "ghost")}, ["executors.1.user"]),
        ({"executors": executors("worker", "worker")}, ["executors.1.user"]),
        ({"executors": executors("boss")}, ["executors.0.user"]),
        (
            {"text": "", "due_date": "2020-01-01", "executors": []},
            ["text", "due_date", "executors"],
        ),
    ],
)
def test_bad_input_names_the_field(api, cast, tokens, clock, body, fields) -> None:
    full = {
        "text": "Answer the letter.",
        "due_date": clock.day(5),
        "executors": executors("worker"),
    }
    full.update(body)
    if full["due_date"] is YESTERDAY:
        full["due_date"] = clock.day(-1)
    full = {name: value for name, value in full.items() if value is not MISSING}
    reply = _write(api, tokens["boss"], cast, **full)
    problem(reply, 422, *fields)
    assert db.session.scalar(select(Resolution.id)) is None


def test_bad_shapes_are_refused_by_the_schema(api, cast, tokens, clock) -> None:
    full = {"text": "x", "due_date": clock.day(1), "executors": executors("worker")}
    problem(_write(api, tokens["boss"], cast, **full, priority="high"), 422, "priority")
    problem(
        _write(
            api,
            tokens["boss"],
            cast,
            **{**full, "executors": [{"user": "worker", "responsible": "maybe"}]},
        ),
        422,
        "executors.0.responsible",
    )
    problem(api.post(f"/documents/{cast.doc.id}/resolutions", tokens["boss"], data="x"), 415)


def test_due_today_is_fine(api, cast, tokens, clock) -> None:
    reply = _write(
        api,
        tokens["boss"],
        cast,
        text="Urgent.",
        due_date=clock.day(0),
        executors=executors("worker"),
    )
    assert reply.status_code == 201


def test_sub_resolutions(api, cast, tokens, clock) -> None:
    parent = _resolution(api, tokens, cast, clock)  # lead: due in 7 days
    sub = {"parent": parent["id"], "text": "Collect the figures.", "executors": executors("worker")}
    # Later than the writer's own due date: refused.
    problem(_write(api, tokens["lead"], cast, **sub, due_date=clock.day(8)), 422, "due_date")
    # Only to their own subordinates.
    problem(
        _write(
            api,
            tokens["lead"],
            cast,
            **{**sub, "executors": executors("outsider")},
            due_date=clock.day(5),
        ),
        422,
        "executors.0.user",
    )
    # Only an executor of the parent writes under it.
    problem(_write(api, tokens["outsider"], cast, **sub, due_date=clock.day(5)), 404)
    problem(_write(api, tokens["clerk"], cast, **sub, due_date=clock.day(5)), 403)
    problem(
        _write(api, tokens["lead"], cast, **{**sub, "parent": 999999}, due_date=clock.day(5)),
        422,
        "parent",
    )

    reply = _write(api, tokens["lead"], cast, **sub, due_date=clock.day(7))
    assert reply.status_code == 201, reply.get_data(as_text=True)
    child = reply.get_json()
    assert child["parent_id"] == parent["id"]
    tree = api.get(f"/documents/{cast.doc.id}/resolutions", tokens["boss"]).get_json()
    assert len(tree) == 1
    assert [c["id"] for c in tree[0]["children"]] == [child["id"]]
    assert tree[0]["children"][0]["assignments"][0]["executor"] == "worker"

    # A sub-sub-resolution is refused to someone without subordinates.
    problem(
        _write(
            api,
            tokens["worker"],
            cast,
            parent=child["id"],
            text="x",
            due_date=clock.day(2),
            executors=executors("helper"),
        ),
        422,
        "executors.0.user",
    )

    # Cancelling the parent cancels the child.
    problem(api.post(f"/resolutions/{parent['id']}/cancel", tokens["lead"], json={}), 403)
    reply = api.post(
        f"/resolutions/{parent['id']}/cancel", tokens["boss"], json={"reason": "Withdrawn."}
    )
    assert reply.status_code == 200
    cancelled = reply.get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["children"][0]["status"] == "cancelled"
    assert {a["status"] for a in cancelled["children"][0]["assignments"]} == {"cancelled"}
    assert _actions(child["id"]) == ["resolution.create", "resolution.cancel"]
    problem(api.post(f"/resolutions/{parent['id']}/cancel", tokens["boss"], json={}), 409)


def test_extension_approved_then_declined(api, cast, tokens, clock) -> None:
    body = _resolution(api, tokens, cast, clock)
    lead_id = _part(body, "lead")["id"]
    url = f"/assignments/{lead_id}/extension"
    problem(
        api.post(url, tokens["lead"], json={"due_date": clock.day(7), "reason": "x"}),
        422,
        "due_date",
    )
    problem(api.post(url, tokens["lead"], json={"due_date": clock.day(10)}), 422, "reason")
    problem(api.post(url, tokens["helper"], json={"due_date": clock.day(10), "reason": "x"}), 403)

    reply = api.post(
        url, tokens["lead"], json={"due_date": clock.day(10), "reason": "Waiting for data."}
    )
    assert reply.status_code == 201, reply.get_data(as_text=True)
    extension = reply.get_json()
    assert extension["status"] == "pending"
    assert notifications_of(cast.boss, "resolution.extension_requested")
    problem(api.post(url, tokens["lead"], json={"due_date": clock.day(11), "reason": "More."}), 409)

    decision = f"/extensions/{extension['id']}/decision"
    problem(api.post(decision, tokens["lead"], json={"decision": "approve"}), 403)
    problem(api.post(decision, tokens["outsider"], json={"decision": "approve"}), 404)
    problem(api.post(decision, tokens["boss"], json={"decision": "maybe"}), 422, "decision")
    reply = api.post(decision, tokens["boss"], json={"decision": "approve", "comment": "Fine."})
    assert reply.status_code == 200
    assert reply.get_json()["status"] == "approved"
    problem(api.post(decision, tokens["boss"], json={"decision": "decline"}), 409)

    resolution = api.get(f"/resolutions/{body['id']}", tokens["boss"]).get_json()
    assert _part(resolution, "lead")["due_date"] == clock.day(10)
    assert resolution["due_date"] == clock.day(10)  # the responsible executor's term
    assert _part(resolution, "helper")["due_date"] == clock.day(7)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "resolution.extension_approve")
    )
    assert event is not None
    assert event.details["old_due_date"] == clock.day(7)
    assert event.details["new_due_date"] == clock.day(10)
    assert event.actor_id == cast.boss.id

    reply = api.post(
        url, tokens["lead"], json={"due_date": clock.day(20), "reason": "Still waiting."}
    )
    second = reply.get_json()
    reply = api.post(
        f"/extensions/{second['id']}/decision", tokens["boss"], json={"decision": "decline"}
    )
    assert reply.get_json()["status"] == "declined"
    assignment = api.get(f"/assignments/{lead_id}", tokens["lead"]).get_json()
    assert assignment["due_date"] == clock.day(10)
    assert [e["status"] for e in assignment["extensions"]] == ["approved", "declined"]
    assert [
        n.kind for n in notifications_of(cast.lead) if n.kind.startswith("resolution.extension")
    ] == [
        "resolution.extension_approve",
        "resolution.extension_decline",
    ]
    assert _actions(body["id"])[-4:] == [
        "resolution.extension_request",
        "resolution.extension_approve",
        "resolution.extension_request",
        "resolution.extension_decline",
    ]


def test_a_sub_resolution_cannot_be_extended_past_the_parent(api, cast, tokens, clock) -> None:
    parent = _resolution(api, tokens, cast, clock)
    child = _write(
        api,
        tokens["lead"],
        cast,
        parent=parent["id"],
        text="Collect the figures.",
        due_date=clock.day(5),
        executors=executors("worker"),
    ).get_json()
    worker_id = child["assignments"][0]["id"]
    extension = api.post(
        f"/assignments/{worker_id}/extension",
        tokens["worker"],
        json={"due_date": clock.day(9), "reason": "Holidays."},
    ).get_json()
    reply = api.post(
        f"/extensions/{extension['id']}/decision", tokens["lead"], json={"decision": "approve"}
    )
    problem(reply, 422, "decision")
    reply = api.post(
        f"/extensions/{extension['id']}/decision", tokens["lead"], json={"decision": "decline"}
    )
    assert reply.get_json()["status"] == "declined"


def test_overdue_list_with_a_frozen_clock(api, cast, tokens, clock) -> None:
    body = _resolution(api, tokens, cast, clock)  # due in 7 days
    for name in ("boss", "officer"):
        assert api.get("/control/overdue", tokens[name]).get_json() == []
    clock.advance(days=8)
    overdue = api.get("/control/overdue", tokens["boss"]).get_json()
    assert {(a["executor"], a["overdue"]) for a in overdue} == {("lead", True), ("helper", True)}
    assert overdue[0]["document"]["id"] == str(cast.doc.id)
    # Records officers see every department; the lead (approver of B) sees B's people.
    assert len(api.get("/control/overdue", tokens["officer"]).get_json()) == 2
    assert len(api.get("/control/overdue?department=DB", tokens["officer"]).get_json()) == 2
    assert api.get("/control/overdue?department=DA", tokens["officer"]).get_json() == []
    problem(api.get("/control/overdue?department=NOPE", tokens["officer"]), 422, "department")
    assert len(api.get("/control/overdue", tokens["lead"]).get_json()) == 2
    # The executor sees their own; someone unrelated sees none.
    assert [a["executor"] for a in api.get("/control/overdue", tokens["helper"]).get_json()] == [
        "helper"
    ]
    assert api.get("/control/overdue", tokens["outsider"]).get_json() == []
    # A head of department follows their department's executors.
    set_department_head(cast.c.code, cast.outsider.username)
    db.session.commit()
    assert api.get("/control/overdue", tokens["outsider"]).get_json() == []
    set_department_head(cast.b.code, cast.worker.username)
    db.session.commit()
    assert len(api.get("/control/overdue", tokens["worker"]).get_json()) == 2
    # Done late is no longer overdue.
    api.post(
        f"/assignments/{_part(body, 'helper')['id']}/report",
        tokens["helper"],
        data={"text": "Done."},
        content_type="multipart/form-data",
    )
    api.post(f"/assignments/{_part(body, 'helper')['id']}/accept", tokens["boss"], json={})
    assert [a["executor"] for a in api.get("/control/overdue", tokens["boss"]).get_json()] == [
        "lead"
    ]


def test_acquaintance(api, cast, tokens, clock) -> None:
    url = f"/documents/{cast.doc.id}/acquaintance"
    problem(api.post(url, tokens["clerk"], json={"users": []}), 422, "users")
    problem(api.post(url, tokens["clerk"], json={"users": ["lead", "nobody"]}), 422, "users")
    problem(api.post(url, tokens["clerk"], json={}), 422, "users")
    problem(api.post(url, tokens["outsider"], json={"users": ["lead"]}), 404)
    problem(api.get(url, tokens["lead"]), 404)

    reply = api.post(url, tokens["clerk"], json={"users": ["lead", "worker"]})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    listed = reply.get_json()
    assert [(r["user"], r["confirmed_at"]) for r in listed] == [("lead", None), ("worker", None)]
    assert notifications_of(cast.lead, "acquaintance.requested")
    # They may now see the document; asking again skips them.
    assert api.get(f"/documents/{cast.doc.id}", tokens["lead"]).status_code == 200
    assert len(api.post(url, tokens["boss"], json={"users": ["lead", "helper"]}).get_json()) == 3
    # A clerk who may not edit the document may not ask.
    problem(api.post(url, tokens["worker"], json={"users": ["helper"]}), 403)

    clock.advance(hours=2)
    reply = api.post(f"{url}/confirm", tokens["worker"])
    assert reply.status_code == 200
    first = reply.get_json()["confirmed_at"]
    assert first.startswith("2026-03-02T06:00")
    clock.advance(hours=1)
    assert api.post(f"{url}/confirm", tokens["worker"]).get_json()["confirmed_at"] == first
    problem(api.post(f"{url}/confirm", tokens["boss"]), 404)  # not asked
    problem(api.post(f"{url}/confirm", tokens["outsider"]), 404)

    listed = api.get(url, tokens["clerk"]).get_json()
    assert [(r["user"], bool(r["confirmed_at"])) for r in listed] == [
        ("worker", True),
        ("lead", False),
        ("helper", False),
    ]
    actions = list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "acquaintance")
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["acquaintance.request", "acquaintance.request", "acquaintance.confirm"]


def test_assignment_list_filters(api, cast, tokens, clock) -> None:
    body = _resolution(api, tokens, cast, clock)
    lead_id = _part(body, "lead")["id"]
    api.post(
        f"/assignments/{lead_id}/report",
        tokens["lead"],
        data={"text": "Done."},
        content_type="multipart/form-data",
    )
    assert [a["status"] for a in api.get("/assignments", tokens["lead"]).get_json()] == ["reported"]
    api.post(f"/assignments/{lead_id}/accept", tokens["boss"], json={})
    assert api.get("/assignments", tokens["lead"]).get_json() == []
    assert len(api.get("/assignments?status=all", tokens["lead"]).get_json()) == 1
    assert len(api.get("/assignments?status=accepted", tokens["lead"]).get_json()) == 1
    problem(api.get("/assignments?status=nope", tokens["lead"]), 422, "status")
    problem(api.get("/assignments?colour=red", tokens["lead"]), 422, "colour")


def test_report_numbers_from_the_api(api, cast, tokens, clock) -> None:
    _resolution(api, tokens, cast, clock)
    reply = api.get(f"/control/report?from={clock.day(0)}&to={clock.day(0)}", tokens["officer"])
    assert reply.status_code == 200
    report = reply.get_json()
    rows = {row["department"]: row for row in report["departments"]}
    assert rows["DB"] == {
        "department": "DB",
        "department_name": "Department DB",
        "assigned": 2,
        "completed_on_time": 0,
        "completed_late": 0,
        "overdue": 0,
        "open": 2,
    }
    assert report["total"]["assigned"] == 2
    assert report["from"] == clock.day(0)
    problem(api.get("/control/report", tokens["officer"]), 422, "from", "to")
    problem(
        api.get(f"/control/report?from={clock.day(1)}&to={clock.day(0)}", tokens["officer"]),
        422,
        "to",
    )
    problem(api.get("/control/report?from=x&to=y", tokens["officer"]), 422, "from", "to")
    # An approver sees their own department's row only; a clerk none.
    lead_rows = api.get(
        f"/control/report?from={clock.day(0)}&to={clock.day(0)}", tokens["lead"]
    ).get_json()
    assert [row["department"] for row in lead_rows["departments"]] == ["DB"]
    assert (
        api.get(
            f"/control/report?from={clock.day(0)}&to={clock.day(0)}", tokens["worker"]
        ).get_json()["departments"]
        == []
    )


def test_attachment_names_are_checked(api, cast, tokens, clock) -> None:
    body = _resolution(api, tokens, cast, clock)
    lead_id = _part(body, "lead")["id"]
    reply = api.post(
        f"/assignments/{lead_id}/report",
        tokens["lead"],
        data={"text": "", "file": (io.BytesIO(PDF), "../evil.pdf")},
        content_type="multipart/form-data",
    )
    problem(reply, 422, "text", "file")
    assert db.session.scalar(select(Assignment.status).where(Assignment.id == lead_id)) == "open"


def test_dates_are_the_registry_s_dates(cast, clock) -> None:
    # 21:00 UTC on Monday is already Tuesday in Tashkent.
    clock.set(clock.moment.replace(hour=21))
    assert clock.today == date(2026, 3, 3)
