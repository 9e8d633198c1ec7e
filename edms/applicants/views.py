"""Applicant accounts: registration, confirmation links, the own account, the admin page.

Public: ``/portal/register``, ``/portal/confirm/<token>``, ``/portal/confirm/resend``,
``/portal/password/<token>``. Applicants: ``/portal/account``. Administrators:
``/admin/applicants``. (After logging in, applicants land on the portal's start page,
``/portal/``: see ``edms.main.views.index``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from edms.applicants import services
from edms.applicants.forms import (
    ApplicantAdminForm,
    OrganisationForm,
    ProfileForm,
    RegisterForm,
    ResendForm,
    SetPasswordForm,
    set_applicant_errors,
    translate,
)
from edms.auth.forms import EmptyForm
from edms.auth.login import get_user, roles_required
from edms.auth.models import Role, User
from edms.db import db
from edms.errors import NotFound, PermissionDenied, TooManyRequests, ValidationError

bp = Blueprint("applicants", __name__)

Page = Response | tuple[str, int] | tuple[str, int, dict[str, str]]
F = TypeVar("F", bound=Callable[..., Any])


def _locale() -> str | None:
    locale = get_locale()
    return str(locale) if locale is not None else None


def _too_many(form: Any, exc: TooManyRequests) -> dict[str, str]:
    db.session.commit()  # keep the count
    form.form_errors.append(translate(exc.message))
    return {"Retry-After": str(int(exc.extra.get("retry_after", 3600)))}


# Registration ------------------------------------------------------------------------


@bp.route("/portal/register", methods=["GET", "POST"])
def register() -> Page:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    mail_on = services.mail_enabled()
    status = 200
    headers: dict[str, str] = {}
    if not mail_on:
        # Without e-mail no one could confirm: the page says so and takes nothing.
        status = 503 if request.method == "POST" else 200
    elif form.validate_on_submit():
        try:
            services.register(
                full_name=form.full_name.data,
                email=form.email.data,
                password=form.password.data,
                confirm_password=form.confirm_password.data,
                pinfl=form.pinfl.data,
                tin=form.tin.data,
                org_name=form.org_name.data,
                consent=bool(form.consent.data),
                locale=_locale(),
                client_addr=request.remote_addr,
            )
        except ValidationError as exc:
            db.session.commit()  # only the client's count was written: keep it
            set_applicant_errors(form, exc.errors)
            status = 422
        except TooManyRequests as exc:
            headers = _too_many(form, exc)
            status = 429
        else:
            # The same answer whether the address was new or not.
            db.session.commit()
            return redirect(url_for("applicants.registered"))
    elif request.method == "POST":
        status = 422
    return render_template("applicants/register.html", form=form, mail_on=mail_on), status, headers


@bp.get("/portal/register/sent")
def registered() -> str:
    return render_template("applicants/sent.html", after="register", hours=services.link_hours())


# Confirmation links ------------------------------------------------------------------


def _link_problem(exc: services.LinkError) -> tuple[str, int]:
    db.session.rollback()
    return render_template(
        "applicants/link_problem.html", reason=exc.reason, hours=services.link_hours()
    ), exc.status


@bp.get("/portal/confirm/<token>")
def confirm(token: str) -> Page:
    # Not logged in on the way: a link that logged its holder in would be a password.
    try:
        services.confirm(token)
    except services.LinkError as exc:
        return _link_problem(exc)
    db.session.commit()
    return render_template("applicants/confirmed.html"), 200


@bp.route("/portal/confirm/resend", methods=["GET", "POST"])
def resend() -> Page:
    form = ResendForm()
    status = 200
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.resend(form.email.data, request.remote_addr)
        except ValidationError as exc:
            db.session.rollback()
            set_applicant_errors(form, exc.errors)
            status = 422
        except TooManyRequests as exc:
            headers = _too_many(form, exc)
            status = 429
        else:
            db.session.commit()
            return redirect(url_for("applicants.resent"))
    elif request.method == "POST":
        status = 422
    return (
        render_template("applicants/resend.html", form=form, mail_on=services.mail_enabled()),
        status,
        headers,
    )


@bp.get("/portal/confirm/sent")
def resent() -> str:
    return render_template("applicants/sent.html", after="resend", hours=services.link_hours())


@bp.route("/portal/password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> Page:
    try:
        user = services.check_password_link(token)
    except services.LinkError as exc:
        return _link_problem(exc)
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.set_password(token, form.password.data, form.confirm_password.data)
        except services.LinkError as exc:
            return _link_problem(exc)
        except ValidationError as exc:
            db.session.rollback()
            set_applicant_errors(form, exc.errors)
            status = 422
        else:
            db.session.commit()
            flash(_("Your password has been set. You can log in now."), "success")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        status = 422
    return render_template("applicants/set_password.html", form=form, user=user), status


# The applicant's own account ---------------------------------------------------------


def _applicant() -> User:
    user = get_user()
    if not user.has_role(Role.APPLICANT):
        raise PermissionDenied("The portal account page is for applicants.")
    return user


def _account_page(
    user: User,
    profile_form: ProfileForm | None = None,
    organisation_form: OrganisationForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    profile = services.profile_of(user)
    if profile_form is None:
        profile_form = ProfileForm(
            formdata=None, full_name=user.full_name, phone=profile.phone if profile else ""
        )
    return render_template(
        "applicants/account.html",
        user=user,
        profile=profile,
        pinfl_masked=services.mask(profile.pinfl) if profile and profile.pinfl else None,
        pinfl_last=profile.pinfl[-4:] if profile and profile.pinfl else None,
        organisations=[
            (organisation, services.mask(organisation.tin))
            for organisation in services.organisations_of(user)
        ],
        profile_form=profile_form,
        organisation_form=organisation_form or OrganisationForm(formdata=None),
        leave_form=EmptyForm(formdata=None),
    ), status


@bp.route("/portal/account", methods=["GET", "POST"])
@login_required
def account() -> Page:
    user = _applicant()
    if request.method == "GET":
        return _account_page(user)
    form = ProfileForm()
    if not form.validate_on_submit():
        return _account_page(user, profile_form=form, status=422)
    try:
        changed = services.update_profile(
            user, full_name=form.full_name.data, phone=form.phone.data, pinfl=form.pinfl.data
        )
    except ValidationError as exc:
        db.session.rollback()
        set_applicant_errors(form, exc.errors)
        return _account_page(user, profile_form=form, status=422)
    db.session.commit()
    if changed:
        flash(_("Your details have been saved."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return redirect(url_for("applicants.account"))


@bp.post("/portal/account/organisations")
@login_required
def add_organisation() -> Page:
    user = _applicant()
    form = OrganisationForm()
    if not form.validate_on_submit():
        return _account_page(user, organisation_form=form, status=422)
    try:
        organisation = services.add_organisation(user, form.tin.data, form.org_name.data)
    except ValidationError as exc:
        db.session.rollback()
        set_applicant_errors(form, exc.errors)
        return _account_page(user, organisation_form=form, status=422)
    db.session.commit()
    flash(_("You now act for %(name)s.", name=organisation.name), "success")
    return redirect(url_for("applicants.account"))


@bp.post("/portal/account/organisations/<int:organisation_id>/leave")
@login_required
def leave_organisation(organisation_id: int) -> Response:
    user = _applicant()
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            organisation = services.leave_organisation(user, organisation_id)
        except NotFound as exc:
            db.session.rollback()
            flash(translate(exc.message), "error")
        else:
            db.session.commit()
            flash(_("You no longer act for %(name)s.", name=organisation.name), "success")
    return redirect(url_for("applicants.account"))


# Administrators ------------------------------------------------------------------------


def _admin_only(view: F) -> F:
    """Logged-in administrators only: others get 403 (audited), visitors the login page."""
    return cast(F, login_required(roles_required(Role.ADMIN)(view)))


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise ValidationError({"page": "must be a whole number"})
    return int(raw)


@bp.route("/admin/applicants", methods=["GET", "POST"])
@_admin_only
def admin() -> Page:
    admin_user = get_user()
    form = ApplicantAdminForm()
    status = 200
    handover: str | None = None
    if form.validate_on_submit():
        try:
            user, path = services.create_applicant(
                full_name=form.full_name.data,
                email=form.email.data,
                pinfl=form.pinfl.data,
                tin=form.tin.data,
                org_name=form.org_name.data,
                actor=admin_user,
            )
        except ValidationError as exc:
            db.session.rollback()
            set_applicant_errors(form, exc.errors)
            status = 422
        else:
            db.session.commit()
            if services.mail_enabled():
                flash(
                    _(
                        "The account of %(name)s has been opened. A link to choose a "
                        "password has been e-mailed to them.",
                        name=user.display_name,
                    ),
                    "success",
                )
                return redirect(url_for("applicants.admin"))
            # No e-mail: the link is shown in this reply only (never stored or flashed).
            base = current_app.config["EDMS"]["mail_base_url"] or request.host_url.rstrip("/")
            handover = base + path
            form = ApplicantAdminForm(formdata=None)
    elif request.method == "POST":
        status = 422
    page = services.list_applicants(_page_number())
    return render_template(
        "applicants/admin.html",
        form=form,
        page=page,
        handover=handover,
        hours=services.link_hours(),
        mail_on=services.mail_enabled(),
        heading=ngettext("%(num)s applicant", "%(num)s applicants", page.total),
    ), status
