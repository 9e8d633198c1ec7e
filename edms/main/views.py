"""Home, health check and language switch."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import text
from werkzeug.wrappers import Response

import storage
from edms.db import db
from edms.errors import ValidationError

logger = logging.getLogger(__name__)
bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> Response:
    if current_user.is_authenticated:
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
    lang = request.form.get("lang", "")
    if lang not in current_app.config["EDMS"]["languages"]:
        raise ValidationError({"lang": "unknown language"})
    session["lang"] = lang
    target = request.form.get("next") or ""
    # Only local paths, never another site.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = url_for("main.index")
    return redirect(target)
