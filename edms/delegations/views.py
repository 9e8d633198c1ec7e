"""The delegation page: name a deputy for a range of days, see and end delegations."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from edms.auth.forms import EmptyForm
from edms.auth.login import get_user
from edms.db import db, utcnow
from edms.delegations import services
from edms.delegations.forms import STATUS_LABELS, DelegationForm, set_delegation_errors, translate
from edms.errors import Conflict, PermissionDenied, ValidationError
from edms.labels import label_filters

bp = Blueprint("delegations", __name__)

Page = Response | tuple[str, int]


label_filters(bp, {"delegation_status": STATUS_LABELS})


@bp.route("/delegations", methods=["GET", "POST"])
@login_required
def index() -> Page:
    user = get_user()
    if not user.is_staff:
        raise PermissionDenied("Only staff members name deputies.")
    form = DelegationForm()
    status = 200
    if form.validate_on_submit():
        try:
            delegation = services.create_delegation(
                user, form.deputy.data, form.starts_on.data, form.ends_on.data, form.reason.data
            )
        except ValidationError as exc:
            db.session.rollback()
            set_delegation_errors(form, exc.errors)
            status = 422
        else:
            db.session.commit()
            flash(
                _(
                    "%(name)s is your deputy from %(start)s to %(end)s.",
                    name=delegation.deputy.display_name,
                    start=delegation.starts_on.isoformat(),
                    end=delegation.ends_on.isoformat(),
                ),
                "success",
            )
            return redirect(url_for("delegations.index"))
    elif request.method == "POST":
        status = 422
    now = utcnow()
    own = [(d, services.status(d, now)) for d in services.list_for(user)]
    standing_in = [(d, services.status(d, now)) for d in services.standing_in_for(user)]
    return render_template(
        "delegations/list.html",
        form=form,
        delegations=own,
        standing_in=standing_in,
        today=services.today().isoformat(),
    ), status


@bp.post("/delegations/<int:delegation_id>/end")
@login_required
def end(delegation_id: int) -> Response:
    form = EmptyForm()
    user = get_user()
    if form.validate_on_submit():
        try:
            delegation = services.end_delegation(user, delegation_id)
        except Conflict as exc:
            db.session.rollback()
            flash(translate(exc.message), "error")
        else:
            db.session.commit()
            flash(
                _("%(name)s is no longer your deputy.", name=delegation.deputy.display_name),
                "success",
            )
    return redirect(url_for("delegations.index"))
