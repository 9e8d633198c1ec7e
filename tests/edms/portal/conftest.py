"""Fixtures of the portal's tests (the API's tests import them too): the demo
organisation with its routes, the shipped services, and a route approved to its end."""

from __future__ import annotations

from typing import Any

import pytest

from edms.auth import services as auth
from edms.db import db
from edms.portal import services as portal
from edms.portal.models import ServiceDefinition
from edms.routing import services as routing
from tests.edms.routing.conftest import Org
from tests.edms.routing.conftest import definitions as definitions
from tests.edms.routing.conftest import org as org


@pytest.fixture
def catalogue(org: Org, definitions: dict[str, Any]) -> dict[str, ServiceDefinition]:
    """The shipped services on the demo departments, journals and routes (every
    department has a head, for the routes' "head of the owner" stages)."""
    for code, username in (
        ("LICENSING", "licensor"),
        ("STATS", "statistician"),
        ("LEGAL", "lawyer"),
    ):
        auth.set_department_head(code, username)
    rows = portal.sync_services()
    db.session.commit()
    return {row.code: row for row, _created in rows}


def approve_all(instance: Any) -> None:
    """Approve the route's open tasks, one at a time, each by its assignee, to the end."""
    for _ in range(20):
        db.session.expire_all()
        task = next((t for t in routing.instance_tasks(instance) if t.status == "open"), None)
        if task is None:
            return
        routing.decide(task.assignee, task.id, "approve")
        db.session.commit()
