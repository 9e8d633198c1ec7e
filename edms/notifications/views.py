"""The notifications page, marking as read, and the unread counter of the header."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from edms.auth.forms import EmptyForm
from edms.auth.login import get_user
from edms.db import db
from edms.errors import NotFound, ValidationError
from edms.main.views import is_local_path
from edms.notifications import services
from edms.notifications.models import Notification

logger = logging.getLogger(__name__)
bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _header_counter() -> dict[str, Any]:
    def unread_notifications() -> int | None:
        """The header's counter; None when it cannot be had (the page still renders)."""
        if not current_user or not current_user.is_authenticated:
            return None
        try:
            return services.unread_count(current_user)
        except SQLAlchemyError:  # e.g. on the error page of a failed transaction
            logger.warning("unread notifications could not be counted", exc_info=True)
            return None

    return {"unread_notifications": unread_notifications}


def _page_number() -> int:
    raw = request.args.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        raise ValidationError({"page": "must be a whole number"}) from None
    if page < 1:
        raise ValidationError({"page": "must be 1 or more"})
    return page


@bp.get("/notifications")
@login_required
def index() -> str:
    user = get_user()
    unread_only = request.args.get("show") == "unread"
    page = services.list_for(user, _page_number(), unread_only=unread_only)
    return render_template(
        "notifications/list.html", page=page, unread_only=unread_only, form=EmptyForm()
    )


def _ids(values: list[str]) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError:
        raise ValidationError({"ids": "must be whole numbers"}) from None


@bp.post("/notifications/read")
@login_required
def mark_read() -> Response:
    """Mark the notifications named by ``ids`` read, or all of them with ``all``."""
    form = EmptyForm()
    if form.validate_on_submit():
        ids = None if request.form.get("all") else _ids(request.form.getlist("ids"))
        count = services.mark_read(get_user(), ids)
        db.session.commit()
        if count:
            flash(
                ngettext(
                    "%(num)d notification marked as read.",
                    "%(num)d notifications marked as read.",
                    count,
                ),
                "success",
            )
    back = request.form.get("next", "")
    return redirect(back if is_local_path(back) else url_for("notifications.index"))


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_link(notification_id: int) -> Response:
    """Mark one notification read and go to the page it links to."""
    form = EmptyForm()
    user = get_user()
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(_("No such notification."))
    if form.validate_on_submit():
        services.mark_read(user, [notification.id])
        db.session.commit()
    link = notification.link or ""
    return redirect(link if is_local_path(link) else url_for("notifications.index"))
