"""Forms of the routes and the inbox, and the words for their codes.

The services validate; the forms render the fields and carry the errors.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField

from edms.documents.forms import set_errors
from edms.labels import label
from edms.main.views import translate_message

DECISION_LABELS = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "return": _l("Return for rework"),
    "acknowledge": _l("Acknowledge"),
    "sign": _l("Sign"),
}
#: A decision once made, as the tables show it.
DECIDED_LABELS = {
    "approve": _l("Approved"),
    "reject": _l("Rejected"),
    "return": _l("Returned for rework"),
    "acknowledge": _l("Acknowledged"),
    "sign": _l("Signed"),
}
TASK_STATUS_LABELS = {
    "waiting": _l("Waiting for an earlier turn"),
    "open": _l("To decide"),
    "done": _l("Decided"),
    "cancelled": _l("No longer needed"),
}
ROUTE_STATUS_LABELS = {
    "running": _l("In progress"),
    "returned": _l("Returned for rework"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Cancelled"),
}
STAGE_STATUS_LABELS = {
    "pending": _l("Not started"),
    "current": _l("Current stage"),
    "completed": _l("Completed"),
    "skipped": _l("Skipped"),
    "returned": _l("Returned for rework"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Cancelled"),
}
INBOX_STATUS_LABELS = {
    "open": _l("Open"),
    "done": _l("Decided"),
    "all": _l("All"),
}

#: Messages of ``edms.routing.services`` the catalogue translates (the rest are shown as they are).
MESSAGES = {
    "No such task.": _l("No such task."),
    "No such route.": _l("No such route."),
    "No route has been started on this document.": _l(
        "No route has been started on this document."
    ),
    "A route is already running on this document; cancel it before starting another.": _l(
        "A route is already running on this document; cancel it before starting another."
    ),
    "This task is not open any more: it has been decided, or it is no longer needed.": _l(
        "This task is not open any more: it has been decided, or it is no longer needed."
    ),
    "Signing arrives with the signing feature: this stage cannot be signed here yet. "
    "Reject or return the document instead, if that is what you decide.": _l(
        "Signing arrives with the signing feature: this stage cannot be signed here yet. "
        "Reject or return the document instead, if that is what you decide."
    ),
    "goes with the decision return": _l("goes with the decision Return for rework"),
    "there is no earlier stage": _l("there is no earlier stage"),
    "must be true or false": _l("must be true or false"),
}


def translate(message: str) -> str:
    known = MESSAGES.get(str(message))
    return str(known) if known is not None else translate_message(message)


def decision_label(code: str | None) -> str:
    return label(DECISION_LABELS, code)


def decided_label(code: str | None) -> str:
    return label(DECIDED_LABELS, code)


class StartForm(FlaskForm):
    definition = SelectField(_l("Route"), choices=[], validate_choice=False)


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Your decision"), choices=[], validate_choice=False)
    comment = TextAreaField(_l("Comment"), render_kw={"rows": 4, "maxlength": 5000})
    return_to = SelectField(_l("Return to"), choices=[], validate_choice=False)


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason for cancelling"), render_kw={"maxlength": 500})


class InboxFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form

    status = SelectField(_l("Tasks"), choices=[], validate_choice=False)
    stage = SelectField(_l("Stage"), choices=[], validate_choice=False)
    overdue = SelectField(_l("Deadline"), choices=[], validate_choice=False)


def set_route_errors(form: FlaskForm, errors: dict[str, Any]) -> None:
    set_errors(form, {name: translate(message) for name, message in errors.items()})
