"""Definitions: loaded from config/workflows, versioned on change, never loaded when invalid."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from edms.db import db
from edms.documents.models import Document
from edms.routing import services as routing
from edms.routing.models import WorkflowDefinition
from tests.edms.routing.conftest import Org, open_task, tasks_of

BROKEN = """
code: broken_route
name: {en: Broken}
stages:
  - id: review
    name: {en: Review}
    assignees: [{role: wizard, department: LEGAL}]
    decisions: [approve, fly]
"""


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(WorkflowDefinition)) or 0


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    copy = tmp_path / "workflows"
    shutil.copytree(routing.DEFINITIONS_DIR, copy)
    return copy


def test_sync_loads_each_definition_once(ctx: Flask) -> None:
    first = routing.sync_definitions()
    db.session.commit()
    assert sorted((row.code, row.version, created) for row, created in first) == [
        ("certificate_request", 1, True),
        ("incoming_letter", 1, True),
        ("licence_request", 1, True),
        ("outgoing_letter", 1, True),
        ("permit_request", 1, True),
        ("signed_document", 1, True),
        ("statistical_report", 1, True),
    ]
    again = routing.sync_definitions()
    assert [created for _row, created in again] == [False] * 7
    assert _count() == 7
    row = routing.latest_definition("outgoing_letter")
    assert row is not None
    assert row.name["ru"] == "Исходящее письмо"
    assert row.source == (routing.DEFINITIONS_DIR / "outgoing_letter.yaml").read_text("utf-8")
    assert len(row.sha256) == 64


def test_editing_makes_a_new_version_and_running_routes_keep_theirs(
    org: Org, letter: Document, directory: Path, definitions: dict[str, Any]
) -> None:
    running = routing.start(org.clerk, letter, "outgoing_letter")
    db.session.commit()
    path = directory / "outgoing_letter.yaml"
    path.write_text(path.read_text("utf-8").replace("deadline_days: 2", "deadline_days: 4"))
    results = {
        row.code: (row.version, created) for row, created in routing.sync_definitions(directory)
    }
    db.session.commit()
    assert results["outgoing_letter"] == (2, True)
    assert results["licence_request"] == (1, False)
    assert [d.version for d in routing.list_definitions() if d.code == "outgoing_letter"] == [2]

    # The running route stays on version 1 and goes on working.
    assert running.definition.version == 1
    assert running.state["definition_version"] == 1
    routing.decide(org.lawyer, open_task(running, "lawyer").id, "approve")
    db.session.commit()
    assert tasks_of(running)["visas:1:2"].status == "open"

    routing.cancel(org.clerk, running)
    db.session.commit()
    fresh = routing.start(org.clerk, letter, "outgoing_letter")
    db.session.commit()
    assert fresh.definition.version == 2
    visa = open_task(fresh, "lawyer")
    assert visa.due_at is not None
    assert visa.opened_at is not None
    assert (visa.due_at - visa.opened_at).days >= 4


def test_an_invalid_file_loads_nothing(ctx: Flask, directory: Path) -> None:
    (directory / "broken.yaml").write_text(BROKEN)
    with pytest.raises(routing.DefinitionsInvalid) as invalid:
        routing.sync_definitions(directory)
    assert list(invalid.value.errors) == ["broken.yaml"]
    message = invalid.value.errors["broken.yaml"]
    assert "stages[0].decisions[1]" in message
    assert "'fly'" in message
    assert _count() == 0
    # Once the schema holds, unknown roles are named too.
    (directory / "broken.yaml").write_text(BROKEN.replace(", fly", ""))
    with pytest.raises(routing.DefinitionsInvalid) as invalid:
        routing.sync_definitions(directory)
    assert "wizard" in invalid.value.errors["broken.yaml"]
    assert _count() == 0


def test_the_sync_command(app: Flask, ctx: Flask, directory: Path) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["workflows", "sync"])
    assert result.exit_code == 0, result.output
    assert "outgoing_letter: loaded as version 1" in result.output
    result = runner.invoke(args=["workflows", "sync"])
    assert "outgoing_letter: unchanged, version 1" in result.output

    (directory / "broken.yaml").write_text(BROKEN)
    result = runner.invoke(args=["workflows", "sync", "--dir", str(directory)])
    assert result.exit_code == 1
    assert "broken.yaml" in result.output
    assert "no definition was loaded" in result.output
    assert "Traceback" not in result.output
    assert _count() == 7


def test_the_demo_has_heads_and_routes(ctx: Flask) -> None:
    from edms.auth.services import get_department
    from edms.demo import load_demo

    assert load_demo() > 0
    db.session.commit()
    assert {code: get_department(code).head.username for code in ("MIN", "CHANCERY")} == {  # type: ignore[union-attr]
        "MIN": "minister",
        "CHANCERY": "head",
    }
    assert [d.code for d in routing.list_definitions()] == [
        "certificate_request",
        "incoming_letter",
        "licence_request",
        "outgoing_letter",
        "permit_request",
        "signed_document",
        "statistical_report",
    ]
    assert load_demo() == 0
