"""Fixtures of the resolution tests: a cast of people, a document, a frozen clock, clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from edms.auth.models import Department, Role, User
from edms.auth.services import create_token
from edms.db import db
from edms.documents.models import Document
from edms.notifications.models import Notification
from edms.resolutions import services
from tests.conftest import login
from tests.edms.api.conftest import ApiClient

#: Monday 2 March 2026, 09:00 in Tashkent (UTC+5).
MONDAY = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


class Clock:
    """The time ``edms.resolutions.services`` sees; tests move it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)

    @property
    def today(self) -> date:
        return services.local_date(self.moment)

    def day(self, offset: int) -> str:
        """Today plus ``offset`` days, as the API takes dates."""
        return (self.today + timedelta(days=offset)).isoformat()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, ctx: Flask) -> Clock:
    frozen = Clock(MONDAY)
    monkeypatch.setattr(services, "now", frozen)
    return frozen


@dataclass
class Cast:
    """Department A owns the document; B and C are elsewhere.

    boss: approver of A (writes resolutions); clerk: clerk of A (registered the document);
    lead: approver of B (executor from another department, directs B);
    worker and helper: clerks of B (lead's subordinates); outsider: clerk of C;
    officer: records officer (sees everything).
    """

    a: Department
    b: Department
    c: Department
    boss: User
    clerk: User
    lead: User
    worker: User
    helper: User
    outsider: User
    officer: User
    doc: Document


@pytest.fixture
def cast(
    ctx: Flask,
    make_user: Callable[..., User],
    make_department: Callable[..., Department],
    make_document: Callable[..., Document],
) -> Cast:
    def user(role: Role, dept: Department | None, name: str) -> User:
        return make_user(role, dept, username=name, password=None)

    a, b, c = make_department("DA"), make_department("DB"), make_department("DC")
    clerk = user(Role.CLERK, a, "clerk")
    people = Cast(
        a=a,
        b=b,
        c=c,
        boss=user(Role.APPROVER, a, "boss"),
        clerk=clerk,
        lead=user(Role.APPROVER, b, "lead"),
        worker=user(Role.CLERK, b, "worker"),
        helper=user(Role.CLERK, b, "helper"),
        outsider=user(Role.CLERK, c, "outsider"),
        officer=user(Role.RECORDS_OFFICER, None, "officer"),
        doc=make_document(clerk, title="Request for statistics"),
    )
    return people


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def tokens(cast: Cast) -> dict[str, str]:
    out = {}
    for name in ("boss", "clerk", "lead", "worker", "helper", "outsider", "officer"):
        _, plain = create_token(getattr(cast, name), "tests")
        out[name] = plain
    db.session.commit()
    return out


@pytest.fixture
def as_user(client: FlaskClient) -> Callable[[User], FlaskClient]:
    """The browser client, logged in as the given user."""

    def switch(user: User) -> FlaskClient:
        login(client, user)
        return client

    return switch


def executors(responsible: str, *co: str) -> list[dict[str, Any]]:
    return [{"user": responsible, "responsible": True}, *({"user": n} for n in co)]


def notifications_of(user: User, kind: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query.order_by(Notification.id)))
