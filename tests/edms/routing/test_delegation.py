"""Delegation: tasks go to the deputy, who decides on behalf of the user; both names kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.delegations.models import Delegation
from edms.documents import services as documents
from edms.documents.models import Document
from edms.notifications.models import Notification
from edms.routing import services as routing
from edms.scheduler import run_due_jobs
from tests.conftest import login
from tests.edms.routing.conftest import MONDAY, Org, open_task, tasks_of
from tests.edms.ui.conftest import text_of


@pytest.fixture
def deputy(org: Org, make_user: Callable[..., User]) -> User:
    return make_user(Role.CLERK, org.departments["LEGAL"], "deputy")


def _delegate(user: User, deputy: User, first: date, last: date) -> Delegation:
    # Made well before the frozen dates of the tests (a delegation never applies before it is made).
    made = MONDAY - timedelta(days=30)
    delegation = Delegation(
        user_id=user.id,
        deputy_id=deputy.id,
        starts_on=first,
        ends_on=last,
        created_at=made,
        updated_at=made,
    )
    db.session.add(delegation)
    db.session.commit()
    return delegation


def test_a_task_opens_for_the_deputy_who_decides_on_behalf(
    client: FlaskClient, org: Org, letter: Document, deputy: User
) -> None:
    _delegate(
        org.lawyer, deputy, MONDAY.date() - timedelta(days=1), MONDAY.date() + timedelta(days=5)
    )
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    visa = open_task(instance, "deputy")
    assert visa.on_behalf_of is not None
    assert visa.on_behalf_of.username == "lawyer"
    assert routing.inbox(org.lawyer, {}, now=MONDAY).total == 0
    held = routing.inbox(deputy, {}, now=MONDAY).items
    assert [t.id for t in held] == [visa.id]
    # The deputy (of another department than the document) may see it; notified once.
    assert documents.get_document(deputy, letter.id) == letter
    notes = db.session.scalars(select(Notification).where(Notification.user_id == deputy.id)).all()
    assert [n.kind for n in notes] == ["task.opened"]
    assert "on behalf of Test approver" in notes[0].body

    login(client, deputy)
    html = client.get("/inbox").get_data(as_text=True)
    assert "on behalf of Test approver" in text_of(html)

    routing.decide(deputy, visa.id, "approve", comment="For the lawyer.", now=MONDAY)
    db.session.commit()
    decided = tasks_of(instance)[visa.key]
    assert (decided.decided_by.username, decided.on_behalf_of.username) == ("deputy", "lawyer")  # type: ignore[union-attr]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "workflow.decision")
    ).one()
    assert event.details["decided_by"] == "deputy"
    assert event.details["on_behalf_of"] == "lawyer"
    assert (
        db.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "workflow.delegate")
        ).one()["to"]
        == "deputy"
    )
    html = client.get(f"/tasks/{visa.id}").get_data(as_text=True)
    assert "on behalf of Test approver" in text_of(html)


def test_open_tasks_move_when_the_delegation_begins(
    org: Org, letter: Document, deputy: User
) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    visa = open_task(instance, "lawyer")
    tuesday = MONDAY + timedelta(days=1)
    _delegate(org.lawyer, deputy, tuesday.date(), tuesday.date() + timedelta(days=3))
    jobs = [routing.DELEGATIONS_JOB]
    assert run_due_jobs(MONDAY + timedelta(hours=1), names=jobs) == jobs
    assert tasks_of(instance)[visa.key].assignee.username == "lawyer"  # not yet

    assert run_due_jobs(tuesday + timedelta(hours=1), names=jobs) == jobs
    moved = tasks_of(instance)[visa.key]
    assert moved.assignee.username == "deputy"
    assert moved.on_behalf_of is not None
    assert moved.on_behalf_of.username == "lawyer"
    # The lawyer, back early, may still decide the task held for them.
    routing.decide(org.lawyer, moved.id, "approve", now=tuesday)
    db.session.commit()
    decided = tasks_of(instance)[visa.key]
    assert decided.decided_by is not None
    assert decided.decided_by.username == "lawyer"


def test_the_deputy_may_decide_before_the_task_has_moved(
    org: Org, letter: Document, deputy: User
) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    visa = open_task(instance, "lawyer")
    tuesday = MONDAY + timedelta(days=1)
    _delegate(org.lawyer, deputy, tuesday.date(), tuesday.date())
    routing.decide(deputy, visa.id, "return", comment="Rework, please.", now=tuesday)
    db.session.commit()
    decided = tasks_of(instance)[visa.key]
    assert decided.decided_by is not None
    assert decided.decided_by.username == "deputy"
    assert decided.on_behalf_of is not None
    assert decided.on_behalf_of.username == "lawyer"
    assert instance.status == "returned"
    # Another user is not the deputy: refused.
    assert routing.deputy_for(org.lawyer, MONDAY) is None
