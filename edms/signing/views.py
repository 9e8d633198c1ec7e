"""The public /verify page, the user's signing credential, and the trust store (admins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

import signing
from edms.auth.forms import EmptyForm
from edms.auth.login import get_user, roles_required
from edms.auth.models import Role, User
from edms.db import db
from edms.documents.models import Document
from edms.errors import Conflict, NotFound, PayloadTooLarge, ValidationError
from edms.labels import label_filters
from edms.signing import services
from edms.signing.forms import (
    CREDENTIAL_SOURCES,
    INDICATIONS,
    LEVELS,
    PROBLEMS,
    SOURCES,
    CredentialForm,
    TrustForm,
    VerifyCodeForm,
    VerifyFileForm,
    set_signing_errors,
    signature_reason,
    translate,
)

bp = Blueprint("signing", __name__)
admin_bp = Blueprint("trust_admin", __name__, url_prefix="/admin/trust")

Page = Response | tuple[str, int]
F = TypeVar("F", bound=Callable[..., Any])
MB = 1024 * 1024

label_filters(
    bp,
    {
        "indication_label": INDICATIONS,
        "pades_level": LEVELS,
        "trust_source": SOURCES,
        "credential_source": CREDENTIAL_SOURCES,
    },
)


@bp.app_template_global()
def signature_problem(report: signing.SignatureReport) -> str | None:
    return signature_reason(report)


def _file(name: str = "file") -> FileStorage | None:
    """The uploaded file of the form, or None when the file input was left empty."""
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    return upload


def _uploaded_bytes(limit: int) -> bytes:
    """The uploaded file, read up to one byte past ``limit`` so the service can say it
    is too large; ``ValidationError`` naming ``file`` when none was chosen."""
    upload = _file()
    if upload is None:
        raise ValidationError({"file": "a file is required"})
    return upload.stream.read(limit + 1)


# Verification (public) ---------------------------------------------------------------


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Page:
    """Check the signatures of a PDF, or of the document a verification code names.

    Public: no login. For a code only the registration number and date are shown
    (a title may be confidential).
    """
    max_mb = int(current_app.config["EDMS"]["signing_verify_max_mb"])
    file_form = VerifyFileForm()
    code_form = VerifyCodeForm(formdata=request.args if "code" in request.args else None)
    report: signing.VerificationReport | None = None
    document: Document | None = None
    identical: bool | None = None
    compared = False
    status = 200
    if request.method == "POST":
        if file_form.validate_on_submit():
            status, report, document = _verify_file(file_form, max_mb)
            if document is not None and report is not None:
                compared = True
                identical = services.same_as_registered(document, report)
        else:
            status = 422
    elif "code" in request.args:
        try:
            found = services.verify_code(code_form.code.data or "")
        except ValidationError as exc:
            set_signing_errors(code_form, exc.errors)
            status = 422
        else:
            if found is None:
                code_form.code.errors = [_("No document has this verification code.")]
                status = 404
            else:
                document, report = found
                file_form.document_code.data = document.verification_code
    if document is not None and not file_form.document_code.data:
        file_form.document_code.data = document.verification_code
    problem = None
    if report is not None and report.problem_code:
        problem = str(PROBLEMS.get(report.problem_code, report.problem or ""))
        if status == 200:
            status = 422
    return render_template(
        "signing/verify.html",
        file_form=file_form,
        code_form=code_form,
        report=report,
        problem=problem,
        document=document,
        identical=identical,
        compared=compared,
        max_mb=max_mb,
    ), status


def _verify_file(
    form: VerifyFileForm, max_mb: int
) -> tuple[int, signing.VerificationReport | None, Document | None]:
    document = None
    code = (form.document_code.data or "").strip()
    upload = _file()
    try:
        if code:
            document = services.document_for_code(code)
            if document is None:
                form.form_errors.append(_("No document has this verification code."))
                return 404, None, None
        if upload is None:
            raise ValidationError({"file": "a file is required"})
        return 200, services.verify_upload(upload.stream, max_mb * MB), document
    except ValidationError as exc:
        set_signing_errors(form, exc.errors)
        return 422, None, document
    except PayloadTooLarge as exc:
        form.file.errors = [*form.file.errors, translate(exc.message)]
        return 413, None, document


# The user's signing credential -------------------------------------------------------


def _signer() -> User:
    user = get_user()
    services.require_signer(user)
    return user


@bp.route("/account/signing", methods=["GET", "POST"])
@login_required
def account() -> Page:
    user = _signer()
    form = CredentialForm()
    status = 200
    if form.validate_on_submit():
        try:
            data = _uploaded_bytes(services.MAX_CREDENTIAL_BYTES)
            row = services.upload_credential(user, data, form.passphrase.data or "")
        except ValidationError as exc:
            db.session.rollback()
            set_signing_errors(form, exc.errors)
            status = 422
        else:
            db.session.commit()
            flash(
                _(
                    "Your signing credential is now the certificate of %(name)s.",
                    name=row.common_name,
                ),
                "success",
            )
            return redirect(url_for("signing.account"))
    elif request.method == "POST":
        status = 422
    return render_template(
        "signing/account.html",
        form=form,
        button_form=EmptyForm(),
        active=services.active_credential(user),
        credentials=services.list_credentials(user),
        demo=services.demo_pki_exists(),
    ), status


@bp.post("/account/signing/demo")
@login_required
def issue_demo() -> Response:
    user = _signer()
    if EmptyForm().validate_on_submit():
        try:
            services.issue_demo_credential(user)
        except Conflict as exc:
            db.session.rollback()
            flash(translate(exc.message), "error")
        else:
            db.session.commit()
            flash(_("A demo certificate has been issued to you."), "success")
    return redirect(url_for("signing.account"))


@bp.post("/account/signing/<int:credential_id>/revoke")
@login_required
def revoke(credential_id: int) -> Response:
    user = _signer()
    if EmptyForm().validate_on_submit():
        try:
            services.revoke_credential(user, services.get_credential(user, credential_id))
        except (Conflict, NotFound) as exc:
            db.session.rollback()
            flash(translate(exc.message), "error")
        else:
            db.session.commit()
            flash(_("The signing credential has been revoked."), "success")
    return redirect(url_for("signing.account"))


# Trust store (administrators) --------------------------------------------------------


def _admin_only(view: F) -> F:
    """Logged-in administrators only: others get 403 (audited), visitors the login page."""
    return cast(F, login_required(roles_required(Role.ADMIN)(view)))


@admin_bp.route("", methods=["GET", "POST"])
@_admin_only
def trust() -> Page:
    user = get_user()
    form = TrustForm()
    status = 200
    if form.validate_on_submit():
        try:
            data = _uploaded_bytes(services.MAX_CERTIFICATE_BYTES)
            rows = services.add_trusted(user, data, form.note.data or "")
        except ValidationError as exc:
            db.session.rollback()
            set_signing_errors(form, exc.errors)
            status = 422
        else:
            db.session.commit()
            flash(_("Now trusted: %(names)s.", names="; ".join(r.subject for r in rows)), "success")
            return redirect(url_for("trust_admin.trust"))
    elif request.method == "POST":
        status = 422
    return render_template(
        "signing/trust.html",
        form=form,
        button_form=EmptyForm(),
        anchors=services.trust_anchors(),
    ), status


@admin_bp.post("/<int:trusted_id>/remove")
@_admin_only
def remove(trusted_id: int) -> Response:
    user = get_user()
    if EmptyForm().validate_on_submit():
        try:
            row = services.remove_trusted(user, trusted_id)
        except NotFound as exc:
            db.session.rollback()
            flash(translate(exc.message), "error")
        else:
            db.session.commit()
            flash(_("No longer trusted: %(name)s.", name=row.subject), "success")
    return redirect(url_for("trust_admin.trust"))
