"""Registry pages: list, register, detail, download, new version, edit, comment, share."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from edms.audit.models import AuditEvent
from edms.auth import services as auth
from edms.auth.login import get_user
from edms.auth.models import Department, User
from edms.auth.services import subtree_ids
from edms.db import db
from edms.documents import services
from edms.documents.download import send_version
from edms.documents.forms import (
    CONFIDENTIALITY_OPTIONS,
    DIRECTION_LABELS,
    FIELD_LABELS,
    LANGUAGE_OPTIONS,
    SORT_CHOICES,
    STATUS_LABELS,
    CommentForm,
    MetadataForm,
    RegisterForm,
    ShareForm,
    VersionForm,
    choice,
    document_type_name,
)
from edms.documents.models import AccessReason, Document, DocumentAccess, Status
from edms.errors import EDMSError, NotFound, PermissionDenied, ValidationError
from edms.labels import label, label_filters
from edms.main.views import translate_message
from edms.registry import services as registry

bp = Blueprint("documents", __name__)

Page = Response | tuple[str, int]

# The filters of the registry list, in the order of the form; each input's id is "f-<name>".
FILTERS = (
    "q",
    "number",
    "journal",
    "document_type",
    "direction",
    "department",
    "status",
    "date_from",
    "date_to",
    "sort",
)
_CONFIDENTIALITY_LABELS = dict(CONFIDENTIALITY_OPTIONS)
_LANGUAGE_LABELS = dict(LANGUAGE_OPTIONS)
_ACTION_LABELS = {
    "document.register": _l("Registered"),
    "document.version_add": _l("New version added"),
    "document.update": _l("Details changed"),
    "document.comment": _l("Comment added"),
    "document.access_grant": _l("Access granted"),
    "access.denied": _l("Access refused"),
}


# Words for codes, used by the templates -------------------------------------

label_filters(
    bp,
    {
        "status_label": STATUS_LABELS,
        "direction_label": DIRECTION_LABELS,
        "confidentiality_label": _CONFIDENTIALITY_LABELS,
        "language_label": _LANGUAGE_LABELS,
    },
)


@bp.app_template_filter("type_name")
def type_name(name: str) -> str:
    return document_type_name(name)


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    """A file size in the user's language: "85 bytes", "1.2 MB" ("1,2 MB" in Russian)."""
    if size < 1024:
        return ngettext("%(num)d byte", "%(num)d bytes", size)
    if size >= 1024**3:
        return _("%(size)s GB", size=format_decimal(round(size / 1024**3, 1)))
    if size >= 1024**2:
        return _("%(size)s MB", size=format_decimal(round(size / 1024**2, 1)))
    return _("%(size)s KB", size=format_decimal(round(size / 1024, 1)))


@bp.app_template_filter("event_description")
def event_description(event: AuditEvent) -> str:
    """What an audit event of a document means, in words (never its raw action code)."""
    details: dict[str, Any] = event.details or {}
    action = event.action
    if action == "document.register":
        return _("Registered as %(number)s", number=details.get("registration_number", ""))
    if action == "document.version_add":
        return _("Version %(number)s added", number=details.get("version", ""))
    if action == "document.update":
        changes = details.get("changes") or {}
        fields = ", ".join(label(FIELD_LABELS, str(name)) for name in changes)
        return _("Details changed: %(fields)s", fields=fields)
    if action == "document.access_grant":
        if details.get("reason") == AccessReason.ASSIGNED:
            return _("Access given to %(user)s for a task", user=details.get("user", ""))
        return _("Shared with %(user)s", user=details.get("user", ""))
    if action == "access.denied" and details.get("wanted") == "edit":
        return _("A change was refused: no permission")
    return label(_ACTION_LABELS, action)


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    user = current_user
    can_register = bool(
        user and user.is_authenticated and isinstance(user, User) and services.can_register(user)
    )
    return {"nav_can_register": can_register}


# Helpers ----------------------------------------------------------------------


def _upload(storage_: FileStorage | None) -> services.Upload | None:
    if storage_ is None or (not storage_.filename and storage_.content_length == 0):
        return None
    return services.Upload(storage_.filename, storage_.stream)


def _departments_for(user: User) -> list[Department]:
    """The departments the user works for: all of them for admins and records officers."""
    query = select(Department).order_by(Department.name)
    if not user.sees_everything:
        if user.department_id is None:
            return []
        query = query.where(Department.id.in_(subtree_ids(user.department_id)))
    return list(db.session.scalars(query))


def _fill_choices(form: MetadataForm, user: User) -> None:
    form.document_type.choices = [
        choice(t.code, document_type_name(t.name)) for t in registry.list_document_types()
    ]
    if not form.document_type.data:
        form.document_type.data = services.DEFAULT_DOCUMENT_TYPE
    if isinstance(form, RegisterForm):
        # No journal is preselected: the number a document gets is for life.
        form.journal.choices = [choice("", _("Choose a journal"))] + [
            choice(j.code, f"{j.code} — {j.name}") for j in registry.list_journals()
        ]
        form.department.choices = [choice(d.code, d.name) for d in _departments_for(user)]
        if user.department is not None and not form.department.data:
            form.department.data = user.department.code


def _set_errors(form: Any, exc: EDMSError) -> None:
    if isinstance(exc, ValidationError):
        form.set_errors(exc.errors)
    elif exc.status == 413:
        form.set_errors({"file": exc.message})
    else:
        form.set_errors({"_": exc.message})


# Pages ------------------------------------------------------------------------


@bp.get("/documents", endpoint="registry")
@login_required
def registry_list() -> Page:
    user = get_user()
    filters = {
        k: v for k, v in request.args.items() if v and (k in FILTERS or k in ("page", "per_page"))
    }
    errors: dict[str, str] = {}
    page = None
    status = 200
    try:
        page = services.list_documents(user, filters)
    except ValidationError as exc:
        errors = {field: translate_message(message) for field, message in exc.errors.items()}
        status = 422
    sort = filters.get("sort", "-registration_date")
    return render_template(
        "documents/list.html",
        page=page,
        filters=filters,
        filter_errors=errors,
        filter_labels={
            "q": _("Title or number contains"),
            "number": _("Registration number"),
            "journal": _("Journal"),
            "document_type": _("Document type"),
            "direction": _("Direction"),
            "department": _("Department"),
            "status": _("Status"),
            "date_from": _("Registered from"),
            "date_to": _("Registered to"),
            "sort": _("Sort by"),
            "page": _("Page"),
            "per_page": _("Page size"),
        },
        journals=registry.list_journals(active_only=False),
        document_types=registry.list_document_types(),
        departments=_departments_for(user),
        statuses=[s.value for s in Status],
        directions=list(DIRECTION_LABELS),
        sorts=[(value, str(text)) for value, text in SORT_CHOICES],
        sort=sort,
        can_register=services.can_register(user),
    ), status


@bp.route("/documents/new", methods=["GET", "POST"])
@login_required
def register() -> Page:
    user = get_user()
    services.require_staff(user)
    if not services.can_register(user):
        raise PermissionDenied("Only clerks and administrators register documents.")
    form = RegisterForm()
    _fill_choices(form, user)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                doc = services.register(user, form.service_data(), _upload(form.file.data))
            except EDMSError as exc:
                if isinstance(exc, PermissionDenied):
                    raise
                _set_errors(form, exc)
                status = exc.status
            else:
                db.session.commit()
                flash(
                    _("Document registered as %(number)s.", number=doc.registration_number),
                    "success",
                )
                return redirect(url_for("documents.detail", doc_id=doc.id))
        else:
            status = 422
    return render_template("documents/register.html", form=form), status


def _render_detail(
    user: User,
    doc: Document,
    comment_form: CommentForm | None = None,
    share_form: ShareForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    can_edit = services.can_edit(user, doc)
    shared_with: list[DocumentAccess] = []
    if can_edit:
        shared_with = list(
            db.session.scalars(
                select(DocumentAccess)
                .where(DocumentAccess.document_id == doc.id)
                .order_by(DocumentAccess.created_at)
            )
        )
    return render_template(
        "documents/detail.html",
        doc=doc,
        versions=list(reversed(doc.versions)),
        history=services.history(doc),
        links=services.links(user, doc),
        can_edit=can_edit,
        shared_with=shared_with,
        comment_form=comment_form or CommentForm(formdata=None),
        share_form=share_form or ShareForm(formdata=None),
    ), status


@bp.get("/documents/<doc_id>")
@login_required
def detail(doc_id: str) -> Page:
    user = get_user()
    return _render_detail(user, services.get_document(user, doc_id))


@bp.get("/documents/<doc_id>/versions/<int:number>/download")
@login_required
def download(doc_id: str, number: int) -> Response:
    doc = services.get_document(get_user(), doc_id)
    return send_version(services.get_version(doc, number))


@bp.route("/documents/<doc_id>/versions/new", methods=["GET", "POST"])
@login_required
def add_version(doc_id: str) -> Page:
    user = get_user()
    doc = services.get_document(user, doc_id)
    services.require_edit(user, doc)
    form = VersionForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                version = services.add_version(
                    user, doc, _upload(form.file.data), form.comment.data or ""
                )
            except EDMSError as exc:
                if isinstance(exc, PermissionDenied):
                    raise
                _set_errors(form, exc)
                status = exc.status
            else:
                db.session.commit()
                flash(_("Version %(number)s added.", number=version.number), "success")
                return redirect(url_for("documents.detail", doc_id=doc.id))
        else:
            status = 422
    return render_template("documents/version.html", form=form, doc=doc), status


@bp.route("/documents/<doc_id>/edit", methods=["GET", "POST"])
@login_required
def edit(doc_id: str) -> Page:
    user = get_user()
    doc = services.get_document(user, doc_id)
    services.require_edit(user, doc)
    form = MetadataForm(obj=doc) if request.method == "GET" else MetadataForm()
    if request.method == "GET":
        form.document_type.data = doc.document_type.code
        form.correspondent_kind.data = doc.correspondent_kind or ""
    _fill_choices(form, user)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                changes = services.update_metadata(user, doc, form.service_data())
            except ValidationError as exc:
                db.session.rollback()
                form.set_errors(exc.errors)
                status = 422
            else:
                db.session.commit()
                if changes:
                    flash(_("The document has been updated."), "success")
                else:
                    flash(_("Nothing was changed."), "info")
                return redirect(url_for("documents.detail", doc_id=doc.id))
        else:
            status = 422
    return render_template("documents/edit.html", form=form, doc=doc), status


@bp.post("/documents/<doc_id>/comments")
@login_required
def comment(doc_id: str) -> Page:
    user = get_user()
    doc = services.get_document(user, doc_id)
    form = CommentForm()
    if form.validate():
        try:
            services.add_comment(user, doc, form.body.data or "")
        except ValidationError as exc:
            db.session.rollback()
            form.set_errors(exc.errors)
            return _render_detail(user, doc, comment_form=form, status=422)
        db.session.commit()
        flash(_("Comment added."), "success")
    return redirect(url_for("documents.detail", doc_id=doc.id, _anchor="comments"))


@bp.post("/documents/<doc_id>/share")
@login_required
def share(doc_id: str) -> Page:
    user = get_user()
    doc = services.get_document(user, doc_id)
    services.require_edit(user, doc)
    form = ShareForm()
    if form.validate():
        username = (form.username.data or "").strip()
        try:
            if not username:
                raise ValidationError({"username": _("Enter the user name of a colleague.")})
            try:
                grantee = auth.get_user(username)
            except NotFound:
                raise ValidationError({"username": _("There is no user with that name.")}) from None
            if not grantee.is_active or not grantee.is_staff:
                raise ValidationError({"username": _("Documents can be shared with staff only.")})
            services.grant_access(user, doc, grantee, AccessReason.SHARED)
        except ValidationError as exc:
            db.session.rollback()
            form.set_errors(exc.errors)
            return _render_detail(user, doc, share_form=form, status=422)
        db.session.commit()
        flash(_("The document is now shared with %(user)s.", user=grantee.display_name), "success")
    return redirect(url_for("documents.detail", doc_id=doc.id, _anchor="share"))
