"""Who is asking: the session user (flask-login) or the owner of a Bearer token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, g
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from edms.auth.models import Role, User
from edms.db import db
from edms.errors import AuthenticationRequired, PermissionDenied
from edms.extensions import login_manager

F = TypeVar("F", bound=Callable[..., Any])


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to open this page.")
    login_manager.session_protection = "strong"

    @app.before_request
    def _current_user() -> None:
        if "user" not in g and current_user.is_authenticated:
            g.user = current_user._get_current_object()


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    return user


def get_user() -> User:
    """The authenticated user of this request (session or token), or 401."""
    user = g.get("user")
    if not isinstance(user, User):
        raise AuthenticationRequired("Log in or send a Bearer token.")
    return user


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Let only users with one of ``roles`` through (after login)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = get_user()
            if not user.has_role(*roles):
                raise PermissionDenied("Your role does not allow this.")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
