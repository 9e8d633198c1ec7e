"""Errors raised by :mod:`workflows`.

``WorkflowError`` is the root of the tree:

- ``DefinitionError``: a workflow definition that does not load. It carries the
  source (file name) and every problem found (``.problems``), each with the path
  inside the definition (``stages[1].policy.quorum``), the line when known, what is
  wrong and how to fix it. ``.path``, ``.message`` and ``.hint`` are the first
  problem's.
- ``ExpressionError``: a ``when`` expression that does not parse (or is too long or
  too deeply nested); ``.column`` (1-based) points at the offending character.
- ``InvalidEvent``: the engine refused an event: unknown or closed task, a decision
  the stage does not allow, an actor who is not the assignee, an instance that is not
  running, a stage nobody can act on at start... The state is unchanged.
- ``InvalidState``: ``InstanceState.from_dict`` got data it cannot restore.
- ``CalendarError``: a working-day calendar that cannot work (every day a weekend).
"""

from __future__ import annotations

from dataclasses import dataclass


class WorkflowError(Exception):
    """Root of every error this library raises."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: where, what, and how to fix it."""

    path: str
    message: str
    hint: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "(top level)"
        if self.line is not None:
            where = f"line {self.line}, {where}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" (fix: {self.hint})"
        return text


class DefinitionError(WorkflowError, ValueError):
    """A workflow definition is invalid; ``problems`` lists everything found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("a DefinitionError needs at least one problem")
        self.source = source
        self.problems = list(problems)
        if len(problems) == 1:
            text = f"{source}: {problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            text = f"{source}: {len(problems)} problems\n{lines}"
        super().__init__(text)

    @property
    def path(self) -> str:
        """Path of the first problem (``stages[1].policy``)."""
        return self.problems[0].path

    @property
    def message(self) -> str:
        """What is wrong, for the first problem."""
        return self.problems[0].message

    @property
    def hint(self) -> str:
        """How to fix the first problem."""
        return self.problems[0].hint


class ExpressionError(WorkflowError, ValueError):
    """An expression does not parse; ``column`` (1-based) points at the problem."""

    def __init__(self, message: str, expression: str, column: int) -> None:
        self.reason = message
        self.expression = expression
        self.column = column
        super().__init__(f"{message} at column {column}")


class InvalidEvent(WorkflowError):
    """The engine refused an event; the instance state is unchanged."""


class InvalidState(WorkflowError, ValueError):
    """Serialized instance state that cannot be restored."""


class CalendarError(WorkflowError, ValueError):
    """A calendar without working days, or a bad argument to one."""
