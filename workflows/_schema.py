"""JSON Schema (draft 2020-12) of a workflow definition, and a hint for each field."""

from __future__ import annotations

from typing import Any, Final

DECISIONS: Final = ("approve", "reject", "return", "acknowledge", "sign")
ESCALATIONS: Final = ("notify_supervisor", "reassign_to_supervisor", "none")
MODES: Final = ("sequential", "parallel")
ID_PATTERN: Final = "^[a-z][a-z0-9_]{0,63}$"
# Department codes as edms accepts them (auth.services.CODE_RE), or "owner": the
# department that owns the document.
DEPARTMENT_PATTERN: Final = "^(owner|[A-Z0-9][A-Z0-9_-]{0,31})$"

_TEXT: Final[dict[str, Any]] = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": "^[a-z]{2}$"},
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 300},
}

_ASSIGNEE: Final[dict[str, Any]] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "user": {"type": "string", "minLength": 1, "maxLength": 150},
        "role": {"type": "string", "pattern": ID_PATTERN},
        "department": {"type": "string", "pattern": DEPARTMENT_PATTERN},
        "head_of": {"type": "string", "pattern": DEPARTMENT_PATTERN},
        "when": {"type": "string", "minLength": 1, "maxLength": 2000},
    },
}

_POLICY: Final[dict[str, Any]] = {
    "oneOf": [
        {"enum": ["all", "any"]},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["quorum"],
            "properties": {"quorum": {"type": "integer", "minimum": 1, "maximum": 1000}},
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["percent"],
            "properties": {"percent": {"type": "integer", "minimum": 1, "maximum": 100}},
        },
    ]
}

_STAGE: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "assignees", "decisions"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "name": _TEXT,
        "mode": {"enum": list(MODES)},
        "assignees": {"type": "array", "minItems": 1, "maxItems": 50, "items": _ASSIGNEE},
        "policy": _POLICY,
        "veto": {"type": "boolean"},
        "decisions": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(DECISIONS)},
        },
        "signature": {"type": "boolean"},
        "deadline_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "remind_days_before": {"type": "integer", "minimum": 1, "maximum": 365},
        "escalation": {"enum": list(ESCALATIONS)},
        "when": {"type": "string", "minLength": 1, "maxLength": 2000},
        "on_reject": {"type": "string", "pattern": ID_PATTERN},
    },
}

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "EDMS workflow definition",
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "name", "stages"],
    "properties": {
        "code": {"type": "string", "pattern": ID_PATTERN},
        "name": _TEXT,
        "description": _TEXT,
        "stages": {"type": "array", "minItems": 1, "maxItems": 50, "items": _STAGE},
    },
}

# Keyed by the last name in a problem's path: how to write that field.
HINTS: Final[dict[str, str]] = {
    "code": "use lowercase letters, digits and _, starting with a letter (outgoing_letter)",
    "id": "use lowercase letters, digits and _, starting with a letter (visas)",
    "on_reject": "write end, or the id of an earlier stage",
    "name": "give the text per language: {en: Visas, ru: Визы, uz: Vizalar}",
    "description": "give the text per language: {en: ..., ru: ..., uz: ...}",
    "stages": "list the stages in order; a route needs at least one",
    "mode": "write sequential (one assignee after another) or parallel",
    "assignees": "list who acts: {role: approver, department: LEGAL}, {user: name}, "
    "{head_of: owner}",
    "user": "write the user name: {user: lawyer}",
    "role": "write a role name: {role: approver, department: LEGAL}",
    "department": "write a department code (LEGAL) or owner (the document's department)",
    "head_of": "write a department code (LEGAL) or owner (the document's department)",
    "when": "write a condition such as \"type == 'licence' and amount > 1000\"",
    "policy": "write all, any, {quorum: 2} or {percent: 66}",
    "quorum": "write {quorum: N} with N from 1 to the number of assignees",
    "percent": "write {percent: P} with P from 1 to 100",
    "veto": "write true or false",
    "decisions": "list decisions from: " + ", ".join(DECISIONS),
    "signature": "write true or false",
    "deadline_days": "write a number of working days from 1 to 365",
    "remind_days_before": "write fewer working days than deadline_days",
    "escalation": "write " + ", ".join(ESCALATIONS),
}
