"""Registry pages: list, register, detail, download, new version, edit, comment, share."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from edms.auth import services as auth
from edms.auth.login import get_user
from edms.auth.models import Department, Role, User
from edms.auth.services import subtree_ids
from edms.db import db
from edms.documents import services
from edms.documents.forms import CommentForm, MetadataForm, RegisterForm, ShareForm, VersionForm
from edms.documents.models import AccessReason, Document, DocumentVersion, Status
from edms.errors import EDMSError, NotFound, ValidationError
from edms.registry import services as registry

bp = Blueprint("documents", __name__)


def _upload(storage_: FileStorage | None) -> services.Upload | None:
    if storage_ is None or (not storage_.filename and storage_.content_length == 0):
        return None
    return services.Upload(storage_.filename, storage_.stream)


def _departments_for(user: User) -> list[Department]:
    query = select(Department).order_by(Department.name)
    if not user.has_role(Role.ADMIN):
        if user.department_id is None:
            return []
        query = query.where(Department.id.in_(subtree_ids(user.department_id)))
    return list(db.session.scalars(query))


def _fill_choices(form: MetadataForm, user: User) -> None:
    form.document_type.choices = [(t.code, _(t.name)) for t in registry.list_document_types()]
    if isinstance(form, RegisterForm):
        form.journal.choices = [(j.code, f"{j.code} — {j.name}") for j in registry.list_journals()]
        form.department.choices = [(d.code, d.name) for d in _departments_for(user)]
        if user.department is not None and not form.department.data:
            form.department.data = user.department.code


@bp.get("/documents", endpoint="registry")
@login_required
def registry_list() -> str:
    user = get_user()
    filters = {k: v for k, v in request.args.items() if v}
    error = None
    try:
        page = services.list_documents(user, filters)
    except ValidationError as exc:
        error = exc.errors
        page = services.list_documents(user, {})
    return render_template(
        "documents/list.html",
        page=page,
        filters=filters,
        filter_errors=error,
        journals=registry.list_journals(active_only=False),
        document_types=registry.list_document_types(),
        departments=_departments_for(user)
        if not user.sees_everything
        else list(db.session.scalars(select(Department).order_by(Department.name))),
        statuses=[s.value for s in Status],
        can_register=services.can_register(user),
    )


@bp.route("/documents/new", methods=["GET", "POST"])
@login_required
def register() -> Response | tuple[str, int]:
    user = get_user()
    services.require_staff(user)
    form = RegisterForm()
    _fill_choices(form, user)
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                doc = services.register(user, form.service_data(), _upload(form.file.data))
            except ValidationError as exc:
                form.set_errors(exc.errors)
                status = 422
            except EDMSError as exc:
                form.set_errors({"file": exc.message} if exc.status == 413 else {"_": exc.message})
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


@bp.get("/documents/<doc_id>")
@login_required
def detail(doc_id: str) -> str:
    user = get_user()
    doc = services.get_document(user, doc_id)
    return render_template(
        "documents/detail.html",
        doc=doc,
        versions=list(reversed(doc.versions)),
        history=services.history(doc),
        links=services.links(user, doc),
        can_edit=services.can_edit(user, doc),
        comment_form=CommentForm(),
        share_form=ShareForm(),
        version_form=VersionForm(),
    )


def _send_version(doc: Document, version: DocumentVersion) -> Response:
    stream = services.open_version(version)
    response = send_file(
        stream,
        mimetype=version.media_type,
        as_attachment=True,
        download_name=version.original_filename,
        etag=version.sha256,
        last_modified=version.created_at,
        conditional=True,
        max_age=0,
    )
    response.headers["Content-Length"] = str(version.size)
    # Stored files are never run as pages of this site, whatever they contain.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/documents/<doc_id>/versions/<int:number>/download")
@login_required
def download(doc_id: str, number: int) -> Response:
    doc = services.get_document(get_user(), doc_id)
    return _send_version(doc, services.get_version(doc, number))


@bp.route("/documents/<doc_id>/versions/new", methods=["GET", "POST"])
@login_required
def add_version(doc_id: str) -> Response | tuple[str, int]:
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
            except ValidationError as exc:
                form.set_errors(exc.errors)
                status = 422
            except EDMSError as exc:
                form.set_errors({"file": exc.message})
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
def edit(doc_id: str) -> Response | tuple[str, int]:
    user = get_user()
    doc = services.get_document(user, doc_id)
    services.require_edit(user, doc)
    form = MetadataForm(obj=doc) if request.method == "GET" else MetadataForm()
    _fill_choices(form, user)
    if request.method == "GET":
        form.document_type.data = doc.document_type.code
        form.correspondent_kind.data = doc.correspondent_kind or ""
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
                return redirect(url_for("documents.detail", doc_id=doc.id))
        else:
            status = 422
    return render_template("documents/edit.html", form=form, doc=doc), status


@bp.post("/documents/<doc_id>/comments")
@login_required
def comment(doc_id: str) -> Response:
    user = get_user()
    doc = services.get_document(user, doc_id)
    form = CommentForm()
    if form.validate():
        try:
            services.add_comment(user, doc, form.body.data or "")
        except ValidationError as exc:
            db.session.rollback()
            flash(_("The comment was not added: %(reason)s", reason=exc.message), "error")
        else:
            db.session.commit()
            flash(_("Comment added."), "success")
    return redirect(url_for("documents.detail", doc_id=doc_id, _anchor="comments"))


@bp.post("/documents/<doc_id>/share")
@login_required
def share(doc_id: str) -> Response:
    user = get_user()
    doc = services.get_document(user, doc_id)
    form = ShareForm()
    if form.validate():
        try:
            grantee = auth.get_user(form.username.data or "")
            services.grant_access(user, doc, grantee, AccessReason.SHARED)
        except NotFound:
            flash(_("There is no user with that name."), "error")
        except EDMSError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("The document is now shared with %(user)s.", user=grantee.username), "success")
    return redirect(url_for("documents.detail", doc_id=doc_id))
