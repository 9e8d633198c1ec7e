"""Flask extensions, created once and bound to the app in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_smorest import Api as _Api
from flask_wtf.csrf import CSRFProtect


class Api(_Api):
    """flask-smorest without its own error handlers: ``edms.errors`` answers every error.

    One per application (see ``edms.api.init_api``): an Api keeps the app and the
    OpenAPI document it was initialised with.
    """

    def _register_error_handlers(self) -> None:
        pass


babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
