"""Forms and display labels of resolutions, execution control and acquaintance lists.

The services validate; these forms render the fields and carry the errors,
translated by ``translate`` (the services' messages are written in English).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, StringField, TextAreaField

from edms.main.views import translate_message
from edms.resolutions import services

RESOLUTION_STATUS_LABELS = {
    "open": _l("On control"),
    "closed": _l("Removed from control"),
    "cancelled": _l("Cancelled"),
}
ASSIGNMENT_STATUS_LABELS = {
    "open": _l("To do"),
    "reported": _l("Reported, awaiting acceptance"),
    "accepted": _l("Accepted"),
    "cancelled": _l("Cancelled"),
}
REPORT_OUTCOME_LABELS = {
    "pending": _l("Awaiting a decision"),
    "accepted": _l("Accepted"),
    "returned": _l("Returned for rework"),
}
EXTENSION_STATUS_LABELS = {
    "pending": _l("Awaiting a decision"),
    "approved": _l("Approved"),
    "declined": _l("Declined"),
}
ACTION_LABELS = {
    "resolution.create": _l("Resolution written"),
    "resolution.cancel": _l("Resolution cancelled"),
    "resolution.close": _l("Removed from control"),
    "resolution.report": _l("Report sent"),
    "resolution.accept": _l("Report accepted"),
    "resolution.return": _l("Report returned for rework"),
    "resolution.extension_request": _l("More time asked"),
    "resolution.extension_approve": _l("Extension approved"),
    "resolution.extension_decline": _l("Extension declined"),
}

_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"must be on or before (\S+), the parent's due date"),
        lambda m: gettext("must be on or before %(date)s, the parent's due date", date=m[1]),
    ),
    (
        re.compile(r"the new due date is after your own, (\S+); ask for more time yourself first"),
        lambda m: gettext(
            "the new due date is after your own, %(date)s; ask for more time yourself first",
            date=m[1],
        ),
    ),
    (
        re.compile(r"unknown user: (.*)"),
        lambda m: gettext("unknown user: %(names)s", names=m[1]),
    ),
)


def translate(message: str) -> str:
    """A service message in the user's language when the catalogue knows it."""
    message = str(message)
    if message in services.MESSAGES:
        return gettext(message)
    for pattern, translated in _PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return translated(match)
    return translate_message(message)


class _Form(FlaskForm):
    def set_errors(self, errors: dict[str, str]) -> None:
        """Attach ``{field: message}``; messages for fields not on the form go to the top."""
        for name, message in errors.items():
            text = translate(message)
            field = self._fields.get(name)
            if field is not None and name != "csrf_token":
                field.errors = [*field.errors, text]
            else:
                self.form_errors.append(text)


class ResolutionForm(_Form):
    text = TextAreaField(_l("Instruction"), render_kw={"rows": 5})
    due_date = StringField(_l("Due date"), render_kw={"type": "date"})
    responsible = StringField(
        _l("Responsible executor (user name)"),
        render_kw={"autocomplete": "off", "autocapitalize": "none", "list": "staff-users"},
    )
    co_executors = TextAreaField(
        _l("Co-executors (user names)"),
        render_kw={"rows": 3, "autocomplete": "off", "autocapitalize": "none"},
    )
    parent = HiddenField()

    def executors(self) -> list[dict[str, object]]:
        """The executors as the service takes them: the responsible one first."""
        out: list[dict[str, object]] = []
        responsible = (self.responsible.data or "").strip()
        if responsible:
            out.append({"user": responsible, "responsible": True})
        out.extend(
            {"user": name, "responsible": False} for name in split_names(self.co_executors.data)
        )
        return out

    def set_service_errors(self, errors: dict[str, str]) -> None:
        """Put the errors of ``executors.N.user`` on the field that named the person."""
        has_responsible = bool((self.responsible.data or "").strip())
        names = split_names(self.co_executors.data)
        mapped: dict[str, str] = {}
        for key, message in errors.items():
            match = re.fullmatch(r"executors\.(\d+)(?:\.\w+)?", key)
            if key == "executors":
                mapped["responsible"] = message
            elif match:
                index = int(match[1])
                if has_responsible and index == 0:
                    mapped["responsible"] = message
                else:
                    position = index - 1 if has_responsible else index
                    name = names[position] if 0 <= position < len(names) else ""
                    text = f"{name}: {translate(message)}" if name else translate(message)
                    previous = mapped.get("co_executors")
                    mapped["co_executors"] = f"{previous}; {text}" if previous else text
            else:
                mapped[key] = message
        self.set_errors(mapped)


def split_names(value: str | None) -> list[str]:
    """User names typed one per line, or separated by commas or spaces."""
    return [part for part in re.split(r"[\s,;]+", value or "") if part]


class ReportForm(_Form):
    text = TextAreaField(_l("What has been done"), render_kw={"rows": 5})
    file = FileField(_l("Attachment"))


class DecisionForm(_Form):
    comment = TextAreaField(_l("Comment"), render_kw={"rows": 2})


class ExtensionForm(_Form):
    due_date = StringField(_l("New due date"), render_kw={"type": "date"})
    reason = TextAreaField(_l("Reason"), render_kw={"rows": 3})


class CancelForm(_Form):
    reason = TextAreaField(_l("Reason for cancelling"), render_kw={"rows": 2})


class AcquaintanceForm(_Form):
    users = TextAreaField(
        _l("People (user names)"),
        render_kw={"rows": 4, "autocomplete": "off", "autocapitalize": "none"},
    )


class ConfirmForm(_Form):
    pass
