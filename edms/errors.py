"""The EDMS error tree and the one place that turns errors into HTTP answers.

``EDMSError`` is the root; each subclass carries an HTTP status and a message
for the user:

- ``ConfigError``: a setting is unknown or invalid (raised at start-up).
- ``ValidationError`` (422): input is wrong; ``errors`` maps each field to its message.
- ``AuthenticationRequired`` (401), ``PermissionDenied`` (403), ``NotFound`` (404).
- ``Conflict`` (409), ``PayloadTooLarge`` (413), ``TooManyRequests`` (429).
- ``ServiceUnavailable`` (503): a dependency such as storage is down.

Errors of the libraries (``storage.StorageError``, ``signing.SigningError``) are mapped
here too, so
views never translate exceptions themselves. HTML pages get an error page;
``/api/`` paths and clients asking for JSON get RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

import signing
import storage

logger = logging.getLogger(__name__)


class EDMSError(Exception):
    """Root of the application's errors."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        self.extra = extra


class ConfigError(EDMSError):
    status = 500
    title = "Invalid configuration"


class ValidationError(EDMSError):
    status = 422
    title = "Invalid input"

    def __init__(
        self,
        errors: dict[str, str] | str,
        message: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        if isinstance(errors, str):
            errors = {"_": errors}
        self.errors = errors
        # Richer per-problem data for the API's ``errors`` (each has a ``field``), when
        # one message per field is not enough.
        self.details = details
        if message is None:
            message = "; ".join(
                msg if field == "_" else f"{field}: {msg}" for field, msg in errors.items()
            )
        super().__init__(message)


class AuthenticationRequired(EDMSError):
    status = 401
    title = "Authentication required"


class PermissionDenied(EDMSError):
    """403. Every one that reaches the error handler is written to the audit log."""

    status = 403
    title = "Forbidden"

    def __init__(
        self, message: str | None = None, *, object_type: str = "", object_id: object = None
    ) -> None:
        super().__init__(message)
        self.object_type = object_type
        self.object_id = object_id


class NotFound(EDMSError):
    status = 404
    title = "Not found"


class Conflict(EDMSError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(EDMSError):
    status = 413
    title = "Payload too large"


class TooManyRequests(EDMSError):
    status = 429
    title = "Too many requests"


class ServiceUnavailable(EDMSError):
    status = 503
    title = "Service unavailable"


def from_storage_error(exc: storage.StorageError) -> EDMSError:
    """Translate a storage library error into the application's terms."""
    if isinstance(exc, storage.ObjectTooLarge):
        return PayloadTooLarge(f"file: larger than the limit of {exc.limit // (1024 * 1024)} MB")
    if isinstance(exc, storage.StorageUnavailable):
        return ServiceUnavailable("The file storage is unavailable; please try again later.")
    if isinstance(exc, storage.ObjectNotFound | storage.InvalidKey):
        return NotFound("The file is missing from storage.")
    return ServiceUnavailable("The file storage failed; please try again later.")


def from_signing_error(exc: signing.SigningError) -> EDMSError:
    """Translate a signing library error: the input's fault (422), a refused signer (409),
    or a service the signature needs that is down (503)."""
    message = str(exc)
    message = message[:1].upper() + message[1:]
    if isinstance(exc, signing.SignerRevoked):
        return Conflict(message)
    if isinstance(exc, signing.TimestampError | signing.RevocationError):
        return ServiceUnavailable(message)
    if isinstance(exc, signing.ConverterMissing | signing.ConversionTimeout):
        return ServiceUnavailable(message)
    # CredentialError, PdfError, TemplateError, ConversionError and the rest: the input.
    return ValidationError({"_": message}, message)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def problem(
    status: int,
    title: str,
    detail: str,
    errors: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Response:
    """An RFC 9457 problem reply; ``details`` (each with a ``field``) replaces ``errors``."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if details:
        body["errors"] = details
    elif errors:
        body["errors"] = [{"field": field, "message": msg} for field, msg in errors.items()]
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _render(
    status: int,
    title: str,
    detail: str,
    errors: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Response:
    if wants_json():
        response = problem(status, title, detail, errors, details, **extra)
    else:
        html = render_template(
            "error.html", status=status, title=title, detail=detail, errors=errors
        )
        response = Response(html, status=status, mimetype="text/html")
    if status == 401 and request.path.startswith("/api/"):
        response.headers["WWW-Authenticate"] = 'Bearer realm="edms"'
    return response


def handle_edms_error(exc: EDMSError) -> Response:
    if isinstance(exc, PermissionDenied):
        from edms.audit.services import record_denied

        record_denied(
            exc.object_type or "route",
            exc.object_id if exc.object_id is not None else request.endpoint,
            {"method": request.method},
        )
    if isinstance(exc, ValidationError):
        return _render(exc.status, exc.title, exc.message, exc.errors, exc.details, **exc.extra)
    return _render(exc.status, exc.title, exc.message, **exc.extra)


def handle_storage_error(exc: storage.StorageError) -> Response:
    logger.warning("storage error: %s", exc)
    return handle_edms_error(from_storage_error(exc))


def handle_signing_error(exc: signing.SigningError) -> Response:
    logger.info("signing error: %s: %s", type(exc).__name__, exc)
    return handle_edms_error(from_signing_error(exc))


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    title = exc.name
    detail = exc.description or title
    errors = None
    data = getattr(exc, "data", None)  # webargs (flask-smorest) validation errors
    if isinstance(data, dict) and "messages" in data:
        errors = _flatten_webargs(data["messages"])
        detail = "; ".join(f"{field}: {msg}" for field, msg in errors.items())
        if status == 422:  # a body that is not JSON at all stays a 400
            title = "Invalid input"
    if status == 413:
        detail = "The request is larger than the upload limit."
    response = _render(status, title, detail, errors)
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _flatten_webargs(messages: dict[str, Any]) -> dict[str, str]:
    """``{"form": {"title": ["Missing data"]}}`` -> ``{"title": "Missing data"}``."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            out[prefix or "_"] = " ".join(str(v) for v in value)
        else:
            out[prefix or "_"] = str(value)

    for location_or_field, value in messages.items():
        if location_or_field in ("json", "form", "files", "query", "headers", "json_or_form"):
            walk("", value)
        else:
            walk(str(location_or_field), value)
    return out


def handle_unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return _render(
        500, "Internal server error", "Something went wrong on our side; it has been logged."
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(EDMSError, handle_edms_error)
    app.register_error_handler(storage.StorageError, handle_storage_error)
    app.register_error_handler(signing.SigningError, handle_signing_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
