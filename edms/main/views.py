"""Home, health check, language switch, and the words every page shares."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import text
from werkzeug.wrappers import Response

import storage
from edms.db import db
from edms.errors import ValidationError

logger = logging.getLogger(__name__)
bp = Blueprint("main", __name__)

#: The interface languages by code, each named in its own language.
LANGUAGE_NAMES = {"uz": "O‘zbekcha", "ru": "Русский", "en": "English"}

ERROR_TITLES = {
    400: _l("The request could not be understood"),
    401: _l("Please log in"),
    403: _l("You may not open this page"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    409: _l("The change conflicts with the current state"),
    413: _l("The file is too large"),
    422: _l("There is a problem with what was entered"),
    429: _l("Too many requests"),
    500: _l("Sorry, there is a problem with the service"),
    503: _l("The service is unavailable"),
}


def N_(message: str) -> str:
    return message


# Messages of the services and libraries (written in English) that the catalogue
# translates; translate_message() looks each message up at display time.
SERVICE_MESSAGES = (
    N_("is required"),
    N_("must be text"),
    N_("must not contain control characters"),
    N_("a TIN is exactly 9 digits"),
    N_("a TIN does not start with 0"),
    N_("a PINFL is exactly 14 digits"),
    N_("a PINFL starts with a digit from 1 to 6"),
    N_("an organisation is identified by a TIN, not a PINFL"),
    N_("a person is identified by a PINFL, not a TIN"),
    N_("is required when a correspondent is given"),
    N_("a file is required"),
    N_("the file has no name"),
    N_("the file name must not contain a path ('/', '\\' or '..')"),
    N_("the file name must not contain control characters"),
    N_("the file is empty"),
    N_("is required (you belong to no department)"),
    N_("unknown department, or not one you may register for"),
    N_("no document with this registration number"),
    N_("must be a date like 2026-01-31"),
    N_("must be a whole number"),
    N_("must be 1 or more"),
    N_("cannot be changed"),
    N_("is not correct"),
    N_("must differ from the current password"),
    N_("must not start or end with spaces"),
    N_("No such document."),
    N_("No such version."),
    N_("You may read this document but not change it."),
    N_("The registry is open to staff only."),
    N_("Only clerks and administrators register documents."),
    N_("Your role does not allow this."),
    N_("The file is missing from storage."),
    N_("The file storage is unavailable; please try again later."),
    N_("The file storage failed; please try again later."),
    N_("The request is larger than the upload limit."),
    N_("Something went wrong on our side; it has been logged."),
    N_("The CSRF token is missing."),
    N_("The CSRF session token is missing."),
    N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."),
    N_("The CSRF tokens do not match."),
    N_(
        "The requested URL was not found on the server. If you entered the URL manually"
        " please check your spelling and try again."
    ),
    N_("The method is not allowed for the requested URL."),
)
_SERVICE_MESSAGES = frozenset(SERVICE_MESSAGES)

# Messages with a number or a code in them: (pattern, translation of the groups).
_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"must be at most (\d+) characters"),
        lambda m: gettext("must be at most %(max)s characters", max=m[1]),
    ),
    (
        re.compile(r"must be at least (\d+) characters long"),
        lambda m: gettext("must be at least %(min)s characters long", min=m[1]),
    ),
    (
        re.compile(r"the file name must be at most (\d+) bytes long"),
        lambda m: gettext("the file name must be at most %(max)s bytes long", max=m[1]),
    ),
    (
        re.compile(r"(?:file: )?larger than the limit of (\d+) MB"),
        lambda m: gettext("the file is larger than the limit of %(size)s MB", size=m[1]),
    ),
    (
        re.compile(r"unknown journal '(.*)'"),
        lambda m: gettext("unknown journal %(code)s", code=m[1]),
    ),
    (
        re.compile(r"unknown document type '(.*)'"),
        lambda m: gettext("unknown document type %(code)s", code=m[1]),
    ),
    (
        re.compile(r"must be one of (.*)"),
        lambda m: gettext("must be one of %(choices)s", choices=m[1]),
    ),
)


def translate_message(message: str) -> str:
    """A message of the services in the user's language when the catalogue knows it.

    The result is plain text (never markup), so templates escape it.
    """
    message = str(message)
    if message in _SERVICE_MESSAGES:
        return gettext(message)
    for pattern, translate in _PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return translate(match)
    return message


def is_local_path(target: str | None) -> bool:
    """Whether ``target`` is a path on this site (safe to redirect to after login)."""
    if not target or len(target) > 2048 or not target.startswith("/"):
        return False
    # Browsers drop tabs and newlines and read "\" as "/": "/\t/evil.example" is "//evil.example".
    if "\\" in target or any(unicodedata.category(ch)[0] in "CZ" and ch != " " for ch in target):
        return False
    parts = urlsplit(target)
    return not target.startswith("//") and not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str:
    """``target`` if it is a local path, else the start page."""
    return target if target and is_local_path(target) else url_for("main.index")


@bp.app_template_filter("message")
def message_filter(message: Any) -> str:
    return translate_message(str(message))


@bp.app_template_global()
def error_title(status: int, fallback: str) -> str:
    title = ERROR_TITLES.get(status)
    return str(title) if title is not None else fallback


@bp.app_context_processor
def _page_globals() -> dict[str, Any]:
    languages = current_app.config["EDMS"]["languages"]
    here = request.full_path if request.method == "GET" else request.path
    return {
        "interface_languages": [(code, LANGUAGE_NAMES[code]) for code in languages],
        "current_path": here.rstrip("?") if here else "/",
    }


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        if not current_user.is_staff:  # applicants see the portal, never the registry
            return redirect(url_for("portal.catalogue_page"))
        return redirect(url_for("documents.registry"))
    return redirect(url_for("auth.login"))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks: dict[str, Any] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"status": "up"}
    except Exception as exc:  # any driver error means down
        logger.warning("health check: database down: %s", type(exc).__name__)
        checks["database"] = {"status": "down", "error": type(exc).__name__}
    try:
        store: storage.ObjectStore = current_app.extensions["edms.storage"]
        store.check()
        checks["storage"] = {"status": "up"}
    except storage.StorageError as exc:
        checks["storage"] = {"status": "down", "error": str(exc)}
    healthy = all(c["status"] == "up" for c in checks.values())
    body = {"status": "up" if healthy else "down", "checks": checks}
    return jsonify(body), 200 if healthy else 503


@bp.post("/language")
def set_language() -> Response:
    """Remember the chosen interface language in the session and go back to the page."""
    lang = request.form.get("lang", "")
    if lang not in current_app.config["EDMS"]["languages"]:
        raise ValidationError({"lang": "unknown language"})
    session["lang"] = lang
    return redirect(safe_next(request.form.get("next")))
