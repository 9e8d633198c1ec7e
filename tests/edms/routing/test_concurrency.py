"""Two approvers deciding at the same moment on one parallel stage (real commits, threads)."""

from __future__ import annotations

import io
import threading

from flask import Flask
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.auth import services as auth
from edms.db import db
from edms.documents import services as documents
from edms.registry import services as registry
from edms.routing import services as routing
from edms.routing.models import Task, WorkflowInstance

ROUNDS = 4


def _setup(app: Flask) -> list[int]:
    """The licence route's people, and ROUNDS documents each at its review stage."""
    with app.app_context():
        auth.create_department("MIN", "Ministry")
        for code in ("CHANCERY", "LEGAL", "LICENSING", "STATS"):
            auth.create_department(code, code.title(), "MIN")
        auth.create_user("clerk", ["clerk"], department_code="CHANCERY")
        auth.create_user("head", ["approver"], department_code="CHANCERY")
        for name, code in (("lawyer", "LEGAL"), ("licensor", "LICENSING"), ("stats", "STATS")):
            auth.create_user(name, ["approver"], department_code=code)
        auth.set_department_head("CHANCERY", "head")
        registry.create_journal("IN", "IN", "Incoming", "incoming")
        routing.sync_definitions()
        clerk = auth.get_user("clerk")
        ids = []
        for i in range(ROUNDS):
            doc = documents.register(
                clerk,
                {"title": f"Licence {i}", "journal": "IN", "document_type": "licence"},
                documents.Upload(f"{i}.txt", io.BytesIO(f"licence {i}".encode())),
            )
            ids.append(routing.start(clerk, doc, "licence_request").id)
        db.session.commit()
        return ids


def test_two_approvals_at_once_complete_the_stage_exactly_once(committing_app: Flask) -> None:
    instance_ids = _setup(committing_app)
    errors: list[BaseException] = []

    def approve(username: str, instance_id: int, barrier: threading.Barrier) -> None:
        try:
            with committing_app.app_context():
                user = auth.get_user(username)
                task = db.session.scalars(
                    select(Task).where(
                        Task.instance_id == instance_id,
                        Task.assignee_id == user.id,
                        Task.status == "open",
                    )
                ).one()
                db.session.commit()  # no transaction held while waiting at the barrier
                barrier.wait(timeout=30)
                routing.decide(user, task.id, "approve", f"{username} agrees")
                db.session.commit()
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    for instance_id in instance_ids:
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=approve, args=(name, instance_id, barrier))
            for name in ("lawyer", "licensor")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors

    with committing_app.app_context():
        for instance_id in instance_ids:
            instance = db.session.get(WorkflowInstance, instance_id)
            assert instance is not None
            tasks = {t.key: t for t in routing.instance_tasks(instance)}
            # Both decisions are recorded ...
            assert tasks["review:1:1"].decision == "approve"
            assert tasks["review:1:2"].decision == "approve"
            # ... the stage completed once: the third review is no longer needed and the
            # head's decision opened exactly once.
            assert tasks["review:1:3"].status == "cancelled"
            assert sorted(tasks) == ["decision:1:1", "review:1:1", "review:1:2", "review:1:3"]
            assert tasks["decision:1:1"].status == "open"
            assert instance.state["stage_id"] == "decision"
            assert len(instance.state["tasks"]) == 4
            assert instance.lock_version == 3  # started, then two decisions one after the other
        decisions = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "workflow.decision")
        )
        assert decisions == 2 * ROUNDS
