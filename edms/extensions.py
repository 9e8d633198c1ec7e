"""Flask extensions, created once and bound to the app in ``create_app``."""

from __future__ import annotations

from typing import Any

from flask_babel import Babel
from flask_login import LoginManager
from flask_smorest import Api as _Api
from flask_wtf.csrf import CSRFProtect


class Api(_Api):
    """flask-smorest without its own error handlers: ``edms.errors`` answers every error."""

    def _register_error_handlers(self) -> None:
        pass

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
api = Api()
