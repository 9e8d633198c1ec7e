"""Forms of the registry. The services validate; these forms render and carry errors."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

LANGUAGE_CHOICES = [
    ("uz", _l("Uzbek (Latin)")),
    ("uz-Cyrl", _l("Uzbek (Cyrillic)")),
    ("ru", _l("Russian")),
    ("en", _l("English")),
    ("other", _l("Other")),
]
CONFIDENTIALITY_CHOICES = [
    ("internal", _l("Internal")),
    ("public", _l("Public")),
    ("confidential", _l("Confidential")),
]
CORRESPONDENT_CHOICES = [
    ("", _l("None")),
    ("organisation", _l("Organisation")),
    ("person", _l("Person")),
]


class MetadataForm(FlaskForm):  # type: ignore[misc]
    title = StringField(_l("Title"))
    document_type = SelectField(_l("Document type"), choices=[], validate_choice=False)
    correspondent_kind = SelectField(
        _l("Correspondent"), choices=CORRESPONDENT_CHOICES, validate_choice=False
    )
    correspondent_name = StringField(_l("Correspondent name"))
    correspondent_tin = StringField(_l("TIN (9 digits)"))
    correspondent_pinfl = StringField(_l("PINFL (14 digits)"))
    summary = TextAreaField(_l("Summary"))
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
        """Attach the services' messages to the fields they name."""
        for name, message in errors.items():
            field = self._fields.get(name)
            if field is not None:
                field.errors = [*field.errors, message] if field.errors else [message]
            else:
                self.form_errors.append(message if name == "_" else f"{name}: {message}")


class RegisterForm(MetadataForm):
    journal = SelectField(_l("Journal"), choices=[], validate_choice=False)
    department = SelectField(_l("Department"), choices=[], validate_choice=False)
    reply_to = StringField(_l("In reply to (registration number)"))
    file = FileField(_l("File"))


class VersionForm(FlaskForm):  # type: ignore[misc]
    file = FileField(_l("File"))
    comment = StringField(_l("Comment on this version"))

    set_errors = MetadataForm.set_errors


class CommentForm(FlaskForm):  # type: ignore[misc]
    body = TextAreaField(_l("Comment"))

    set_errors = MetadataForm.set_errors


class ShareForm(FlaskForm):  # type: ignore[misc]
    username = StringField(_l("User name"))

    set_errors = MetadataForm.set_errors
