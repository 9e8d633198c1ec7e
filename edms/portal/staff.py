"""The portal as staff see it: the application behind a registered document (its form
data, attachments and information requests, on the document page) and the
administrators' catalogue pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import TextAreaField

import storage
from edms.auth.forms import EmptyForm
from edms.auth.login import get_user
from edms.auth.models import User
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.errors import EDMSError, PermissionDenied, ValidationError
from edms.labels import label_filters
from edms.portal import catalogue, forms, services
from edms.portal.models import Application, ApplicationFile, ApplicationStatus, ServiceDefinition

bp = Blueprint("portal_staff", __name__)

#: Words for an application's status (staff pages; the applicant's pages may word them
#: for the applicant).
APPLICATION_STATUS_LABELS: dict[str, object] = {
    ApplicationStatus.DRAFT: _l("draft"),
    ApplicationStatus.SUBMITTED: _l("under review"),
    ApplicationStatus.INFORMATION_REQUESTED: _l("waiting for the applicant"),
    ApplicationStatus.DECIDING: _l("decision being issued"),
    ApplicationStatus.GRANTED: _l("granted"),
    ApplicationStatus.REFUSED: _l("refused"),
    ApplicationStatus.WITHDRAWN: _l("withdrawn"),
}
label_filters(bp, {"application_status": APPLICATION_STATUS_LABELS})


class InformationRequestForm(FlaskForm):
    message = TextAreaField(
        _l("What the applicant must add"), render_kw={"maxlength": services.MAX_MESSAGE}
    )


class ServiceVersionForm(FlaskForm):
    definition = TextAreaField(_l("Definition (YAML)"), render_kw={"rows": 30})


def _lang() -> str:
    locale = get_locale()
    return str(locale.language) if locale is not None else "uz"


@dataclass
class ApplicationPanel:
    application: Application
    service_name: str
    fields: list[forms.FormField]
    files: list[ApplicationFile]
    can_ask: bool
    ask_form: InformationRequestForm | None = None
    requests: list[Any] = field(default_factory=list)


@bp.app_template_global()
def application_panel(doc: Document) -> ApplicationPanel | None:
    """The "Application" section of the document page (documents/detail.html)."""
    user = g.get("user")
    if not isinstance(user, User) or not user.is_staff:
        return None
    application = services.application_of_document(doc)
    if application is None:
        return None
    spec = services.spec_of(application.service)
    lang = _lang()
    can_ask = application.status == ApplicationStatus.SUBMITTED and (
        documents.can_edit(user, doc) or services.assigned(user, doc)
    )
    return ApplicationPanel(
        application=application,
        service_name=catalogue.text(spec.name, lang),
        fields=forms.fields(spec.form, lang, application.data),
        files=list(application.files),
        can_ask=can_ask,
        ask_form=InformationRequestForm() if can_ask else None,
        requests=list(application.requests),
    )


def _back(doc: Document) -> Response:
    return redirect(url_for("documents.detail", doc_id=doc.id, _anchor="application"))


@bp.post("/documents/<doc_id>/information-request")
@login_required
def information_request(doc_id: str) -> Response:
    user = get_user()
    doc = documents.get_document(user, doc_id)
    form = InformationRequestForm()
    if not form.validate():
        flash(_("The form has expired; please try again."), "error")
        return _back(doc)
    try:
        services.request_information(user, doc, form.message.data or "")
    except PermissionDenied:
        raise
    except ValidationError as exc:
        db.session.rollback()
        flash("; ".join(str(m) for m in exc.errors.values()), "error")
        return _back(doc)
    except EDMSError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _back(doc)
    db.session.commit()
    flash(_("The applicant has been asked for more information."), "success")
    return _back(doc)


@bp.get("/documents/<doc_id>/application-files/<int:file_id>")
@login_required
def application_file(doc_id: str, file_id: int) -> Response:
    user = get_user()
    doc = documents.get_document(user, doc_id)  # 404 unless the user may see it
    application = services.application_of_document(doc)
    row = next((f for f in application.files if f.id == file_id), None) if application else None
    if row is None:
        abort(404)
    stream = services.open_file(row)
    response = send_file(
        stream,
        mimetype=row.media_type,
        as_attachment=True,
        download_name=row.original_filename,
        etag=row.sha256,
        max_age=0,
    )
    response.headers.set(
        "Content-Disposition", "attachment", **storage.content_disposition(row.original_filename)
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


# The catalogue, for administrators ----------------------------------------------------------


@bp.get("/admin/services")
@login_required
def admin_services() -> str:
    user = get_user()
    services.require_admin(user)
    rows = services.list_services(active_only=False)
    lang = _lang()
    return render_template(
        "portal_staff/services.html",
        rows=[(row, catalogue.text(row.name, lang)) for row in rows],
        form=EmptyForm(),
    )


def _versions(code: str) -> list[ServiceDefinition]:
    from sqlalchemy import select

    return list(
        db.session.scalars(
            select(ServiceDefinition)
            .where(ServiceDefinition.code == code)
            .order_by(ServiceDefinition.version.desc())
        )
    )


@bp.route("/admin/services/<code>", methods=["GET", "POST"])
@login_required
def admin_service(code: str) -> Any:
    user = get_user()
    services.require_admin(user)
    versions = _versions(code)
    if not versions:
        abort(404)
    latest = versions[0]
    form = ServiceVersionForm()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and form.validate():
        try:
            row = services.new_service_version(user, form.definition.data or "")
        except services.CatalogueInvalid as exc:
            db.session.rollback()
            errors = {"definition": "; ".join(exc.problems)}
            status = 422
        except ValidationError as exc:
            db.session.rollback()
            errors = {
                k if k in ("definition",) else "definition": str(v) for k, v in exc.errors.items()
            }
            status = 422
        else:
            if row.code != code:
                db.session.rollback()
                errors = {"definition": _("The definition's code must stay %(code)s.", code=code)}
                status = 422
            else:
                db.session.commit()
                flash(_("Version %(version)s saved.", version=row.version), "success")
                return redirect(url_for("portal_staff.admin_service", code=code))
    elif request.method == "GET":
        form.definition.data = latest.text
    return (
        render_template(
            "portal_staff/service.html",
            latest=latest,
            versions=versions,
            name=catalogue.text(latest.name, _lang()),
            form=form,
            toggle=EmptyForm(),
            errors=errors,
        ),
        status,
    )


@bp.post("/admin/services/<code>/active")
@login_required
def admin_service_active(code: str) -> Response:
    user = get_user()
    services.require_admin(user)
    form = EmptyForm()
    if form.validate():
        active = request.form.get("active") == "1"
        services.set_service_active(user, code, active)
        db.session.commit()
        flash(
            _("The service is offered again.") if active else _("The service is withdrawn."),
            "success",
        )
    return redirect(url_for("portal_staff.admin_service", code=code))
