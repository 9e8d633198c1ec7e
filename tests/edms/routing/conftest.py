"""Fixtures of the routing tests: the demo organisation, the shipped definitions, documents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edms.auth import services as auth
from edms.auth.models import Department, Role, User
from edms.auth.services import create_token
from edms.db import db
from edms.documents.models import Document
from edms.registry.models import Journal
from edms.routing import services as routing
from edms.routing.models import Task, WorkflowInstance
from tests.edms.api.conftest import ApiClient

#: A Monday morning, so working-day deadlines are easy to read.
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Org:
    """The demo departments and one person for each part of the shipped routes."""

    departments: dict[str, Department]
    clerk: User  # CHANCERY, registers and routes documents
    clerk2: User  # CHANCERY, dispatches
    head: User  # head of CHANCERY (owner of the documents)
    minister: User  # head of MIN, the supervisor of CHANCERY's head
    lawyer: User  # approver in LEGAL
    licensor: User  # approver in LICENSING
    statistician: User  # approver in STATS
    outsider: User  # a clerk of a department of its own
    incoming: Journal
    outgoing: Journal


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def token_for(ctx: Flask) -> Callable[[User], str]:
    def make(user: User) -> str:
        _, plain = create_token(user, "tests")
        db.session.commit()
        return plain

    return make


@pytest.fixture
def make_user(make_user: Callable[..., User]) -> Callable[..., User]:
    """Users without a password: tests log in without the form, and hashing one is slow."""

    def make(*args: Any, **kwargs: Any) -> User:
        kwargs.setdefault("password", None)
        return make_user(*args, **kwargs)

    return make


@pytest.fixture
def org(
    ctx: Flask,
    make_department: Callable[..., Department],
    make_user: Callable[..., User],
    make_journal: Callable[..., Journal],
) -> Org:
    ministry = make_department("MIN")
    departments = {"MIN": ministry}
    for code in ("CHANCERY", "LEGAL", "LICENSING", "STATS"):
        departments[code] = make_department(code, parent=ministry)
    org = Org(
        departments=departments,
        clerk=make_user(Role.CLERK, departments["CHANCERY"], "clerk"),
        clerk2=make_user(Role.CLERK, departments["CHANCERY"], "clerk2"),
        head=make_user(Role.APPROVER, departments["CHANCERY"], "head"),
        minister=make_user(Role.APPROVER, ministry, "minister"),
        lawyer=make_user(Role.APPROVER, departments["LEGAL"], "lawyer"),
        licensor=make_user(Role.APPROVER, departments["LICENSING"], "licensor"),
        statistician=make_user(Role.APPROVER, departments["STATS"], "statistician"),
        outsider=make_user(Role.CLERK, None, "outsider"),
        incoming=make_journal("IN", "incoming"),
        outgoing=make_journal("OUT", "outgoing"),
    )
    auth.set_department_head("CHANCERY", "head")
    auth.set_department_head("MIN", "minister")
    db.session.commit()
    return org


@pytest.fixture
def definitions(ctx: Flask) -> dict[str, Any]:
    rows = routing.sync_definitions()
    db.session.commit()
    return {row.code: row for row, _created in rows}


@pytest.fixture
def letter(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> Document:
    """An outgoing letter of CHANCERY, registered by its clerk."""
    return make_document(
        org.clerk, journal=org.outgoing, title="Reply to the ministry", document_type="letter"
    )


def tasks_of(instance: WorkflowInstance) -> dict[str, Task]:
    db.session.expire_all()
    return {task.key: task for task in routing.instance_tasks(instance)}


def open_task(instance: WorkflowInstance, username: str) -> Task:
    """The open task the user holds in the instance."""
    found = [
        t
        for t in tasks_of(instance).values()
        if t.status == "open" and t.assignee.username == username
    ]
    assert len(found) == 1, [
        (t.key, t.status, t.assignee.username) for t in tasks_of(instance).values()
    ]
    return found[0]
