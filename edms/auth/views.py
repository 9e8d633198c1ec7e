"""Log in and out, change the password, manage personal API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from edms.auth import services
from edms.auth.forms import ChangePasswordForm, EmptyForm, LoginForm, TokenForm
from edms.auth.login import get_user
from edms.auth.models import User
from edms.db import db
from edms.documents.forms import set_errors
from edms.errors import TooManyRequests, ValidationError
from edms.main.views import safe_next

bp = Blueprint("auth", __name__)

Page = Response | tuple[str, int] | tuple[str, int, dict[str, str]]


def _start_session(user: User) -> None:
    login_user(user)
    # A permanent session expires after session_lifetime_minutes without a request.
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.username.data, form.password.data, request.remote_addr
            )
        except TooManyRequests as exc:
            db.session.commit()  # keep the audit event
            seconds = int(exc.extra.get("retry_after", 60))
            minutes = max(1, -(-seconds // 60))
            form.form_errors.append(
                ngettext(
                    "Too many failed logins. Try again in %(num)d minute.",
                    "Too many failed logins. Try again in %(num)d minutes.",
                    minutes,
                )
            )
            status = 429
            headers["Retry-After"] = str(seconds)
        except ValidationError:
            db.session.commit()  # keep the failure count and the audit event
            # The same words whether the user exists or not.
            form.form_errors.append(_("The user name or password is not correct."))
            status = 401
        else:
            db.session.commit()
            _start_session(user)
            return redirect(safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status, headers


@bp.post("/logout")
@login_required
def logout() -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
        flash(_("You have logged out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Page:
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        user = get_user()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationError as exc:
            db.session.rollback()
            errors = dict(exc.errors)
            if "current_password" in errors:
                errors["current_password"] = _("The current password is not correct.")
            if "password" in errors:
                errors["new_password"] = errors.pop("password")
            set_errors(form, errors)
            status = 422
        else:
            db.session.commit()
            # The session version changed, which ends every session of the user; keep this one.
            _start_session(user)
            flash(
                _("Your password has been changed. Other sessions have been logged out."),
                "success",
            )
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Page:
    user = get_user()
    form = TokenForm()
    new_token = None
    status = 200
    if form.validate_on_submit():
        try:
            _token, new_token = services.create_token(user, form.name.data)
        except ValidationError as exc:
            set_errors(form, exc.errors)
            status = 422
        else:
            db.session.commit()
            form = TokenForm(formdata=None)
    elif request.method == "POST":
        status = 422
    # The new token is in this reply only: it is neither stored nor put in the session.
    return render_template(
        "auth/tokens.html",
        form=form,
        tokens=services.list_tokens(user),
        new_token=new_token,
    ), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        token = services.revoke_token(get_user(), token_id)
        db.session.commit()
        flash(_("The token “%(name)s” has been revoked.", name=token.name), "success")
    return redirect(url_for("auth.tokens"))
