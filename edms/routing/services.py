"""Routing documents through workflow definitions: start, decide, cancel, resubmit, inbox.

The ``workflows`` engine decides what happens; this module keeps its state and
carries out its effects:

- Definitions are rows of ``workflow_definitions``, one per version of a YAML
  text; ``sync_definitions`` adds a version only when the text changed, and a
  running instance stays on the version it started with.
- Every change of an instance goes through ``_advance``, which holds the
  instance row locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write
  transactions take turns anyway), feeds the engine one event after another
  and mirrors the resulting state into ``Task`` rows. Two approvers deciding
  at the same moment are therefore applied one after the other, and a stage
  completes once.
- Effects: an opened task gives its assignee access to the document and a
  notification, or goes straight to the assignee's deputy (a ``Reassign``
  fed back to the engine); reminders and escalations notify (or reassign to)
  the supervisor, the head of the assignee's department; the end of a route
  sets the document's status.
- Two scheduled jobs: "routing: deadlines" ticks instances with a reminder or
  an escalation due, "routing: delegations" moves open tasks to the deputies of
  users whose delegation has begun.

Every start, decision, cancel, resubmission, delegation and escalation is an
audit event on the document.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import format_datetime, get_locale, gettext
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

import workflows
from edms.audit import services as audit
from edms.auth.models import Department, Role, User, UserRole
from edms.db import db, utcnow
from edms.documents import services as documents
from edms.documents.models import AccessReason, Document, Status
from edms.drafting import services as drafting
from edms.errors import Conflict, NotFound, PermissionDenied, ValidationError
from edms.routing.models import (
    OPEN_STATUSES,
    InstanceStatus,
    Task,
    TaskStatus,
    WorkflowDefinition,
    WorkflowInstance,
)
from edms.scheduler import register_job
from edms.signing import services as signatures
from edms.validators import text_problem

logger = logging.getLogger(__name__)

DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "config" / "workflows"
#: The document attributes a definition's conditions may use (``amount`` is null for now).
ATTRIBUTES = ("type", "department", "direction", "confidentiality", "journal", "language", "amount")
ROLES = tuple(role.value for role in Role)
#: Decisions that need a signature on a signature stage.
SIGNED = frozenset({"approve", "sign"})
MAX_COMMENT = 5000
DEADLINES_JOB = "routing: deadlines"
DELEGATIONS_JOB = "routing: delegations"
JOB_EVERY = timedelta(minutes=1)
#: Instances ticked by one run of the deadline job; the rest wait for the next minute.
DEADLINE_BATCH = 500
#: Follow-up events (delegations, escalations) one change may cause, at most.
MAX_STEPS = 200
#: Names of the signature fields the organisation's seal lays out before the first
#: approval signature of a route: ``Approval1`` ... ``ApprovalN``.
APPROVAL_FIELD = "Approval{}"


class DefinitionsInvalid(ValidationError):
    """Definition files that do not load; nothing of the batch was saved."""

    def __init__(self, errors: list[workflows.DefinitionError]) -> None:
        self.definition_errors = errors
        super().__init__(
            {error.source: "; ".join(str(p) for p in error.problems) for error in errors},
            "\n".join(str(error) for error in errors),
        )


# Definitions -----------------------------------------------------------------

_parsed: dict[tuple[str, int], workflows.Definition] = {}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load(text: str, source: str, version: int = 1) -> workflows.Definition:
    """Validate a definition text with the roles and attributes edms knows."""
    return workflows.load_definition(
        text, source, roles=ROLES, attributes=ATTRIBUTES, version=version
    )


def parse(row: WorkflowDefinition) -> workflows.Definition:
    """The definition of a version row (parsed once per process: rows never change)."""
    key = (row.sha256, row.version)
    definition = _parsed.get(key)
    if definition is None:
        definition = load(row.source, f"{row.code} v{row.version}", row.version)
        _parsed[key] = definition
    return definition


def latest_definition(code: str) -> WorkflowDefinition | None:
    return db.session.scalar(
        select(WorkflowDefinition)
        .where(WorkflowDefinition.code == code)
        .order_by(WorkflowDefinition.version.desc())
        .limit(1)
    )


def save_definition(
    text: str, source: str, user: User | None = None
) -> tuple[WorkflowDefinition, bool]:
    """Store ``text`` as the next version of its definition unless it is the latest already.

    Returns the row and whether it is new. ``workflows.DefinitionError`` if the text is
    invalid: an invalid definition never loads.
    """
    definition = load(text, source)
    digest = _digest(text)
    latest = latest_definition(definition.code)
    if latest is not None and latest.sha256 == digest:
        return latest, False
    row = WorkflowDefinition(
        code=definition.code,
        version=latest.version + 1 if latest is not None else 1,
        name=dict(definition.name),
        source=text,
        sha256=digest,
        active=True,
        created_by_id=user.id if user else None,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "workflow.definition",
        "workflow_definition",
        row.id,
        {"code": row.code, "version": row.version, "sha256": digest, "source": source},
        actor=user,
    )
    logger.info("workflow definition %s version %s saved", row.code, row.version)
    return row, True


def sync_definitions(
    directory: Path | None = None, user: User | None = None, *, force: bool = False
) -> list[tuple[WorkflowDefinition, bool]]:
    """Load every ``*.yaml`` of ``directory`` (config/workflows) into the definitions table.

    All files are validated first: if any is invalid, nothing is saved and
    ``DefinitionsInvalid`` lists the problems of each. A definition whose latest
    version an administrator saved in the application keeps it (the file would
    silently undo that edit) unless ``force`` is given.
    """
    directory = directory or DEFINITIONS_DIR
    texts: list[tuple[str, str]] = []
    errors: list[workflows.DefinitionError] = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text("utf-8")
        try:
            load(text, path.name)
        except workflows.DefinitionError as exc:
            errors.append(exc)
        texts.append((text, path.name))
    if errors:
        raise DefinitionsInvalid(errors)
    results = []
    for text, source in texts:
        latest = latest_definition(load(text, source).code)
        if not force and latest is not None and latest.created_by_id is not None:
            if latest.sha256 != _digest(text):
                logger.warning(
                    "workflow definition %s: kept version %s saved by an administrator, not %s",
                    latest.code,
                    latest.version,
                    source,
                )
            results.append((latest, False))
            continue
        results.append(save_definition(text, source, user))
    return results


def list_definitions(active_only: bool = True) -> list[WorkflowDefinition]:
    """The latest version of each definition, by code."""
    latest = (
        select(WorkflowDefinition.code, func.max(WorkflowDefinition.version).label("version"))
        .group_by(WorkflowDefinition.code)
        .subquery()
    )
    query = select(WorkflowDefinition).join(
        latest,
        and_(
            WorkflowDefinition.code == latest.c.code,
            WorkflowDefinition.version == latest.c.version,
        ),
    )
    if active_only:
        query = query.where(WorkflowDefinition.active.is_(True))
    return list(db.session.scalars(query.order_by(WorkflowDefinition.code)))


def _definition_for_start(code: Any) -> WorkflowDefinition:
    if not isinstance(code, str) or not code.strip():
        raise ValidationError({"definition": "is required"})
    row = latest_definition(code.strip())
    if row is None or not row.active:
        known = ", ".join(d.code for d in list_definitions()) or "none loaded"
        raise ValidationError(
            {"definition": f"unknown workflow definition {code.strip()[:64]!r}; use one of {known}"}
        )
    return row


# Who acts ------------------------------------------------------------------------


def document_context(doc: Document) -> dict[str, Any]:
    """The document attributes conditions and ``owner`` assignees see."""
    return {
        "type": doc.document_type.code,
        "department": doc.department.code,
        "direction": doc.direction,
        "confidentiality": doc.confidentiality,
        "journal": doc.journal.code,
        "language": doc.language,
        "amount": None,
    }


def resolve(spec: workflows.AssigneeSpec, context: Mapping[str, Any]) -> list[str]:
    """User names for an assignee spec: the engine's ``resolve`` (active users only)."""

    def department(code: str | None) -> str:
        if code is None or code == "owner":
            return str(context.get("department") or "")
        return code

    if spec.user is not None:
        name = db.session.scalar(
            select(User.username).where(
                User.username == spec.user.strip().lower(), User.is_active.is_(True)
            )
        )
        return [name] if name else []
    if spec.role is not None:
        return list(
            db.session.scalars(
                select(User.username)
                .join(UserRole, UserRole.user_id == User.id)
                .join(Department, Department.id == User.department_id)
                .where(
                    UserRole.role == spec.role,
                    Department.code == department(spec.department),
                    User.is_active.is_(True),
                )
                .order_by(User.username)
            )
        )
    if spec.head_of is not None:
        name = db.session.scalar(
            select(User.username)
            .join(Department, Department.head_id == User.id)
            .where(Department.code == department(spec.head_of), User.is_active.is_(True))
        )
        return [name] if name else []
    return []


def calendar() -> workflows.Calendar:
    """Working days for deadlines (see ``edms.wiring.build_calendar``)."""
    cal: workflows.Calendar = current_app.extensions["edms.calendar"]
    return cal


def engine_for(row: WorkflowDefinition) -> workflows.Engine:
    return workflows.Engine(parse(row), resolve, calendar())


def supervisor_of(user: User) -> User | None:
    """The head of the user's department, or of the next department up if that is the user."""
    department = user.department
    seen: set[int] = set()
    while department is not None and department.id not in seen:
        seen.add(department.id)
        head = department.head
        if head is not None and head.id != user.id and head.is_active:
            return head
        department = department.parent
    return None


def deputy_for(user: User, at: datetime) -> User | None:
    """The user's deputy at ``at`` (``edms.delegations``), or None."""
    try:
        from edms.delegations import services as delegations
    except ImportError:  # before the delegations feature
        return None
    return delegations.deputy_for(user, at)


# Reading ----------------------------------------------------------------------------


def current_instance(doc: Document) -> WorkflowInstance | None:
    """The document's open instance, else its latest finished one, else None."""
    return db.session.scalar(
        select(WorkflowInstance)
        .where(WorkflowInstance.document_id == doc.id)
        .order_by(
            case((WorkflowInstance.status.in_(list(OPEN_STATUSES)), 0), else_=1),
            WorkflowInstance.id.desc(),
        )
        .limit(1)
    )


def open_instance(doc: Document) -> WorkflowInstance | None:
    return db.session.scalar(
        select(WorkflowInstance).where(
            WorkflowInstance.document_id == doc.id,
            WorkflowInstance.status.in_(list(OPEN_STATUSES)),
        )
    )


def instance_tasks(instance: WorkflowInstance) -> list[Task]:
    """The instance's tasks in the order the engine made them, with their people."""
    return list(
        db.session.scalars(
            select(Task)
            .options(
                joinedload(Task.assignee),
                joinedload(Task.on_behalf_of),
                joinedload(Task.decided_by),
            )
            .where(Task.instance_id == instance.id)
            .order_by(Task.id)
        )
    )


def state_of(instance: WorkflowInstance) -> workflows.InstanceState:
    return workflows.InstanceState.from_dict(instance.state)


def get_task(user: User, task_id: int | str, now: datetime | None = None) -> Task:
    """A task on a document the user may see; 404 otherwise, whether it exists or not."""
    documents.require_staff(user)
    try:
        key = int(task_id)
    except (TypeError, ValueError):
        raise NotFound("No such task.") from None
    task = db.session.get(Task, key)
    if task is None:
        raise NotFound("No such task.")
    visible = db.session.scalar(
        select(Document.id).where(Document.id == task.document_id, documents.visible_clause(user))
    )
    if visible is None:
        # A deputy whose delegation began after the task opened may not see the
        # document yet: deciding the task gives them access.
        deputy = deputy_for(task.assignee, now or utcnow())
        if deputy is None or deputy.id != user.id:
            audit.record_denied("task", task.id, actor=user)
            raise NotFound("No such task.")
    return task


def svg(instance: WorkflowInstance, lang: str = "en") -> str:
    """The route picture with the instance's state (the library escapes every text)."""
    return workflows.render_svg(parse(instance.definition), state_of(instance), lang)


# Changing an instance ---------------------------------------------------------------


def _lock(instance_id: int) -> WorkflowInstance:
    """The instance row, locked until the transaction ends, as the database has it now."""
    instance = db.session.scalar(
        select(WorkflowInstance)
        .where(WorkflowInstance.id == instance_id)
        .with_for_update(of=WorkflowInstance)
        .execution_options(populate_existing=True)
    )
    if instance is None:
        raise NotFound("No such route.")
    return instance


def _refused(exc: workflows.InvalidEvent) -> Conflict:
    return Conflict(f"The route does not allow this: {exc}.")


@dataclass
class _Step:
    """What one change did, for the caller's audit record and tests."""

    events: list[workflows.Event] = field(default_factory=list)
    effects: list[workflows.Effect] = field(default_factory=list)


def _advance(
    instance: WorkflowInstance,
    events: Iterable[workflows.Event],
    now: datetime,
    actor: User | None,
    started: workflows.Result | None = None,
) -> _Step:
    """Apply ``events`` (the instance is locked), then the follow-ups their effects ask for.

    The first events come from the caller: the engine refusing one is a 409. Follow-ups
    (a task moved to a deputy or a supervisor) that the engine refuses are logged and
    skipped: they never undo the decision that caused them. ``started`` is the result
    of ``Engine.start`` for a new instance, whose effects are carried out first.
    """
    engine = engine_for(instance.definition)
    step = _Step()
    queue: list[tuple[workflows.Event, bool]] = [(event, True) for event in events]
    if started is not None:
        state = started.state
        step.effects.extend(started.effects)
        rows = _record(instance, state, now)
        queue.extend((e, False) for e in _carry_out(instance, rows, started.effects, now, actor))
    else:
        state = state_of(instance)
    while queue:
        if len(step.events) >= MAX_STEPS:
            raise RuntimeError(f"workflow instance {instance.id}: effects do not settle")
        event, required = queue.pop(0)
        try:
            result = engine.apply(state, event, now)
        except workflows.InvalidEvent as exc:
            if required:
                raise _refused(exc) from exc
            logger.warning("instance %s: follow-up %s refused: %s", instance.id, event, exc)
            continue
        state = result.state
        step.events.append(event)
        step.effects.extend(result.effects)
        rows = _record(instance, state, now)
        queue.extend((e, False) for e in _carry_out(instance, rows, result.effects, now, actor))
    return step


def _users_by_name(names: Iterable[str | None]) -> dict[str, User]:
    wanted = {name for name in names if name}
    if not wanted:
        return {}
    return {
        user.username: user
        for user in db.session.scalars(select(User).where(User.username.in_(wanted)))
    }


def _next_check(
    task: workflows.TaskState, stage: workflows.Stage, cal: workflows.Calendar
) -> datetime | None:
    """When the deadline job has something to do for the task next (see ``Engine.tick``)."""
    if task.status != TaskStatus.OPEN or task.due_at is None:
        return None
    if not task.reminded and stage.remind_days_before:
        return cal.add_working_days(task.due_at, -stage.remind_days_before)
    if not task.escalated and stage.escalation != "none":
        return task.due_at
    return None


def _record(
    instance: WorkflowInstance, state: workflows.InstanceState, now: datetime
) -> dict[str, Task]:
    """Write the state to the instance and its tasks to ``Task`` rows; the rows by key."""
    instance.state = state.to_dict()
    instance.status = state.status
    if state.finished and instance.finished_at is None:
        instance.finished_at = now
    definition = parse(instance.definition)
    cal = calendar()
    rows = {
        row.key: row
        for row in db.session.scalars(
            select(Task)
            .where(Task.instance_id == instance.id)
            .execution_options(populate_existing=True)
        )
    }
    users = _users_by_name(
        name
        for task in state.tasks.values()
        for name in (task.assignee, task.on_behalf_of, task.decided_by)
    )

    def person(name: str) -> User:
        found = users.get(name)
        if found is None:
            raise RuntimeError(f"workflow instance {instance.id}: no user {name!r}")
        return found

    def user(name: str | None) -> User | None:
        return None if name is None else person(name)

    for task in state.tasks.values():
        row = rows.get(task.id)
        if row is None:
            row = Task(instance=instance, document_id=instance.document_id, key=task.id)
            db.session.add(row)
            rows[task.id] = row
        # Relationships, not ids: the effects read row.assignee right after this.
        row.stage_id = task.stage_id
        row.round = task.round
        row.assignee = person(task.assignee)
        row.on_behalf_of = user(task.on_behalf_of)
        row.status = task.status
        row.decision = task.decision
        row.comment = task.comment
        row.decided_by = user(task.decided_by)
        row.decided_at = task.decided_at
        row.due_at = task.due_at
        row.opened_at = task.opened_at
        row.reminded = task.reminded
        row.escalated = task.escalated
        row.next_check_at = _next_check(task, definition.stage(task.stage_id), cal)
    db.session.flush()
    return rows


def _carry_out(
    instance: WorkflowInstance,
    rows: dict[str, Task],
    effects: list[workflows.Effect],
    now: datetime,
    actor: User | None,
) -> list[workflows.Event]:
    """Do what the effects ask; return the events they lead to (delegation, reassignment)."""
    follow: list[workflows.Event] = []
    doc = instance.document
    for effect in effects:
        if isinstance(effect, workflows.TaskOpened):
            row = rows[effect.task.id]
            assignee = row.assignee
            if effect.task.on_behalf_of is None:
                deputy = deputy_for(assignee, now)
                if deputy is not None and deputy.id != assignee.id:
                    follow.append(workflows.Reassign(row.key, deputy.username, "delegation"))
                    audit.record(
                        "workflow.delegate",
                        "document",
                        doc.id,
                        _task_details(instance, row, {"to": deputy.username}),
                        actor=actor,
                    )
                    continue  # the task opens for the deputy instead
            _give_access(instance, doc, assignee, actor)
            if actor is None or actor.id != assignee.id:  # not who is taking it right now
                _notify_task(row, "task.opened")
        elif isinstance(effect, workflows.Notify):
            _notify_route(instance, effect)
        elif isinstance(effect, workflows.Remind):
            _notify_task(rows[effect.task_id], "task.reminder")
        elif isinstance(effect, workflows.Escalate):
            follow.extend(_escalate(instance, rows[effect.task_id], effect, actor))
        elif isinstance(effect, workflows.SignatureRequired):
            logger.info("instance %s: task %s needs a signature", instance.id, effect.task_id)
        elif isinstance(effect, workflows.Finished):
            _finish(instance, doc, effect.status)
        # TaskClosed: the rows already say so.
    return follow


def _task_details(
    instance: WorkflowInstance, row: Task, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "instance": instance.id,
        "definition": instance.definition.code,
        "version": instance.definition.version,
        "task": row.key,
        "stage": row.stage_id,
        "assignee": row.assignee.username,
    }
    if row.on_behalf_of is not None:
        details["on_behalf_of"] = row.on_behalf_of.username
    details.update(extra or {})
    return details


def _give_access(
    instance: WorkflowInstance, doc: Document, assignee: User, actor: User | None
) -> None:
    """Let the assignee see the document, unless their department does already."""
    visible = db.session.scalar(
        select(Document.id).where(Document.id == doc.id, documents.visible_clause(assignee))
    )
    if visible is None:
        granter = actor or instance.started_by or assignee
        documents.grant_access(granter, doc, assignee, AccessReason.ASSIGNED)


def _escalate(
    instance: WorkflowInstance, row: Task, effect: workflows.Escalate, actor: User | None
) -> list[workflows.Event]:
    supervisor = supervisor_of(row.assignee)
    audit.record(
        "workflow.escalate",
        "document",
        instance.document_id,
        _task_details(
            instance,
            row,
            {"action": effect.action, "to": supervisor.username if supervisor else None},
        ),
        actor=actor,
    )
    if supervisor is None:
        logger.warning(
            "instance %s: task %s is overdue and has no supervisor", instance.id, row.key
        )
        return []
    if effect.action == "reassign":
        return [workflows.Reassign(row.key, supervisor.username, "escalation")]
    _notify_task(row, "task.escalated", to=supervisor)
    return []


#: Called as ``hook(document, status)`` when a route ends (in its transaction).
FINISH_HOOKS: list[Callable[[Document, str], None]] = []


def _finish(instance: WorkflowInstance, doc: Document, status: str) -> None:
    if status == InstanceStatus.CANCELLED:
        doc.status = Status.REGISTERED.value
    else:
        doc.status = Status.COMPLETED.value
    db.session.flush()
    for hook in FINISH_HOOKS:
        hook(doc, str(status))


# Notifications ------------------------------------------------------------------------


def _notifications() -> Any:
    try:
        from edms.notifications import services
    except ImportError:  # before the notifications feature
        return None
    return services


def _lang() -> str:
    return str(get_locale() or "en").split("_")[0]


def _when(moment: datetime | None) -> str:
    return format_datetime(moment, "short") if moment is not None else ""


def _notify_task(row: Task, kind: str, to: User | None = None) -> None:
    """Tell the task's holder (or ``to``) about it, in their language."""
    service = _notifications()
    if service is None:
        return
    recipient = to or row.assignee
    doc = row.document
    with service.recipient_locale(recipient):
        stage = parse(row.instance.definition).stage(row.stage_id).label(_lang())
        names = {
            "stage": stage,
            "number": doc.registration_number,
            "title": doc.title,
            "due": _when(row.due_at),
            "name": row.assignee.display_name,
        }
        if kind == "task.opened":
            subject = gettext("New task: %(stage)s, %(number)s", **names)
            body = gettext("%(number)s %(title)s is waiting for your decision.", **names)
        elif kind == "task.reminder":
            subject = gettext("Reminder: %(stage)s, %(number)s is due %(due)s", **names)
            body = gettext("%(number)s %(title)s is waiting for your decision.", **names)
        else:  # task.escalated, to the supervisor
            subject = gettext("Overdue: %(stage)s, %(number)s", **names)
            body = gettext("The task of %(name)s on %(number)s %(title)s was due %(due)s.", **names)
        if row.on_behalf_of is not None and to is None:
            body += "\n" + gettext(
                "You act on behalf of %(name)s.", name=row.on_behalf_of.display_name
            )
        if row.due_at is not None and kind == "task.opened":
            body += "\n" + gettext("Due: %(due)s", **names)
    service.notify(recipient, kind, subject, body, f"/tasks/{row.id}")


def _notify_route(instance: WorkflowInstance, effect: workflows.Notify) -> None:
    """The engine's own notices: the route ended, came back, found nobody ..."""
    service = _notifications()
    if service is None:
        return
    recipient = _users_by_name([effect.user]).get(effect.user)
    if recipient is None:
        return
    doc = instance.document
    data = effect.data
    with service.recipient_locale(recipient):
        names = {"number": doc.registration_number, "title": doc.title}
        definition = parse(instance.definition)
        stage_id = data.get("stage_id")
        try:
            names["stage"] = definition.stage(str(stage_id)).label(_lang())
        except KeyError:
            names["stage"] = ""
        messages = {
            "approved": gettext("Route completed: %(number)s was approved", **names),
            "rejected": gettext("Route ended: %(number)s was rejected", **names),
            "returned": gettext("Returned for rework: %(number)s", **names),
            "cancelled": gettext("Route cancelled: %(number)s", **names),
            "no_assignees": gettext("Nobody can act on %(stage)s of %(number)s", **names),
            "overdue": gettext("Overdue: your task on %(number)s", **names),
            "reassigned": gettext("Your task on %(number)s was passed on", **names),
        }
        subject = messages.get(effect.kind, gettext("Route of %(number)s changed", **names))
        body = f"{doc.registration_number} {doc.title}"
        if data.get("comment"):
            body += "\n" + gettext("Comment: %(comment)s", comment=str(data["comment"]))
        if effect.kind == "no_assignees":
            body += "\n" + gettext(
                "Check who holds the roles the stage names, then resubmit the document."
            )
    kind = f"route.{effect.kind}"[:64]
    link = f"/documents/{doc.id}"
    if effect.kind in ("overdue", "reassigned") and data.get("task_id"):
        row = db.session.scalar(
            select(Task).where(Task.instance_id == instance.id, Task.key == data["task_id"])
        )
        if row is not None:
            link = f"/tasks/{row.id}"
    service.notify(recipient, kind, subject, body, link)


# The actions ------------------------------------------------------------------------


def start(
    user: User, doc: Document, definition_code: Any, now: datetime | None = None
) -> WorkflowInstance:
    """Start the latest version of a definition on the document (clerks who may edit it)."""
    documents.require_edit(user, doc)
    row = _definition_for_start(definition_code)
    now = now or utcnow()
    # One open route per document: starts on the same document take turns here.
    db.session.execute(select(Document.id).where(Document.id == doc.id).with_for_update()).first()
    running = open_instance(doc)
    if running is not None:
        raise Conflict(
            "A route is already running on this document; cancel it before starting another.",
            route=running.id,
        )
    engine = engine_for(row)
    try:
        result = engine.start(document_context(doc), now, user.username)
    except workflows.InvalidEvent as exc:
        raise Conflict(f"The route cannot start: {exc}.") from exc
    instance = WorkflowInstance(
        document=doc,
        definition=row,
        state=result.state.to_dict(),
        status=result.state.status,
        started_by=user,
        started_at=now,
    )
    db.session.add(instance)
    db.session.flush()
    doc.status = Status.IN_PROGRESS.value
    audit.record(
        "workflow.start",
        "document",
        doc.id,
        {"instance": instance.id, "definition": row.code, "version": row.version},
        actor=user,
    )
    _advance(instance, [], now, user, started=result)
    logger.info("route %s (%s v%s) started on a document", instance.id, row.code, row.version)
    return instance


def decide(
    user: User,
    task_id: int | str,
    decision: Any,
    comment: Any = "",
    return_to: Any = None,
    now: datetime | None = None,
) -> Task:
    """Decide a task: its assignee, the user it is held for, or the assignee's deputy.

    The decision records who decided and on whose behalf. On a signature stage,
    approve and sign put the user's signature into the document's current PDF (see
    ``_sign``): 409 without a usable signing credential, 422 when the version cannot
    be signed. 409 when the task is not the user's, not open, or on a finished
    route; 422 for a decision the stage does not allow or a bad comment or return
    stage.
    """
    now = now or utcnow()
    task = get_task(user, task_id, now)
    instance = _lock(task.instance_id)
    task = db.session.scalars(
        select(Task).where(Task.id == task.id).execution_options(populate_existing=True)
    ).one()
    doc = task.document
    if instance.status != InstanceStatus.RUNNING:
        raise Conflict(
            f"The route is {instance.status}: its tasks can no longer be decided.",
            route_status=instance.status,
        )
    if task.status != TaskStatus.OPEN:
        raise Conflict(
            "This task is not open any more: it has been decided, or it is no longer needed.",
            task_status=task.status,
        )
    events: list[workflows.Event] = []
    on_behalf_of: User | None = task.on_behalf_of
    if user.id not in (task.assignee_id, task.on_behalf_of_id):
        deputy = deputy_for(task.assignee, now)
        if deputy is None or deputy.id != user.id:
            raise Conflict(
                f"This task is assigned to {task.assignee.display_name}; only they or "
                "their deputy may decide it."
            )
        events.append(workflows.Reassign(task.key, user.username, "delegation"))
        on_behalf_of = task.on_behalf_of or task.assignee
    elif user.id == task.on_behalf_of_id:
        on_behalf_of = None  # the original assignee decides for themselves
    definition = parse(instance.definition)
    stage = definition.stage(task.stage_id)
    decision, comment, return_to = _clean_decision(definition, stage, decision, comment, return_to)
    signature: str | None = None
    if stage.signature and decision in SIGNED:
        signature = _sign(user, task, doc, definition, stage, on_behalf_of)
    events.append(
        workflows.Decide(task.key, user.username, decision, comment, return_to, signature)
    )
    step = _advance(instance, events, now, user)
    extra: dict[str, Any] = {"decision": decision, "decided_by": user.username}
    if on_behalf_of is not None:
        extra["on_behalf_of"] = on_behalf_of.username
    if return_to:
        extra["return_to"] = return_to
    if signature:
        extra["signature_sha256"] = signature
    if comment:
        extra["comment_length"] = len(comment)
    extra["route_status"] = instance.status
    details = _task_details(instance, task, extra)
    if on_behalf_of is None:
        details.pop("on_behalf_of", None)
    audit.record("workflow.decision", "document", doc.id, details, actor=user)
    logger.info(
        "route %s: task %s decided (%s) after %s step(s)",
        instance.id,
        task.key,
        decision,
        len(step.events),
    )
    return task


def signature_fields(definition: workflows.Definition) -> list[str]:
    """One signature field per approval signature the route asks for: each signature
    stage counts its assignees (one when any of them decides for all)."""
    count = sum(
        1 if stage.policy.kind == "any" else max(1, len(stage.assignees))
        for stage in definition.stages
        if stage.signature
    )
    return [APPROVAL_FIELD.format(n) for n in range(1, count + 1)]


def _sign(
    user: User,
    task: Task,
    doc: Document,
    definition: workflows.Definition,
    stage: workflows.Stage,
    on_behalf_of: User | None,
) -> str:
    """Sign the document's current version as part of approving a signature stage.

    A DOCX/ODT version is first turned into PDF/A. The signed PDF becomes the next
    version; the decision records the SHA-256 of the signature (the CMS).
    """
    drafting.pdf_version(user, doc)
    lang = current_app.config["EDMS"]["default_locale"]
    _version, row = signatures.sign_version(
        user,
        doc,
        task_id=task.id,
        on_behalf_of=on_behalf_of,
        role_label=stage.label(lang),
        certify_fields=signature_fields(definition),
    )
    return row.signature_sha256


def _clean_decision(
    definition: workflows.Definition,
    stage: workflows.Stage,
    decision: Any,
    comment: Any,
    return_to: Any,
) -> tuple[str, str, str | None]:
    errors: dict[str, str] = {}
    decision = decision.strip() if isinstance(decision, str) else ""
    if not decision:
        errors["decision"] = "is required"
    elif decision not in stage.decisions:
        errors["decision"] = f"must be one of {', '.join(stage.decisions)}"
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = "must be text"
        comment = ""
    comment = comment.strip()
    problem = text_problem(comment, MAX_COMMENT)
    if problem:
        errors["comment"] = problem
    if return_to in (None, ""):
        return_to = None
    elif not isinstance(return_to, str):
        errors["return_to"] = "must be text"
    elif decision and decision != "return":
        errors["return_to"] = "goes with the decision return"
    else:
        earlier = [s.id for s in definition.stages[: definition.index(stage.id)]]
        if return_to not in earlier:
            errors["return_to"] = (
                f"must be one of {', '.join(earlier)}" if earlier else "there is no earlier stage"
            )
    if errors:
        raise ValidationError(errors)
    return decision, comment, return_to


def cancel(
    user: User, instance: WorkflowInstance, reason: Any = "", now: datetime | None = None
) -> WorkflowInstance:
    """End an open route early (clerks who may edit the document); the document is registered again."""
    doc = instance.document
    documents.require_edit(user, doc)
    reason = reason.strip() if isinstance(reason, str) else ""
    problem = text_problem(reason, 500)
    if problem:
        raise ValidationError({"reason": problem})
    now = now or utcnow()
    instance = _lock(instance.id)
    if not instance.is_open:
        raise Conflict(f"The route has already ended ({instance.status}).")
    _advance(instance, [workflows.Cancel(user.username, reason)], now, user)
    audit.record(
        "workflow.cancel",
        "document",
        doc.id,
        {"instance": instance.id, "definition": instance.definition.code, "reason": reason},
        actor=user,
    )
    return instance


def may_resubmit(user: User, instance: WorkflowInstance) -> bool:
    author = str(instance.state.get("author", ""))
    return user.username == author or documents.can_edit(user, instance.document)


def resubmit(
    user: User, instance: WorkflowInstance, now: datetime | None = None
) -> WorkflowInstance:
    """Send a returned document on again: its author, or a clerk who may edit it for them.

    The stage that returned it (or the one nobody could act on) starts again, in a new
    round, with the document's attributes as they are now.
    """
    doc = instance.document
    if not may_resubmit(user, instance):
        documents.require_edit(user, doc)
    now = now or utcnow()
    instance = _lock(instance.id)
    if instance.status != InstanceStatus.RETURNED:
        raise Conflict(
            f"The route is {instance.status}, not returned for rework: there is nothing "
            "to resubmit."
        )
    author = str(instance.state["author"])
    event = workflows.Resubmit(author, context=document_context(doc))
    _advance(instance, [event], now, user)
    if instance.status in OPEN_STATUSES:
        doc.status = Status.IN_PROGRESS.value
    details: dict[str, Any] = {"instance": instance.id, "definition": instance.definition.code}
    if user.username != author:
        details["on_behalf_of"] = author
    audit.record("workflow.resubmit", "document", doc.id, details, actor=user)
    return instance


def route_of(user: User, doc_id: uuid.UUID | str) -> tuple[Document, WorkflowInstance]:
    """The document (if the user may see it) and its current route, or 404."""
    doc = documents.get_document(user, doc_id)
    instance = current_instance(doc)
    if instance is None:
        raise NotFound("No route has been started on this document.")
    return doc, instance


# The inbox ----------------------------------------------------------------------------

INBOX_STATUSES = ("open", "done", "all")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass
class InboxPage:
    items: list[Task]
    total: int
    page: int
    per_page: int
    now: datetime

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _positive(raw: Mapping[str, Any], name: str, default: int, errors: dict[str, str]) -> int:
    value = raw.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        errors[name] = "must be a whole number"
        return default
    if number < 1:
        errors[name] = "must be 1 or more"
        return default
    return number


def inbox(user: User, raw: Mapping[str, Any], now: datetime | None = None) -> InboxPage:
    """The user's tasks (their own and those they hold for someone), overdue first.

    Filters: ``status`` (open, the default; done: decided by or held by the user;
    all), ``overdue`` (true: only open tasks past due), ``stage`` (a stage id).
    A fixed number of queries whatever the number of tasks.
    """
    documents.require_staff(user)
    now = now or utcnow()
    settings = current_app.config["EDMS"]
    errors: dict[str, str] = {}
    status = str(raw.get("status") or "open")
    if status not in INBOX_STATUSES:
        errors["status"] = f"must be one of {', '.join(INBOX_STATUSES)}"
        status = "open"
    overdue_raw = str(raw.get("overdue") or "").strip().lower()
    if overdue_raw not in _TRUE + _FALSE:
        errors["overdue"] = "must be true or false"
    overdue = overdue_raw in _TRUE
    stage = str(raw.get("stage") or "").strip()
    if len(stage) > 64:
        errors["stage"] = "must be at most 64 characters"
    page = _positive(raw, "page", 1, errors)
    per_page = _positive(raw, "per_page", settings["page_size"], errors)
    if per_page > settings["max_page_size"]:
        errors["per_page"] = f"must be at most {settings['max_page_size']}"
    if errors:
        raise ValidationError(errors)

    mine = Task.assignee_id == user.id
    if status == "open":
        query = select(Task).where(mine, Task.status == TaskStatus.OPEN)
    else:
        decided = or_(mine, Task.decided_by_id == user.id)
        statuses = [TaskStatus.DONE] if status == "done" else [TaskStatus.OPEN, TaskStatus.DONE]
        query = select(Task).where(decided, Task.status.in_([s.value for s in statuses]))
    if overdue:
        query = query.where(Task.status == TaskStatus.OPEN, Task.due_at < now)
    if stage:
        query = query.where(Task.stage_id == stage)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    is_overdue = and_(Task.status == TaskStatus.OPEN, Task.due_at < now)
    order: list[Any]
    if status == "done":
        order = [Task.decided_at.desc(), Task.id.desc()]
    elif status == "open":
        # All open: the overdue are exactly the earliest due, so "overdue first, then the
        # soonest due, no deadline last" is the order of ix_tasks_inbox and needs no sort.
        order = [Task.due_at.asc().nulls_last(), Task.id]
    else:  # overdue first, then the soonest due, tasks without a deadline last
        order = [
            case((is_overdue, 0), else_=1),
            case((Task.status == TaskStatus.OPEN, 0), else_=1),
            case((Task.due_at.is_(None), 1), else_=0),
            Task.due_at,
            Task.id,
        ]
    items = list(
        db.session.scalars(
            query.options(
                joinedload(Task.document),
                joinedload(Task.instance).joinedload(WorkflowInstance.definition),
                joinedload(Task.assignee),
                joinedload(Task.on_behalf_of),
                joinedload(Task.decided_by),
            )
            .order_by(*order)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).unique()
    )
    return InboxPage(items, total, page, per_page, now)


@dataclass(frozen=True)
class Counts:
    open: int
    overdue: int


def inbox_counts(user: User, now: datetime | None = None) -> Counts:
    """How many open tasks the user holds, and how many of them are overdue (one query)."""
    now = now or utcnow()
    total, overdue = db.session.execute(
        select(func.count(), func.count(case((Task.due_at < now, 1)))).where(
            Task.assignee_id == user.id, Task.status == TaskStatus.OPEN
        )
    ).one()
    return Counts(int(total or 0), int(overdue or 0))


# Scheduled jobs -------------------------------------------------------------------------


def check_deadlines(now: datetime) -> int:
    """Tick every running instance with a reminder or an escalation due; how many."""
    ids = list(
        db.session.scalars(
            select(Task.instance_id)
            .where(Task.status == TaskStatus.OPEN, Task.next_check_at <= now)
            .group_by(Task.instance_id)
            .order_by(Task.instance_id)
            .limit(DEADLINE_BATCH)
        )
    )
    ticked = 0
    for instance_id in ids:
        instance = _lock(instance_id)
        if instance.status != InstanceStatus.RUNNING:
            continue
        try:
            with db.session.begin_nested():
                _advance(instance, [workflows.Tick()], now, None)
        except Exception:  # one instance's trouble does not stop the others
            logger.exception("route %s: deadline check failed", instance_id)
            continue
        ticked += 1
    if ticked:
        logger.info("deadline checks: %s route(s) ticked", ticked)
    return ticked


def move_delegated_tasks(now: datetime) -> int:
    """Move the open tasks of users whose delegation has begun to their deputies; how many."""
    try:
        from edms.delegations.models import Delegation
        from edms.delegations.services import local_date
    except ImportError:  # before the delegations feature
        return 0
    day = local_date(now)
    users = list(
        db.session.scalars(
            select(User)
            .where(
                User.id.in_(
                    select(Task.assignee_id)
                    .join(Delegation, Delegation.user_id == Task.assignee_id)
                    .where(
                        Task.status == TaskStatus.OPEN,
                        Delegation.starts_on <= day,
                        Delegation.ends_on >= day,
                    )
                )
            )
            .order_by(User.id)
        )
    )
    moved = 0
    for user in users:
        deputy = deputy_for(user, now)
        if deputy is None:
            continue
        tasks = list(
            db.session.scalars(
                select(Task)
                .where(Task.assignee_id == user.id, Task.status == TaskStatus.OPEN)
                .order_by(Task.id)
            )
        )
        for task in tasks:
            instance = _lock(task.instance_id)
            if instance.status != InstanceStatus.RUNNING:
                continue
            with db.session.begin_nested():
                row = db.session.get(Task, task.id, populate_existing=True)
                if row is None or row.status != TaskStatus.OPEN or row.assignee_id != user.id:
                    continue
                _advance(
                    instance,
                    [workflows.Reassign(row.key, deputy.username, "delegation")],
                    now,
                    None,
                )
                audit.record(
                    "workflow.delegate",
                    "document",
                    instance.document_id,
                    _task_details(instance, row, {"from": user.username, "to": deputy.username}),
                )
                moved += 1
    if moved:
        logger.info("delegations: %s task(s) moved to deputies", moved)
    return moved


def _deadlines_job(now: datetime) -> None:
    check_deadlines(now)


def _delegations_job(now: datetime) -> None:
    move_delegated_tasks(now)


register_job(DEADLINES_JOB, JOB_EVERY, _deadlines_job)
register_job(DELEGATIONS_JOB, JOB_EVERY, _delegations_job)


# Administration of definitions ------------------------------------------------------------


class DefinitionRejected(ValidationError):
    """A definition text an administrator sent that does not load (422); nothing was saved.

    ``problems`` are the library's, each with its path, line, message and fix;
    ``details`` gives them as data (the API's ``errors``).
    """

    def __init__(self, source: str, problems: list[workflows.Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        errors: dict[str, str] = {}
        for p in self.problems:
            key = p.path or "_"
            errors[key] = f"{errors[key]}; {p}" if key in errors else str(p)
        # Each problem as data for the API: field (the path, "_" for the whole text),
        # path, line, message and hint.
        details = [
            {
                "field": p.path or "_",
                "path": p.path,
                "line": p.line,
                "message": p.message,
                "hint": p.hint,
            }
            for p in self.problems
        ]
        super().__init__(errors, str(workflows.DefinitionError(source, self.problems)), details)


def require_admin(user: User) -> None:
    if not user.has_role(Role.ADMIN):
        raise PermissionDenied(
            "Only administrators manage workflow definitions.", object_type="workflow_definition"
        )


def department_codes() -> list[str]:
    return list(db.session.scalars(select(Department.code).order_by(Department.code)))


def check_definition(text: str, source: str = "<definition>") -> workflows.Definition:
    """Validate a text as an administrator saving it: ``load`` plus the departments that exist.

    ``DefinitionRejected`` lists every problem.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > workflows.MAX_TEXT_BYTES:
        limit = workflows.MAX_TEXT_BYTES // 1024
        problem = workflows.Problem(
            "",
            f"the text is {size} bytes, more than the {limit} KB a definition may have",
            f"keep only what the route needs: a definition is a few KB, at most {limit} KB",
        )
        raise DefinitionRejected(source, [problem])
    try:
        return workflows.load_definition(
            text, source, roles=ROLES, departments=department_codes(), attributes=ATTRIBUTES
        )
    except workflows.DefinitionError as exc:
        raise DefinitionRejected(source, exc.problems) from exc


@dataclass(frozen=True)
class Draft:
    """A definition text that loads, checked against what it would become."""

    text: str
    source: str
    definition: workflows.Definition
    latest: WorkflowDefinition | None  # of the same code, if there is one

    @property
    def unchanged(self) -> bool:
        """The text is the latest version's: saving it makes no new version."""
        return self.latest is not None and self.latest.sha256 == _digest(self.text)


def check_version(
    user: User, text: Any, code: str | None = None, *, new: bool = False, source: str = ""
) -> Draft:
    """Everything ``new_version`` checks, without saving (administrators).

    ``code``: the definition being edited (a text naming another code is refused);
    ``new``: the text must start a definition of its own. ``DefinitionRejected`` lists
    every problem.
    """
    require_admin(user)
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ValidationError({"yaml": "must be text"})
    text = text.replace("\r\n", "\n")  # as a browser sends a text area
    source = source or (f"{code}.yaml" if code else "definition.yaml")
    definition = check_definition(text, source)
    latest = latest_definition(definition.code)
    if code is not None and definition.code != code:
        raise DefinitionRejected(
            source,
            [
                workflows.Problem(
                    "code",
                    f"the text is the route {definition.code!r}, not {code!r}",
                    f"write code: {code} to make a new version of this route",
                )
            ],
        )
    if new and latest is not None:
        raise DefinitionRejected(
            source,
            [
                workflows.Problem(
                    "code",
                    f"a route with the code {definition.code!r} exists already",
                    "choose another code, or make a new version of that route from its page",
                )
            ],
        )
    return Draft(text, source, definition, latest)


def new_version(
    user: User, text: Any, code: str | None = None, *, new: bool = False, source: str = ""
) -> tuple[WorkflowDefinition, bool]:
    """Save ``text`` as the next version of the definition it names (administrators).

    Checked as ``check_version`` does. Returns the row and whether it is new: the text
    of the latest version creates nothing. A new version keeps the definition active or
    inactive; running routes stay on the version they started with.
    """
    draft = check_version(user, text, code, new=new, source=source)
    latest = draft.latest
    try:
        with db.session.begin_nested():
            row, created = save_definition(draft.text, draft.source, user)
    except IntegrityError:  # another administrator saved the same version number first
        raise Conflict(
            "Someone saved a version of this route at the same moment; reload it and try again."
        ) from None
    if not created:
        return row, False
    if latest is not None and not latest.active:
        row.active = False
    audit.record(
        "workflow.definition_version",
        "workflow_definition",
        row.id,
        {
            "code": row.code,
            "version": row.version,
            "previous": latest.version if latest is not None else None,
            "sha256": row.sha256,
            "active": row.active,
        },
        actor=user,
    )
    return row, True


def set_active(user: User, code: str, active: bool) -> WorkflowDefinition:
    """Let a definition be started, or not (administrators); its running routes go on.

    Every version takes the flag; returns the latest. Audited when it changes.
    """
    require_admin(user)
    rows = definition_versions(code)
    latest = rows[0]
    if latest.active == active and all(row.active == active for row in rows):
        return latest
    for row in rows:
        row.active = active
    db.session.flush()
    action = "workflow.definition_activate" if active else "workflow.definition_deactivate"
    audit.record(
        action,
        "workflow_definition",
        latest.id,
        {"code": code, "version": latest.version},
        actor=user,
    )
    logger.info("workflow definition %s %s", code, "activated" if active else "deactivated")
    return latest


def definition_versions(code: str) -> list[WorkflowDefinition]:
    """Every version of a definition, the latest first; 404 when there is none."""
    rows = list(
        db.session.scalars(
            select(WorkflowDefinition)
            .options(joinedload(WorkflowDefinition.created_by))
            .where(WorkflowDefinition.code == code)
            .order_by(WorkflowDefinition.version.desc())
        )
    )
    if not rows:
        raise NotFound("No such workflow definition.")
    return rows


def definition_version(code: str, version: int) -> WorkflowDefinition:
    row = db.session.scalar(
        select(WorkflowDefinition).where(
            WorkflowDefinition.code == code, WorkflowDefinition.version == version
        )
    )
    if row is None:
        raise NotFound("No such version of the workflow definition.")
    return row


def open_route_counts(code: str | None = None) -> dict[tuple[str, int], int]:
    """Routes still going (running, or returned for rework) by definition code and version."""
    query = (
        select(WorkflowDefinition.code, WorkflowDefinition.version, func.count())
        .join(WorkflowInstance, WorkflowInstance.definition_id == WorkflowDefinition.id)
        .where(WorkflowInstance.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(WorkflowDefinition.code, WorkflowDefinition.version)
    )
    if code is not None:
        query = query.where(WorkflowDefinition.code == code)
    return {(c, v): int(n) for c, v, n in db.session.execute(query)}
