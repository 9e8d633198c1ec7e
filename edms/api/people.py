"""API routes: the token owner's notifications and delegations (deputies).

Registered by the import at the end of ``edms.api.views``, which adds these
blueprints to its ``blueprints`` list.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields

from edms.api.blueprint import ApiBlueprint
from edms.api.schemas import RequiredText
from edms.api.views import blueprints
from edms.auth.login import get_user
from edms.db import db
from edms.delegations import services as delegations
from edms.delegations.models import Delegation
from edms.errors import PermissionDenied, ValidationError
from edms.notifications import services as notifications

notifications_bp = ApiBlueprint(
    "api_notifications",
    __name__,
    description="Your notifications (the same as in the app and by e-mail).",
)
delegations_bp = ApiBlueprint(
    "api_delegations",
    __name__,
    description="Your deputies: who gets your tasks while you are away. Staff only.",
)

blueprints.extend([notifications_bp, delegations_bp])


def _text(description: str, **metadata: Any) -> fields.String:
    return fields.String(metadata={"description": description, **metadata})


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# Notifications ---------------------------------------------------------------


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "What happened, e.g. `task.opened`."})
    subject = fields.String()
    body = fields.String()
    link = fields.String(
        allow_none=True, metadata={"description": "Path of the page it is about, if any."}
    )
    created_at = fields.DateTime()
    read = fields.Boolean(attribute="is_read")
    read_at = fields.DateTime(allow_none=True)


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    total = fields.Integer(metadata={"description": "Notifications matching the query."})
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    unread = fields.Integer(metadata={"description": "All your unread notifications."})


class NotificationQuerySchema(_Strict):
    page = _text("Page number, from 1.", type="integer", minimum=1)
    unread = _text("`true`: only unread ones.", enum=["true", "false"])


class MarkReadSchema(_Strict):
    ids = fields.List(
        fields.Integer(strict=True),
        metadata={"description": "Ids of your notifications to mark read; others are ignored."},
    )
    all = fields.Boolean(metadata={"description": "`true`: mark every notification read."})


class MarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "How many were unread and are read now."})
    unread = fields.Integer(metadata={"description": "How many stay unread."})


def _page(raw: str | None) -> int:
    if raw is None:
        return 1
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({"page": "must be a whole number"}) from None


@notifications_bp.route("/notifications")
@notifications_bp.arguments(NotificationQuerySchema, location="query")
@notifications_bp.response(200, NotificationPageSchema)
@notifications_bp.problems(401)
def list_notifications(query: dict[str, Any]) -> notifications.NotificationPage:
    """List your notifications, newest first"""
    unread = query.get("unread")
    if unread not in (None, "true", "false"):
        raise ValidationError({"unread": "must be one of true, false"})
    return notifications.list_for(
        get_user(), _page(query.get("page")), unread_only=unread == "true"
    )


@notifications_bp.route("/notifications/read", methods=["POST"])
@notifications_bp.arguments(MarkReadSchema)
@notifications_bp.response(200, MarkedSchema)
@notifications_bp.problems(400, 401, 415)
def mark_read(body: dict[str, Any]) -> dict[str, int]:
    """Mark notifications read

    Send `{"ids": [...]}`, or `{"all": true}` for every one. Ids that are not
    yours are ignored, as unknown ones are.
    """
    user = get_user()
    if body.get("all"):
        if body.get("ids"):
            raise ValidationError({"ids": "leave out when all is true"})
        ids = None
    elif "ids" in body:
        ids = body["ids"]
    else:
        raise ValidationError({"ids": "is required"})
    marked = notifications.mark_read(user, ids)
    db.session.commit()
    return {"marked": marked, "unread": notifications.unread_count(user)}


# Delegations -----------------------------------------------------------------


class DelegationSchema(Schema):
    id = fields.Integer()
    deputy = fields.String(attribute="deputy.username")
    deputy_name = fields.String(attribute="deputy.display_name")
    starts_on = fields.Date(metadata={"description": "First day (local time), inclusive."})
    ends_on = fields.Date(metadata={"description": "Last day (local time), inclusive."})
    reason = fields.String()
    status = fields.Function(
        lambda d: delegations.status(d),
        metadata={"type": "string", "enum": ["upcoming", "active", "over", "ended"]},
    )
    ended_at = fields.DateTime(
        allow_none=True, metadata={"description": "When it was ended early, if it was."}
    )
    created_at = fields.DateTime()


class DelegationCreateSchema(_Strict):
    deputy = RequiredText(metadata={"description": "User name of the deputy (active staff)."})
    starts_on = RequiredText(
        metadata={"description": "First day, today or later (YYYY-MM-DD).", "format": "date"}
    )
    ends_on = RequiredText(
        metadata={"description": "Last day, inclusive, within a year.", "format": "date"}
    )
    reason = _text("Why, up to 500 characters; the deputy sees it.", maxLength=500)


def _staff() -> Any:
    user = get_user()
    if not user.is_staff:
        raise PermissionDenied("Only staff members name deputies.")
    return user


@delegations_bp.route("/delegations")
class DelegationCollection(MethodView):
    @delegations_bp.response(200, DelegationSchema(many=True))
    @delegations_bp.problems(401, 403)
    def get(self) -> list[Delegation]:
        """List your delegations, latest first"""
        return delegations.list_for(_staff())

    @delegations_bp.arguments(DelegationCreateSchema)
    @delegations_bp.response(
        201,
        DelegationSchema,
        headers={"Location": {"description": "The new delegation.", "schema": {"type": "string"}}},
    )
    @delegations_bp.problems(400, 401, 403, 415)
    def post(self, body: dict[str, Any]) -> tuple[Delegation, int, dict[str, str]]:
        """Name a deputy for a range of days

        Refused (422, naming the field) when a date is missing, in the past or
        out of order, when the deputy is you or not active staff, and when the
        days overlap another of your delegations. Audited; the deputy is notified.
        """
        delegation = delegations.create_delegation(
            _staff(),
            body.get("deputy") or "",
            body.get("starts_on"),
            body.get("ends_on"),
            body.get("reason") or "",
        )
        db.session.commit()
        location = url_for("api_delegations.DelegationItem", delegation_id=delegation.id)
        return delegation, 201, {"Location": location}


@delegations_bp.route("/delegations/<int:delegation_id>")
class DelegationItem(MethodView):
    @delegations_bp.response(200, DelegationSchema)
    @delegations_bp.problems(401, 403, 404)
    def get(self, delegation_id: int) -> Delegation:
        """Get one of your delegations

        Another user's delegation answers 404, as a missing one does.
        """
        return delegations.get_for(_staff(), delegation_id)

    @delegations_bp.response(204)
    @delegations_bp.problems(401, 403, 404, 409)
    def delete(self, delegation_id: int) -> tuple[str, int]:
        """End a delegation now (or cancel one that has not started)

        It stays in the list as ended; audited; the deputy is notified. One that
        is already over answers 409.
        """
        delegations.end_delegation(_staff(), delegation_id)
        db.session.commit()
        return "", 204
