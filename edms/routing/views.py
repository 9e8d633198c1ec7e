"""Route pages: the inbox, the decision page, starting/cancelling/resubmitting a route,
the route panel of the document page and the document shown inline in the browser."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

import workflows
from edms.audit.models import AuditEvent
from edms.auth.forms import EmptyForm
from edms.auth.login import get_user
from edms.auth.models import User
from edms.db import db, utcnow
from edms.documents import services as documents
from edms.documents.download import send_version
from edms.documents.forms import choice
from edms.documents.models import Document
from edms.errors import EDMSError, PermissionDenied, ValidationError
from edms.labels import label, label_filters
from edms.routing import services
from edms.routing.forms import (
    DECISION_LABELS,
    INBOX_STATUS_LABELS,
    ROUTE_STATUS_LABELS,
    STAGE_STATUS_LABELS,
    TASK_STATUS_LABELS,
    CancelForm,
    DecisionForm,
    InboxFilterForm,
    StartForm,
    decided_label,
    set_route_errors,
    translate,
)
from edms.routing.models import (
    InstanceStatus,
    Task,
    TaskStatus,
    WorkflowDefinition,
    WorkflowInstance,
)
from edms.signing import services as signatures

logger = logging.getLogger(__name__)
bp = Blueprint("routing", __name__)

Page = Response | tuple[str, int]

_EVENT_LABELS = {
    "workflow.start": _l("Route started"),
    "workflow.decision": _l("Decision on the route"),
    "workflow.cancel": _l("Route cancelled"),
    "workflow.resubmit": _l("Resubmitted after rework"),
    "workflow.delegate": _l("Task passed to a deputy"),
    "workflow.escalate": _l("Overdue task escalated"),
}


def _lang() -> str:
    return str(get_locale() or "en").split("_")[0]


# Words for codes ----------------------------------------------------------------------


label_filters(
    bp,
    {
        "decision_label": DECISION_LABELS,
        "route_status_label": ROUTE_STATUS_LABELS,
        "task_status_label": TASK_STATUS_LABELS,
    },
)


@bp.app_template_filter("decided_label")
def decided_label_filter(code: str | None) -> str:
    return decided_label(code)


@bp.app_template_filter("route_event_description")
def route_event_description(event: AuditEvent) -> str:
    """A ``workflow.*`` audit event of a document, in words."""
    details: dict[str, Any] = event.details or {}
    action = event.action
    if action == "workflow.start":
        return _("Route “%(route)s” started", route=_definition_name(details.get("definition")))
    if action == "workflow.decision":
        text = _(
            "%(decision)s at stage “%(stage)s”",
            decision=decided_label(details.get("decision")),
            stage=_stage_name(details.get("definition"), details.get("stage")),
        )
        if details.get("on_behalf_of"):
            text += " " + _("(on behalf of %(user)s)", user=details["on_behalf_of"])
        return text
    if action == "workflow.delegate":
        return _("Task passed to the deputy %(user)s", user=details.get("to", ""))
    if action == "workflow.escalate":
        if details.get("to"):
            return _("Overdue task escalated to %(user)s", user=details["to"])
        return _("Task overdue; nobody to escalate to")
    return label(_EVENT_LABELS, action)


def _latest(code: Any) -> WorkflowDefinition | None:
    """The latest version of a definition, looked up once per request (history tables)."""
    if not code:
        return None
    cache: dict[str, WorkflowDefinition | None] = g.setdefault("routing_definitions", {})
    if str(code) not in cache:
        cache[str(code)] = services.latest_definition(str(code))
    return cache[str(code)]


def _definition_name(code: Any) -> str:
    row = _latest(code)
    return row.display_name(_lang()) if row is not None else str(code or "")


def _stage_name(code: Any, stage_id: Any) -> str:
    row = _latest(code)
    if row is None:
        return str(stage_id or "")
    try:
        return services.parse(row).stage(str(stage_id)).label(_lang())
    except KeyError:
        return str(stage_id or "")


# Header counter and the panel of the document page ---------------------------------------


@bp.app_template_global()
def inbox_counter() -> services.Counts | None:
    """Open and overdue tasks of the logged-in staff member, for the header.

    Counted once per request, however many templates ask.
    """
    if "inbox_counts" in g:
        counts: services.Counts | None = g.inbox_counts
        return counts
    user = g.get("user")
    counts = None
    if isinstance(user, User) and user.is_staff:
        try:
            counts = services.inbox_counts(user)
        except SQLAlchemyError:  # e.g. on the error page of a failed transaction
            logger.warning("open tasks could not be counted", exc_info=True)
    g.inbox_counts = counts
    return counts


@dataclass
class StageRow:
    """One stage of a route in words: the text alternative of the picture."""

    id: str
    name: str
    status: str
    tasks: list[Task] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return label(STAGE_STATUS_LABELS, self.status)


@dataclass
class RoutePanel:
    instance: WorkflowInstance | None
    name: str = ""
    svg: Markup = field(default_factory=Markup)
    stages: list[StageRow] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    my_tasks: list[Task] = field(default_factory=list)
    can_start: bool = False
    can_cancel: bool = False
    can_resubmit: bool = False
    start_form: StartForm | None = None
    cancel_form: CancelForm | None = None
    resubmit_form: EmptyForm | None = None

    @property
    def decided(self) -> list[Task]:
        """Decisions so far, in the order they were made."""
        done = [t for t in self.tasks if t.status == TaskStatus.DONE and t.decided_at]
        return sorted(done, key=lambda t: (t.decided_at, t.id))


def _stage_rows(
    definition: workflows.Definition, instance: WorkflowInstance | None, tasks: list[Task]
) -> list[StageRow]:
    lang = _lang()
    rows = [StageRow(s.id, s.label(lang), "pending") for s in definition.stages]
    if instance is None:
        return rows
    state = services.state_of(instance)
    for row in rows:
        mine = [t for t in tasks if t.stage_id == row.id]
        if mine:
            latest = max(t.round for t in mine)
            row.tasks = [t for t in mine if t.round == latest]
    try:
        current = definition.index(state.stage_id or "")
    except KeyError:
        current = -1
    ran = {t.stage_id for t in tasks}
    at_current = {
        "running": "current",
        "returned": "returned",
        "approved": "completed",
        "rejected": "rejected",
        "cancelled": "cancelled",
    }[state.status]
    for i, row in enumerate(rows):
        if current < 0:
            row.status = "skipped"
        elif i < current:
            row.status = "completed" if row.id in ran else "skipped"
        elif i == current:
            row.status = at_current
        else:
            row.status = "skipped" if state.status == InstanceStatus.APPROVED else "pending"
    return rows


def build_panel(user: User, doc: Document, instance: WorkflowInstance | None) -> RoutePanel:
    panel = RoutePanel(instance)
    can_edit = documents.can_edit(user, doc)
    if instance is None:
        definitions = services.list_definitions()
        if can_edit and definitions:
            panel.can_start = True
            form = StartForm(formdata=None)
            form.definition.choices = [choice(d.code, d.display_name(_lang())) for d in definitions]
            panel.start_form = form
        return panel
    definition = services.parse(instance.definition)
    panel.name = instance.definition.display_name(_lang())
    panel.tasks = services.instance_tasks(instance)
    panel.stages = _stage_rows(definition, instance, panel.tasks)
    panel.svg = Markup(services.svg(instance, _lang()))  # noqa: S704 - escaped by the library
    panel.my_tasks = [
        t
        for t in panel.tasks
        if t.status == TaskStatus.OPEN and user.id in (t.assignee_id, t.on_behalf_of_id)
    ]
    if instance.is_open:
        panel.can_cancel = can_edit
        panel.cancel_form = CancelForm(formdata=None)
        if instance.status == InstanceStatus.RETURNED:
            panel.can_resubmit = services.may_resubmit(user, instance)
            panel.resubmit_form = EmptyForm(formdata=None)
    elif can_edit:
        definitions = services.list_definitions()
        if definitions:
            panel.can_start = True
            form = StartForm(formdata=None)
            form.definition.choices = [choice(d.code, d.display_name(_lang())) for d in definitions]
            form.definition.data = instance.definition.code
            panel.start_form = form
    return panel


@bp.app_template_global()
def route_panel(doc: Document) -> RoutePanel | None:
    """The "Route" section of the document page (included by documents/detail.html)."""
    user = g.get("user")
    if not isinstance(user, User):
        return None
    return build_panel(user, doc, services.current_instance(doc))


# The inbox ------------------------------------------------------------------------------


@bp.get("/inbox")
@login_required
def inbox() -> Page:
    user = get_user()
    documents.require_staff(user)
    names = ("status", "stage", "overdue", "page", "per_page")
    args = {k: v for k, v in request.args.items() if k in names}
    errors: dict[str, str] = {}
    page = None
    status = 200
    try:
        page = services.inbox(user, args)
    except ValidationError as exc:
        errors = {name: translate(message) for name, message in exc.errors.items()}
        status = 422
    form = InboxFilterForm(formdata=None)
    form.status.choices = [choice(k, v) for k, v in INBOX_STATUS_LABELS.items()]
    form.status.data = args.get("status") or "open"
    stages: dict[str, str] = {}
    for row in services.list_definitions(active_only=False):
        for stage in services.parse(row).stages:
            stages.setdefault(stage.id, stage.label(_lang()))
    form.stage.choices = [choice("", _("Any stage"))] + [
        choice(code, name) for code, name in sorted(stages.items(), key=lambda kv: kv[1])
    ]
    form.stage.data = args.get("stage", "")
    form.overdue.choices = [choice("", _("Any")), choice("true", _("Overdue only"))]
    form.overdue.data = args.get("overdue", "")
    for name, message in errors.items():
        field_ = form._fields.get(name)
        if field_ is not None:
            field_.errors = [message]
    return render_template(
        "routing/inbox.html",
        page=page,
        form=form,
        filter_errors=errors,
        args=args,
        now=page.now if page else utcnow(),
        stage_label=_task_stage_label,
    ), status


def _task_stage_label(task: Task) -> str:
    """The stage of a task in words, from its loaded definition (no query)."""
    try:
        return services.parse(task.instance.definition).stage(task.stage_id).label(_lang())
    except KeyError:
        return task.stage_id


# The decision page --------------------------------------------------------------------------


def _decision_form(task: Task, definition: workflows.Definition) -> DecisionForm:
    form = DecisionForm()
    stage = definition.stage(task.stage_id)
    decisions = list(stage.decisions)
    form.decision.choices = [choice(d, str(DECISION_LABELS.get(d, d))) for d in decisions]
    earlier = definition.stages[: definition.index(stage.id)]
    form.return_to.choices = [choice("", _("The author, for rework"))] + [
        choice(s.id, s.label(_lang())) for s in earlier
    ]
    return form


def _render_task(
    user: User, task: Task, form: DecisionForm | None = None, status: int = 200
) -> tuple[str, int]:
    instance = task.instance
    doc = task.document
    definition = services.parse(instance.definition)
    stage = definition.stage(task.stage_id)
    may_decide = acting_as_deputy = False
    if instance.status == InstanceStatus.RUNNING and task.status == TaskStatus.OPEN:
        if user.id in (task.assignee_id, task.on_behalf_of_id):
            may_decide = True
        else:
            deputy = services.deputy_for(task.assignee, utcnow())
            may_decide = acting_as_deputy = deputy is not None and deputy.id == user.id
    if form is None:
        form = _decision_form(task, definition)
    versions = list(reversed(doc.versions))
    latest = versions[0] if versions else None
    return render_template(
        "routing/task.html",
        task=task,
        doc=doc,
        stage=stage,
        stage_name=stage.label(_lang()),
        route_name=instance.definition.display_name(_lang()),
        panel=build_panel(user, doc, instance),
        form=form,
        may_decide=may_decide,
        acting_as_deputy=acting_as_deputy,
        latest=latest,
        inline_pdf=latest is not None and latest.media_type == "application/pdf",
        now=utcnow(),
        signature_stage=stage.signature,
        has_credential=stage.signature and signatures.active_credential(user) is not None,
    ), status


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> Page:
    user = get_user()
    task_ = services.get_task(user, task_id)
    if request.method == "GET":
        return _render_task(user, task_)
    definition = services.parse(task_.instance.definition)
    form = _decision_form(task_, definition)
    if not form.validate():
        return _render_task(user, task_, form, 400)
    try:
        services.decide(
            user,
            task_.id,
            form.decision.data,
            form.comment.data or "",
            form.return_to.data or None,
        )
    except EDMSError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        db.session.rollback()
        task_ = services.get_task(user, task_id)
        form = _decision_form(task_, definition)
        if isinstance(exc, ValidationError):
            set_route_errors(form, exc.errors)
        else:
            set_route_errors(form, {"_": exc.message})
        return _render_task(user, task_, form, exc.status)
    db.session.commit()
    flash(
        _(
            "Your decision is recorded: %(decision)s.",
            decision=decided_label(form.decision.data),
        ),
        "success",
    )
    return redirect(url_for("routing.inbox"))


# Starting, cancelling, resubmitting ------------------------------------------------------------


def _back(doc: Document) -> Response:
    return redirect(url_for("documents.detail", doc_id=doc.id, _anchor="route"))


def _fail(doc: Document, exc: EDMSError) -> Response:
    if isinstance(exc, PermissionDenied):
        raise exc
    db.session.rollback()
    if isinstance(exc, ValidationError):
        message = "; ".join(translate(m) for m in exc.errors.values())
    else:
        message = translate(exc.message)
    flash(message, "error")
    return _back(doc)


@bp.post("/documents/<doc_id>/route")
@login_required
def start(doc_id: str) -> Response:
    user = get_user()
    doc = documents.get_document(user, doc_id)
    form = StartForm()
    if not form.validate():
        return _back(doc)
    try:
        instance = services.start(user, doc, form.definition.data)
    except EDMSError as exc:
        return _fail(doc, exc)
    db.session.commit()
    flash(
        _("Route “%(route)s” started.", route=instance.definition.display_name(_lang())),
        "success",
    )
    return _back(doc)


@bp.post("/documents/<doc_id>/route/cancel")
@login_required
def cancel(doc_id: str) -> Response:
    user = get_user()
    doc, instance = services.route_of(user, doc_id)
    form = CancelForm()
    if not form.validate():
        return _back(doc)
    try:
        services.cancel(user, instance, form.reason.data or "")
    except EDMSError as exc:
        return _fail(doc, exc)
    db.session.commit()
    flash(_("The route has been cancelled."), "success")
    return _back(doc)


@bp.post("/documents/<doc_id>/route/resubmit")
@login_required
def resubmit(doc_id: str) -> Response:
    user = get_user()
    doc, instance = services.route_of(user, doc_id)
    form = EmptyForm()
    if not form.validate():
        return _back(doc)
    try:
        services.resubmit(user, instance)
    except EDMSError as exc:
        return _fail(doc, exc)
    db.session.commit()
    flash(_("The document has been sent on again."), "success")
    return _back(doc)


# The document in the browser --------------------------------------------------------------


@bp.get("/documents/<doc_id>/view")
@login_required
def view_file(doc_id: str) -> Response:
    """The latest version to show in the page: inline for PDF only, else an attachment."""
    doc = documents.get_document(get_user(), doc_id)
    return send_version(documents.get_version(doc), inline=True)
