"""Pages of resolutions, assignments, execution control and acquaintance lists."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

import storage
from edms.auth.login import get_user
from edms.auth.models import STAFF_ROLES, User, UserRole
from edms.blobs.services import get_store
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.errors import (
    Conflict,
    EDMSError,
    NotFound,
    PermissionDenied,
    ValidationError,
    from_storage_error,
)
from edms.labels import label_filters
from edms.resolutions import services
from edms.resolutions.forms import (
    ACTION_LABELS,
    ASSIGNMENT_STATUS_LABELS,
    EXTENSION_STATUS_LABELS,
    REPORT_OUTCOME_LABELS,
    RESOLUTION_STATUS_LABELS,
    AcquaintanceForm,
    CancelForm,
    ConfirmForm,
    DecisionForm,
    ExtensionForm,
    ReportForm,
    ResolutionForm,
    split_names,
    translate,
)
from edms.resolutions.models import (
    Assignment,
    AssignmentReport,
    ExtensionRequest,
    ExtensionStatus,
    Resolution,
)

bp = Blueprint("resolutions", __name__)

Page = Response | tuple[str, int]


# Words for codes ----------------------------------------------------------------

label_filters(
    bp,
    {
        "resolution_status": RESOLUTION_STATUS_LABELS,
        "assignment_status": ASSIGNMENT_STATUS_LABELS,
        "report_outcome": REPORT_OUTCOME_LABELS,
        "extension_status": EXTENSION_STATUS_LABELS,
        "resolution_action": ACTION_LABELS,
    },
)


@bp.app_template_global()
def resolution_panel(doc: Document) -> dict[str, Any]:
    """What the document page shows of resolutions and acquaintance (its include asks)."""
    user = current_user
    if not (user and user.is_authenticated and isinstance(user, User)):
        return {}
    readers = services.acquaintance_list(doc)
    mine = next((r for r in readers if r.user_id == user.id), None)
    return {
        "tree": services.resolution_tree(doc),
        "can_write": services.is_executive(user, doc),
        "readers": readers,
        "read_count": sum(1 for r in readers if r.confirmed_at is not None),
        "my_reading": mine,
        "can_ask": services.may_ask_to_read(user, doc),
        "confirm_form": ConfirmForm(formdata=None),
        "today": services.today(),
    }


# Helpers ------------------------------------------------------------------------


def _upload(value: FileStorage | None) -> documents.Upload | None:
    if value is None or (not value.filename and value.content_length == 0):
        return None
    if not value.filename:
        head = value.stream.read(1)
        value.stream.seek(0)
        if not head:
            return None
    return documents.Upload(value.filename, value.stream)


def _translated(exc: EDMSError) -> EDMSError:
    """The error with its message in the user's language, for the error page."""
    if isinstance(exc, PermissionDenied):
        return PermissionDenied(
            translate(exc.message), object_type=exc.object_type, object_id=exc.object_id
        )
    if isinstance(exc, NotFound):
        return NotFound(translate(exc.message))
    return exc


def _staff_users() -> list[User]:
    """Active staff, for the user name suggestions of the forms."""
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.is_active.is_(True),
                User.id.in_(
                    select(UserRole.user_id).where(
                        UserRole.role.in_([r.value for r in STAFF_ROLES])
                    )
                ),
            )
            .order_by(User.full_name, User.username)
            .limit(2000)
        )
    )


def _flash_conflict(exc: Conflict) -> None:
    db.session.rollback()
    flash(translate(exc.message), "error")


# Writing ------------------------------------------------------------------------


@bp.route("/documents/<doc_id>/resolutions/new", methods=["GET", "POST"])
@login_required
def new(doc_id: str) -> Page:
    user = get_user()
    doc = documents.get_document(user, doc_id)
    form = ResolutionForm()
    if request.method == "GET":
        form.parent.data = request.args.get("parent", "")
    parent: Resolution | None = None
    if form.parent.data:
        try:
            parent = services.get_resolution(user, int(form.parent.data))
        except (ValueError, NotFound):
            parent = None
        if parent is None or parent.document_id != doc.id:
            raise NotFound(_("No such resolution."))
        if not services.may_write_under(user, parent):
            raise PermissionDenied(
                translate(services.NOT_PARENT_EXECUTOR),
                object_type="resolution",
                object_id=parent.id,
            )
    elif not services.is_executive(user, doc):
        raise PermissionDenied(
            translate(services.NOT_EXECUTIVE), object_type="document", object_id=doc.id
        )
    status = 200
    if request.method == "POST":
        if form.validate():
            raw = {
                "text": form.text.data or "",
                "due_date": form.due_date.data or "",
                "executors": form.executors(),
                "parent": parent.id if parent else None,
            }
            try:
                resolution = services.create_resolution(user, doc, raw)
            except ValidationError as exc:
                db.session.rollback()
                form.set_service_errors(exc.errors)
                status = 422
            except PermissionDenied as exc:
                raise _translated(exc) from None
            else:
                db.session.commit()
                flash(_("The resolution has been written."), "success")
                return redirect(url_for("resolutions.detail", resolution_id=resolution.id))
        else:
            status = 422
    part = services.own_part(user, parent) if parent else None
    return render_template(
        "resolutions/new.html",
        form=form,
        doc=doc,
        parent=parent,
        limit=part.due_date if part else None,
        staff=_staff_users(),
        today=services.today(),
    ), status


# A resolution ---------------------------------------------------------------------


def _render_detail(
    user: User,
    resolution: Resolution,
    forms: dict[str, Any] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    forms = forms or {}
    is_author = resolution.author_id == user.id
    decisions: dict[int, DecisionForm] = {}
    extension_forms: dict[int, DecisionForm] = {}
    pending_extensions: list[ExtensionRequest] = []
    if is_author and resolution.is_open:
        for assignment in resolution.assignments:
            if assignment.pending_report is not None:
                decisions[assignment.id] = forms.get(
                    f"a{assignment.id}", DecisionForm(formdata=None, prefix=f"a{assignment.id}")
                )
            extension = assignment.pending_extension
            if extension is not None:
                pending_extensions.append(extension)
                extension_forms[extension.id] = forms.get(
                    f"e{extension.id}", DecisionForm(formdata=None, prefix=f"e{extension.id}")
                )
    tree = services.resolution_tree(resolution.document)
    index: dict[int, Resolution] = {}

    def walk(nodes: list[Resolution]) -> None:
        for node in nodes:
            index[node.id] = node
            walk(node.children)

    walk(tree)
    node = index.get(resolution.id, resolution)
    all_forms = [*decisions.values(), *extension_forms.values()]
    cancel_form = forms.get("cancel", CancelForm(formdata=None, prefix="cancel"))
    all_forms.append(cancel_form)
    return render_template(
        "resolutions/detail.html",
        resolution=node,
        doc=resolution.document,
        is_author=is_author,
        my_part=services.own_part(user, resolution),
        decisions=decisions,
        extension_forms=extension_forms,
        pending_extensions=pending_extensions,
        cancel_form=cancel_form,
        page_errors=any(f.errors for f in all_forms),
        all_forms=all_forms,
        history=_history(resolution),
        today=services.today(),
    ), status


def _history(resolution: Resolution) -> list[Any]:
    from edms.audit.models import AuditEvent

    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "resolution", AuditEvent.object_id == str(resolution.id)
            )
            .order_by(AuditEvent.id)
        )
    )


@bp.get("/resolutions/<int:resolution_id>")
@login_required
def detail(resolution_id: int) -> Page:
    user = get_user()
    try:
        resolution = services.get_resolution(user, resolution_id)
    except NotFound as exc:
        raise _translated(exc) from None
    return _render_detail(user, resolution)


@bp.post("/resolutions/<int:resolution_id>/cancel")
@login_required
def cancel(resolution_id: int) -> Page:
    user = get_user()
    resolution = _resolution_or_404(user, resolution_id)
    form = CancelForm(prefix="cancel")
    if not form.validate():
        return _render_detail(user, resolution, {"cancel": form}, 422)
    try:
        services.cancel_resolution(user, resolution, form.reason.data or "")
    except ValidationError as exc:
        db.session.rollback()
        form.set_errors(exc.errors)
        return _render_detail(user, resolution, {"cancel": form}, 422)
    except Conflict as exc:
        _flash_conflict(exc)
    except PermissionDenied as exc:
        raise _translated(exc) from None
    else:
        db.session.commit()
        flash(_("The resolution has been cancelled."), "success")
    return redirect(url_for("resolutions.detail", resolution_id=resolution.id))


def _resolution_or_404(user: User, resolution_id: int) -> Resolution:
    try:
        return services.get_resolution(user, resolution_id)
    except NotFound as exc:
        raise _translated(exc) from None


def _assignment_or_404(user: User, assignment_id: int) -> Assignment:
    try:
        return services.get_assignment(user, assignment_id)
    except NotFound as exc:
        raise _translated(exc) from None


def _decide(assignment_id: int, accept: bool) -> Page:
    user = get_user()
    assignment = _assignment_or_404(user, assignment_id)
    resolution = assignment.resolution
    prefix = f"a{assignment.id}"
    form = DecisionForm(prefix=prefix)
    if not form.validate():
        return _render_detail(user, resolution, {prefix: form}, 422)
    try:
        if accept:
            services.accept_report(user, assignment, form.comment.data or "")
        else:
            services.return_report(user, assignment, form.comment.data or "")
    except ValidationError as exc:
        db.session.rollback()
        form.set_errors(exc.errors)
        return _render_detail(user, resolution, {prefix: form}, 422)
    except Conflict as exc:
        _flash_conflict(exc)
    except PermissionDenied as exc:
        raise _translated(exc) from None
    else:
        db.session.commit()
        if accept:
            flash(
                _(
                    "The report of %(user)s has been accepted.",
                    user=assignment.executor.display_name,
                ),
                "success",
            )
            if not resolution.is_open:
                flash(_("The resolution has been removed from control."), "success")
        else:
            flash(
                _(
                    "The report has been returned to %(user)s.",
                    user=assignment.executor.display_name,
                ),
                "success",
            )
    return redirect(url_for("resolutions.detail", resolution_id=resolution.id))


@bp.post("/assignments/<int:assignment_id>/accept")
@login_required
def accept(assignment_id: int) -> Page:
    return _decide(assignment_id, accept=True)


@bp.post("/assignments/<int:assignment_id>/return")
@login_required
def return_(assignment_id: int) -> Page:
    return _decide(assignment_id, accept=False)


@bp.post("/extensions/<int:extension_id>/decision")
@login_required
def decide_extension(extension_id: int) -> Page:
    user = get_user()
    try:
        extension = services.get_extension(user, extension_id)
    except NotFound as exc:
        raise _translated(exc) from None
    resolution = extension.assignment.resolution
    prefix = f"e{extension.id}"
    form = DecisionForm(prefix=prefix)
    if not form.validate():
        return _render_detail(user, resolution, {prefix: form}, 422)
    decision = request.form.get("decision", "")
    try:
        services.decide_extension(user, extension, decision, form.comment.data or "")
    except ValidationError as exc:
        db.session.rollback()
        form.set_errors(exc.errors)
        return _render_detail(user, resolution, {prefix: form}, 422)
    except Conflict as exc:
        _flash_conflict(exc)
    except PermissionDenied as exc:
        raise _translated(exc) from None
    else:
        db.session.commit()
        if extension.status == ExtensionStatus.APPROVED:
            flash(
                _("The due date is now %(date)s.", date=extension.new_due_date.isoformat()),
                "success",
            )
        else:
            flash(_("The extension request has been declined."), "success")
    return redirect(url_for("resolutions.detail", resolution_id=resolution.id))


# An assignment -------------------------------------------------------------------


def _render_assignment(
    user: User,
    assignment: Assignment,
    report_form: ReportForm | None = None,
    extension_form: ExtensionForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    report_form = report_form or ReportForm(formdata=None, prefix="report")
    extension_form = extension_form or ExtensionForm(formdata=None, prefix="extension")
    resolution = assignment.resolution
    is_executor = assignment.executor_id == user.id
    return render_template(
        "resolutions/assignment.html",
        assignment=assignment,
        resolution=resolution,
        doc=resolution.document,
        is_executor=is_executor,
        can_report=is_executor and resolution.is_open and assignment.status == "open",
        can_extend=is_executor
        and resolution.is_open
        and assignment.is_active
        and assignment.pending_extension is None,
        can_delegate=is_executor and services.may_write_under(user, resolution),
        report_form=report_form,
        extension_form=extension_form,
        page_errors=bool(report_form.errors or extension_form.errors),
        today=services.today(),
    ), status


@bp.get("/assignments/<int:assignment_id>")
@login_required
def assignment(assignment_id: int) -> Page:
    user = get_user()
    return _render_assignment(user, _assignment_or_404(user, assignment_id))


@bp.post("/assignments/<int:assignment_id>/report")
@login_required
def report(assignment_id: int) -> Page:
    user = get_user()
    item = _assignment_or_404(user, assignment_id)
    form = ReportForm(prefix="report")
    if not form.validate():
        return _render_assignment(user, item, report_form=form, status=422)
    try:
        services.submit_report(user, item, form.text.data or "", _upload(form.file.data))
    except ValidationError as exc:
        db.session.rollback()
        form.set_errors(exc.errors)
        return _render_assignment(user, item, report_form=form, status=422)
    except Conflict as exc:
        _flash_conflict(exc)
    except PermissionDenied as exc:
        raise _translated(exc) from None
    except EDMSError as exc:  # storage trouble, a file too large
        db.session.rollback()
        form.set_errors({"file": exc.message})
        return _render_assignment(user, item, report_form=form, status=exc.status)
    else:
        db.session.commit()
        flash(
            _("Your report has been sent to %(user)s.", user=item.resolution.author.display_name),
            "success",
        )
    return redirect(url_for("resolutions.assignment", assignment_id=item.id))


@bp.post("/assignments/<int:assignment_id>/extension")
@login_required
def extension(assignment_id: int) -> Page:
    user = get_user()
    item = _assignment_or_404(user, assignment_id)
    form = ExtensionForm(prefix="extension")
    if not form.validate():
        return _render_assignment(user, item, extension_form=form, status=422)
    try:
        services.request_extension(
            user, item, {"due_date": form.due_date.data or "", "reason": form.reason.data or ""}
        )
    except ValidationError as exc:
        db.session.rollback()
        form.set_errors(exc.errors)
        return _render_assignment(user, item, extension_form=form, status=422)
    except Conflict as exc:
        _flash_conflict(exc)
    except PermissionDenied as exc:
        raise _translated(exc) from None
    else:
        db.session.commit()
        flash(_("Your request for more time has been sent."), "success")
    return redirect(url_for("resolutions.assignment", assignment_id=item.id))


@bp.get("/assignments/<int:assignment_id>/reports/<int:report_id>/file")
@login_required
def report_file(assignment_id: int, report_id: int) -> Response:
    user = get_user()
    item = _assignment_or_404(user, assignment_id)
    row = db.session.get(AssignmentReport, report_id)
    if row is None or row.assignment_id != item.id or not row.storage_key:
        raise NotFound(_("No such file."))
    try:
        stream = get_store().open(row.storage_key)
    except storage.StorageError as exc:
        raise from_storage_error(exc) from exc
    response = send_file(
        stream,
        mimetype=row.media_type or "application/octet-stream",
        as_attachment=True,
        download_name=row.file_name or "report",
        etag=row.sha256 or False,
        conditional=True,
        max_age=0,
    )
    response.headers.set(
        "Content-Disposition",
        "attachment",
        **storage.content_disposition(row.file_name or "report"),
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# Lists ------------------------------------------------------------------------------


def _control_nav() -> list[tuple[str, str]]:
    return [
        ("resolutions.assignments", _("My assignments")),
        ("resolutions.control", _("Overdue")),
        ("resolutions.report_page", _("Execution report")),
    ]


@bp.get("/assignments")
@login_required
def assignments() -> Page:
    user = get_user()
    documents.require_staff(user)
    show_all = request.args.get("status") == "all"
    items = services.my_assignments(user, "all" if show_all else None)
    return render_template(
        "resolutions/assignments.html",
        items=items,
        reading=services.pending_reading(user),
        show_all=show_all,
        control_nav=_control_nav(),
        today=services.today(),
    ), 200


@bp.get("/control")
@login_required
def control() -> Page:
    user = get_user()
    documents.require_staff(user)
    departments = services.control_departments(user)
    department = request.args.get("department", "")
    error = None
    items: list[Assignment] = []
    status = 200
    try:
        items = services.overdue(user, department or None)
    except ValidationError as exc:
        error = translate(exc.errors.get("department", exc.message))
        status = 422
    return render_template(
        "resolutions/overdue.html",
        items=items,
        departments=departments,
        department=department,
        error=error,
        control_nav=_control_nav(),
        today=services.today(),
    ), status


@bp.get("/control/report")
@login_required
def report_page() -> Page:
    user = get_user()
    documents.require_staff(user)
    day = services.today()
    values = {
        "from": request.args.get("from") or day.replace(day=1).isoformat(),
        "to": request.args.get("to") or day.isoformat(),
    }
    errors: dict[str, str] = {}
    result = None
    status = 200
    try:
        result = services.execution_report(user, values)
    except ValidationError as exc:
        errors = {name: translate(message) for name, message in exc.errors.items()}
        status = 422
    return render_template(
        "resolutions/report.html",
        result=result,
        values=values,
        errors=errors,
        control_nav=_control_nav(),
    ), status


# Acquaintance ------------------------------------------------------------------------


@bp.route("/documents/<doc_id>/acquaintance", methods=["GET", "POST"])
@login_required
def acquaintance(doc_id: str) -> Page:
    user = get_user()
    doc = documents.get_document(user, doc_id)
    if not services.may_ask_to_read(user, doc):
        raise PermissionDenied(
            translate(services.NOT_ALLOWED_READERS), object_type="document", object_id=doc.id
        )
    form = AcquaintanceForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                created = services.request_acquaintance(user, doc, split_names(form.users.data))
            except ValidationError as exc:
                db.session.rollback()
                form.set_errors(exc.errors)
                status = 422
            else:
                db.session.commit()
                if created:
                    flash(
                        _(
                            "Asked to read: %(names)s.",
                            names=", ".join(r.user.display_name for r in created),
                        ),
                        "success",
                    )
                else:
                    flash(_("Everyone named had already been asked."), "info")
                return redirect(url_for("documents.detail", doc_id=doc.id, _anchor="acquaintance"))
        else:
            status = 422
    return render_template(
        "resolutions/acquaintance.html",
        form=form,
        doc=doc,
        readers=services.acquaintance_list(doc),
        staff=_staff_users(),
    ), status


@bp.post("/documents/<doc_id>/acquaintance/confirm")
@login_required
def confirm(doc_id: str) -> Page:
    user = get_user()
    doc = documents.get_document(user, doc_id)
    form = ConfirmForm()
    if form.validate():
        try:
            services.confirm_acquaintance(user, doc)
        except NotFound as exc:
            raise _translated(exc) from None
        db.session.commit()
        flash(_("Thank you: your confirmation has been recorded."), "success")
    return redirect(url_for("documents.detail", doc_id=doc.id, _anchor="acquaintance"))
