"""The applicant forms, and the words of the services' messages.

The forms render and carry errors only (and check the CSRF token): ``services``
validates every field and names the field of each problem.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField

from edms.documents.forms import set_errors
from edms.main.views import translate_message

_EMAIL = {
    "type": "email",
    "autocomplete": "email",
    "autocapitalize": "none",
    "spellcheck": "false",
    "maxlength": 254,
}
_DIGITS = {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}


class RegisterForm(FlaskForm):
    full_name = StringField(_l("Full name"), render_kw={"autocomplete": "name", "maxlength": 200})
    email = StringField(_l("E-mail address"), render_kw=_EMAIL)
    password = PasswordField(_l("Password"), render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(
        _l("Password again"), render_kw={"autocomplete": "new-password"}
    )
    pinfl = StringField(_l("PINFL"), render_kw={**_DIGITS, "maxlength": 14})
    tin = StringField(_l("TIN of the organisation"), render_kw={**_DIGITS, "maxlength": 9})
    org_name = StringField(
        _l("Name of the organisation"), render_kw={"autocomplete": "organization"}
    )
    consent = BooleanField(
        _l("I agree that the data I give here is kept and processed to handle my applications")
    )


class ResendForm(FlaskForm):
    email = StringField(_l("E-mail address"), render_kw=_EMAIL)


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(
        _l("New password again"), render_kw={"autocomplete": "new-password"}
    )


class ProfileForm(FlaskForm):
    full_name = StringField(_l("Full name"), render_kw={"autocomplete": "name", "maxlength": 200})
    phone = StringField(
        _l("Phone number"), render_kw={"type": "tel", "autocomplete": "tel", "maxlength": 32}
    )
    pinfl = StringField(_l("PINFL"), render_kw={**_DIGITS, "maxlength": 14})


class OrganisationForm(FlaskForm):
    tin = StringField(_l("TIN of the organisation"), render_kw={**_DIGITS, "maxlength": 9})
    org_name = StringField(
        _l("Name of the organisation"), render_kw={"autocomplete": "organization"}
    )


class ApplicantAdminForm(FlaskForm):
    full_name = StringField(_l("Full name"), render_kw={"autocomplete": "off", "maxlength": 200})
    email = StringField(_l("E-mail address"), render_kw={**_EMAIL, "autocomplete": "off"})
    pinfl = StringField(_l("PINFL"), render_kw={**_DIGITS, "maxlength": 14})
    tin = StringField(_l("TIN of the organisation"), render_kw={**_DIGITS, "maxlength": 9})
    org_name = StringField(_l("Name of the organisation"), render_kw={"autocomplete": "off"})


#: Messages of ``edms.applicants.services`` the catalogue translates (the TIN and PINFL
#: checks and the common ones are in ``edms.main.views.SERVICE_MESSAGES``).
MESSAGES = {
    "an e-mail address looks like name@example.uz": _l(
        "an e-mail address looks like name@example.uz"
    ),
    "is longer than 64 characters, the longest user name: use a shorter address": _l(
        "is longer than 64 characters, the longest user name: use a shorter address"
    ),
    "the two passwords are not the same": _l("the two passwords are not the same"),
    "you must agree to continue": _l("you must agree to continue"),
    "is required when a TIN is given": _l("is required when a TIN is given"),
    "is required when an organisation name is given": _l(
        "is required when an organisation name is given"
    ),
    "this PINFL belongs to another account": _l(
        "this PINFL belongs to another account; if it is yours, ask the help desk"
    ),
    "an account with this e-mail address exists already": _l(
        "an account with this e-mail address exists already"
    ),
    "use digits, spaces, brackets and dashes, optionally after a +": _l(
        "use digits, spaces, brackets and dashes, optionally after a +"
    ),
    "you act for this organisation already": _l("you act for this organisation already"),
    "to apply as a person, add your PINFL on your account page first": _l(
        "to apply as a person, add your PINFL on your account page first"
    ),
    "you do not act for this organisation": _l("you do not act for this organisation"),
    "choose to apply as a person or for one of your organisations": _l(
        "choose to apply as a person or for one of your organisations"
    ),
    "No such organisation.": _l("No such organisation."),
    "Too many requests from your address. Try again in an hour.": _l(
        "Too many requests from your address. Try again in an hour."
    ),
    "This link is not valid.": _l("This link is not valid."),
    "This link has expired.": _l("This link has expired."),
    "This link has been used already.": _l("This link has been used already."),
    "The portal account page is for applicants.": _l("The portal account page is for applicants."),
}


def translate(message: str) -> str:
    """A message of the services in the user's language (plain text: templates escape it)."""
    known = MESSAGES.get(str(message))
    return str(known) if known is not None else translate_message(message)


def set_applicant_errors(form: FlaskForm, errors: dict[str, Any]) -> None:
    set_errors(form, {name: translate(message) for name, message in errors.items()})
