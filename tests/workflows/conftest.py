"""Helpers for the workflows library tests: definitions from dicts, a dict resolver."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from workflows import AssigneeSpec, Definition, load_definition

ROLES = frozenset({"admin", "clerk", "approver", "records_officer", "applicant"})
DEPARTMENTS = frozenset({"MIN", "CHANCERY", "LEGAL", "LICENSING", "STATS"})
ATTRIBUTES = frozenset(
    {"type", "department", "direction", "confidentiality", "amount", "journal", "language"}
)
# A Friday morning: deadlines cross a weekend.
NOW = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)

Resolve = Callable[[AssigneeSpec, Mapping[str, Any]], list[str]]


def stage(id: str, **fields: Any) -> dict[str, Any]:
    """A stage dict with defaults: one user, approve/reject/return."""
    out: dict[str, Any] = {
        "id": id,
        "name": {"en": id.title()},
        "assignees": [{"user": "alice"}],
        "decisions": ["approve", "reject", "return"],
    }
    out.update(fields)
    return out


def definition(*stages: dict[str, Any], code: str = "test_route", **kw: Any) -> Definition:
    """Load a definition made of ``stages`` through the YAML path, as edms does."""
    data = {"code": code, "name": {"en": "Test route"}, "stages": list(stages)}
    return load_definition(yaml.safe_dump(data, allow_unicode=True), "test.yaml", **kw)


def make_resolver(table: Mapping[str, list[str]]) -> Resolve:
    """``role@DEPT`` and ``head@DEPT`` keys to user lists; users resolve to themselves."""

    def resolve(spec: AssigneeSpec, context: Mapping[str, Any]) -> list[str]:
        if spec.user is not None:
            return [spec.user]
        if spec.role is not None:
            return list(table.get(f"{spec.role}@{spec.department}", []))
        return list(table.get(f"head@{spec.head_of}", []))

    return resolve


@pytest.fixture
def resolve() -> Resolve:
    return make_resolver(
        {
            "approver@LEGAL": ["lawyer1", "lawyer2"],
            "approver@LICENSING": ["lic1"],
            "approver@STATS": ["stat1"],
            "approver@owner": ["exec1", "exec2"],
            "clerk@CHANCERY": ["chancery1", "chancery2"],
            "clerk@owner": ["clerk1"],
            "head@owner": ["head"],
        }
    )
