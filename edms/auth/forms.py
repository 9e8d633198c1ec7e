"""Login, password and token forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

MIN_PASSWORD_LENGTH = 10
_TOO_LONG = _l("The password must be at most %(max)d characters long.")


class LoginForm(FlaskForm):
    username = StringField(
        _l("User name"),
        validators=[
            InputRequired(_l("Enter your user name.")),
            Length(max=64, message=_l("The user name must be at most %(max)d characters long.")),
        ],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password.")), Length(max=1024, message=_TOO_LONG)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(_l("Enter your current password.")),
            Length(max=1024, message=_TOO_LONG),
        ],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            InputRequired(_l("Enter a new password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=_l("The new password must be %(min)d to %(max)d characters long."),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[
            InputRequired(_l("Enter the new password again.")),
            EqualTo("new_password", _l("The two new passwords are not the same.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        validators=[
            InputRequired(_l("Enter a name for the token.")),
            Length(max=100, message=_l("The name must be at most %(max)d characters long.")),
        ],
        render_kw={"autocomplete": "off"},
    )


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for POST buttons."""
