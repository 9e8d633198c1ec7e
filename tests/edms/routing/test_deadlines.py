"""Deadlines: reminders before the due date, escalation once overdue, run by the scheduler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.db import db
from edms.documents.models import Document
from edms.notifications.models import Notification
from edms.routing import services as routing
from edms.routing.models import Task
from edms.scheduler import registered_jobs, run_due_jobs
from tests.edms.api.conftest import fresh
from tests.edms.routing.conftest import MONDAY, Org, open_task, tasks_of

JOBS = [routing.DEADLINES_JOB]


def _notes(user_id: int, kind: str) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id, Notification.kind == kind)
            .order_by(Notification.id)
        )
    )


def test_both_jobs_are_registered_at_start(app: Flask) -> None:
    names = {job.name for job in registered_jobs()}
    assert {routing.DEADLINES_JOB, routing.DELEGATIONS_JOB} <= names
    every = {job.name: job.every for job in registered_jobs()}
    assert every[routing.DEADLINES_JOB] == timedelta(minutes=1)


def test_reminder_then_escalation_to_the_supervisor(org: Org, letter: Document) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    visa = open_task(instance, "lawyer")
    assert visa.due_at == MONDAY + timedelta(days=2)  # Wednesday 09:00
    assert visa.next_check_at == MONDAY + timedelta(days=1)  # one working day before

    assert run_due_jobs(MONDAY + timedelta(hours=1), names=JOBS) == JOBS
    assert _notes(org.lawyer.id, "task.reminder") == []

    tuesday = MONDAY + timedelta(days=1, minutes=5)
    assert run_due_jobs(tuesday, names=JOBS) == JOBS
    assert run_due_jobs(tuesday, names=JOBS) == []  # once per period
    reminders = _notes(org.lawyer.id, "task.reminder")
    assert len(reminders) == 1
    assert reminders[0].link == f"/tasks/{visa.id}"
    assert letter.registration_number in reminders[0].subject
    visa = fresh(Task, visa.id)
    assert visa.reminded
    assert not visa.escalated
    assert visa.next_check_at == visa.due_at

    # Overdue: LEGAL has no head, so the head of the ministry above it hears of it.
    thursday = MONDAY + timedelta(days=3)
    assert run_due_jobs(thursday, names=JOBS) == JOBS
    assert len(_notes(org.minister.id, "task.escalated")) == 1
    assert len(_notes(org.lawyer.id, "route.overdue")) == 1
    escalation = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "workflow.escalate")
    ).one()
    assert escalation.details["to"] == "minister"
    assert escalation.actor_id is None  # the system did it

    # Nothing more to do for this task: later runs stay quiet.
    assert run_due_jobs(thursday + timedelta(days=1), names=JOBS) == JOBS
    assert len(_notes(org.minister.id, "task.escalated")) == 1
    assert len(_notes(org.lawyer.id, "task.reminder")) == 1
    visa = fresh(Task, visa.id)
    assert visa.escalated
    assert visa.next_check_at is None


def test_an_overdue_execution_moves_to_the_supervisor(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    doc = make_document(org.clerk, journal=org.incoming, title="Complaint")
    instance = routing.start(org.clerk, doc, "incoming_letter", now=MONDAY)
    db.session.commit()
    for name in ("clerk", "head"):
        task = open_task(instance, name)
        decision = "acknowledge" if name == "clerk" else "approve"
        routing.decide(getattr(org, name), task.id, decision, now=MONDAY)
        db.session.commit()
    execution = open_task(instance, "head")
    assert execution.stage_id == "execution"
    assert execution.due_at == MONDAY + timedelta(days=14)  # ten working days

    # The head heads CHANCERY, so the escalation goes one department up, to the minister.
    assert run_due_jobs(MONDAY + timedelta(days=15), names=JOBS) == JOBS
    moved = tasks_of(instance)[execution.key]
    assert moved.assignee.username == "minister"
    assert moved.on_behalf_of is not None
    assert moved.on_behalf_of.username == "head"
    assert moved.escalated
    assert len(_notes(org.minister.id, "task.opened")) == 1
    assert len(_notes(org.head.id, "route.reassigned")) == 1

    routing.decide(org.minister, moved.id, "approve", comment="Done myself.", now=MONDAY)
    db.session.commit()
    assert instance.status == "approved"


def test_finished_routes_are_not_ticked(org: Org, letter: Document) -> None:
    instance = routing.start(org.clerk, letter, "outgoing_letter", now=MONDAY)
    db.session.commit()
    routing.cancel(org.clerk, instance)
    db.session.commit()
    assert routing.check_deadlines(MONDAY + timedelta(days=30)) == 0
    assert _notes(org.lawyer.id, "task.reminder") == []
