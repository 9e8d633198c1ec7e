"""The four shipped routes end to end through the services, with return and resubmission."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.errors import Conflict, NotFound, PermissionDenied, ValidationError
from edms.routing import services as routing
from edms.routing.models import WorkflowInstance
from tests.edms.routing.conftest import MONDAY, Org, open_task, tasks_of


def _decide(org_user: Any, instance: WorkflowInstance, decision: str, **kwargs: Any) -> None:
    task = open_task(instance, org_user.username)
    routing.decide(org_user, task.id, decision, now=MONDAY, **kwargs)
    db.session.commit()


def _audit(doc: Document, action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id == str(doc.id), AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


def test_outgoing_letter_visas_in_turn_then_the_signature_waits_for_signing(
    org: Org, letter: Document
) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    assert letter.status == "in_progress"
    tasks = tasks_of(instance)
    assert [(k, t.status, t.assignee.username) for k, t in tasks.items()] == [
        ("visas:1:1", "open", "lawyer"),
        ("visas:1:2", "waiting", "head"),
    ]
    # Two working days from Monday 09:00.
    assert tasks["visas:1:1"].due_at == MONDAY + timedelta(days=2)
    # The lawyer of another department may now see the document.
    assert documents.get_document(org.lawyer, letter.id) == letter

    _decide(org.lawyer, instance, "approve", comment="Legally sound.")
    _decide(org.head, instance, "approve")
    signature = open_task(instance, "head")
    assert signature.stage_id == "signature"

    # "sign" puts the head's signature into the PDF: without a credential, nothing moves
    # (signing with one: tests/edms/routing/test_signing.py).
    with pytest.raises(Conflict, match="no signing credential"):
        routing.decide(org.head, signature.id, "sign", now=MONDAY)
    db.session.rollback()
    with pytest.raises(ValidationError) as refused:
        routing.decide(org.head, signature.id, "approve", now=MONDAY)
    assert refused.value.errors == {"decision": "must be one of sign, reject, return"}
    db.session.rollback()
    assert open_task(instance, "head").id == signature.id  # nothing changed

    # A refused signature sends the letter back through the visas (on_reject: visas).
    _decide(org.head, instance, "reject", comment="Rephrase the second paragraph.")
    tasks = tasks_of(instance)
    assert tasks["visas:2:1"].status == "open"
    assert tasks["visas:2:1"].assignee.username == "lawyer"
    assert instance.state["round"] == 2
    decisions = _audit(letter, "workflow.decision")
    assert [(e.details["stage"], e.details["decision"]) for e in decisions] == [
        ("visas", "approve"),
        ("visas", "approve"),
        ("signature", "reject"),
    ]
    assert decisions[0].details["decided_by"] == "lawyer"


def test_licence_request_two_of_three_reviews_then_the_heads_decision(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Licence", document_type="licence")
    instance = routing.start(org.clerk, doc, "licence_request", now=MONDAY)
    db.session.commit()
    reviews = tasks_of(instance)
    assert sorted(t.assignee.username for t in reviews.values() if t.status == "open") == [
        "lawyer",
        "licensor",
        "statistician",
    ]
    _decide(org.lawyer, instance, "approve")
    # A rejection only counts against the quorum (veto: false).
    _decide(org.licensor, instance, "reject", comment="Missing fee receipt.")
    assert instance.state["stage_id"] == "review"
    _decide(org.statistician, instance, "approve")
    tasks = tasks_of(instance)
    assert tasks["decision:1:1"].status == "open"
    assert tasks["decision:1:1"].assignee.username == "head"
    _decide(org.head, instance, "approve", comment="Granted.")
    db.session.refresh(doc)
    assert instance.status == "approved"
    assert instance.finished_at is not None
    assert doc.status == "completed"


def test_licence_request_fails_its_quorum_and_ends_rejected(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Licence", document_type="licence")
    instance = routing.start(org.clerk, doc, "licence_request", now=MONDAY)
    db.session.commit()
    _decide(org.lawyer, instance, "reject")
    _decide(org.licensor, instance, "reject")
    assert instance.status == "rejected"
    statistician = tasks_of(instance)["review:1:3"]
    assert statistician.status == "cancelled"  # no longer needed
    with pytest.raises(Conflict, match="rejected"):
        routing.decide(org.statistician, statistician.id, "approve", now=MONDAY)


def test_incoming_letter_registration_resolution_execution(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Citizen's letter")
    instance = routing.start(org.clerk, doc, "incoming_letter", now=MONDAY)
    db.session.commit()
    registration = {t.assignee.username: t for t in tasks_of(instance).values()}
    assert set(registration) == {"clerk", "clerk2"}
    _decide(org.clerk2, instance, "acknowledge")
    assert tasks_of(instance)[registration["clerk"].key].status == "cancelled"
    _decide(org.head, instance, "approve", comment="To execution.")
    # Execution: the approvers of the owning department (the head is one).
    _decide(org.head, instance, "acknowledge", comment="Answered by phone.")
    assert instance.status == "approved"


def test_statistical_report_returned_for_rework_and_resubmitted(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Q3 report", document_type="report")
    instance = routing.start(org.clerk, doc, "statistical_report", now=MONDAY)
    db.session.commit()
    _decide(org.statistician, instance, "return", comment="Row 12 is empty.")
    assert instance.status == "returned"
    db.session.refresh(doc)
    assert doc.status == "in_progress"
    with pytest.raises(Conflict, match="returned"):
        routing.decide(org.statistician, tasks_of(instance)["review:1:1"].id, "approve", now=MONDAY)
    db.session.rollback()

    # Only the author or a clerk who may edit the document resubmits.
    with pytest.raises(PermissionDenied):
        routing.resubmit(org.statistician, instance, now=MONDAY)
    db.session.rollback()
    routing.resubmit(org.clerk, instance, now=MONDAY)
    db.session.commit()
    assert instance.status == "running"
    assert instance.state["round"] == 2
    with pytest.raises(Conflict, match="not returned"):
        routing.resubmit(org.clerk, instance, now=MONDAY)
    db.session.rollback()
    _decide(org.statistician, instance, "approve")
    assert instance.status == "approved"
    assert [e.action for e in _audit(doc, "workflow.resubmit")] == ["workflow.resubmit"]


def test_return_to_an_earlier_stage(org: Org, letter: Document) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    _decide(org.lawyer, instance, "approve")
    head_visa = open_task(instance, "head")
    with pytest.raises(ValidationError) as bad:
        routing.decide(org.head, head_visa.id, "approve", return_to="visas", now=MONDAY)
    assert bad.value.errors == {"return_to": "goes with the decision return"}
    db.session.rollback()
    with pytest.raises(ValidationError) as bad:
        routing.decide(org.head, head_visa.id, "return", return_to="signature", now=MONDAY)
    assert bad.value.errors == {"return_to": "there is no earlier stage"}
    db.session.rollback()
    _decide(org.head, instance, "approve")
    _decide(org.head, instance, "return", return_to="visas", comment="Legal must look again.")
    tasks = tasks_of(instance)
    assert tasks["signature:1:1"].decision == "return"
    assert tasks["visas:2:1"].status == "open"
    assert instance.status == "running"


def test_cancel_registers_the_document_again_and_allows_a_new_start(
    org: Org, letter: Document
) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    with pytest.raises(Conflict, match="already running"):
        routing.start(org.clerk, letter, "statistical_report", now=MONDAY)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        routing.cancel(org.lawyer, instance)
    db.session.rollback()
    routing.cancel(org.clerk, instance, "Sent by mistake")
    db.session.commit()
    db.session.refresh(letter)
    assert instance.status == "cancelled"
    assert letter.status == "registered"
    assert all(t.status == "cancelled" for t in tasks_of(instance).values())
    with pytest.raises(Conflict, match="already ended"):
        routing.cancel(org.clerk, instance)
    db.session.rollback()
    again = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    assert routing.current_instance(letter) == again
    actions = [e.action for e in documents.history(letter) if e.action.startswith("workflow.")]
    assert actions == [
        "workflow.start",
        "workflow.cancel",
        "workflow.start",
    ]


def test_bad_starts(org: Org, letter: Document, make_user: Callable[..., Any]) -> None:
    with pytest.raises(ValidationError) as bad:
        routing.start(org.clerk, letter, "no_such_route")
    assert list(bad.value.errors) == ["definition"]
    assert "outgoing_letter" in bad.value.errors["definition"]
    with pytest.raises(ValidationError, match="required"):
        routing.start(org.clerk, letter, "")
    # Only clerks who may edit the document start a route.
    with pytest.raises(PermissionDenied):
        routing.start(org.head, letter, "outgoing_letter")
    db.session.rollback()


HEADLESS = """
code: heads_only
name: {en: Heads only}
stages:
  - id: sign_off
    name: {en: Sign-off}
    assignees: [{head_of: owner}]
    decisions: [approve]
"""


def test_a_first_stage_with_nobody_to_act_does_not_start(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document], make_user: Any
) -> None:
    routing.save_definition(HEADLESS, "heads_only.yaml")
    db.session.commit()
    department = org.outsider.department
    assert department is not None
    assert department.head_id is None
    doc = make_document(org.outsider, journal=org.outgoing, title="Nobody heads us")
    with pytest.raises(Conflict, match="nobody to act"):
        routing.start(org.outsider, doc, "heads_only")
    db.session.rollback()
    assert routing.current_instance(doc) is None


def test_a_later_stage_with_nobody_to_act_returns_the_document(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    from edms.notifications.models import Notification

    doc = make_document(org.outsider, journal=org.incoming, title="Nobody heads us")
    instance = routing.start(org.outsider, doc, "incoming_letter", now=MONDAY)
    db.session.commit()
    _decide(org.outsider, instance, "acknowledge")
    assert instance.status == "returned"  # the resolution stage found no head
    notice = db.session.scalars(
        select(Notification).where(
            Notification.user_id == org.outsider.id, Notification.kind == "route.no_assignees"
        )
    ).one()
    assert "Resolution" in notice.subject


def test_the_decider_must_hold_the_task(org: Org, letter: Document) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    task = open_task(instance, "lawyer")
    with pytest.raises(Conflict, match="assigned to"):
        routing.decide(org.clerk, task.id, "approve")
    db.session.rollback()
    with pytest.raises(NotFound):  # cannot even see the document
        routing.decide(org.outsider, task.id, "approve")
    db.session.rollback()
    with pytest.raises(NotFound):
        routing.decide(org.lawyer, 999_999, "approve")
    db.session.rollback()
    with pytest.raises(ValidationError) as bad:
        routing.decide(org.lawyer, task.id, "", comment="x" * 5001)
    assert set(bad.value.errors) == {"decision", "comment"}
