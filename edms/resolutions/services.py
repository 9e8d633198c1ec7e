"""Resolutions and execution control; acquaintance lists.

Who may do what:

- An *executive* writes a resolution on a document they may see: an approver, an
  administrator, or the head of the document's department (or of a department
  above it). An executor of an open resolution may write sub-resolutions under
  it to their own *subordinates* (the people of the departments they head; an
  approver's own department counts as theirs), due no later than their own part.
- Executors (exactly one responsible, any number of co-executors) get access to
  the document (``AccessReason.ASSIGNED``) and a notification.
- Only the executor reports on an assignment; only the resolution's author
  accepts or returns a report and decides extension requests.
- The resolution is removed from control (closed) when the responsible
  executor's report is accepted. Co-executors' reports are accepted one by one;
  the responsible report cannot be accepted while a co-executor's report waits
  for a decision, and co-executors' parts still open at that moment are
  withdrawn (cancelled): in registry practice the responsible executor answers
  for the whole result, the co-executors contribute to it.
- Execution control (overdue list, department report) is open to the author and
  the executor of each assignment, heads of departments and approvers for their
  departments' executors, and records officers and administrators for all.

Every change is an audit event: object type ``resolution`` (with the document
and the assignment in the details) or ``acquaintance`` (object id: the document).
Services flush; the request commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from edms.audit import services as audit
from edms.auth.models import Department, Role, User
from edms.auth.services import subtree_ids
from edms.blobs import services as blobs
from edms.db import db, end_read_only_transaction, utcnow
from edms.documents import services as documents
from edms.documents.models import AccessReason, Document
from edms.errors import Conflict, NotFound, PermissionDenied, ValidationError
from edms.notifications import services as notifications
from edms.notifications.services import recipient_locale
from edms.resolutions.models import (
    ACTIVE_STATUSES,
    Acquaintance,
    Assignment,
    AssignmentReport,
    AssignmentStatus,
    ExtensionRequest,
    ExtensionStatus,
    ReportOutcome,
    Resolution,
    ResolutionStatus,
)
from edms.scheduler import register_job
from edms.validators import text_problem
from workflows import Calendar

logger = logging.getLogger(__name__)

MAX_TEXT = 10_000
MAX_COMMENT = 5_000
REMINDER_JOB = "resolutions: reminders"
REMINDER_EVERY = timedelta(hours=1)

#: Messages of this module that the interface translates (see ``forms.translate``).
MESSAGES: set[str] = set()


def N_(message: str) -> str:
    """Mark a message for the catalogue; the pages translate it when they show it."""
    MESSAGES.add(message)
    return message


REQUIRED = N_("is required")
BAD_DATE = N_("must be a date like 2026-01-31")
PAST_DATE = N_("must not be in the past")
NO_RESPONSIBLE = N_("choose exactly one responsible executor")
TWO_RESPONSIBLE = N_("only one executor can be responsible")
NOT_A_LIST = N_("must be a list of executors")
NO_SUCH_USER = N_("there is no active staff member with this user name")
LISTED_TWICE = N_("is listed twice")
NOT_YOURSELF = N_("you cannot assign yourself")
NOT_SUBORDINATE = N_("is not one of your subordinates")
NOT_ON_DOCUMENT = N_("no such resolution on this document")
PARENT_CLOSED = N_("the resolution is no longer on control")
NOT_LATER = N_("must be later than the current due date")
BAD_DECISION = N_("must be approve or decline")
NO_USERS = N_("choose at least one person")
NOT_EXECUTIVE = N_("Only approvers, administrators and heads of departments write resolutions.")
NOT_PARENT_EXECUTOR = N_("Only an executor of a resolution writes sub-resolutions under it.")
ONLY_EXECUTOR = N_("Only the executor of an assignment reports on it or asks for more time.")
ONLY_AUTHOR = N_("Only the author of the resolution may do this.")
NOT_ALLOWED_READERS = N_(
    "Only clerks who may edit the document and approvers ask people to read it."
)
NO_RESOLUTION = N_("No such resolution.")
NO_ASSIGNMENT = N_("No such assignment.")
NO_EXTENSION = N_("No such extension request.")
NOT_ASKED = N_("You have not been asked to read this document.")
ALREADY_REPORTED = N_("A report is already waiting for the author's decision.")
NOT_ACTIVE = N_("This assignment is no longer open.")
NOTHING_TO_DECIDE = N_("There is no report waiting for a decision.")
CO_PENDING = N_("Decide on the co-executors' reports first.")
RESOLUTION_NOT_OPEN = N_("The resolution is no longer on control.")
EXTENSION_PENDING = N_("An extension request is already waiting for a decision.")
EXTENSION_DECIDED = N_("This extension request has already been decided.")
NOT_AN_EXECUTOR = N_("must be an object with a user name")
NOT_A_BOOLEAN = N_("must be true or false")
NOT_NAMES = N_("must be a list of user names")
UNKNOWN_DEPARTMENT = N_("unknown department")
BEFORE_START = N_("must not be before the start of the period")


# Time --------------------------------------------------------------------------


def now() -> datetime:
    """The current time (tests freeze it by replacing this function)."""
    return utcnow()


def local_date(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(current_app.config["EDMS"]["default_timezone"])).date()


def today() -> date:
    return local_date(now())


def calendar() -> Calendar:
    """Working days (see ``edms.wiring.build_calendar``)."""
    cal: Calendar = current_app.extensions["edms.calendar"]
    return cal


def reminder_day(due: date) -> date:
    """The working day before ``due``: when its executor is reminded."""
    start = datetime.combine(due, time(12), tzinfo=UTC)
    return calendar().add_working_days(start, -1).date()


# Notifications -----------------------------------------------------------------


def _notify(user: User, kind: str, subject: str, body: str, link: str | None = None) -> None:
    notifications.notify(user, kind, subject, body, link)


def _document_words(doc: Document) -> str:
    return f"{doc.registration_number} «{doc.title}»"


def _resolution_link(resolution: Resolution) -> str:
    return f"/resolutions/{resolution.id}"


def _assignment_link(assignment: Assignment) -> str:
    return f"/assignments/{assignment.id}"


# Who is who --------------------------------------------------------------------


def headed_departments(user: User) -> Select[tuple[int]]:
    """Ids of the departments the user heads, with every department below them."""
    tree = select(Department.id).where(Department.head_id == user.id).cte("headed", recursive=True)
    tree = tree.union_all(select(Department.id).where(Department.parent_id == tree.c.id))
    return select(tree.c.id)


def _managed_ids(user: User) -> Select[Any]:
    """Departments whose people the user directs: headed ones, and an approver's own subtree."""
    clauses: list[ColumnElement[bool]] = [Department.id.in_(headed_departments(user))]
    if user.has_role(Role.APPROVER) and user.department_id is not None:
        clauses.append(Department.id.in_(subtree_ids(user.department_id)))
    return select(Department.id).where(or_(*clauses))


def is_executive(user: User, doc: Document) -> bool:
    if user.has_role(Role.APPROVER, Role.ADMIN):
        return True
    return doc.department_id in set(db.session.scalars(headed_departments(user)))


def _subordinate_ids(user: User, candidates: Sequence[int]) -> set[int]:
    if user.has_role(Role.ADMIN):
        return set(candidates)
    return set(
        db.session.scalars(
            select(User.id).where(
                User.id.in_(candidates), User.department_id.in_(_managed_ids(user))
            )
        )
    )


def own_part(user: User, resolution: Resolution) -> Assignment | None:
    """The user's own active assignment on ``resolution``, if any."""
    return next(
        (a for a in resolution.assignments if a.executor_id == user.id and a.is_active), None
    )


def may_write_under(user: User, resolution: Resolution) -> bool:
    return resolution.is_open and own_part(user, resolution) is not None


# Parsing -----------------------------------------------------------------------


def _text(
    raw: Mapping[str, Any], name: str, errors: dict[str, str], *, required: bool, limit: int
) -> str:
    value = raw.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = "must be text"
        return ""
    value = value.strip()
    if not value:
        if required:
            errors[name] = REQUIRED
        return ""
    problem = text_problem(value, limit)
    if problem:
        errors[name] = problem
    return value


def _date(raw: Mapping[str, Any], name: str, errors: dict[str, str]) -> date | None:
    value = raw.get(name)
    if value is None or value == "":
        errors[name] = REQUIRED
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[name] = BAD_DATE
        return None


def _users_by_name(names: Sequence[str]) -> dict[str, User]:
    if not names:
        return {}
    users = db.session.scalars(
        select(User).where(User.username.in_(sorted(set(names))), User.is_active.is_(True))
    )
    return {u.username: u for u in users if u.is_staff}


@dataclass
class _Executor:
    user: User
    responsible: bool


def _executors(
    author: User, raw: Any, errors: dict[str, str], *, subordinates_only: bool
) -> list[_Executor]:
    if raw is None or raw == []:
        errors["executors"] = NO_RESPONSIBLE
        return []
    if not isinstance(raw, list | tuple):
        errors["executors"] = NOT_A_LIST
        return []
    entries: list[tuple[int, str, bool]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            errors[f"executors.{i}"] = NOT_AN_EXECUTOR
            continue
        name = item.get("user")
        if not isinstance(name, str) or not name.strip():
            errors[f"executors.{i}.user"] = REQUIRED
            continue
        responsible = item.get("responsible", False)
        if not isinstance(responsible, bool):
            errors[f"executors.{i}.responsible"] = NOT_A_BOOLEAN
            continue
        entries.append((i, name.strip().lower(), responsible))
    found = _users_by_name([name for _i, name, _r in entries])
    allowed: set[int] | None = None
    if subordinates_only:
        allowed = _subordinate_ids(author, [u.id for u in found.values()])
    seen: set[str] = set()
    out: list[_Executor] = []
    for i, name, responsible in entries:
        user = found.get(name)
        key = f"executors.{i}.user"
        if user is None:
            errors[key] = NO_SUCH_USER
        elif name in seen:
            errors[key] = LISTED_TWICE
        elif user.id == author.id:
            errors[key] = NOT_YOURSELF
        elif allowed is not None and user.id not in allowed:
            errors[key] = NOT_SUBORDINATE
        else:
            out.append(_Executor(user, responsible))
        seen.add(name)
    responsible_count = sum(1 for _i, _n, r in entries if r)
    if responsible_count == 0 and "executors" not in errors:
        errors["executors"] = NO_RESPONSIBLE
    elif responsible_count > 1:
        errors["executors"] = TWO_RESPONSIBLE
    return out


# Reading -----------------------------------------------------------------------


def _on_a_visible_document(user: User, document_id: uuid.UUID | None, missing: str) -> None:
    """404 with ``missing`` unless the row exists and the user may see its document."""
    if document_id is None:
        documents.require_staff(user)
        raise NotFound(missing)
    try:
        documents.get_document(user, document_id)
    except NotFound:
        raise NotFound(missing) from None


def get_resolution(user: User, resolution_id: int) -> Resolution:
    """The resolution if the user may see its document; 404 otherwise."""
    resolution = db.session.get(Resolution, resolution_id)
    document_id = resolution.document_id if resolution else None
    _on_a_visible_document(user, document_id, NO_RESOLUTION)
    assert resolution is not None  # noqa: S101 - checked just above
    return resolution


def get_assignment(user: User, assignment_id: int) -> Assignment:
    """The assignment if the user may see its document; 404 otherwise."""
    assignment = db.session.get(Assignment, assignment_id)
    document_id = assignment.resolution.document_id if assignment else None
    _on_a_visible_document(user, document_id, NO_ASSIGNMENT)
    assert assignment is not None  # noqa: S101 - checked just above
    return assignment


def get_extension(user: User, extension_id: int) -> ExtensionRequest:
    extension = db.session.get(ExtensionRequest, extension_id)
    if extension is None:
        documents.require_staff(user)
        raise NotFound(NO_EXTENSION)
    try:
        documents.get_document(user, extension.assignment.resolution.document_id)
    except NotFound:
        raise NotFound(NO_EXTENSION) from None
    return extension


def resolution_tree(doc: Document) -> list[Resolution]:
    """The document's resolutions as a tree: the top ones, each with ``children`` filled in.

    Two queries whatever the size (the resolutions, then their assignments).
    """
    rows = list(
        db.session.scalars(
            select(Resolution)
            .where(Resolution.document_id == doc.id)
            .order_by(Resolution.created_at, Resolution.id)
        )
    )
    children: dict[int, list[Resolution]] = {r.id: [] for r in rows}
    roots: list[Resolution] = []
    for resolution in rows:
        if resolution.parent_id is not None and resolution.parent_id in children:
            children[resolution.parent_id].append(resolution)
        else:
            roots.append(resolution)
    for resolution in rows:
        set_committed_value(resolution, "children", children[resolution.id])
    return roots


def subtree(resolution: Resolution) -> list[Resolution]:
    """The resolution's descendants (not itself), parents before children."""
    tree = resolution_tree(resolution.document)
    index: dict[int, Resolution] = {}

    def walk(nodes: list[Resolution]) -> None:
        for node in nodes:
            index[node.id] = node
            walk(node.children)

    walk(tree)
    out: list[Resolution] = []
    pending = list(index[resolution.id].children) if resolution.id in index else []
    while pending:
        node = pending.pop(0)
        out.append(node)
        pending.extend(node.children)
    return out


def my_assignments(user: User, status: str | None = None) -> list[Assignment]:
    """The user's assignments: active ones by default, soonest due first."""
    documents.require_staff(user)
    query = (
        select(Assignment)
        .join(Assignment.resolution)
        .join(Resolution.document)
        .options(contains_eager(Assignment.resolution).contains_eager(Resolution.document))
        .where(Assignment.executor_id == user.id)
    )
    if status in (None, "", "active"):
        query = query.where(Assignment.status.in_(ACTIVE_STATUSES))
    elif status != "all":
        if status not in {s.value for s in AssignmentStatus}:
            allowed = ", ".join(["active", "all", *(s.value for s in AssignmentStatus)])
            raise ValidationError({"status": f"must be one of {allowed}"})
        query = query.where(Assignment.status == status)
    active_first = case((Assignment.status.in_(ACTIVE_STATUSES), 0), else_=1)
    return list(
        db.session.scalars(query.order_by(active_first, Assignment.due_date, Assignment.id))
    )


def pending_reading(user: User) -> list[Acquaintance]:
    """Documents the user has been asked to read and has not confirmed yet."""
    return list(
        db.session.scalars(
            select(Acquaintance)
            .options(joinedload(Acquaintance.document))
            .where(Acquaintance.user_id == user.id, Acquaintance.confirmed_at.is_(None))
            .order_by(Acquaintance.requested_at, Acquaintance.id)
        )
    )


# Writing a resolution ------------------------------------------------------------


def create_resolution(user: User, doc: Document, raw: Mapping[str, Any]) -> Resolution:
    """Write a resolution (``raw``: text, due_date, executors, optional parent id).

    ``executors`` is a list of ``{"user": <user name>, "responsible": bool}``.
    """
    documents.require_staff(user)
    errors: dict[str, str] = {}
    parent: Resolution | None = None
    limit: date | None = None
    parent_id = raw.get("parent")
    if parent_id not in (None, ""):
        try:
            parent = db.session.get(Resolution, int(parent_id))
        except (TypeError, ValueError):
            parent = None
        if parent is None or parent.document_id != doc.id:
            raise ValidationError({"parent": NOT_ON_DOCUMENT})
        part = own_part(user, parent)
        if part is None:
            raise PermissionDenied(
                NOT_PARENT_EXECUTOR, object_type="resolution", object_id=parent.id
            )
        if not parent.is_open:
            raise ValidationError({"parent": PARENT_CLOSED})
        limit = part.due_date
    elif not is_executive(user, doc):
        raise PermissionDenied(NOT_EXECUTIVE, object_type="document", object_id=doc.id)
    text = _text(raw, "text", errors, required=True, limit=MAX_TEXT)
    due = _date(raw, "due_date", errors)
    if due is not None:
        if due < today():
            errors["due_date"] = PAST_DATE
        elif limit is not None and due > limit:
            errors["due_date"] = f"must be on or before {limit.isoformat()}, the parent's due date"
    executors = _executors(user, raw.get("executors"), errors, subordinates_only=parent is not None)
    if errors or due is None:
        raise ValidationError(errors or {"due_date": REQUIRED})
    moment = now()
    day = local_date(moment)
    resolution = Resolution(
        created_at=moment,
        document_id=doc.id,
        parent=parent,
        author_id=user.id,
        text=text,
        due_date=due,
        status=ResolutionStatus.OPEN.value,
    )
    resolution.assignments = [
        Assignment(
            executor=e.user,
            executor_department_id=e.user.department_id,
            responsible=e.responsible,
            status=AssignmentStatus.OPEN.value,
            due_date=due,
            assigned_on=day,
            created_at=moment,
        )
        for e in sorted(executors, key=lambda e: not e.responsible)
    ]
    db.session.add(resolution)
    db.session.flush()
    for e in executors:
        documents.grant_access(user, doc, e.user, AccessReason.ASSIGNED)
    audit.record(
        "resolution.create",
        "resolution",
        resolution.id,
        {
            "document": str(doc.id),
            "parent": parent.id if parent else None,
            "due_date": due.isoformat(),
            "responsible": next(e.user.username for e in executors if e.responsible),
            "co_executors": [e.user.username for e in executors if not e.responsible],
        },
        actor=user,
    )
    logger.info("resolution %s written on document %s", resolution.id, doc.id)
    for assignment in resolution.assignments:
        executor = assignment.executor
        with recipient_locale(executor):
            role = (
                gettext("responsible executor")
                if assignment.responsible
                else gettext("co-executor")
            )
            _notify(
                executor,
                "resolution.assigned",
                gettext("New assignment on %(document)s", document=_document_words(doc)),
                gettext(
                    "%(author)s named you %(role)s, due %(date)s: %(text)s",
                    author=user.display_name,
                    role=role,
                    date=due.isoformat(),
                    text=text,
                ),
                _assignment_link(assignment),
            )
    return resolution


def _authors_comment(
    user: User, resolution: Resolution, name: str, value: str, *, required: bool
) -> str:
    """Only the resolution's author may do this; their comment (``name``) checked."""
    if resolution.author_id != user.id:
        raise PermissionDenied(ONLY_AUTHOR, object_type="resolution", object_id=resolution.id)
    errors: dict[str, str] = {}
    text = _text({name: value}, name, errors, required=required, limit=MAX_COMMENT)
    if errors:
        raise ValidationError(errors)
    return text


def cancel_resolution(user: User, resolution: Resolution, reason: str = "") -> list[Resolution]:
    """Cancel an open resolution and its open sub-resolutions (author only); return them all."""
    reason = _authors_comment(user, resolution, "reason", reason, required=False)
    _lock_resolution(resolution)
    if not resolution.is_open:
        raise Conflict(RESOLUTION_NOT_OPEN)
    cancelled = [resolution] + [r for r in subtree(resolution) if r.is_open]
    moment = now()
    for res in cancelled:
        res.status = ResolutionStatus.CANCELLED.value
        res.cancelled_at = moment
        res.cancel_reason = reason
        for assignment in res.assignments:
            if assignment.is_active:
                _withdraw(assignment, moment)
                with recipient_locale(assignment.executor):
                    _notify(
                        assignment.executor,
                        "resolution.cancelled",
                        gettext(
                            "Assignment cancelled on %(document)s",
                            document=_document_words(res.document),
                        ),
                        reason or gettext("The resolution has been cancelled."),
                        _assignment_link(assignment),
                    )
        db.session.flush()
        audit.record(
            "resolution.cancel",
            "resolution",
            res.id,
            {
                "document": str(res.document_id),
                "reason": reason,
                "with": resolution.id if res is not resolution else None,
            },
            actor=user,
        )
    logger.info("resolution %s cancelled (%s in all)", resolution.id, len(cancelled))
    return cancelled


def _withdraw(assignment: Assignment, moment: datetime) -> None:
    assignment.status = AssignmentStatus.CANCELLED.value
    for extension in assignment.extensions:
        if extension.status == ExtensionStatus.PENDING:
            extension.status = ExtensionStatus.DECLINED.value
            extension.decided_at = moment


def _lock_resolution(resolution: Resolution) -> None:
    db.session.execute(
        select(Resolution.id).where(Resolution.id == resolution.id).with_for_update()
    )
    db.session.refresh(resolution)


def _lock(assignment: Assignment) -> None:
    """Take the assignment's row lock (PostgreSQL) and re-read it: decisions do not race."""
    db.session.execute(
        select(Assignment.id).where(Assignment.id == assignment.id).with_for_update()
    )
    db.session.refresh(assignment)


# Reports -------------------------------------------------------------------------


def submit_report(
    user: User, assignment: Assignment, text: str, upload: documents.Upload | None = None
) -> AssignmentReport:
    """The executor reports what was done, with an optional file."""
    if assignment.executor_id != user.id:
        raise PermissionDenied(
            ONLY_EXECUTOR, object_type="resolution", object_id=assignment.resolution_id
        )
    _check_reportable(assignment)
    errors: dict[str, str] = {}
    text = _text({"text": text}, "text", errors, required=True, limit=MAX_TEXT)
    if upload is not None:
        try:
            documents.check_upload_name(upload)
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    file = None
    if upload is not None:
        end_read_only_transaction()  # no database lock while the file streams in
        file = documents.store_upload(upload)
    _lock(assignment)
    _check_reportable(assignment)
    if file is not None:
        blobs.record(file.stored)
    report = AssignmentReport(
        assignment=assignment,
        author_id=user.id,
        text=text,
        created_at=now(),
        submitted_on=today(),
        file_name=file.filename if file else None,
        media_type=file.media_type if file else None,
        size=file.stored.size if file else None,
        sha256=file.stored.sha256 if file else None,
        storage_key=file.stored.key if file else None,
        outcome=ReportOutcome.PENDING.value,
    )
    db.session.add(report)
    assignment.status = AssignmentStatus.REPORTED.value
    db.session.flush()
    resolution = assignment.resolution
    audit.record(
        "resolution.report",
        "resolution",
        resolution.id,
        {
            "document": str(resolution.document_id),
            "assignment": assignment.id,
            "report": report.id,
            "file_sha256": report.sha256,
        },
        actor=user,
    )
    author = resolution.author
    with recipient_locale(author):
        _notify(
            author,
            "resolution.reported",
            gettext("Report on %(document)s", document=_document_words(resolution.document)),
            gettext("%(executor)s has reported: %(text)s", executor=user.display_name, text=text),
            _resolution_link(resolution),
        )
    return report


def _check_reportable(assignment: Assignment) -> None:
    if not assignment.resolution.is_open:
        raise Conflict(RESOLUTION_NOT_OPEN)
    if assignment.status == AssignmentStatus.REPORTED:
        raise Conflict(ALREADY_REPORTED)
    if assignment.status != AssignmentStatus.OPEN:
        raise Conflict(NOT_ACTIVE)


def _decide_report(
    user: User, assignment: Assignment, comment: str, *, required: bool
) -> AssignmentReport:
    resolution = assignment.resolution
    comment = _authors_comment(user, resolution, "comment", comment, required=required)
    _lock(assignment)
    if not resolution.is_open:
        raise Conflict(RESOLUTION_NOT_OPEN)
    report = assignment.pending_report
    if assignment.status != AssignmentStatus.REPORTED or report is None:
        raise Conflict(NOTHING_TO_DECIDE)
    report.decided_by_id = user.id
    report.decided_at = now()
    report.decision_comment = comment
    return report


def accept_report(user: User, assignment: Assignment, comment: str = "") -> Assignment:
    """The author accepts the executor's report; accepting the responsible one closes the resolution."""
    resolution = assignment.resolution
    if assignment.responsible and resolution.author_id == user.id:
        waiting = [a for a in resolution.co_executors if a.status == AssignmentStatus.REPORTED]
        if waiting:
            raise Conflict(CO_PENDING)
    report = _decide_report(user, assignment, comment, required=False)
    moment = report.decided_at or now()
    report.outcome = ReportOutcome.ACCEPTED.value
    assignment.status = AssignmentStatus.ACCEPTED.value
    assignment.completed_on = report.submitted_on
    assignment.accepted_at = moment
    db.session.flush()
    on_time = report.submitted_on <= assignment.due_date
    audit.record(
        "resolution.accept",
        "resolution",
        resolution.id,
        {
            "document": str(resolution.document_id),
            "assignment": assignment.id,
            "report": report.id,
            "executor": assignment.executor.username,
            "on_time": on_time,
        },
        actor=user,
    )
    with recipient_locale(assignment.executor):
        _notify(
            assignment.executor,
            "resolution.accepted",
            gettext(
                "Report accepted on %(document)s", document=_document_words(resolution.document)
            ),
            report.decision_comment or gettext("Your report has been accepted."),
            _assignment_link(assignment),
        )
    if assignment.responsible:
        _close(user, resolution, moment)
    return assignment


def _close(user: User, resolution: Resolution, moment: datetime) -> None:
    resolution.status = ResolutionStatus.CLOSED.value
    resolution.closed_at = moment
    withdrawn = []
    for other in resolution.co_executors:
        if other.is_active:
            _withdraw(other, moment)
            withdrawn.append(other.executor.username)
    db.session.flush()
    audit.record(
        "resolution.close",
        "resolution",
        resolution.id,
        {"document": str(resolution.document_id), "withdrawn": withdrawn},
        actor=user,
    )
    logger.info("resolution %s removed from control", resolution.id)


def return_report(user: User, assignment: Assignment, comment: str) -> Assignment:
    """The author sends the report back with a comment; the assignment is open again."""
    report = _decide_report(user, assignment, comment, required=True)
    report.outcome = ReportOutcome.RETURNED.value
    assignment.status = AssignmentStatus.OPEN.value
    db.session.flush()
    resolution = assignment.resolution
    audit.record(
        "resolution.return",
        "resolution",
        resolution.id,
        {
            "document": str(resolution.document_id),
            "assignment": assignment.id,
            "report": report.id,
            "executor": assignment.executor.username,
        },
        actor=user,
    )
    with recipient_locale(assignment.executor):
        _notify(
            assignment.executor,
            "resolution.returned",
            gettext(
                "Report returned on %(document)s", document=_document_words(resolution.document)
            ),
            report.decision_comment,
            _assignment_link(assignment),
        )
    return assignment


# Extensions --------------------------------------------------------------------


def request_extension(
    user: User, assignment: Assignment, raw: Mapping[str, Any]
) -> ExtensionRequest:
    """The executor asks for a later due date (``raw``: due_date, reason)."""
    resolution = assignment.resolution
    if assignment.executor_id != user.id:
        raise PermissionDenied(ONLY_EXECUTOR, object_type="resolution", object_id=resolution.id)
    if not resolution.is_open or not assignment.is_active:
        raise Conflict(NOT_ACTIVE)
    if assignment.pending_extension is not None:
        raise Conflict(EXTENSION_PENDING)
    errors: dict[str, str] = {}
    new = _date(raw, "due_date", errors)
    if new is not None:
        if new < today():
            errors["due_date"] = PAST_DATE
        elif new <= assignment.due_date:
            errors["due_date"] = NOT_LATER
    reason = _text(raw, "reason", errors, required=True, limit=MAX_COMMENT)
    if errors or new is None:
        raise ValidationError(errors or {"due_date": REQUIRED})
    _lock(assignment)
    if assignment.pending_extension is not None:
        raise Conflict(EXTENSION_PENDING)
    extension = ExtensionRequest(
        assignment=assignment,
        requested_by_id=user.id,
        old_due_date=assignment.due_date,
        new_due_date=new,
        reason=reason,
        status=ExtensionStatus.PENDING.value,
        created_at=now(),
    )
    db.session.add(extension)
    db.session.flush()
    audit.record(
        "resolution.extension_request",
        "resolution",
        resolution.id,
        {
            "document": str(resolution.document_id),
            "assignment": assignment.id,
            "extension": extension.id,
            "old_due_date": extension.old_due_date.isoformat(),
            "new_due_date": new.isoformat(),
        },
        actor=user,
    )
    with recipient_locale(resolution.author):
        _notify(
            resolution.author,
            "resolution.extension_requested",
            gettext(
                "More time asked on %(document)s", document=_document_words(resolution.document)
            ),
            gettext(
                "%(executor)s asks to move the due date to %(date)s: %(reason)s",
                executor=user.display_name,
                date=new.isoformat(),
                reason=reason,
            ),
            _resolution_link(resolution),
        )
    return extension


def decide_extension(
    user: User, extension: ExtensionRequest, decision: Any, comment: Any = ""
) -> ExtensionRequest:
    """The author approves (the due date moves) or declines an extension request."""
    assignment = extension.assignment
    resolution = assignment.resolution
    if resolution.author_id != user.id:
        raise PermissionDenied(ONLY_AUTHOR, object_type="resolution", object_id=resolution.id)
    errors: dict[str, str] = {}
    if decision not in ("approve", "decline"):
        errors["decision"] = BAD_DECISION
    text = _text({"comment": comment}, "comment", errors, required=False, limit=MAX_COMMENT)
    if errors:
        raise ValidationError(errors)
    _lock(assignment)
    db.session.refresh(extension)
    if extension.status != ExtensionStatus.PENDING:
        raise Conflict(EXTENSION_DECIDED)
    if not resolution.is_open or not assignment.is_active:
        raise Conflict(NOT_ACTIVE)
    if decision == "approve" and resolution.parent is not None:
        part = own_part(user, resolution.parent)
        if part is not None and extension.new_due_date > part.due_date:
            raise ValidationError(
                {
                    "decision": f"the new due date is after your own, {part.due_date.isoformat()}; "
                    "ask for more time yourself first"
                }
            )
    moment = now()
    extension.decided_by_id = user.id
    extension.decided_at = moment
    extension.decision_comment = text
    old = assignment.due_date
    if decision == "approve":
        extension.status = ExtensionStatus.APPROVED.value
        assignment.due_date = extension.new_due_date
        if assignment.responsible:
            resolution.due_date = extension.new_due_date
    else:
        extension.status = ExtensionStatus.DECLINED.value
    db.session.flush()
    audit.record(
        f"resolution.extension_{'approve' if decision == 'approve' else 'decline'}",
        "resolution",
        resolution.id,
        {
            "document": str(resolution.document_id),
            "assignment": assignment.id,
            "extension": extension.id,
            "old_due_date": old.isoformat(),
            "new_due_date": assignment.due_date.isoformat(),
        },
        actor=user,
    )
    with recipient_locale(assignment.executor):
        if decision == "approve":
            subject = gettext(
                "New due date %(date)s on %(document)s",
                date=assignment.due_date.isoformat(),
                document=_document_words(resolution.document),
            )
        else:
            subject = gettext(
                "More time refused on %(document)s", document=_document_words(resolution.document)
            )
        _notify(
            assignment.executor,
            f"resolution.extension_{decision}",
            subject,
            text,
            _assignment_link(assignment),
        )
    return extension


# Execution control ---------------------------------------------------------------


def _control_clause(user: User) -> ColumnElement[bool]:
    """Assignments the user may follow (the query joins Assignment and Resolution)."""
    if user.sees_everything:
        return true()
    return or_(
        Resolution.author_id == user.id,
        Assignment.executor_id == user.id,
        Assignment.executor_department_id.in_(_managed_ids(user)),
    )


def control_departments(user: User) -> list[Department]:
    """Departments whose execution the user follows (all, for records officers and admins)."""
    query = select(Department).order_by(Department.name)
    if not user.sees_everything:
        query = query.where(Department.id.in_(_managed_ids(user)))
    return list(db.session.scalars(query))


def overdue(user: User, department: str | None = None) -> list[Assignment]:
    """Assignments not done by their due date, on open resolutions, that the user follows.

    A head of department follows the work of the department's people, also on
    documents of other departments: the list then names such a document (number and
    title) though the head cannot open it, as a paper control card would.
    """
    documents.require_staff(user)
    query = (
        select(Assignment)
        .join(Assignment.resolution)
        .join(Resolution.document)
        .options(contains_eager(Assignment.resolution).contains_eager(Resolution.document))
        .where(
            Assignment.status.in_(ACTIVE_STATUSES),
            Assignment.due_date < today(),
            Resolution.status == ResolutionStatus.OPEN,
            _control_clause(user),
        )
        .order_by(Assignment.due_date, Assignment.id)
    )
    if department:
        dept = db.session.scalar(select(Department).where(Department.code == department.upper()))
        if dept is None:
            raise ValidationError({"department": UNKNOWN_DEPARTMENT})
        query = query.where(Assignment.executor_department_id == dept.id)
    return list(db.session.scalars(query))


@dataclass
class ReportRow:
    department: Department | None
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    open: int = 0


@dataclass
class ExecutionReport:
    date_from: date
    date_to: date
    as_of: date
    rows: list[ReportRow] = field(default_factory=list)

    @property
    def total(self) -> ReportRow:
        total = ReportRow(None)
        for row in self.rows:
            total.assigned += row.assigned
            total.on_time += row.on_time
            total.late += row.late
            total.overdue += row.overdue
            total.open += row.open
        return total


def execution_report(user: User, raw: Mapping[str, Any]) -> ExecutionReport:
    """Per department: assignments given from ``from`` to ``to`` (inclusive), by outcome.

    Completed on time / late (by the day the accepted report was sent), overdue
    (not done, past due today) and open (not done, not yet due); cancelled ones
    are left out, so the four add up to the assigned count. One query.
    """
    documents.require_staff(user)
    errors: dict[str, str] = {}
    start = _date(raw, "from", errors)
    end = _date(raw, "to", errors)
    if start and end and end < start:
        errors["to"] = BEFORE_START
    if errors or start is None or end is None:
        raise ValidationError(errors or {"from": REQUIRED})
    day = today()
    a = Assignment
    accepted = a.status == AssignmentStatus.ACCEPTED
    active = a.status.in_(ACTIVE_STATUSES)

    def count(condition: ColumnElement[bool]) -> Any:
        return func.count(case((condition, a.id)))

    query = (
        select(
            Department,
            func.count(a.id),
            count(and_(accepted, a.completed_on <= a.due_date)),
            count(and_(accepted, a.completed_on > a.due_date)),
            count(and_(active, a.due_date < day)),
            count(and_(active, a.due_date >= day)),
        )
        .select_from(Department)
        .outerjoin(
            a,
            and_(
                a.executor_department_id == Department.id,
                a.assigned_on >= start,
                a.assigned_on <= end,
                a.status != AssignmentStatus.CANCELLED,
            ),
        )
        .group_by(Department.id)
        .order_by(Department.name, Department.id)
    )
    if not user.sees_everything:
        query = query.where(Department.id.in_(_managed_ids(user)))
    report = ExecutionReport(start, end, day)
    for dept, assigned, on_time, late, over, open_ in db.session.execute(query):
        report.rows.append(ReportRow(dept, assigned, on_time, late, over, open_))
    return report


# Reminders -------------------------------------------------------------------------


def send_reminders(at: datetime) -> dict[str, int]:
    """Remind executors one working day before their due date; tell authors of overdue parts.

    Each is sent once per due date (a new due date, after an extension, gets its own).
    """
    day = local_date(at)
    sent = {"reminders": 0, "overdue": 0}
    soon = db.session.scalars(
        select(Assignment)
        .join(Assignment.resolution)
        .options(contains_eager(Assignment.resolution))
        .where(
            Assignment.status == AssignmentStatus.OPEN,
            Resolution.status == ResolutionStatus.OPEN,
            Assignment.due_date >= day,
            # Holidays seldom run longer than a month: the day before lies within it.
            Assignment.due_date <= day + timedelta(days=31),
            or_(Assignment.reminded_for.is_(None), Assignment.reminded_for != Assignment.due_date),
        )
        .order_by(Assignment.id)
        .with_for_update(skip_locked=True, of=Assignment)
    ).all()
    for assignment in soon:
        remind_on = reminder_day(assignment.due_date)
        if day < remind_on:
            continue
        assignment.reminded_for = assignment.due_date
        if assignment.assigned_on >= remind_on:
            continue  # given this late, the assignment's own notice says it all
        resolution = assignment.resolution
        with recipient_locale(assignment.executor):
            _notify(
                assignment.executor,
                "resolution.due_soon",
                gettext(
                    "Due %(date)s: %(document)s",
                    date=assignment.due_date.isoformat(),
                    document=_document_words(resolution.document),
                ),
                resolution.text,
                _assignment_link(assignment),
            )
        sent["reminders"] += 1
    late = db.session.scalars(
        select(Assignment)
        .join(Assignment.resolution)
        .options(contains_eager(Assignment.resolution))
        .where(
            Assignment.status.in_(ACTIVE_STATUSES),
            Resolution.status == ResolutionStatus.OPEN,
            Assignment.due_date < day,
            or_(
                Assignment.overdue_notified_for.is_(None),
                Assignment.overdue_notified_for != Assignment.due_date,
            ),
        )
        .order_by(Assignment.id)
        .with_for_update(skip_locked=True, of=Assignment)
    ).all()
    for assignment in late:
        assignment.overdue_notified_for = assignment.due_date
        resolution = assignment.resolution
        with recipient_locale(resolution.author):
            _notify(
                resolution.author,
                "resolution.overdue",
                gettext("Overdue: %(document)s", document=_document_words(resolution.document)),
                gettext(
                    "%(executor)s was due to finish by %(date)s.",
                    executor=assignment.executor.display_name,
                    date=assignment.due_date.isoformat(),
                ),
                _resolution_link(resolution),
            )
        sent["overdue"] += 1
    db.session.flush()
    if sent["reminders"] or sent["overdue"]:
        logger.info(
            "resolution reminders: %s due soon, %s overdue", sent["reminders"], sent["overdue"]
        )
    return sent


# Acquaintance ---------------------------------------------------------------------


def may_ask_to_read(user: User, doc: Document) -> bool:
    return user.has_role(Role.APPROVER) or documents.can_edit(user, doc)


def request_acquaintance(user: User, doc: Document, usernames: Any) -> list[Acquaintance]:
    """Ask people to read the document; return the new requests (people already asked are skipped)."""
    if not may_ask_to_read(user, doc):
        raise PermissionDenied(NOT_ALLOWED_READERS, object_type="document", object_id=doc.id)
    if usernames is None or usernames == [] or usernames == "":
        raise ValidationError({"users": NO_USERS})
    if not isinstance(usernames, list | tuple) or not all(isinstance(u, str) for u in usernames):
        raise ValidationError({"users": NOT_NAMES})
    names = list(dict.fromkeys(n.strip().lower() for n in usernames if n.strip()))
    if not names:
        raise ValidationError({"users": NO_USERS})
    found = _users_by_name(names)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidationError({"users": f"unknown user: {', '.join(unknown)}"})
    already = set(
        db.session.scalars(
            select(Acquaintance.user_id).where(
                Acquaintance.document_id == doc.id,
                Acquaintance.user_id.in_([u.id for u in found.values()]),
            )
        )
    )
    moment = now()
    created = []
    for name in names:
        reader = found[name]
        if reader.id in already:
            continue
        row = Acquaintance(
            document_id=doc.id, user=reader, requested_by_id=user.id, requested_at=moment
        )
        db.session.add(row)
        created.append(row)
    db.session.flush()
    for row in created:
        documents.grant_access(user, doc, row.user, AccessReason.ASSIGNED)
    if created:
        audit.record(
            "acquaintance.request",
            "acquaintance",
            doc.id,
            {"users": [row.user.username for row in created]},
            actor=user,
        )
    for row in created:
        with recipient_locale(row.user):
            _notify(
                row.user,
                "acquaintance.requested",
                gettext("Please read %(document)s", document=_document_words(doc)),
                gettext(
                    "%(user)s asks you to read the document and confirm it.",
                    user=user.display_name,
                ),
                f"/documents/{doc.id}#acquaintance",
            )
    return created


def confirm_acquaintance(user: User, doc: Document) -> Acquaintance:
    """Record that the user has read the document (the first confirmation's time is kept)."""
    row = db.session.scalar(
        select(Acquaintance)
        .where(Acquaintance.document_id == doc.id, Acquaintance.user_id == user.id)
        .with_for_update(of=Acquaintance)
    )
    if row is None:
        raise NotFound(NOT_ASKED)
    if row.confirmed_at is not None:
        return row
    row.confirmed_at = now()
    db.session.flush()
    audit.record(
        "acquaintance.confirm",
        "acquaintance",
        doc.id,
        {"user": user.username, "confirmed_at": row.confirmed_at.isoformat()},
        actor=user,
    )
    return row


def acquaintance_list(doc: Document) -> list[Acquaintance]:
    """Everyone asked to read the document: who has read it (in order), then who not yet."""
    not_yet = case((Acquaintance.confirmed_at.is_(None), 1), else_=0)
    return list(
        db.session.scalars(
            select(Acquaintance)
            .where(Acquaintance.document_id == doc.id)
            .order_by(not_yet, Acquaintance.confirmed_at, Acquaintance.id)
        )
    )


def _reminder_job(at: datetime) -> None:
    send_reminders(at)


register_job(REMINDER_JOB, REMINDER_EVERY, _reminder_job)
