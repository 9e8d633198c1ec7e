"""Workflow definitions and engine (plain Python, no Flask or SQLAlchemy, no I/O).

Load a definition, then drive instances with an :class:`Engine`::

    definition = load_definition(text, "outgoing_letter.yaml", roles=ROLES)
    engine = Engine(definition, resolve, Calendar(holidays))
    result = engine.start(context, now, author)            # Result(state, effects)
    result = engine.apply(result.state, Decide(task_id, actor, "approve"), now)

``resolve(spec, context)`` returns user names for an :class:`AssigneeSpec`. States
serialize with ``InstanceState.to_dict()`` / ``InstanceState.from_dict()``.
See docs/WORKFLOWS.md for the definition format and the rules.
"""

from __future__ import annotations

from workflows._calendar import Calendar
from workflows._definition import (
    MAX_TEXT_BYTES,
    AssigneeSpec,
    Definition,
    Policy,
    Stage,
    load_definition,
)
from workflows._engine import (
    Cancel,
    Decide,
    Effect,
    Engine,
    Escalate,
    Event,
    Finished,
    InstanceState,
    Notify,
    Reassign,
    Remind,
    Resolver,
    Resubmit,
    Result,
    SignatureRequired,
    TaskClosed,
    TaskOpened,
    TaskState,
    Tick,
)
from workflows._errors import (
    CalendarError,
    DefinitionError,
    ExpressionError,
    InvalidEvent,
    InvalidState,
    Problem,
    WorkflowError,
)
from workflows._expression import Expression, parse_expression
from workflows._schema import SCHEMA
from workflows._svg import render_svg
from workflows._yaml import (
    KeyPath,
    YamlDocument,
    YamlProblem,
    YamlWording,
    did_you_mean,
    format_path,
    load_yaml,
    show_value,
)

__all__ = [
    "MAX_TEXT_BYTES",
    "SCHEMA",
    "AssigneeSpec",
    "Calendar",
    "CalendarError",
    "Cancel",
    "Decide",
    "Definition",
    "DefinitionError",
    "Effect",
    "Engine",
    "Escalate",
    "Event",
    "Expression",
    "ExpressionError",
    "Finished",
    "InstanceState",
    "InvalidEvent",
    "InvalidState",
    "KeyPath",
    "Notify",
    "Policy",
    "Problem",
    "Reassign",
    "Remind",
    "Resolver",
    "Resubmit",
    "Result",
    "SignatureRequired",
    "Stage",
    "TaskClosed",
    "TaskOpened",
    "TaskState",
    "Tick",
    "WorkflowError",
    "YamlDocument",
    "YamlProblem",
    "YamlWording",
    "did_you_mean",
    "format_path",
    "load_definition",
    "load_yaml",
    "parse_expression",
    "render_svg",
    "show_value",
]
