"""EDMS: electronic document management for government registries."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask, g, request, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from edms.config import load_settings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application from defaults, EDMS_CONFIG, EDMS_* environment and overrides."""
    settings = load_settings(overrides)
    app = Flask(__name__)
    _configure(app, settings)
    _init_extensions(app)
    _register_blueprints(app)
    _register_hooks(app)
    return app


def _configure(app: Flask, settings: dict[str, Any]) -> None:
    logging.basicConfig(
        level=settings["log_level"].upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    max_upload = settings["max_upload_mb"] * 1024 * 1024
    app.config.update(
        EDMS=settings,
        SECRET_KEY=settings["secret_key"],
        DEBUG=settings["debug"],
        DATABASE_URL=settings["database_url"],
        # The file plus room for the other form fields; the file itself is checked exactly.
        MAX_CONTENT_LENGTH=max_upload + 1024 * 1024,
        SESSION_COOKIE_NAME="edms_session",
        SESSION_COOKIE_SECURE=settings["session_cookie_secure"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings["session_lifetime_minutes"]),
        REMEMBER_COOKIE_SECURE=settings["session_cookie_secure"],
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=settings["session_lifetime_minutes"] * 60,
        BABEL_DEFAULT_LOCALE=settings["default_locale"],
        BABEL_DEFAULT_TIMEZONE=settings["default_timezone"],
        API_TITLE="EDMS API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    if settings["trusted_proxies"]:
        n = settings["trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]


def _select_locale() -> str | None:
    from flask import current_app

    languages = current_app.config["EDMS"]["languages"]
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    return request.accept_languages.best_match(languages)


def _init_extensions(app: Flask) -> None:
    from edms import wiring
    from edms.auth.login import init_login
    from edms.db import db
    from edms.errors import register_error_handlers
    from edms.extensions import babel, csrf

    db.init_app(app)
    app.extensions["edms.storage"] = wiring.build_storage(app.config["EDMS"])
    app.extensions["edms.calendar"] = wiring.build_calendar(app.config["EDMS"])
    babel.init_app(app, locale_selector=_select_locale)
    csrf.init_app(app)
    init_login(app)
    register_error_handlers(app)

    from edms.scheduler.runner import init_app as init_scheduler

    init_scheduler(app)

    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale


def _register_blueprints(app: Flask) -> None:
    from edms.api import init_api
    from edms.applicants.views import bp as applicants_bp
    from edms.auth.views import bp as auth_bp
    from edms.blobs.views import bp as files_bp
    from edms.delegations.views import bp as delegations_bp
    from edms.documents.views import bp as documents_bp
    from edms.drafting.views import bp as drafting_bp
    from edms.main.views import bp as main_bp
    from edms.notifications.views import bp as notifications_bp
    from edms.portal.staff import bp as portal_staff_bp
    from edms.portal.views import bp as portal_bp
    from edms.resolutions.views import bp as resolutions_bp
    from edms.routing import init_app as init_routing
    from edms.search.runner import init_app as init_search
    from edms.search.views import bp as search_bp
    from edms.signing import init_app as init_signing

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(documents_bp)
    app.register_blueprint(drafting_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(files_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(delegations_bp)
    app.register_blueprint(resolutions_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(portal_staff_bp)
    app.register_blueprint(applicants_bp)
    init_routing(app)
    init_signing(app)
    init_search(app)
    init_api(app)

    from edms.cli import register_cli

    register_cli(app)


def _register_hooks(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        g.request_id = str(uuid.uuid4())

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'self'; "
            "frame-ancestors 'self'; base-uri 'self'; form-action 'self'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cache-Control", "no-store")
        return response
