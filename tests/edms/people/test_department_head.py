"""Heads of departments: the service, the CLI command, the foreign key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select, text

from edms.audit.models import AuditEvent
from edms.auth import services as auth
from edms.auth.models import Department, Role, User
from edms.db import db
from edms.errors import NotFound, ValidationError


def test_set_and_clear_the_head(
    ctx: Flask, make_department: Callable[..., Department], make_user: Callable[..., User]
) -> None:
    dept = make_department("HEADS")
    boss = make_user(Role.APPROVER, department=dept)
    dept = auth.set_department_head("heads", boss.username)
    db.session.commit()
    assert (dept.head_id, dept.head) == (boss.id, boss)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "department.head")
    ).all()
    assert [e.details for e in events] == [{"code": "HEADS", "head": boss.username}]
    auth.set_department_head("HEADS", boss.username)  # no change, no new event
    auth.set_department_head("HEADS", None)
    db.session.commit()
    assert dept.head is None
    assert (
        len(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "department.head")
            ).all()
        )
        == 2
    )


def test_the_head_is_active_staff_of_the_department(
    ctx: Flask, make_department: Callable[..., Department], make_user: Callable[..., User]
) -> None:
    make_department("OWN")
    outsider = make_user(Role.APPROVER)
    applicant = make_user(Role.APPLICANT)
    with pytest.raises(ValidationError) as caught:
        auth.set_department_head("OWN", outsider.username)
    assert caught.value.errors == {"username": "must belong to department OWN"}
    with pytest.raises(ValidationError):
        auth.set_department_head("OWN", applicant.username)
    with pytest.raises(NotFound):
        auth.set_department_head("NOPE", outsider.username)
    with pytest.raises(NotFound):
        auth.set_department_head("OWN", "nobody")


def test_cli_department_head(committing_app: Flask) -> None:
    with committing_app.app_context():
        auth.create_department("CLIH", "Heads by command")
        auth.create_user("chief", ["approver"], department_code="CLIH")
        db.session.commit()
    runner = committing_app.test_cli_runner()
    result = runner.invoke(args=["department", "head", "CLIH", "chief"])
    assert result.exit_code == 0, result.output
    assert "chief is the head of department CLIH" in result.output
    with committing_app.app_context():
        assert auth.get_department("CLIH").head == auth.get_user("chief")

    bad = runner.invoke(args=["department", "head", "CLIH", "nobody"])
    assert bad.exit_code != 0
    assert "nobody" in bad.output
    assert runner.invoke(args=["department", "head", "CLIH"]).exit_code != 0  # who?

    cleared = runner.invoke(args=["department", "head", "CLIH", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    with committing_app.app_context():
        assert auth.get_department("CLIH").head is None


def test_deleting_the_head_leaves_the_department_headless(committing_app: Flask) -> None:
    with committing_app.app_context():
        auth.create_department("GONE", "Soon headless")
        auth.create_user("leaver", ["approver"], department_code="GONE")
        auth.set_department_head("GONE", "leaver")
        db.session.commit()
        user_id = auth.get_user("leaver").id
        db.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
        db.session.commit()
        dept = db.session.scalar(
            select(Department)
            .where(Department.code == "GONE")
            .execution_options(populate_existing=True)
        )
        assert dept is not None
        assert dept.head_id is None
