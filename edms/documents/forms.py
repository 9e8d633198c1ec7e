"""Forms and display labels of the registry.

The services validate; these forms render the fields and carry the errors. The
label tables turn the codes stored in the database (statuses, directions, audit
actions ...) into words of the user's language.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from edms.main.views import translate_message

try:
    from wtforms.fields.choices import SelectChoice as _SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) pairs
    _SelectChoice = None


def choice(value: str, text: Any) -> Any:
    """One option of a select field, as the installed WTForms wants it."""
    if _SelectChoice is None:
        return (value, text)
    return _SelectChoice(value=value, label=text)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here."""
    return message


LANGUAGE_OPTIONS = [
    ("uz", _l("Uzbek (Latin)")),
    ("uz-Cyrl", _l("Uzbek (Cyrillic)")),
    ("ru", _l("Russian")),
    ("en", _l("English")),
    ("other", _l("Other")),
]
CONFIDENTIALITY_OPTIONS = [
    ("internal", _l("For official use")),
    ("public", _l("Public")),
    ("confidential", _l("Confidential")),
]
CORRESPONDENT_OPTIONS = [
    ("", _l("None")),
    ("organisation", _l("Organisation")),
    ("person", _l("Person")),
]
LANGUAGE_CHOICES = [choice(value, text) for value, text in LANGUAGE_OPTIONS]
CONFIDENTIALITY_CHOICES = [choice(value, text) for value, text in CONFIDENTIALITY_OPTIONS]
CORRESPONDENT_CHOICES = [choice(value, text) for value, text in CORRESPONDENT_OPTIONS]
STATUS_LABELS = {
    "registered": _l("Registered"),
    "in_progress": _l("In progress"),
    "completed": _l("Completed"),
    "archived": _l("Archived"),
    "cancelled": _l("Cancelled"),
}
DIRECTION_LABELS = {
    "incoming": _l("Incoming"),
    "outgoing": _l("Outgoing"),
    "internal": _l("Internal"),
}
SORT_CHOICES = [
    ("-registration_date", _l("Newest first")),
    ("registration_date", _l("Oldest first")),
    ("-registration_number", _l("Registration number, descending")),
    ("registration_number", _l("Registration number, ascending")),
    ("title", _l("Title, A to Z")),
    ("-title", _l("Title, Z to A")),
    ("-updated_at", _l("Recently changed")),
]

# Field names as the audit log records them in "document.update" events.
FIELD_LABELS = {
    "title": _l("Title"),
    "document_type": _l("Document type"),
    "correspondent_kind": _l("Correspondent"),
    "correspondent_name": _l("Correspondent name"),
    "correspondent_tin": _l("TIN"),
    "correspondent_pinfl": _l("PINFL"),
    "summary": _l("Summary"),
    "language": _l("Language"),
    "confidentiality": _l("Confidentiality"),
}

# Names of the document types the first migration seeds; the database keeps the
# English name and the interface translates it.
DOCUMENT_TYPE_NAMES = (
    N_("General"),
    N_("Letter"),
    N_("Application"),
    N_("Complaint"),
    N_("Order"),
    N_("Decree"),
    N_("Memo"),
    N_("Report"),
    N_("Contract"),
    N_("Licence"),
    N_("Permit"),
    N_("Certificate"),
    N_("Decision"),
    N_("Minutes"),
)


class MetadataForm(FlaskForm):
    title = StringField(_l("Title"))
    document_type = SelectField(_l("Document type"), choices=[], validate_choice=False)
    correspondent_kind = SelectField(
        _l("Correspondent"), choices=CORRESPONDENT_CHOICES, validate_choice=False
    )
    correspondent_name = StringField(_l("Correspondent name"))
    correspondent_tin = StringField(
        _l("TIN (9 digits)"), render_kw={"inputmode": "numeric", "autocomplete": "off"}
    )
    correspondent_pinfl = StringField(
        _l("PINFL (14 digits)"), render_kw={"inputmode": "numeric", "autocomplete": "off"}
    )
    summary = TextAreaField(_l("Summary"), render_kw={"rows": 4})
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, validate_choice=False)
    confidentiality = SelectField(
        _l("Confidentiality"), choices=CONFIDENTIALITY_CHOICES, validate_choice=False
    )

    def service_data(self) -> dict[str, str]:
        """The submitted values by field name, as the services take them."""
        return {
            name: field.data or ""
            for name, field in self._fields.items()
            if name not in ("csrf_token", "file")
        }

    def set_errors(self, errors: dict[str, str]) -> None:
        """Attach the services' messages to the fields they name, translated where known."""
        set_errors(self, errors)


def set_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Attach ``{field: message}`` to ``form``; unknown fields become form-level errors."""
    for name, message in errors.items():
        text = translate_message(message)
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, text]
        else:
            form.form_errors.append(text if name == "_" else f"{name}: {text}")


class RegisterForm(MetadataForm):
    journal = SelectField(_l("Journal"), choices=[], validate_choice=False)
    department = SelectField(_l("Department"), choices=[], validate_choice=False)
    reply_to = StringField(_l("In reply to (registration number)"))
    file = FileField(_l("File"))


class VersionForm(FlaskForm):
    file = FileField(_l("File"))
    comment = StringField(_l("Comment on this version"))

    set_errors = MetadataForm.set_errors


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), render_kw={"rows": 3})

    set_errors = MetadataForm.set_errors


class ShareForm(FlaskForm):
    username = StringField(
        _l("User name"), render_kw={"autocomplete": "off", "autocapitalize": "none"}
    )

    set_errors = MetadataForm.set_errors


def document_type_name(name: str) -> str:
    """A document type's stored (English) name in the user's language."""
    return gettext(name) if name in DOCUMENT_TYPE_NAMES else name
