"""The engine: instance state, events, effects, and the rules that connect them.

The engine does no I/O and keeps no state of its own: ``start`` and ``apply`` take
what they need and return a new ``InstanceState`` with the effects for edms to carry
out. The state given to ``apply`` is never changed, and a refused event (``InvalidEvent``)
leaves nothing behind. Same definition, state, event and ``now`` -> same result.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from workflows._calendar import Calendar
from workflows._definition import POSITIVE, SIGNED, AssigneeSpec, Definition, Stage
from workflows._errors import InvalidEvent, InvalidState

logger = logging.getLogger(__name__)

STATE_FORMAT: Final = 1
INSTANCE_STATUSES: Final = ("running", "returned", "approved", "rejected", "cancelled")
FINISHED_STATUSES: Final = frozenset({"approved", "rejected", "cancelled"})
TASK_STATUSES: Final = ("waiting", "open", "done", "cancelled")

Resolver = Callable[[AssigneeSpec, Mapping[str, Any]], Iterable[str]]


# --- state --------------------------------------------------------------------------


def _time_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_in(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidState(f"{name} must be an ISO 8601 text or null")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidState(f"{name} is not an ISO 8601 date and time: {value!r:.40}") from None


def _is_number_text(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise InvalidState(f"{where}: {key!r} is missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InvalidState(f"{where}: {key!r} has the wrong type")
    return value


@dataclass(frozen=True)
class TaskState:
    """One person's action in one stage and round.

    ``id`` is ``"{stage}:{round}:{n}"`` with ``n`` the 1-based place in the stage's
    assignee list. ``assignee`` is who holds the task now; ``on_behalf_of`` the
    original assignee after a ``Reassign``. ``status``: waiting (a later turn of a
    sequential stage), open, done (decided) or cancelled (closed without a decision).
    """

    id: str
    stage_id: str
    round: int
    assignee: str
    status: str = "waiting"
    on_behalf_of: str | None = None
    decision: str | None = None
    comment: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    signature: str | None = None
    opened_at: datetime | None = None
    due_at: datetime | None = None
    reminded: bool = False
    escalated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data (times as ISO 8601 text)."""
        return {
            "id": self.id,
            "stage_id": self.stage_id,
            "round": self.round,
            "assignee": self.assignee,
            "status": self.status,
            "on_behalf_of": self.on_behalf_of,
            "decision": self.decision,
            "comment": self.comment,
            "decided_by": self.decided_by,
            "decided_at": _time_out(self.decided_at),
            "signature": self.signature,
            "opened_at": _time_out(self.opened_at),
            "due_at": _time_out(self.due_at),
            "reminded": self.reminded,
            "escalated": self.escalated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskState:
        """Restore a task from ``to_dict`` data (``InvalidState`` if malformed)."""
        if not isinstance(data, Mapping):
            raise InvalidState("a task must be a mapping")
        where = f"task {data.get('id')!r:.40}"
        optional_text = (str, type(None))
        status = _get(data, "status", str, where)
        if status not in TASK_STATUSES:
            raise InvalidState(f"{where}: unknown status {status!r:.20}")
        task_id = _get(data, "id", str, where)
        prefix = f"{data.get('stage_id')}:{data.get('round')}:"
        if not task_id.startswith(prefix) or not _is_number_text(task_id[len(prefix) :]):
            raise InvalidState(f"{where}: the id is not '{{stage_id}}:{{round}}:{{n}}'")
        return cls(
            id=task_id,
            stage_id=_get(data, "stage_id", str, where),
            round=_get(data, "round", int, where),
            assignee=_get(data, "assignee", str, where),
            status=status,
            on_behalf_of=_get(data, "on_behalf_of", optional_text, where),
            decision=_get(data, "decision", optional_text, where),
            comment=_get(data, "comment", str, where),
            decided_by=_get(data, "decided_by", optional_text, where),
            decided_at=_time_in(data.get("decided_at"), f"{where} decided_at"),
            signature=_get(data, "signature", optional_text, where),
            opened_at=_time_in(data.get("opened_at"), f"{where} opened_at"),
            due_at=_time_in(data.get("due_at"), f"{where} due_at"),
            reminded=_get(data, "reminded", bool, where),
            escalated=_get(data, "escalated", bool, where),
        )


@dataclass
class InstanceState:
    """Where one document is on its route. Serialize with ``to_dict``/``from_dict``.

    ``stage_id`` is the current stage (running), the stage that returned the document
    (returned) or the last stage that ran (finished; ``None`` if every stage was
    skipped). ``round`` starts at 1 and grows each time the route goes back (return,
    resubmit, on_reject). ``tasks`` holds every task ever opened, in creation order.
    """

    definition_code: str
    definition_version: int
    status: str
    stage_id: str | None
    round: int
    author: str
    context: dict[str, Any]
    tasks: dict[str, TaskState] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Whether the instance is approved, rejected or cancelled."""
        return self.status in FINISHED_STATUSES

    def open_tasks(self) -> list[TaskState]:
        """The open tasks, in order."""
        return [t for t in self.tasks.values() if t.status == "open"]

    def current_tasks(self) -> list[TaskState]:
        """The tasks of the current stage in the current round, in assignee order."""
        tasks = [
            t for t in self.tasks.values() if t.stage_id == self.stage_id and t.round == self.round
        ]
        return sorted(tasks, key=lambda t: int(t.id.rpartition(":")[2]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data; ``from_dict`` restores an equal state."""
        return {
            "format": STATE_FORMAT,
            "definition_code": self.definition_code,
            "definition_version": self.definition_version,
            "status": self.status,
            "stage_id": self.stage_id,
            "round": self.round,
            "author": self.author,
            "context": _json_copy(self.context, "context"),
            "tasks": [task.to_dict() for task in self.tasks.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceState:
        """Restore a state from ``to_dict`` data (``InvalidState`` if malformed)."""
        if not isinstance(data, Mapping):
            raise InvalidState("an instance state must be a mapping")
        where = "instance state"
        if data.get("format") != STATE_FORMAT:
            raise InvalidState(f"unknown instance state format {data.get('format')!r:.20}")
        status = _get(data, "status", str, where)
        if status not in INSTANCE_STATUSES:
            raise InvalidState(f"unknown instance status {status!r:.20}")
        raw_tasks = _get(data, "tasks", list, where)
        tasks: dict[str, TaskState] = {}
        for raw in raw_tasks:
            task = TaskState.from_dict(raw)
            if task.id in tasks:
                raise InvalidState(f"task {task.id!r} appears twice")
            tasks[task.id] = task
        try:
            context = _json_copy(_get(data, "context", dict, where), "context")
        except InvalidEvent as exc:
            raise InvalidState(str(exc)) from None
        return cls(
            definition_code=_get(data, "definition_code", str, where),
            definition_version=_get(data, "definition_version", int, where),
            status=status,
            stage_id=_get(data, "stage_id", (str, type(None)), where),
            round=_get(data, "round", int, where),
            author=_get(data, "author", str, where),
            context=context,
            tasks=tasks,
        )


def _json_copy(value: Any, where: str) -> Any:
    """A deep copy of JSON data; ``InvalidEvent`` for anything JSON cannot hold."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEvent(f"{where} is not a finite number")
        return value
    if isinstance(value, list | tuple):
        return [_json_copy(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEvent(f"{where}: keys must be text, not {type(key).__name__}")
            out[key] = _json_copy(item, f"{where}.{key}")
        return out
    raise InvalidEvent(
        f"{where} is a {type(value).__name__}; the context holds JSON data only "
        "(text, numbers, true/false, null, lists, mappings)"
    )


# --- events -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decide:
    """``actor`` decides ``task_id``. ``return_to`` (with decision ``return``) names an
    earlier stage to restart; ``signature`` is required by approve/sign on a signature
    stage (edms passes a reference to the signature it made)."""

    task_id: str
    actor: str
    decision: str
    comment: str = ""
    return_to: str | None = None
    signature: str | None = None


@dataclass(frozen=True)
class Tick:
    """Deadline checks at ``now``: reminders and escalations."""


@dataclass(frozen=True)
class Reassign:
    """Move an open or waiting task to ``to_user`` (delegation, escalation)."""

    task_id: str
    to_user: str
    reason: str = ""


@dataclass(frozen=True)
class Cancel:
    """End the instance; edms checks that ``actor`` may."""

    actor: str
    reason: str = ""


@dataclass(frozen=True)
class Resubmit:
    """The author sends a returned document back; ``context``, when given, replaces the
    document attributes (the rework may have changed them)."""

    actor: str
    context: Mapping[str, Any] | None = None


Event = Decide | Tick | Reassign | Cancel | Resubmit


# --- effects ------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskOpened:
    """``task`` is open for ``task.assignee``: a new task, or one moved by ``Reassign``
    (same id: update it)."""

    task: TaskState


@dataclass(frozen=True)
class TaskClosed:
    """An open task closed. ``reason``: decided, not needed (its stage ended without it),
    returned (the stage was returned) or cancelled (the instance was)."""

    task_id: str
    reason: str


@dataclass(frozen=True)
class Notify:
    """Tell ``user`` something; ``kind`` and JSON-compatible ``data`` say what
    (see docs/WORKFLOWS.md for the kinds)."""

    user: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Remind:
    """The task is due soon: remind its assignee (once per task)."""

    task_id: str


@dataclass(frozen=True)
class Escalate:
    """The task is overdue (once per task). ``to`` is whom to escalate to
    (``"supervisor"``: the assignee's supervisor, resolved by edms); ``action`` is
    ``"notify"`` (tell them) or ``"reassign"`` (answer with a ``Reassign`` event)."""

    task_id: str
    to: str
    action: str = "notify"


@dataclass(frozen=True)
class SignatureRequired:
    """The task's decision must carry a signature: prepare signing for its assignee."""

    task_id: str


@dataclass(frozen=True)
class Finished:
    """The instance ended: approved, rejected or cancelled."""

    status: str


Effect = TaskOpened | TaskClosed | Notify | Remind | Escalate | SignatureRequired | Finished


@dataclass(frozen=True)
class Result:
    """The new state and what edms must do about it, in order."""

    state: InstanceState
    effects: list[Effect]


# --- the engine ---------------------------------------------------------------------


def _check_now(now: datetime) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidEvent("now must be a timezone-aware datetime")


class Engine:
    """Runs instances of one definition.

    ``resolve(spec, context)`` returns the user names for an assignee spec (edms
    queries its users; tests use dicts); the engine calls it when a stage starts, only
    for specs whose ``when`` holds, and drops repeated names. ``calendar`` counts the
    working days of deadlines (no holidays, Saturday and Sunday off, if not given).
    """

    def __init__(
        self, definition: Definition, resolve: Resolver, calendar: Calendar | None = None
    ) -> None:
        self.definition = definition
        self.resolve = resolve
        self.calendar = calendar if calendar is not None else Calendar()

    def start(self, context: Mapping[str, Any], now: datetime, author: str) -> Result:
        """Start an instance for a document with attributes ``context`` by ``author``.

        Stages whose ``when`` is false are skipped (all of them: the result is already
        approved). Raises ``InvalidEvent`` when the first stage to run has nobody to act
        (no assignee resolved, or fewer than its quorum): nothing is started.
        """
        _check_now(now)
        if not isinstance(author, str) or not author:
            raise InvalidEvent("the author must be a user name")
        if not isinstance(context, Mapping):
            raise InvalidEvent("the context must be a mapping of document attributes")
        state = InstanceState(
            definition_code=self.definition.code,
            definition_version=self.definition.version,
            status="running",
            stage_id=None,
            round=1,
            author=author,
            context=_json_copy(context, "context"),
        )
        run = _Run(self, state, now)
        run.enter(0, starting=True)
        logger.info(
            "workflow %s v%s started: %s",
            self.definition.code,
            self.definition.version,
            run.state.status,
        )
        return Result(run.state, run.effects)

    def apply(self, state: InstanceState, event: Event, now: datetime) -> Result:
        """Apply ``event`` at ``now`` to ``state`` (left unchanged); ``InvalidEvent`` if
        the event is not allowed now."""
        _check_now(now)
        if (
            state.definition_code != self.definition.code
            or state.definition_version != self.definition.version
        ):
            raise InvalidEvent(
                f"the instance runs on {state.definition_code} version "
                f"{state.definition_version}, not {self.definition.code} version "
                f"{self.definition.version}; load that version"
            )
        run = _Run(self, state, now)
        if isinstance(event, Decide):
            run.decide(event)
        elif isinstance(event, Tick):
            run.tick()
        elif isinstance(event, Reassign):
            run.reassign(event)
        elif isinstance(event, Cancel):
            run.cancel(event)
        elif isinstance(event, Resubmit):
            run.resubmit(event)
        else:
            raise InvalidEvent(f"unknown event {type(event).__name__}")
        if run.state.status != state.status:
            logger.info(
                "workflow %s: %s -> %s", self.definition.code, state.status, run.state.status
            )
        return Result(run.state, run.effects)


class _Run:
    """One step: a working copy of the state and the effects collected so far."""

    def __init__(self, engine: Engine, state: InstanceState, now: datetime) -> None:
        self.engine = engine
        self.definition = engine.definition
        self.now = now
        # Not dataclasses.replace: this runs on every event and replace() is slow.
        self.state = InstanceState(
            state.definition_code,
            state.definition_version,
            state.status,
            state.stage_id,
            state.round,
            state.author,
            state.context,
            dict(state.tasks),
        )
        self.effects: list[Effect] = []

    # helpers

    def current_stage(self) -> Stage:
        stage_id = self.state.stage_id
        try:
            return self.definition.stage(stage_id or "")
        except KeyError:
            raise InvalidEvent(f"the instance is at an unknown stage {stage_id!r}") from None

    def put(self, task: TaskState) -> None:
        self.state.tasks[task.id] = task

    def require_running(self) -> None:
        if self.state.status != "running":
            raise InvalidEvent(f"the instance is {self.state.status}, not running")

    # stages

    def assignees(self, stage: Stage) -> list[str]:
        context = self.state.context
        users: list[str] = []
        for spec in stage.assignees:
            if spec.when is not None and not spec.when.evaluate(context):
                continue
            for user in self.engine.resolve(spec, context):
                if not isinstance(user, str) or not user:
                    raise InvalidEvent(f"resolve() gave {user!r:.40} for {spec}: not a user name")
                if user not in users:
                    users.append(user)
        return users

    def enter(self, index: int, *, starting: bool = False) -> None:
        """Run the first stage from ``index`` on whose condition holds."""
        stages = self.definition.stages
        context = self.state.context
        while index < len(stages):
            stage = stages[index]
            if stage.when is not None and not stage.when.evaluate(context):
                index += 1
                continue
            users = self.assignees(stage)
            required = stage.policy.required(len(users))
            self.state.stage_id = stage.id
            if not users or required > len(users):
                why = (
                    "nobody to act"
                    if not users
                    else f"{len(users)} assignee(s) for a quorum of {required}"
                )
                if starting:
                    raise InvalidEvent(
                        f"stage {stage.id!r} cannot start: {why}; check who holds the "
                        "roles and heads it names"
                    )
                # Stopping is safer than skipping a stage (a signature, say) nobody can
                # act on: the author is told, and a Resubmit tries the stage again.
                self.state.status = "returned"
                self.effects.append(
                    Notify(
                        self.state.author,
                        "no_assignees",
                        {"stage_id": stage.id, "found": len(users), "required": required},
                    )
                )
                return
            round_ = self.state.round
            for n, user in enumerate(users, start=1):
                self.put(TaskState(f"{stage.id}:{round_}:{n}", stage.id, round_, user))
            current = self.state.current_tasks()
            for task in current if stage.mode == "parallel" else current[:1]:
                self.open(task, stage)
            return
        self.finish("approved")

    def open(self, task: TaskState, stage: Stage) -> None:
        due = None
        if stage.deadline_days is not None:
            due = self.engine.calendar.add_working_days(self.now, stage.deadline_days)
        task = replace(task, status="open", opened_at=self.now, due_at=due)
        self.put(task)
        self.effects.append(TaskOpened(task))
        if stage.signature:
            self.effects.append(SignatureRequired(task.id))

    def close_current(self, reason: str) -> None:
        for task in self.state.current_tasks():
            if task.status == "open":
                self.put(replace(task, status="cancelled"))
                self.effects.append(TaskClosed(task.id, reason))
            elif task.status == "waiting":
                self.put(replace(task, status="cancelled"))

    def finish(self, status: str) -> None:
        self.state.status = status
        self.effects.append(Finished(status))
        if status != "cancelled":
            self.effects.append(
                Notify(self.state.author, status, {"stage_id": self.state.stage_id})
            )

    def go_back(self, index: int) -> None:
        self.state.round += 1
        self.state.status = "running"
        self.enter(index)

    def outcome(self, stage: Stage) -> str:
        tasks = self.state.current_tasks()
        required = stage.policy.required(len(tasks))
        done = [t for t in tasks if t.status == "done"]
        approvals = sum(1 for t in done if t.decision in POSITIVE)
        rejects = sum(1 for t in done if t.decision == "reject")
        pending = sum(1 for t in tasks if t.status in ("open", "waiting"))
        if approvals >= required:
            return "approved"
        if (stage.veto and rejects) or approvals + pending < required:
            return "rejected"
        return "pending"

    # events

    def decide(self, event: Decide) -> None:
        self.require_running()
        task = self.state.tasks.get(event.task_id)
        if task is None:
            raise InvalidEvent(f"no task {event.task_id!r:.80} in this instance")
        if task.status != "open":
            raise InvalidEvent(f"task {task.id} is {task.status}, not open")
        if event.actor not in (task.assignee, task.on_behalf_of):
            raise InvalidEvent(f"task {task.id} is not assigned to {event.actor!r:.80}")
        stage = self.current_stage()
        if event.decision not in stage.decisions:
            raise InvalidEvent(
                f"stage {stage.id!r} allows {', '.join(stage.decisions)}, "
                f"not {event.decision!r:.40}"
            )
        target = None
        if event.return_to is not None:
            if event.decision != "return":
                raise InvalidEvent("return_to goes with the decision return")
            index = self.definition.index(stage.id)
            earlier = [s.id for s in self.definition.stages[:index]]
            if event.return_to not in earlier:
                raise InvalidEvent(
                    f"return_to must name an earlier stage ({', '.join(earlier) or 'none'}), "
                    f"not {event.return_to!r:.40}"
                )
            target = earlier.index(event.return_to)
        if (
            stage.signature
            and event.decision in SIGNED
            and (not isinstance(event.signature, str) or not event.signature.strip())
        ):
            raise InvalidEvent(f"stage {stage.id!r} needs a signature with {event.decision}")
        if not isinstance(event.comment, str):
            raise InvalidEvent("the comment must be text")

        self.put(
            replace(
                task,
                status="done",
                decision=event.decision,
                comment=event.comment,
                decided_by=event.actor,
                decided_at=self.now,
                signature=event.signature,
            )
        )
        self.effects.append(TaskClosed(task.id, "decided"))

        if event.decision == "return":
            self.close_current("returned")
            if target is not None:
                self.go_back(target)
            else:
                self.state.status = "returned"
                self.effects.append(
                    Notify(
                        self.state.author,
                        "returned",
                        {
                            "stage_id": stage.id,
                            "task_id": task.id,
                            "by": event.actor,
                            "comment": event.comment,
                        },
                    )
                )
            return

        outcome = self.outcome(stage)
        if outcome == "approved":
            self.close_current("not needed")
            self.enter(self.definition.index(stage.id) + 1)
        elif outcome == "rejected":
            self.close_current("not needed")
            if stage.on_reject == "end":
                self.finish("rejected")
            else:
                self.go_back(self.definition.index(stage.on_reject))
        elif stage.mode == "sequential":
            current = self.state.current_tasks()
            if not any(t.status == "open" for t in current):
                waiting = [t for t in current if t.status == "waiting"]
                if waiting:  # outcome() is "rejected" when nobody is left
                    self.open(waiting[0], stage)

    def tick(self) -> None:
        if self.state.status != "running":
            return
        calendar = self.engine.calendar
        for task in self.state.open_tasks():
            if task.due_at is None:
                continue
            stage = self.definition.stage(task.stage_id)
            if self.now > task.due_at:
                if task.escalated or stage.escalation == "none":
                    continue
                action = "notify" if stage.escalation == "notify_supervisor" else "reassign"
                self.effects.append(Escalate(task.id, "supervisor", action))
                self.effects.append(
                    Notify(
                        task.assignee,
                        "overdue",
                        {"task_id": task.id, "due_at": task.due_at.isoformat()},
                    )
                )
                self.put(replace(task, escalated=True, reminded=True))
            elif not task.reminded and stage.remind_days_before:
                remind_at = calendar.add_working_days(task.due_at, -stage.remind_days_before)
                if self.now >= remind_at:
                    self.effects.append(Remind(task.id))
                    self.put(replace(task, reminded=True))

    def reassign(self, event: Reassign) -> None:
        self.require_running()
        task = self.state.tasks.get(event.task_id)
        if task is None:
            raise InvalidEvent(f"no task {event.task_id!r:.80} in this instance")
        if task.status not in ("open", "waiting"):
            raise InvalidEvent(f"task {task.id} is {task.status}; only open tasks move")
        if not isinstance(event.to_user, str) or not event.to_user:
            raise InvalidEvent("reassign to a user name")
        if event.to_user == task.assignee:
            raise InvalidEvent(f"task {task.id} is already assigned to {event.to_user!r:.80}")
        original = task.on_behalf_of or task.assignee
        moved = replace(
            task,
            assignee=event.to_user,
            on_behalf_of=None if event.to_user == original else original,
            # The new holder has not been reminded; once overdue it stays escalated.
            reminded=task.escalated,
        )
        self.put(moved)
        if moved.status == "open":
            self.effects.append(TaskOpened(moved))
            if self.current_stage().signature:
                self.effects.append(SignatureRequired(moved.id))
        self.effects.append(
            Notify(
                task.assignee,
                "reassigned",
                {"task_id": task.id, "to": event.to_user, "reason": event.reason},
            )
        )

    def cancel(self, event: Cancel) -> None:
        if self.state.finished:
            raise InvalidEvent(f"the instance is already {self.state.status}")
        self.close_current("cancelled")
        self.finish("cancelled")
        if event.actor != self.state.author:
            self.effects.append(
                Notify(self.state.author, "cancelled", {"by": event.actor, "reason": event.reason})
            )

    def resubmit(self, event: Resubmit) -> None:
        if self.state.status != "returned":
            raise InvalidEvent(f"the instance is {self.state.status}, not returned")
        if event.actor != self.state.author:
            raise InvalidEvent("only the author resubmits a returned document")
        if event.context is not None:
            if not isinstance(event.context, Mapping):
                raise InvalidEvent("the context must be a mapping of document attributes")
            self.state.context = _json_copy(event.context, "context")
        self.go_back(self.definition.index(self.current_stage().id))
