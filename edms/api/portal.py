"""API routes of the single-window portal: the service catalogue and applications.

- ``GET /services`` and ``GET /services/{code}`` are public, like the portal's
  catalogue page (a token, if sent, must be valid).
- ``POST /applications`` makes a draft, saves its data and attachments and submits it,
  in one transaction: if anything is wrong, nothing remains (no application, no file).
  An ``Idempotency-Key`` makes a retry return the first answer instead of applying
  again (see ``_claim_key``).
- ``GET /applications/{tracking_number}`` (status), ``POST .../responses`` (the answer
  to a request for more information) and ``GET .../decision`` (the signed PDF) are for
  the application's owner; anyone else gets a 404, whether it exists or not.

Writes (``POST``) are rate limited per API token with Flask-Limiter
(``portal_api_rate_limit``, counters in ``portal_rate_limit_storage``); the reads of
applications share a ten times looser limit. The catalogue is not limited here: it
is public, read-only and cheap (a reverse proxy may limit it by address).

Registered by the import at the end of ``edms.api.views``, which adds these
blueprints to its ``blueprints`` list.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, TypeVar, cast

from flask import Flask, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from marshmallow import Schema, fields
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.wrappers import Response

from edms.api.blueprint import ApiBlueprint
from edms.api.signing import PublicApiBlueprint
from edms.api.views import blueprints
from edms.auth.login import get_user
from edms.auth.models import Role, User
from edms.db import db, utcnow
from edms.documents import services as documents
from edms.documents.download import send_version
from edms.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    ValidationError,
    handle_edms_error,
)
from edms.portal import catalogue, services
from edms.portal.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    IdempotencyRecord,
    InformationRequest,
    ServiceDefinition,
)
from edms.scheduler import register_job

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

catalogue_bp = PublicApiBlueprint(
    "api_portal_services",
    __name__,
    description="The catalogue of public e-services of the single-window portal. Public.",
)
applications_bp = ApiBlueprint(
    "api_portal_applications",
    __name__,
    description="Applications to the portal's e-services: submission, status, answers to "
    "requests for more information and the signed decision. Applicants' tokens only.",
)
blueprints.extend([catalogue_bp, applications_bp])

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: How long a key is remembered; an older one counts as new (``purge_idempotency_keys``).
IDEMPOTENCY_TTL = timedelta(hours=24)
PURGE_JOB = "portal.idempotency_keys"
_KEY_RE = re.compile(r"[\x20-\x7e]{1,128}")
#: Table errors of a statistical report shown in a problem; ``errors_total`` counts all.
MAX_TABLE_ERRORS = 1000
#: Largest ``metadata`` part of a multipart request.
MAX_METADATA_BYTES = 1024 * 1024
#: Reads of applications may be this many times more frequent than writes.
READ_FACTOR = 10
#: Keys of an event's details that the applicant may see (no personal data is kept in
#: them today; the list keeps it so if new kinds of events add some).
EVENT_DETAILS = frozenset({"registration_number", "request", "files", "outcome"})
_SUBMISSION_KEYS = ("service", "acting_for", "data")
_ANSWER_KEYS = ("answer",)


# Rate limits ---------------------------------------------------------------------------


def _token_key() -> str:
    """The rate-limit key of a request: a digest of its API token (never the token).

    The limits are checked inside the views, after ``authenticate`` accepted the token.
    """
    _scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    digest = hashlib.sha256(b"edms-rate-limit:" + token.strip().encode()).hexdigest()
    return f"token:{digest[:32]}"


def _write_limit() -> str:
    return str(current_app.config["EDMS"]["portal_api_rate_limit"])


def _read_limit() -> str:
    """The write limit with every amount ``READ_FACTOR`` times larger."""
    return "; ".join(
        f"{item.amount * READ_FACTOR} per {item.multiples} {item.GRANULARITY.name}"
        for item in parse_many(_write_limit())
    )


limiter = Limiter(
    key_func=_token_key,
    headers_enabled=True,
    retry_after="delta-seconds",
    key_prefix="edms-portal",
)
_writes = limiter.shared_limit(_write_limit, scope="portal-writes")
_reads = limiter.shared_limit(_read_limit, scope="portal-reads")


def _init_limiter(state: BlueprintSetupState) -> None:
    """Start the limiter with the app (``edms.config`` has checked the limit's notation)."""
    app = cast(Flask, state.app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["EDMS"]["portal_rate_limit_storage"])
    limiter.init_app(app)


applications_bp.record_once(_init_limiter)


def _too_many(exc: RateLimitExceeded) -> Response:
    """A problem like every other (the limiter adds ``Retry-After`` and ``X-RateLimit-*``)."""
    return handle_edms_error(
        TooManyRequests(
            f"Too many requests with this API token (at most {exc.limit.limit}); "
            "try again after the seconds given in Retry-After."
        )
    )


applications_bp.register_error_handler(RateLimitExceeded, _too_many)


# Purging idempotency keys ----------------------------------------------------------------


def purge_idempotency_keys(now: datetime | None = None) -> int:
    """Forget the keys older than ``IDEMPOTENCY_TTL``; how many were removed.

    Runs as the scheduler's job ``portal.idempotency_keys`` every hour; a key found
    older than that before the job removed it counts as new anyway.
    """
    cutoff = (now or utcnow()) - IDEMPOTENCY_TTL
    result = db.session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
    )
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        logger.info("purged %s idempotency keys", removed)
    return removed


def _purge_job(now: datetime) -> None:
    purge_idempotency_keys(now)


register_job(PURGE_JOB, timedelta(hours=1), _purge_job)


# Schemas -------------------------------------------------------------------------------


class LocalisedTextSchema(Schema):
    uz = fields.String()
    ru = fields.String()
    en = fields.String()


class FeeSchema(Schema):
    amount = fields.Integer(metadata={"description": "In whole units of the currency."})
    currency = fields.String(metadata={"example": "UZS"})


class AttachmentSpecSchema(Schema):
    code = fields.String(
        metadata={"description": "The name of the file's part in a multipart submission."}
    )
    title = fields.Nested(LocalisedTextSchema)
    help = fields.Nested(LocalisedTextSchema, allow_none=True)
    required = fields.Boolean()
    types = fields.List(
        fields.String(),
        metadata={"description": "Media types accepted, as recognised from the bytes."},
    )
    max_mb = fields.Integer(metadata={"description": "Largest file, in MB."})


class ColumnSpecSchema(Schema):
    name = fields.String(metadata={"description": "As written in the header row."})
    title = fields.Nested(LocalisedTextSchema)
    type = fields.String(metadata={"enum": list(catalogue.COLUMN_TYPES)})
    required = fields.Boolean()
    pattern = fields.String(allow_none=True)
    max_length = fields.Integer(allow_none=True)
    minimum = fields.Raw(allow_none=True, metadata={"type": "number"})
    maximum = fields.Raw(allow_none=True, metadata={"type": "number"})
    values = fields.List(fields.String(), metadata={"description": "Values of an enum column."})


class ReportTotalSchema(Schema):
    column = fields.String()
    field = fields.String(metadata={"description": "The form field the column's sum must equal."})


class ReportSpecSchema(Schema):
    attachment = fields.String(metadata={"description": "The attachment that is the table."})
    max_rows = fields.Integer()
    columns = fields.List(fields.Nested(ColumnSpecSchema))
    totals = fields.List(fields.Nested(ReportTotalSchema))


class ServiceSummarySchema(Schema):
    code = fields.String(metadata={"example": "licence_request"})
    version = fields.Integer(metadata={"description": "Applications keep the version they used."})
    name = fields.Nested(LocalisedTextSchema)
    description = fields.Nested(LocalisedTextSchema)
    term_days = fields.Integer(metadata={"description": "The legal term, in working days."})
    fee = fields.Nested(FeeSchema, allow_none=True, metadata={"description": "null: free."})
    applicants = fields.List(
        fields.String(metadata={"enum": list(catalogue.APPLICANTS)}),
        metadata={"description": "Who may apply: a person (PINFL), an organisation (TIN)."},
    )
    attachments = fields.List(fields.Nested(AttachmentSpecSchema))


class ServiceSchema(ServiceSummarySchema):
    form_schema = fields.Dict(
        metadata={
            "description": "The JSON Schema (draft 2020-12) of the application's `data`; "
            "`x-title` and `x-help` label each field in uz, ru and en."
        }
    )
    report = fields.Nested(
        ReportSpecSchema,
        allow_none=True,
        metadata={"description": "The columns of a statistical report; null for others."},
    )


class ApplicationLinksSchema(Schema):
    self = fields.String(metadata={"description": "The application's status."})
    responses = fields.String(metadata={"description": "Where answers to requests go."})
    decision = fields.String(metadata={"description": "The signed decision, once made."})


_STATUSES = [s.value for s in ApplicationStatus]


class SubmittedApplicationSchema(Schema):
    tracking_number = fields.String(metadata={"example": "AP-7KQ2-M9XD"})
    status = fields.String(metadata={"enum": _STATUSES})
    due_on = fields.Date(allow_none=True, metadata={"description": "End of the legal term."})
    links = fields.Nested(ApplicationLinksSchema)


class ServiceRefSchema(Schema):
    code = fields.String()
    version = fields.Integer()
    name = fields.Nested(LocalisedTextSchema)


class ApplicationEventSchema(Schema):
    kind = fields.String(
        metadata={
            "example": "submitted",
            "description": "submitted, information_requested, answered, route_finished, "
            "decided ...",
        }
    )
    at = fields.DateTime()
    details = fields.Dict(
        metadata={"description": "registration_number, request, files, outcome (no personal data)."}
    )


class InformationRequestSchema(Schema):
    id = fields.Integer()
    message = fields.String(metadata={"description": "What the applicant is asked for."})
    asked_at = fields.DateTime()
    answer_due_on = fields.Date()


class ApplicationDecisionSchema(Schema):
    outcome = fields.String(metadata={"enum": ["granted", "refused"]})
    registration_number = fields.String(allow_none=True)
    verification_code = fields.String(
        allow_none=True, metadata={"description": "Printed on the PDF; checks it at /verify."}
    )
    link = fields.String(metadata={"description": "The signed PDF."})


class ApplicationSchema(Schema):
    tracking_number = fields.String(metadata={"example": "AP-7KQ2-M9XD"})
    service = fields.Nested(ServiceRefSchema)
    status = fields.String(metadata={"enum": _STATUSES})
    current_step = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        allow_none=True,
        metadata={"description": "The name of the step of the route under way, by language."},
    )
    submitted_at = fields.DateTime(allow_none=True)
    due_on = fields.Date(allow_none=True)
    events = fields.List(
        fields.Nested(ApplicationEventSchema), metadata={"description": "Oldest first."}
    )
    open_request = fields.Nested(InformationRequestSchema, allow_none=True)
    decision = fields.Nested(ApplicationDecisionSchema, allow_none=True)
    links = fields.Nested(ApplicationLinksSchema)


class ApplicationAnswerSchema(Schema):
    request = fields.Integer(metadata={"description": "The request answered."})
    answered_at = fields.DateTime()
    files = fields.Integer(metadata={"description": "Files given with the answer."})
    status = fields.String(metadata={"enum": _STATUSES})
    links = fields.Nested(ApplicationLinksSchema)


_TRACKING = {
    "in": "path",
    "name": "tracking_number",
    "required": True,
    "schema": {"type": "string", "example": "AP-7KQ2-M9XD"},
    "description": "Case, spaces and dashes do not matter.",
}
_IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[\x20-\x7e]+$"},
    "description": "Any 1 to 128 printable ASCII characters, new for each application "
    "(a UUID does). Sending the same request again with the same key returns the first "
    "answer (with `Idempotent-Replayed: true`) and applies nothing twice; the same key with "
    "another request is a 422. Keys are remembered for 24 hours.",
}
_JSON_OBJECT = {"type": "object", "additionalProperties": True}
_SUBMISSION = {
    "type": "object",
    "required": ["service", "acting_for"],
    "properties": {
        "service": {"type": "string", "example": "licence_request"},
        "acting_for": {
            "type": "string",
            "example": "person",
            "description": "`person`, or `organisation:<id>` for an organisation you act for.",
        },
        "data": {
            **_JSON_OBJECT,
            "description": "The form: see the service's `form_schema`.",
        },
    },
}
_SUBMIT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _SUBMISSION},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["metadata"],
                "properties": {
                    "metadata": {
                        "type": "string",
                        "description": "The JSON of an `application/json` submission.",
                    }
                },
                "additionalProperties": {
                    "type": "string",
                    "format": "binary",
                    "description": "One file per attachment, the part named by the "
                    "attachment's `code`.",
                },
            }
        },
    },
}
_ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": services.MAX_ANSWER}},
}
_ANSWER_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {**_ANSWER, "required": ["answer"]}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "metadata": {"type": "string", "description": 'JSON: `{"answer": "..."}`.'},
                    "files": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "Files that answer the request (parts named `files`).",
                    },
                },
            }
        },
    },
}
_LOCATION = {"Location": {"description": "The application.", "schema": {"type": "string"}}}
_PDF_RESPONSE: dict[str, Any] = {
    "description": "The decision, a PDF sealed by the organisation, as an attachment.",
    "content_type": "application/pdf",
    "headers": {"ETag": {"description": "The file's SHA-256.", "schema": {"type": "string"}}},
}


# Serializing ------------------------------------------------------------------------------


def _texts(mapping: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(mapping) if mapping else None


def _service_summary(row: ServiceDefinition) -> dict[str, Any]:
    spec = services.spec_of(row)
    return {
        "code": spec.code,
        "version": row.version,
        "name": dict(spec.name),
        "description": dict(spec.description),
        "term_days": spec.term_days,
        "fee": (
            {"amount": spec.fee.amount, "currency": spec.fee.currency}
            if spec.fee is not None and not spec.fee.free
            else None
        ),
        "applicants": list(spec.applicants),
        "attachments": [
            {
                "code": a.code,
                "title": dict(a.title),
                "help": _texts(a.help),
                "required": a.required,
                "types": list(a.types),
                "max_mb": a.max_mb,
            }
            for a in spec.attachments
        ],
    }


def _service(row: ServiceDefinition) -> dict[str, Any]:
    spec = services.spec_of(row)
    body = _service_summary(row)
    body["form_schema"] = spec.form
    report = spec.report
    body["report"] = (
        {
            "attachment": report.attachment,
            "max_rows": report.max_rows,
            "columns": [
                {
                    "name": c.name,
                    "title": dict(c.title),
                    "type": c.type,
                    "required": c.required,
                    "pattern": c.pattern,
                    "max_length": c.max_length,
                    "minimum": c.minimum,
                    "maximum": c.maximum,
                    "values": list(c.values),
                }
                for c in report.columns
            ],
            "totals": [{"column": t.column, "field": t.field} for t in report.totals],
        }
        if report is not None
        else None
    )
    return body


def _links(application: Application) -> dict[str, str]:
    number = application.tracking_number
    return {
        "self": url_for("api_portal_applications.get_application", tracking_number=number),
        "responses": url_for("api_portal_applications.answer", tracking_number=number),
        "decision": url_for("api_portal_applications.decision", tracking_number=number),
    }


def _submitted(application: Application) -> dict[str, Any]:
    return {
        "tracking_number": application.tracking_number,
        "status": application.status,
        "due_on": application.due_on,
        "links": _links(application),
    }


def _event(event: ApplicationEvent) -> dict[str, Any]:
    details = event.details if isinstance(event.details, dict) else {}
    return {
        "kind": event.kind,
        "at": event.at,
        "details": {k: v for k, v in details.items() if k in EVENT_DETAILS},
    }


def _open_request(request_: InformationRequest | None) -> dict[str, Any] | None:
    if request_ is None:
        return None
    return {
        "id": request_.id,
        "message": request_.message,
        "asked_at": request_.asked_at,
        "answer_due_on": request_.answer_due_on,
    }


def _status(application: Application) -> dict[str, Any]:
    status = services.status_of(application)
    decision = application.decision_document
    return {
        "tracking_number": application.tracking_number,
        "service": {
            "code": application.service.code,
            "version": application.service.version,
            "name": status.service_name,
        },
        "status": status.status,
        "current_step": status.current_step,
        "submitted_at": application.submitted_at,
        "due_on": status.due_on,
        "events": [_event(e) for e in status.events],
        "open_request": _open_request(status.open_request),
        "decision": (
            {
                "outcome": (
                    "granted" if application.status == ApplicationStatus.GRANTED else "refused"
                ),
                "registration_number": decision.registration_number,
                "verification_code": status.decision_code,
                "link": _links(application)["decision"],
            }
            if decision is not None
            else None
        ),
        "links": _links(application),
    }


# Reading requests -------------------------------------------------------------------------


@dataclass
class _Input:
    """A request's JSON object (or multipart ``metadata``) and its file parts."""

    payload: dict[str, Any]
    files: list[tuple[str, FileStorage]] = field(default_factory=list)


def _part_name(name: str) -> str:
    return name if len(name) <= 64 else name[:64] + "…"


def _sent(file: FileStorage) -> bool:
    """Whether a file part carries a file (browsers send an empty part for no file)."""
    if file.filename:
        return True
    sent = file.stream.read(1) != b""
    file.stream.seek(0)
    return sent


def _json_object(text: bytes | str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({name: "must be a JSON object; this is not JSON"}) from None
    if not isinstance(value, dict):
        raise ValidationError({name: "must be a JSON object"})
    return value


def _read_input(file_field: Callable[[str], str | None], many: bool = False) -> _Input:
    """The body, as ``application/json`` or ``multipart/form-data`` (a ``metadata`` part
    holding the same JSON, and files). ``file_field(name)`` is the field a file part of
    that name is about (errors name it), or None when no file part may be called so;
    ``many``: whether several file parts may have the same name."""
    if request.is_json:
        body = request.get_json(silent=True)
        if body is None:
            raise BadRequest("The body is not valid JSON.")
        if not isinstance(body, dict):
            raise ValidationError({"_": "the body must be a JSON object"})
        return _Input(body)
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType(
            "The body must be application/json or multipart/form-data, not "
            f"{request.mimetype or 'missing'}."
        )
    if not request.mimetype_params.get("boundary"):
        raise BadRequest("The multipart/form-data Content-Type has no boundary.")
    form, files = request.form, request.files  # a body over the limit is a 413 here
    errors: dict[str, str] = {}
    metadata: list[bytes | str] = list(form.getlist("metadata"))
    for name in form:
        if name != "metadata":
            errors[_part_name(name)] = "unknown part: send the fields in metadata"
    for upload in files.getlist("metadata"):
        metadata.append(upload.stream.read(MAX_METADATA_BYTES + 1))
    if len(metadata) > 1:
        errors["metadata"] = "send one metadata part"
    elif not metadata:
        errors["metadata"] = "is required: the JSON of the request"
    elif len(metadata[0]) > MAX_METADATA_BYTES:
        errors["metadata"] = f"must be at most {MAX_METADATA_BYTES // 1024} KB"
    found: list[tuple[str, FileStorage]] = []
    seen: set[str] = set()
    for name, upload in files.items(multi=True):
        if name == "metadata" or not _sent(upload):
            continue
        target = file_field(name)
        if target is None:
            errors[_part_name(name)] = "unknown part"
            continue
        if name in seen and not many:
            errors[target] = "send one file for each attachment"
            continue
        seen.add(name)
        found.append((name, upload))
    payload: dict[str, Any] = {}
    if "metadata" not in errors:
        try:
            payload = _json_object(metadata[0], "metadata")
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return _Input(payload, found)


def _unknown_keys(payload: Mapping[str, Any], known: Iterable[str]) -> dict[str, str]:
    return {_part_name(str(key)): "unknown field" for key in payload if key not in set(known)}


def _file_digest(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    start = stream.tell()
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(start)
    return digest.hexdigest()


def _fingerprint(given: _Input) -> str:
    """SHA-256 of the method, the path and the request's content.

    The content is the JSON in a canonical form (key order and spacing do not
    matter) and, for each file part, its name, file name and SHA-256, so a retry is
    recognised however its client writes JSON or picks a multipart boundary.
    """
    content = {
        "payload": given.payload,
        "files": sorted(
            (name, upload.filename or "", _file_digest(upload.stream))
            for name, upload in given.files
        ),
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    text = f"{request.method} {request.path}\n{canonical}"
    return hashlib.sha256(text.encode()).hexdigest()


def _idempotency_key() -> str | None:
    if IDEMPOTENCY_HEADER not in request.headers:
        return None
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not _KEY_RE.fullmatch(key):
        raise ValidationError({IDEMPOTENCY_HEADER: "must be 1 to 128 printable ASCII characters"})
    return key


# Applicants -----------------------------------------------------------------------------


def _applicant() -> User:
    """The token's user, who must be an applicant (403 otherwise)."""
    user = get_user()
    if not user.has_role(Role.APPLICANT):
        raise PermissionDenied(
            "The portal API is for applicants' accounts; staff use the documents API."
        )
    return user


def _own(user: User, tracking_number: str) -> Application:
    """The user's submitted application; 404 for anyone else's (staff included)."""
    number = services.normalise_tracking_number(tracking_number)
    if number is None:
        raise NotFound("There is no such application.")
    return services.get_own(user, number)


# Submission -------------------------------------------------------------------------------


def _claim_key(user: User, key: str, fingerprint: str) -> Application | None:
    """Remember ``key`` for this request, or the application a first request with it made.

    The key's row is inserted first, in the transaction that will make the
    application: a concurrent request with the same key waits for it at the unique
    constraint (PostgreSQL) or for the write lock (SQLite), then finds the row and
    answers with the same application. A first request that failed left no row, so
    its retry is processed afresh.
    """
    found = _key_record(user, key)
    if found is not None and found.created_at < utcnow() - IDEMPOTENCY_TTL:
        db.session.delete(found)  # expired, not purged yet: the key is new again
        db.session.flush()
        found = None
    if found is None:
        db.session.add(IdempotencyRecord(user_id=user.id, key=key, request_hash=fingerprint))
        try:
            db.session.flush()
            return None
        except IntegrityError:
            db.session.rollback()  # nothing else is written yet
            found = _key_record(user, key)
            if found is None:  # pragma: no cover - the other request was rolled back
                raise Conflict(
                    "Another request with this Idempotency-Key was under way; send it again."
                ) from None
    if found.request_hash != fingerprint:
        raise ValidationError(
            {IDEMPOTENCY_HEADER: "this key was used for another request; use a new key"}
        )
    application = (
        db.session.get(Application, found.application_id) if found.application_id else None
    )
    if application is None:  # pragma: no cover - same transaction as the application
        raise Conflict("The request with this Idempotency-Key did not finish; use a new key.")
    return application


def _key_record(user: User, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key
        )
    )


def _attachment_field(name: str) -> str:
    return f"attachment.{_part_name(name)}"


def _data_field(key: str) -> str:
    return "data" if key == "_" else f"data.{key}"


def _field(key: str, spec: catalogue.ServiceSpec) -> str:
    """A service's error key as the API names it: ``data.<field>`` for the form."""
    if key.startswith("attachment.") or key in ("acting_for", "service", "_"):
        return key
    if key in ("attachment", "file"):
        return "attachment"
    if key in spec.form.get("properties", {}):
        return _data_field(key)
    return key


class _Problems:
    """Every problem of a submission, by field, and a report's table of errors."""

    def __init__(self, spec: catalogue.ServiceSpec) -> None:
        self.spec = spec
        self.errors: dict[str, str] = {}
        self.report: dict[str, Any] | None = None

    def add(
        self,
        errors: Mapping[str, str],
        keep: bool = False,
        name_of: Callable[[str], str] | None = None,
    ) -> None:
        for key, message in errors.items():
            name = name_of(key) if name_of is not None else _field(key, self.spec)
            if keep:
                self.errors.setdefault(name, message)
            else:
                self.errors[name] = message

    def add_error(self, exc: ValidationError) -> None:
        self.add(exc.errors)
        if isinstance(exc, services.ReportProblems):
            table = exc.table
            report = self.spec.report
            self.report = {
                "attachment": f"attachment.{report.attachment if report else ''}",
                "errors_total": table.errors_total,
                "errors": [
                    {"row": e.row, "column": e.column, "reason": e.reason}
                    for e in list(table.errors)[:MAX_TABLE_ERRORS]
                ],
            }

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        error = ValidationError(self.errors)
        if self.report is not None:
            error.extra = {"report": self.report}
        raise error


def _check_submission(
    payload: Mapping[str, Any],
) -> tuple[str, str, dict[str, Any], dict[str, str]]:
    """The service code, whom the applicant acts for, the form data and the problems of
    the request's shape. Without a service and a data object nothing more can be checked
    (a 422 at once); the other problems are reported with those of the application."""
    errors = _unknown_keys(payload, _SUBMISSION_KEYS)
    code = payload.get("service")
    if code is None or code == "":
        errors["service"] = "is required: the code of a service"
    elif not isinstance(code, str):
        errors["service"] = "must be text: the code of a service"
    acting = payload.get("acting_for")
    if acting is None or acting == "":
        errors["acting_for"] = "is required: person, or organisation:<id>"
    elif not isinstance(acting, str):
        errors["acting_for"] = "must be text: person, or organisation:<id>"
    data = payload.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors["data"] = "must be a JSON object of the form's fields"
    if "service" in errors or "data" in errors:
        raise ValidationError(errors)
    return cast(str, code), acting if isinstance(acting, str) else "", data, errors


def _service_for(code: str, shape: Mapping[str, str]) -> ServiceDefinition:
    try:
        return services.get_service(code)
    except NotFound:
        raise ValidationError({**shape, "service": "there is no such service"}) from None


def _submit(user: User, given: _Input) -> Application:
    """Draft, data, attachments, submission: one transaction, every problem reported."""
    code, acting_for, data, shape = _check_submission(given.payload)
    row = _service_for(code, shape)
    spec = services.spec_of(row)
    problems = _Problems(spec)
    problems.errors.update(shape)
    codes = {a.code for a in spec.attachments}
    for name, _upload in given.files:
        if name not in codes:
            problems.errors[_attachment_field(name)] = "this service asks for no such attachment"
    application = services.new_application(user, row.code)
    problems.add(services.save_draft(user, application, data), name_of=_data_field)
    for name, upload in given.files:
        if name not in codes:
            continue
        try:
            services.add_attachment(
                user, application, name, documents.Upload(upload.filename, upload.stream)
            )
        except ValidationError as exc:
            problems.add_error(exc)
    if problems.errors:
        # Report what submitting would also say (required attachments, acting_for),
        # without registering anything: it is all rolled back.
        problems.add(services.check_complete(application), keep=True)
        try:
            services.acting_as(user, acting_for, spec)
        except ValidationError as exc:
            problems.add(exc.errors, keep=True)
        problems.raise_if_any()
    try:
        return services.submit(user, application, acting_for)
    except ValidationError as exc:
        problems.add_error(exc)
        problems.raise_if_any()
        raise  # pragma: no cover - add_error always records something


def _created(
    application: Application, replayed: bool
) -> tuple[dict[str, Any], int, dict[str, str]]:
    headers = {"Location": _links(application)["self"]}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return _submitted(application), 201, headers


# Routes -------------------------------------------------------------------------------------


def _api(*decorators: Any) -> Callable[[F], F]:
    """Apply flask-smorest's (untyped) decorators, outermost first, keeping the view's type."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


@_api(
    catalogue_bp.route("/services"),
    catalogue_bp.doc(security=[]),
    catalogue_bp.response(200, ServiceSummarySchema(many=True)),
    catalogue_bp.problems(401),
)
def list_services() -> list[dict[str, Any]]:
    """List the e-services

    No token is needed. Each service's names and descriptions are in uz, ru and en;
    `GET /services/{code}` adds the form's JSON Schema.
    """
    return [_service_summary(row) for row in services.list_services()]


@_api(
    catalogue_bp.route("/services/<code>"),
    catalogue_bp.doc(security=[]),
    catalogue_bp.response(200, ServiceSchema),
    catalogue_bp.problems(401, 404),
)
def get_service(code: str) -> dict[str, Any]:
    """Get an e-service with its form

    No token is needed. `form_schema` is the JSON Schema of an application's `data`;
    `attachments` name the file parts of a submission; `report` gives the columns of
    a statistical report.
    """
    return _service(services.get_service(code))


@_api(
    applications_bp.route("/applications", methods=["POST"]),
    applications_bp.doc(requestBody=_SUBMIT_BODY, parameters=[_IDEMPOTENCY_PARAMETER]),
    applications_bp.response(
        201,
        SubmittedApplicationSchema,
        headers={
            **_LOCATION,
            REPLAYED_HEADER: {
                "description": "`true` when this answers a retry with the same Idempotency-Key.",
                "schema": {"type": "string"},
            },
        },
    ),
    applications_bp.problems(400, 401, 403, 409, 413, 415, 422, 429),
    _writes,
)
def submit() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit an application

    Send `application/json` `{"service", "acting_for", "data"}`, or
    `multipart/form-data` with that JSON in a `metadata` part and one file part per
    attachment, named by the attachment's code. The draft, its data, its files and the
    submission are one transaction: if anything is wrong the answer is a 422 naming
    every field at fault (`service`, `acting_for`, `data.<field>`,
    `attachment.<code>`; a statistical report adds `report`, its table errors by row
    and column, at most 1000) and nothing is kept. Rate limited per token.
    """
    user = _applicant()
    key = _idempotency_key()
    given = _read_input(_attachment_field)
    if key is not None:
        earlier = _claim_key(user, key, _fingerprint(given))
        if earlier is not None:
            logger.info("application %s: idempotent replay", earlier.id)
            return _created(earlier, replayed=True)
    application = _submit(user, given)
    if key is not None:
        record = _key_record(user, key)
        if record is None:  # pragma: no cover - inserted by _claim_key in this transaction
            raise Conflict("The Idempotency-Key was lost; send the request again.")
        record.application_id = application.id
    db.session.commit()
    return _created(application, replayed=False)


@_api(
    applications_bp.route("/applications/<tracking_number>"),
    applications_bp.doc(parameters=[_TRACKING]),
    applications_bp.response(200, ApplicationSchema),
    applications_bp.problems(401, 404, 429),
    _reads,
)
def get_application(tracking_number: str) -> dict[str, Any]:
    """Get the status of your application

    Someone else's application (or none) is a 404.
    """
    return _status(_own(get_user(), tracking_number))


@_api(
    applications_bp.route("/applications/<tracking_number>/responses", methods=["POST"]),
    applications_bp.doc(requestBody=_ANSWER_BODY, parameters=[_TRACKING]),
    applications_bp.response(201, ApplicationAnswerSchema, headers=_LOCATION),
    applications_bp.problems(400, 401, 404, 409, 413, 415, 422, 429),
    _writes,
)
def answer(tracking_number: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Answer the request for more information

    `application/json` `{"answer": "..."}`, or `multipart/form-data` with that JSON in a
    `metadata` part and files in parts named `files`. Once: a 409 when nothing is asked.
    """
    user = get_user()
    application = _own(user, tracking_number)
    given = _read_input(lambda name: "files" if name == "files" else None, many=True)
    errors = _unknown_keys(given.payload, _ANSWER_KEYS)
    text = given.payload.get("answer")
    if text is not None and not isinstance(text, str):
        errors["answer"] = "must be text"
    if errors:
        raise ValidationError(errors)
    uploads = [documents.Upload(upload.filename, upload.stream) for _name, upload in given.files]
    asked = services.answer(user, application, text or "", uploads)
    application = services.get_own(user, application.id)
    files = sum(1 for f in application.files if f.request_id == asked.id)
    db.session.commit()
    body = {
        "request": asked.id,
        "answered_at": asked.answered_at,
        "files": files,
        "status": application.status,
        "links": _links(application),
    }
    return body, 201, {"Location": _links(application)["self"]}


@_api(
    applications_bp.route("/applications/<tracking_number>/decision"),
    applications_bp.doc(parameters=[_TRACKING]),
    applications_bp.response(200, {"type": "string", "format": "binary"}, **_PDF_RESPONSE),
    applications_bp.problems(401, 404, 429),
    _reads,
)
def decision(tracking_number: str) -> Response:
    """Download the signed decision

    A 404 until the decision is made (and for anyone else's application).
    """
    user = get_user()
    return send_version(services.decision_version(user, _own(user, tracking_number)))


__all__ = ["limiter", "purge_idempotency_keys"]
