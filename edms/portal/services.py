"""The portal's logic: the service catalogue, applications and their life.

Catalogue. ``config/services/*.yaml`` are loaded (``sync_services``; ``edms demo`` and
``edms services sync`` call it) into ``service_definitions``, one row per version;
an administrator may save a new version or deactivate a service. ``spec_of(row)``
parses a row (cached by id).

Applications. An applicant starts a *draft* of a service, saves its form data and
attachments (each attachment checked against the service: type sniffed from the
bytes, size), and submits it. Submitting checks everything again (the form against
its JSON Schema, required attachments, the statistical report row by row), then in
one transaction: gives a tracking number, registers the application as an incoming
document of the service's journal (by the portal's own account, ``portal_user``),
starts the service's route, sets the legal due date (working days, holidays) and
records the public event; the confirmation e-mail leaves after the commit. A failed
submission changes nothing.

Staff ask for more information (``request_information``); the applicant answers once
(``answer``) with text and files; the service's clock rule says what the legal term
does meanwhile (``pause``: it stands still and moves by the working days waited;
``restart``: it starts again from the answer; ``continue``: it runs on).

When the route finishes (a hook of ``edms.routing``), the application waits for its
decision (``deciding``); ``make_decision`` (the scheduler's job ``portal.decisions``,
or directly) fills the service's template, has LibreOffice make a PDF/A, registers it
as an outgoing document in reply to the application, signs it with the organisation's
seal (its verification code printed on it) and tells the applicant.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

import storage
from edms.audit import services as audit
from edms.auth import services as auth
from edms.auth.models import Department, Role, User
from edms.blobs import services as blobs
from edms.db import db, end_read_only_transaction, on_abort, utcnow
from edms.documents import services as documents
from edms.documents.models import Document, DocumentVersion
from edms.documents.sniff import SNIFF_BYTES, sniff
from edms.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationError,
    from_storage_error,
)
from edms.portal import catalogue, forms, tables
from edms.portal.models import (
    CLOSED_STATUSES,
    Application,
    ApplicationEvent,
    ApplicationFile,
    ApplicationStatus,
    InformationRequest,
    ServiceDefinition,
)
from edms.registry import services as registry
from edms.routing import services as routing
from edms.scheduler import register_job
from edms.validators import clean_filename, filename_problem, text_problem

logger = logging.getLogger(__name__)

SERVICES_DIR = Path(__file__).resolve().parents[2] / "config" / "services"
#: The portal's own account: registers applications and their decisions.
PORTAL_USERNAME = "portal"
#: Tracking numbers: "AP-" and 8 characters of Crockford's base32 (40 random bits).
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TRACKING_SUBSTITUTES = str.maketrans({"O": "0", "I": "1", "L": "1"})
MAX_ANSWER = 10_000
MAX_MESSAGE = 5_000
#: Most files one application may carry (attachments and answers).
MAX_FILES = 50
DECISIONS_JOB = "portal.decisions"
JOB_EVERY = timedelta(seconds=30)

_spec_cache: dict[tuple[int, str], catalogue.ServiceSpec] = {}
_spec_lock = threading.Lock()


# Catalogue ---------------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spec_of(row: ServiceDefinition) -> catalogue.ServiceSpec:
    """The parsed definition of a catalogue row."""
    key = (row.id, row.digest)
    found = _spec_cache.get(key)
    if found is None:
        found = catalogue.parse_service(row.text, row.source or f"{row.code} v{row.version}")
        with _spec_lock:
            _spec_cache[key] = found
    return found


def _references(spec: catalogue.ServiceSpec) -> list[str]:
    from edms.drafting import services as drafting
    from edms.routing.models import WorkflowDefinition

    return catalogue.check_references(
        spec,
        journals={j.code for j in registry.list_journals(active_only=False)},
        departments=set(db.session.scalars(select(Department.code))),
        document_types={t.code for t in registry.list_document_types()},
        workflows=set(db.session.scalars(select(WorkflowDefinition.code).distinct())),
        templates=set(drafting.template_codes()),
    )


class CatalogueInvalid(ValidationError):
    """Service definitions that cannot be loaded; ``problems`` says why, each naming its file."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__({"definition": "; ".join(self.problems)}, "; ".join(self.problems))


def check_service(text: str, source: str = "<definition>") -> catalogue.ServiceSpec:
    """Parse and check a definition, references to journals, routes and templates included."""
    try:
        spec = catalogue.parse_service(text, source)
    except catalogue.CatalogueError as exc:
        raise CatalogueInvalid(exc.problems) from None
    problems = _references(spec)
    if problems:
        raise CatalogueInvalid([f"{source}: {p}" for p in problems])
    return spec


def latest_service(code: str) -> ServiceDefinition | None:
    return db.session.scalar(
        select(ServiceDefinition)
        .where(ServiceDefinition.code == code)
        .order_by(ServiceDefinition.version.desc())
        .limit(1)
    )


def save_service(
    text: str, source: str, user: User | None = None
) -> tuple[ServiceDefinition, bool]:
    """Store ``text`` as the next version of its service unless the latest is the same."""
    spec = check_service(text, source)
    digest = _digest(text)
    latest = latest_service(spec.code)
    if latest is not None and latest.digest == digest:
        return latest, False
    row = ServiceDefinition(
        code=spec.code,
        version=(latest.version + 1) if latest else 1,
        name=dict(spec.name),
        text=text,
        digest=digest,
        source=source,
        active=latest.active if latest is not None else True,
        created_by_id=user.id if user is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "service.save",
        "service",
        row.code,
        {"code": row.code, "version": row.version, "sha256": digest, "source": source},
        actor=user,
    )
    return row, True


def sync_services(
    directory: Path | None = None, user: User | None = None, *, force: bool = False
) -> list[tuple[ServiceDefinition, bool]]:
    """Load ``directory``'s ``*.yaml`` (config/services): all are checked first, nothing is
    saved if one is invalid. A service whose latest version an administrator saved keeps
    it unless ``force``."""
    directory = directory or SERVICES_DIR
    texts: list[tuple[str, str]] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text("utf-8")
        try:
            check_service(text, path.name)
        except CatalogueInvalid as exc:
            problems.extend(exc.problems)
        texts.append((text, path.name))
    if problems:
        raise CatalogueInvalid(problems)
    results = []
    for text, source in texts:
        code = catalogue.parse_service(text, source).code
        latest = latest_service(code)
        if not force and latest is not None and latest.created_by_id is not None:
            results.append((latest, False))
            continue
        results.append(save_service(text, source, user))
    return results


def list_services(active_only: bool = True) -> list[ServiceDefinition]:
    """The latest version of each service, by code."""
    latest = (
        select(ServiceDefinition.code, func.max(ServiceDefinition.version).label("version"))
        .group_by(ServiceDefinition.code)
        .subquery()
    )
    stmt = (
        select(ServiceDefinition)
        .join(
            latest,
            (ServiceDefinition.code == latest.c.code)
            & (ServiceDefinition.version == latest.c.version),
        )
        .order_by(ServiceDefinition.code)
    )
    if active_only:
        stmt = stmt.where(ServiceDefinition.active.is_(True))
    return list(db.session.scalars(stmt))


def get_service(code: Any) -> ServiceDefinition:
    """The latest version of an active service; ``NotFound`` otherwise."""
    row = latest_service(str(code)) if isinstance(code, str) and len(code) <= 64 else None
    if row is None or not row.active:
        raise NotFound("There is no such service.")
    return row


def require_admin(user: User) -> None:
    if not user.has_role(Role.ADMIN):
        raise PermissionDenied("Only administrators manage the service catalogue.")


def new_service_version(user: User, text: str) -> ServiceDefinition:
    """An administrator's new version of a service (checked like the shipped files)."""
    require_admin(user)
    if len(text.encode("utf-8")) > 256 * 1024:
        raise ValidationError({"definition": "must be at most 256 KB"})
    row, _created = save_service(text, "administrator", user)
    return row


def set_service_active(user: User, code: str, active: bool) -> ServiceDefinition:
    require_admin(user)
    row = latest_service(code)
    if row is None:
        raise NotFound("There is no such service.")
    row.active = active
    audit.record(
        "service.activate" if active else "service.deactivate",
        "service",
        code,
        {"version": row.version},
        actor=user,
    )
    return row


# Helpers -------------------------------------------------------------------------------


def calendar() -> Any:
    return routing.calendar()


def add_working_days(start: date, days: int) -> date:
    moment = datetime(start.year, start.month, start.day, 12)
    result: date = calendar().add_working_days(moment, days).date()
    return result


def new_tracking_number() -> str:
    while True:
        raw = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))
        number = f"AP-{raw[:4]}-{raw[4:]}"
        taken = db.session.scalar(
            select(Application.id).where(Application.tracking_number == number)
        )
        if taken is None:
            return number


def normalise_tracking_number(text: Any) -> str | None:
    """``text`` as a stored tracking number (case, spaces and dashes do not matter; O is
    0, I and L are 1), or None when it cannot be one."""
    raw = "".join(ch for ch in str(text or "") if ch not in " -\t").upper()
    if raw.startswith("AP"):
        raw = raw[2:]
    raw = raw.translate(_TRACKING_SUBSTITUTES)
    if len(raw) != 8 or any(ch not in TRACKING_ALPHABET for ch in raw):
        return None
    return f"AP-{raw[:4]}-{raw[4:]}"


def portal_user() -> User:
    """The portal's own account (no password: it never logs in), a clerk of the top
    department, so it may register documents for any department."""
    user = db.session.scalar(select(User).where(User.username == PORTAL_USERNAME))
    if user is not None:
        return user
    top = db.session.scalar(
        select(Department).where(Department.parent_id.is_(None)).order_by(Department.id)
    )
    if top is None:
        raise ServiceUnavailable("The portal needs a department to register applications in.")
    return auth.create_user(
        PORTAL_USERNAME,
        [Role.CLERK],
        full_name="Single-window portal",
        department_code=top.code,
    )


def require_applicant(user: User) -> None:
    if not user.has_role(Role.APPLICANT):
        raise PermissionDenied("The portal's applications are for applicants' accounts.")


def _event(application: Application, kind: str, **details: Any) -> ApplicationEvent:
    event = ApplicationEvent(application=application, kind=kind, details=details)
    db.session.add(event)
    return event


# Drafts and attachments -------------------------------------------------------------------


def new_application(user: User, code: Any) -> Application:
    """A new draft of service ``code`` for the applicant."""
    require_applicant(user)
    row = get_service(code)
    application = Application(service=row, applicant_id=user.id, data={})
    db.session.add(application)
    db.session.flush()
    return application


def get_own(user: User, application_id: Any) -> Application:
    """An application of the user's, by id or tracking number; ``NotFound`` for anyone
    else's (nothing says whether it exists)."""
    application: Application | None = None
    if isinstance(application_id, uuid.UUID):
        application = db.session.get(Application, application_id)
    else:
        text = str(application_id or "")
        number = normalise_tracking_number(text)
        if number is not None:
            application = db.session.scalar(
                select(Application).where(Application.tracking_number == number)
            )
        else:
            try:
                application = db.session.get(Application, uuid.UUID(text))
            except ValueError:
                application = None
    if application is None or application.applicant_id != user.id:
        raise NotFound("There is no such application.")
    return application


def list_own(user: User) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.applicant_id == user.id)
            .order_by(Application.created_at.desc())
        )
    )


def _require_draft(application: Application) -> None:
    if application.status != ApplicationStatus.DRAFT:
        raise Conflict("This application has been submitted; it can no longer be changed.")


def save_draft(user: User, application: Application, raw: Mapping[str, Any]) -> dict[str, str]:
    """Keep what the applicant typed (typed values; fields that cannot be read are left
    out) and return the problems the form still has, without refusing the draft."""
    application = get_own(user, application.id)
    _require_draft(application)
    spec = spec_of(application.service)
    data, errors = forms.coerce(spec.form, raw)
    application.data = data
    application.updated_at = utcnow()
    # A value that could not be read is left out of the data: keep its own message
    # ("enter a whole number") rather than "enter a value".
    for name, message in forms.validate(spec.form, data).items():
        errors.setdefault(name, message)
    return errors


def _attachment_spec(spec: catalogue.ServiceSpec, code: Any) -> catalogue.AttachmentSpec:
    for attachment in spec.attachments:
        if attachment.code == code:
            return attachment
    raise ValidationError({"attachment": "this service asks for no such attachment"})


def _field(code: str) -> str:
    return f"attachment.{code}"


def store_file(
    upload: documents.Upload, field_name: str, types: Iterable[str], max_mb: int
) -> documents.StoredFile:
    """Stream an upload into storage after checking its name, its sniffed type and its
    size; errors name ``field_name``."""
    problem = filename_problem(upload.filename)
    if problem:
        raise ValidationError({field_name: problem})
    filename = clean_filename(upload.filename or "")
    stream = upload.stream
    start = stream.tell() if documents.seekable(stream) else None
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise ValidationError({field_name: "the file is empty"})
    media_type = sniff(head, filename)
    allowed = list(types)
    if allowed and media_type not in allowed:
        raise ValidationError(
            {
                field_name: f"a {_type_names(allowed)} file is needed; this one is "
                f"{_type_names([media_type])}"
            }
        )
    limit = max_mb * 1024 * 1024
    store = blobs.get_store()
    try:
        stored = store.put(documents.rewound(stream, head, start), size_limit=limit)  # type: ignore[arg-type]
    except storage.ObjectTooLarge:
        raise ValidationError({field_name: f"the file is larger than {max_mb} MB"}) from None
    except storage.StorageError as exc:
        raise from_storage_error(exc) from exc
    if stored.created:
        on_abort(lambda: blobs.discard_if_unreferenced(store, stored.key))
    return documents.StoredFile(filename, media_type, stored)


_TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "text/csv": "CSV",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "text/plain": "text",
}


def _type_names(types: Iterable[str]) -> str:
    names = [_TYPE_NAMES.get(t, t) for t in types]
    return " or ".join(dict.fromkeys(names))


def _record_file(
    application: Application,
    file: documents.StoredFile,
    attachment: str = "",
    request: InformationRequest | None = None,
) -> ApplicationFile:
    if len(application.files) >= MAX_FILES:
        raise ValidationError({"file": f"an application holds at most {MAX_FILES} files"})
    blobs.record(file.stored)
    row = ApplicationFile(
        application=application,
        attachment=attachment,
        request_id=request.id if request is not None else None,
        original_filename=file.filename,
        media_type=file.media_type,
        size=file.stored.size,
        sha256=file.stored.sha256,
        storage_key=file.stored.key,
    )
    db.session.add(row)
    db.session.flush()
    return row


def add_attachment(
    user: User, application: Application, code: Any, upload: documents.Upload
) -> ApplicationFile:
    """Attach a file to a draft (replacing the previous one for that attachment)."""
    application = get_own(user, application.id)
    _require_draft(application)
    spec = spec_of(application.service)
    wanted = _attachment_spec(spec, code)
    end_read_only_transaction()  # no database lock while the file streams in
    stored = store_file(upload, _field(wanted.code), wanted.types, wanted.max_mb)
    application = get_own(user, application.id)
    for old in [f for f in application.files if f.attachment == wanted.code]:
        application.files.remove(old)
    row = _record_file(application, stored, attachment=wanted.code)
    if spec.report is not None and spec.report.attachment == wanted.code:
        _check_report(spec, row, application.data)
    return row


def remove_attachment(user: User, application: Application, file_id: Any) -> None:
    application = get_own(user, application.id)
    _require_draft(application)
    for row in application.files:
        if str(row.id) == str(file_id):
            application.files.remove(row)
            db.session.flush()
            return
    raise NotFound("There is no such file.")


def open_file(row: ApplicationFile) -> Any:
    try:
        return blobs.get_store().open(row.storage_key)
    except storage.StorageError as exc:
        raise from_storage_error(exc) from exc


class ReportProblems(ValidationError):
    """A statistical report that failed its row-by-row check: ``table`` has the errors."""

    def __init__(self, code: str, table: tables.TableResult) -> None:
        self.table = table
        message = (
            f"the report has {table.errors_total} error(s); see the table of errors"
            if table.errors_total
            else "the report could not be read"
        )
        super().__init__({_field(code): message}, message)


def _check_report(
    spec: catalogue.ServiceSpec, row: ApplicationFile, data: Mapping[str, Any]
) -> tables.TableResult:
    report = spec.report
    if report is None:
        raise LookupError(f"service {spec.code} has no report")
    with open_file(row) as stream:
        result = tables.check_table(stream, row.media_type, report, data)
    if not result.ok:
        raise ReportProblems(report.attachment, result)
    return result


# Submission ------------------------------------------------------------------------------


def check_complete(application: Application) -> dict[str, str]:
    """Every problem that stops a draft from being submitted, by field."""
    spec = spec_of(application.service)
    errors = forms.validate(spec.form, application.data)
    have = {f.attachment for f in application.files}
    for attachment in spec.attachments:
        if attachment.required and attachment.code not in have:
            errors[_field(attachment.code)] = "attach this file"
    return errors


def acting_as(user: User, choice: Any, spec: catalogue.ServiceSpec) -> Any:
    """Whom the applicant applies for (``"person"`` or ``"organisation:<id>"``), if the
    service accepts it; ``ValidationError`` naming ``acting_for`` otherwise."""
    from edms.applicants import services as applicants

    acting = applicants.acting_for(user, choice)
    if acting.kind not in spec.applicants:
        allowed = " or ".join(
            {"organisation": "an organisation", "person": "a person"}[k] for k in spec.applicants
        )
        raise ValidationError({"acting_for": f"this service is for {allowed}"})
    return acting


def _summary_docx(application: Application, spec: catalogue.ServiceSpec, applicant: str) -> bytes:
    """The registered document's file: the application as a person reads it."""
    lang = current_app.config["EDMS"]["default_locale"]
    document = docx.Document()
    document.add_heading(catalogue.text(spec.name, lang), level=1)
    document.add_paragraph(f"{application.tracking_number} · {applicant}")
    table = document.add_table(rows=0, cols=2)
    for item in forms.fields(spec.form, lang, application.data):
        cells = table.add_row().cells
        cells[0].text = item.label
        cells[1].text = item.display
    if application.files:
        document.add_heading("Attachments", level=2)
        for row in application.files:
            document.add_paragraph(f"{row.original_filename} ({row.media_type}, {row.size} bytes)")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def submit(user: User, application: Application, acting_for: Any) -> Application:
    """Submit a draft (see the module docstring); ``ValidationError`` with every problem."""
    application = get_own(user, application.id)
    _require_draft(application)
    spec = spec_of(application.service)
    if not application.service.active:
        raise Conflict("This service is no longer offered.")
    errors = check_complete(application)
    acting = None
    try:
        acting = acting_as(user, acting_for, spec)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    if spec.report is not None:
        for row in application.files:
            if row.attachment == spec.report.attachment:
                _check_report(spec, row, application.data)
    if acting is None:  # pragma: no cover - acting_as raised and errors is not empty
        raise ValidationError({"acting_for": "choose whom you apply for"})
    clerk = portal_user()
    application.tracking_number = new_tracking_number()
    application.organisation_id = acting.organisation_id
    now = utcnow()
    name = acting.label
    summary = _summary_docx(application, spec, name)
    raw: dict[str, Any] = {
        "title": f"{catalogue.text(spec.name, 'en')}: {name}"[:500],
        "journal": spec.journal,
        "department": spec.department,
        "document_type": spec.document_type,
        "correspondent_kind": acting.kind,
        "correspondent_name": name[:300],
        "summary": f"Application {application.tracking_number} through the single-window portal.",
    }
    if acting.kind == "organisation":
        raw["correspondent_tin"] = acting.identifier
    else:
        raw["correspondent_pinfl"] = acting.identifier
    doc = documents.register(
        clerk,
        raw,
        documents.Upload(f"{application.tracking_number}.docx", io.BytesIO(summary)),
    )
    application = get_own(user, application.id)
    if spec.report is not None:
        # The accepted report becomes the document's current version: kept with the
        # registered document, and its text is what search indexes.
        report = next(f for f in application.files if f.attachment == spec.report.attachment)
        with open_file(report) as stream:
            documents.add_version(
                clerk,
                doc,
                documents.Upload(report.original_filename, stream),
                "Accepted statistical report",
            )
    application.document_id = doc.id
    application.status = ApplicationStatus.SUBMITTED
    application.submitted_at = now
    application.due_on = add_working_days(now.date(), spec.term_days)
    _event(application, "submitted", registration_number=doc.registration_number)
    routing.start(clerk, doc, spec.workflow, now)
    audit.record(
        "application.submit",
        "application",
        application.id,
        {
            "service": spec.code,
            "version": application.service.version,
            "tracking_number": application.tracking_number,
            "document": str(doc.id),
            "acting_as": acting.kind,
        },
        actor=user,
    )
    _tell_applicant(
        application,
        "application.submitted",
        lambda: _("Application %(number)s received", number=application.tracking_number),
        lambda: _(
            "Your application %(number)s for “%(service)s” was received and registered. "
            "The legal term ends on %(due)s. You can follow it on the portal.",
            number=application.tracking_number,
            service=catalogue.text(spec.name, _lang()),
            due=application.due_on.isoformat() if application.due_on else "",
        ),
    )
    logger.info("application %s submitted (service %s)", application.id, spec.code)
    return application


def _lang() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale.language) if locale is not None else "uz"


def _status_link(application: Application) -> str | None:
    if not application.tracking_number:
        return None
    return f"/portal/applications/{application.tracking_number}"


def _tell_applicant(application: Application, kind: str, subject: Any, body: Any) -> None:
    """An in-app notification and an e-mail (after commit) in the applicant's language."""
    from edms.notifications import services as notifications

    user = application.applicant
    with notifications.recipient_locale(user):
        notifications.notify(user, kind, subject(), body(), link=_status_link(application))


# Status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """What the status page and the API show."""

    application: Application
    service_name: dict[str, str]
    status: str
    current_step: dict[str, str] | None
    due_on: date | None
    events: list[ApplicationEvent]
    open_request: InformationRequest | None
    decision_code: str | None


def status_of(application: Application) -> Status:
    step = None
    if application.document is not None and application.status == ApplicationStatus.SUBMITTED:
        instance = routing.current_instance(application.document)
        if instance is not None:
            state = routing.state_of(instance)
            definition = routing.parse(instance.definition)
            stage = next((st for st in definition.stages if st.id == state.stage_id), None)
            if stage is not None and not state.finished:
                step = dict(stage.name)
    open_request = next((r for r in application.requests if r.answered_at is None), None)
    decision = application.decision_document
    return Status(
        application=application,
        service_name=dict(application.service.name),
        status=application.status,
        current_step=step,
        due_on=application.due_on,
        events=list(application.events),
        open_request=open_request,
        decision_code=decision.verification_code if decision is not None else None,
    )


# Information requests ---------------------------------------------------------------------


def application_of_document(doc: Document) -> Application | None:
    return db.session.scalar(select(Application).where(Application.document_id == doc.id))


def request_information(staff: User, doc: Document, message: Any) -> InformationRequest:
    """Ask the applicant of the application registered as ``doc`` for more information."""
    documents.require_staff(staff)
    doc = documents.get_document(staff, doc.id)
    if not assigned(staff, doc):  # those who act on its route, or may edit it
        documents.require_edit(staff, doc)
    application = application_of_document(doc)
    if application is None:
        raise NotFound("This document is not an application of the portal.")
    if application.status != ApplicationStatus.SUBMITTED:
        raise Conflict("Only an application under review can be asked for more information.")
    text = message.strip() if isinstance(message, str) else ""
    problem = text_problem(text, MAX_MESSAGE) if text else "write what the applicant must add"
    if problem:
        raise ValidationError({"message": problem})
    spec = spec_of(application.service)
    rules = spec.information_requests
    today = documents.today()
    request = InformationRequest(
        application=application,
        asked_by_id=staff.id,
        message=text,
        answer_due_on=add_working_days(today, rules.answer_days),
        clock=rules.clock,
    )
    db.session.add(request)
    application.status = ApplicationStatus.INFORMATION_REQUESTED
    db.session.flush()
    _event(application, "information_requested", request=request.id)
    audit.record(
        "application.information_requested",
        "application",
        application.id,
        {"request": request.id, "clock": rules.clock},
        actor=staff,
    )
    _tell_applicant(
        application,
        "application.information_requested",
        lambda: _("More information needed for %(number)s", number=application.tracking_number),
        lambda: _(
            "Please answer by %(due)s on the portal: %(message)s",
            due=request.answer_due_on.isoformat(),
            message=text,
        ),
    )
    return request


def assigned(user: User, doc: Document) -> bool:
    """Whether the user has (or had) a task on the document's route."""
    from edms.routing.models import Task, WorkflowInstance

    return (
        db.session.scalar(
            select(Task.id)
            .join(WorkflowInstance, Task.instance_id == WorkflowInstance.id)
            .where(WorkflowInstance.document_id == doc.id, Task.assignee_id == user.id)
            .limit(1)
        )
        is not None
    )


def answer(
    user: User,
    application: Application,
    text: Any,
    uploads: Sequence[documents.Upload] = (),
) -> InformationRequest:
    """The applicant's answer to the open request: text and/or files, once."""
    application = get_own(user, application.id)
    request = next((r for r in application.requests if r.answered_at is None), None)
    if request is None or application.status != ApplicationStatus.INFORMATION_REQUESTED:
        raise Conflict("Nothing has been asked of this application.")
    body = text.strip() if isinstance(text, str) else ""
    problem = text_problem(body, MAX_ANSWER) if body else None
    if problem:
        raise ValidationError({"answer": problem})
    uploads = [u for u in uploads if u.filename]
    if not body and not uploads:
        raise ValidationError({"answer": "write an answer or attach a file"})
    request_id = request.id
    end_read_only_transaction()
    stored = [
        store_file(u, f"files.{i}", (), int(current_app.config["EDMS"]["max_upload_mb"]))
        for i, u in enumerate(uploads)
    ]
    application = get_own(user, application.id)
    request = next(r for r in application.requests if r.id == request_id)
    if request.answered_at is not None:
        raise Conflict("This request has been answered already.")
    for file in stored:
        _record_file(application, file, request=request)
    now = utcnow()
    request.answered_at = now
    request.answer_text = body
    waited = calendar().working_days_between(request.asked_at.date(), now.date())
    if application.due_on is not None:
        if request.clock == "pause":
            application.paused_days += waited
            application.due_on = add_working_days(application.due_on, waited)
        elif request.clock == "restart":
            application.due_on = add_working_days(
                now.date(), spec_of(application.service).term_days
            )
    application.status = ApplicationStatus.SUBMITTED
    _event(application, "answered", request=request.id, files=len(stored))
    audit.record(
        "application.answered",
        "application",
        application.id,
        {"request": request.id, "files": len(stored)},
        actor=user,
    )
    if application.document is not None:
        from edms.notifications import services as notifications

        asker = request.asked_by
        if asker is not None:
            notifications.notify(
                asker,
                "application.answered",
                f"The applicant answered on {application.document.registration_number}",
                body[:500],
                link=f"/documents/{application.document.id}",
            )
    return request


# Decisions ----------------------------------------------------------------------------------


def route_finished(doc: Document, status: str) -> None:
    """Hook of ``edms.routing``: the route of ``doc`` ended with ``status``."""
    application = application_of_document(doc)
    if application is None or application.status in CLOSED_STATUSES:
        return
    if status == "cancelled":
        return
    application.status = ApplicationStatus.DECIDING
    _event(application, "route_finished", outcome="granted" if status == "approved" else "refused")
    db.session.flush()


def decisions_pending() -> list[uuid.UUID]:
    return list(
        db.session.scalars(
            select(Application.id).where(Application.status == ApplicationStatus.DECIDING)
        )
    )


def _outcome(application: Application) -> str:
    for event in reversed(application.events):
        if event.kind == "route_finished":
            return str(event.details.get("outcome", "refused"))
    return "refused"


def _decision_body(application: Application, spec: catalogue.ServiceSpec, granted: bool) -> str:
    lang = current_app.config["EDMS"]["default_locale"]
    with force_locale(lang):
        service = catalogue.text(spec.name, lang)
        if granted:
            head = _(
                "The application %(number)s of %(date)s (“%(service)s”) is granted.",
                number=application.tracking_number,
                date=application.submitted_at.date().isoformat()
                if application.submitted_at
                else "",
                service=service,
            )
        else:
            head = _(
                "The application %(number)s of %(date)s (“%(service)s”) is refused.",
                number=application.tracking_number,
                date=application.submitted_at.date().isoformat()
                if application.submitted_at
                else "",
                service=service,
            )
        lines = [head]
        for item in forms.fields(spec.form, lang, application.data):
            if item.display:
                lines.append(f"{item.label}: {item.display}")
    return "\n".join(lines)


def make_decision(application_id: uuid.UUID) -> Application:
    """Write, register and seal the decision of an application whose route finished."""
    from edms.drafting import services as drafting
    from edms.signing import services as esign

    application = db.session.get(Application, application_id)
    if application is None or application.status != ApplicationStatus.DECIDING:
        raise Conflict("This application is not waiting for its decision.")
    spec = spec_of(application.service)
    granted = _outcome(application) == "granted"
    template = spec.decision.template if granted else spec.decision.refusal_template
    clerk = portal_user()
    source = application.document
    if source is None:
        raise Conflict("This application was never registered.")
    name = source.correspondent_name or application.applicant.display_name
    raw = {
        "title": (
            f"Decision on {application.tracking_number}: "
            f"{'granted' if granted else 'refused'} ({catalogue.text(spec.name, 'en')})"
        )[:500],
        "journal": current_app.config["EDMS"]["portal_decision_journal"],
        "department": spec.department,
        "document_type": "decision",
        "correspondent_kind": source.correspondent_kind,
        "correspondent_name": name,
        "correspondent_tin": source.correspondent_tin,
        "correspondent_pinfl": source.correspondent_pinfl,
        "reply_to": source.registration_number,
    }
    # Register first with the filled DOCX (the number and date go into the text), then
    # turn it into PDF/A and seal it.
    placeholder = documents.Upload(
        "decision.docx", io.BytesIO(_summary_docx(application, spec, name))
    )
    decision = documents.register(clerk, raw, placeholder)
    body = _decision_body(application, spec, granted)
    extra = _template_extra(template, application, spec, source, body.split("\n", 1)[0])
    drafting.generate(clerk, decision, template, body, extra)
    drafting.pdf_version(clerk, decision)
    esign.seal_document(clerk, decision)
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound("There is no such application.")
    application.decision_document_id = decision.id
    application.status = ApplicationStatus.GRANTED if granted else ApplicationStatus.REFUSED
    application.decided_at = utcnow()
    _event(
        application,
        "decided",
        outcome="granted" if granted else "refused",
        registration_number=decision.registration_number,
    )
    audit.record(
        "application.decided",
        "application",
        application.id,
        {"outcome": "granted" if granted else "refused", "decision": str(decision.id)},
        actor=clerk,
    )
    _tell_applicant(
        application,
        "application.decided",
        lambda: _("Decision on application %(number)s", number=application.tracking_number),
        lambda: _(
            "The decision on your application %(number)s is ready; download it from the "
            "portal. Its verification code is %(code)s.",
            number=application.tracking_number,
            code=decision.verification_code or "",
        ),
    )
    return application


def _template_extra(
    template: str,
    application: Application,
    spec: catalogue.ServiceSpec,
    source: Document,
    head: str,
) -> dict[str, str]:
    """Values for the fields the template asks for besides the document's own.

    ``applicant.*``/``person.*``/``addressee.*``: the applicant as registered;
    ``<kind>.activity``: the form's ``activity`` (or else its first choice field) as the
    applicant saw it; ``<kind>.valid_until``: the decision date plus the form's
    ``months``, else "indefinite"; ``decision.text``: the decision's first sentence;
    any other ``x.key``: the form field ``key``, as shown to the applicant."""
    from edms.drafting import services as drafting

    lang = current_app.config["EDMS"]["default_locale"]
    shown = {f.name: f.display for f in forms.fields(spec.form, lang, application.data)}
    choices = [f.name for f in forms.fields(spec.form, lang) if f.kind == "select"]
    activity = shown.get("activity") or (shown.get(choices[0], "") if choices else "")
    name = source.correspondent_name or application.applicant.display_name
    identifier = source.correspondent_tin or source.correspondent_pinfl or ""
    months = application.data.get("months")
    with force_locale(lang):
        if isinstance(months, int) and months > 0:
            valid_until = _plus_months(documents.today(), months).isoformat()
        else:
            valid_until = _("indefinite")
    known = {
        "name": name,
        "tin": identifier,
        "address": str(application.data.get("address", "")),
        "activity": activity,
        "valid_until": valid_until,
        "text": head,
        "number": application.tracking_number or "",
    }
    extra: dict[str, str] = {}
    for asked in drafting.asked_fields(template):
        key = asked.split(".", 1)[-1]
        value = known.get(key) if key in known else shown.get(key, "")
        extra[asked] = value or "—"
    return extra


def _plus_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - day 28 exists in every month


def decision_version(user: User, application: Application) -> DocumentVersion:
    """The signed decision's file, for its applicant."""
    application = get_own(user, application.id)
    decision = application.decision_document
    if decision is None:
        raise NotFound("There is no decision on this application yet.")
    return documents.get_version(decision)


def _decisions_job(now: datetime) -> None:
    for application_id in decisions_pending():
        try:
            make_decision(application_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            logger.exception("decision on application %s failed; retried later", application_id)


register_job(DECISIONS_JOB, JOB_EVERY, _decisions_job)
if route_finished not in routing.FINISH_HOOKS:
    routing.FINISH_HOOKS.append(route_finished)


def links_of(application: Application) -> list[tuple[str, Document]]:
    out: list[tuple[str, Document]] = []
    if application.document is not None:
        out.append(("application", application.document))
    if application.decision_document is not None:
        out.append(("decision", application.decision_document))
    return out


__all__ = [
    "CatalogueInvalid",
    "ReportProblems",
    "Status",
    "add_attachment",
    "answer",
    "check_complete",
    "decision_version",
    "get_own",
    "get_service",
    "list_own",
    "list_services",
    "make_decision",
    "new_application",
    "new_service_version",
    "remove_attachment",
    "request_information",
    "route_finished",
    "save_draft",
    "set_service_active",
    "spec_of",
    "status_of",
    "submit",
    "sync_services",
]
