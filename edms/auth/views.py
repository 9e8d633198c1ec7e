"""Log in and out, change the password, manage personal API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from edms.auth import services
from edms.auth.forms import ChangePasswordForm, EmptyForm, LoginForm, TokenForm
from edms.auth.login import get_user
from edms.db import db
from edms.errors import TooManyRequests, ValidationError

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("main.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.username.data, form.password.data, request.remote_addr
            )
        except (ValidationError, TooManyRequests) as exc:
            db.session.commit()  # keep the failure count and the audit event
            form.password.errors = [
                _("The user name or password is not correct.")
                if isinstance(exc, ValidationError)
                else _("Too many failed logins. Please wait and try again.")
            ]
            status = 401 if isinstance(exc, ValidationError) else 429
        else:
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
        flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | tuple[str, int]:
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        user = get_user()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationError as exc:
            for field, message in exc.errors.items():
                getattr(form, field, form.new_password).errors = [message]
            status = 422
        else:
            db.session.commit()
            login_user(user)  # the session version changed; keep this session
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("main.index"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> tuple[str, int]:
    user = get_user()
    form = TokenForm()
    new_token = None
    status = 200
    if form.validate_on_submit():
        _token, new_token = services.create_token(user, form.name.data)
        db.session.commit()
        form = TokenForm(formdata=None)
    elif request.method == "POST":
        status = 422
    return render_template(
        "auth/tokens.html",
        form=form,
        tokens=services.list_tokens(user),
        new_token=new_token,
        revoke_form=EmptyForm(),
    ), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        services.revoke_token(get_user(), token_id)
        db.session.commit()
        flash(_("The token has been revoked."), "success")
    return redirect(url_for("auth.tokens"))
