"""The delegation form, the words for delegation states and the services' messages."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from edms.documents.forms import set_errors
from edms.main.views import translate_message


class DelegationForm(FlaskForm):
    """Rendering and carrying errors only: ``services.create_delegation`` validates."""

    deputy = StringField(
        _l("Deputy’s user name"),
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    starts_on = StringField(_l("First day"), render_kw={"type": "date"})
    ends_on = StringField(_l("Last day"), render_kw={"type": "date"})
    reason = TextAreaField(_l("Reason"), render_kw={"rows": 2, "maxlength": 500})


STATUS_LABELS = {
    "upcoming": _l("Upcoming"),
    "active": _l("In effect"),
    "over": _l("Over"),
    "ended": _l("Ended early"),
}

#: Messages of ``edms.delegations.services`` the catalogue translates.
MESSAGES = {
    "no user with this user name": _l("no user with this user name"),
    "you cannot be your own deputy": _l("you cannot be your own deputy"),
    "must be an active staff member": _l("must be an active staff member"),
    "must be today or later": _l("must be today or later"),
    "must not be before the start date": _l("must not be before the first day"),
    "a delegation lasts at most a year": _l("a delegation lasts at most a year"),
    "overlaps another of your delegations": _l("overlaps another of your delegations"),
    "This delegation is already over.": _l("This delegation is already over."),
    "No such delegation.": _l("No such delegation."),
    "Only staff members name deputies.": _l("Only staff members name deputies."),
}


def translate(message: str) -> str:
    known = MESSAGES.get(str(message))
    return str(known) if known is not None else translate_message(message)


def set_delegation_errors(form: DelegationForm, errors: dict[str, Any]) -> None:
    set_errors(form, {name: translate(message) for name, message in errors.items()})
