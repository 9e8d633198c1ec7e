"""Registering documents, their files and metadata; who may see and change them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, BinaryIO
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, func, or_, select, true

import storage
from edms.audit import services as audit
from edms.audit.models import AuditEvent
from edms.auth.models import Department, Role, User
from edms.auth.services import subtree_ids
from edms.blobs import services as blobs
from edms.blobs.services import get_store
from edms.db import db, end_read_only_transaction, on_abort
from edms.documents.models import (
    LANGUAGES,
    AccessReason,
    Confidentiality,
    CorrespondentKind,
    Document,
    DocumentAccess,
    DocumentComment,
    DocumentLink,
    DocumentVersion,
    LinkKind,
    Status,
)
from edms.documents.sniff import SNIFF_BYTES, sniff
from edms.errors import NotFound, PermissionDenied, ValidationError, from_storage_error
from edms.registry import services as registry
from edms.registry.models import DocumentType, Journal
from edms.validators import (
    clean_filename,
    filename_problem,
    pinfl_problem,
    text_problem,
    tin_problem,
)

logger = logging.getLogger(__name__)

DEFAULT_DOCUMENT_TYPE = "general"
EDITABLE_FIELDS = (
    "title",
    "document_type",
    "correspondent_kind",
    "correspondent_name",
    "correspondent_tin",
    "correspondent_pinfl",
    "summary",
    "language",
    "confidentiality",
)
# Personal identifiers: audited as "changed", never with their values.
PERSONAL_FIELDS = frozenset({"correspondent_tin", "correspondent_pinfl"})


def today() -> date:
    return datetime.now(ZoneInfo(current_app.config["EDMS"]["default_timezone"])).date()


# Visibility ------------------------------------------------------------------


def visible_clause(user: User) -> ColumnElement[bool]:
    """Documents of the user's department subtree, shared with or assigned to them."""
    if user.sees_everything:
        return true()
    granted = select(DocumentAccess.document_id).where(DocumentAccess.user_id == user.id)
    if user.department_id is None:
        return Document.id.in_(granted)
    return or_(
        Document.department_id.in_(subtree_ids(user.department_id)), Document.id.in_(granted)
    )


def require_staff(user: User) -> None:
    if not user.is_staff:
        raise PermissionDenied("The registry is open to staff only.")


def get_document(user: User, document_id: uuid.UUID | str) -> Document:
    """The document if the user may see it; 404 otherwise, whether it exists or not."""
    require_staff(user)
    try:
        doc_id = document_id if isinstance(document_id, uuid.UUID) else uuid.UUID(document_id)
    except ValueError:
        raise NotFound("No such document.") from None
    doc = db.session.scalar(select(Document).where(Document.id == doc_id, visible_clause(user)))
    if doc is None:
        if db.session.scalar(select(Document.id).where(Document.id == doc_id)) is not None:
            audit.record_denied("document", doc_id, actor=user)
        raise NotFound("No such document.")
    return doc


def can_edit(user: User, doc: Document) -> bool:
    """Admins, and clerks of the owning department's subtree, may change a document."""
    if user.has_role(Role.ADMIN):
        return True
    if not user.has_role(Role.CLERK) or user.department_id is None:
        return False
    return doc.department_id in set(db.session.scalars(subtree_ids(user.department_id)))


def require_edit(user: User, doc: Document) -> None:
    if not can_edit(user, doc):
        raise PermissionDenied(
            "You may read this document but not change it.",
            object_type="document",
            object_id=doc.id,
        )


def can_register(user: User) -> bool:
    return user.has_role(Role.ADMIN, Role.CLERK)


# Metadata --------------------------------------------------------------------


def _text(raw: Mapping[str, Any], field: str, max_length: int, errors: dict[str, str]) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = "must be text"
        return ""
    value = value.strip()
    problem = text_problem(value, max_length)
    if problem:
        errors[field] = problem
    return value


def _choice(
    raw: Mapping[str, Any],
    field: str,
    choices: tuple[str, ...],
    default: str | None,
    errors: dict[str, str],
) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return default
    if value not in choices:
        errors[field] = f"must be one of {', '.join(choices)}"
        return default
    return str(value)


def _clean_metadata(
    raw: Mapping[str, Any], errors: dict[str, str], *, partial: bool
) -> dict[str, Any]:
    """Validate the editable fields; with ``partial`` only those present in ``raw``."""
    out: dict[str, Any] = {}
    present = (lambda f: f in raw) if partial else (lambda f: True)
    if present("title"):
        title = _text(raw, "title", 500, errors)
        if not title and "title" not in errors:
            errors["title"] = "is required"
        out["title"] = title
    if present("document_type"):
        code = raw.get("document_type") or (None if partial else DEFAULT_DOCUMENT_TYPE)
        if code is not None:
            try:
                out["document_type"] = registry.get_document_type(str(code))
            except ValidationError as exc:
                errors.update(exc.errors)
    if present("summary"):
        out["summary"] = _text(raw, "summary", 10_000, errors)
    if present("language"):
        out["language"] = _choice(raw, "language", LANGUAGES, "uz", errors)
    if present("confidentiality"):
        out["confidentiality"] = _choice(
            raw,
            "confidentiality",
            tuple(c.value for c in Confidentiality),
            Confidentiality.INTERNAL.value,
            errors,
        )
    fields = (
        "correspondent_kind",
        "correspondent_name",
        "correspondent_tin",
        "correspondent_pinfl",
    )
    if any(present(f) for f in fields):
        out.update(_clean_correspondent(raw, errors))
    return out


def _clean_correspondent(raw: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    kinds = tuple(k.value for k in CorrespondentKind)
    name = _text(raw, "correspondent_name", 300, errors) or None
    tin = _text(raw, "correspondent_tin", 20, errors).replace(" ", "") or None
    pinfl = _text(raw, "correspondent_pinfl", 20, errors).replace(" ", "") or None
    kind = _choice(raw, "correspondent_kind", kinds, None, errors)
    if kind is None and (tin or pinfl or name):
        kind = CorrespondentKind.PERSON.value if pinfl else CorrespondentKind.ORGANISATION.value
    if tin and (problem := tin_problem(tin)):
        errors["correspondent_tin"] = problem
    if pinfl and (problem := pinfl_problem(pinfl)):
        errors["correspondent_pinfl"] = problem
    if kind == CorrespondentKind.ORGANISATION and pinfl:
        errors["correspondent_pinfl"] = "an organisation is identified by a TIN, not a PINFL"
    if kind == CorrespondentKind.PERSON and tin:
        errors["correspondent_tin"] = "a person is identified by a PINFL, not a TIN"
    if kind and not name:
        errors["correspondent_name"] = "is required when a correspondent is given"
    return {
        "correspondent_kind": kind,
        "correspondent_name": name,
        "correspondent_tin": tin,
        "correspondent_pinfl": pinfl,
    }


# Files -----------------------------------------------------------------------


@dataclass
class Upload:
    """A file as it arrives: the client's name for it and a stream of its bytes."""

    filename: str | None
    stream: IO[bytes]


class _Prepended:
    """A stream of ``head`` followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._stream.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)


def rewound(stream: IO[bytes], head: bytes, start: int | None) -> IO[bytes]:
    """``stream`` from its beginning after ``head`` was read from it: seeked back to
    ``start`` when it can be, else ``head`` followed by the rest."""
    if start is not None:
        stream.seek(start)
        return stream
    return _Prepended(head, stream)  # type: ignore[return-value]


def seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class StoredFile:
    filename: str
    media_type: str
    stored: storage.StoredObject


def _max_upload() -> int:
    return int(current_app.config["EDMS"]["max_upload_mb"]) * 1024 * 1024


def check_upload_name(upload: Upload | None) -> str:
    if upload is None:
        raise ValidationError({"file": "a file is required"})
    problem = filename_problem(upload.filename)
    if problem:
        raise ValidationError({"file": problem})
    return clean_filename(upload.filename or "")


def store_upload(upload: Upload) -> StoredFile:
    """Stream an upload into storage; if the transaction then fails, the new blob is removed."""
    filename = check_upload_name(upload)
    stream = upload.stream
    start = stream.tell() if seekable(stream) else None
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise ValidationError({"file": "the file is empty"})
    media_type = sniff(head, filename)
    stream = rewound(stream, head, start)  # a spooled upload: the file itself to storage
    store = get_store()
    try:
        stored = store.put(stream, size_limit=_max_upload())  # type: ignore[arg-type]
    except storage.StorageError as exc:
        raise from_storage_error(exc) from exc
    if stored.created:
        on_abort(lambda: blobs.discard_if_unreferenced(store, stored.key))
    return StoredFile(filename, media_type, stored)


def _new_version(doc: Document, user: User, file: StoredFile, comment: str = "") -> DocumentVersion:
    number = (
        db.session.scalar(
            select(func.max(DocumentVersion.number)).where(DocumentVersion.document_id == doc.id)
        )
        or 0
    ) + 1
    version = DocumentVersion(
        document_id=doc.id,
        number=number,
        original_filename=file.filename,
        media_type=file.media_type,
        size=file.stored.size,
        sha256=file.stored.sha256,
        storage_key=file.stored.key,
        author_id=user.id,
        comment=comment,
    )
    blobs.record(file.stored)
    db.session.add(version)
    db.session.flush()
    return version


# Registering -----------------------------------------------------------------


def _department_for(user: User, code: Any, errors: dict[str, str]) -> Department | None:
    if code in (None, ""):
        if user.department is None:
            errors["department"] = "is required (you belong to no department)"
        return user.department
    dept = db.session.scalar(select(Department).where(Department.code == str(code).upper()))
    allowed = dept is not None and (
        user.has_role(Role.ADMIN)
        or (
            user.department_id is not None
            and dept.id in set(db.session.scalars(subtree_ids(user.department_id)))
        )
    )
    if not allowed:
        errors["department"] = "unknown department, or not one you may register for"
        return None
    return dept


def _reply_to(user: User, number: Any, errors: dict[str, str]) -> Document | None:
    if number in (None, ""):
        return None
    doc = db.session.scalar(
        select(Document).where(
            Document.registration_number == str(number).strip(), visible_clause(user)
        )
    )
    if doc is None:
        errors["reply_to"] = "no document with this registration number"
    return doc


def validate_registration(user: User, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check everything about a registration except the file; raise with every problem found."""
    require_staff(user)
    if not can_register(user):
        raise PermissionDenied("Only clerks and administrators register documents.")
    errors: dict[str, str] = {}
    values = _clean_metadata(raw, errors, partial=False)
    journal: Journal | None = None
    if not raw.get("journal"):
        errors["journal"] = "is required"
    else:
        try:
            journal = registry.get_journal(str(raw["journal"]))
        except ValidationError as exc:
            errors.update(exc.errors)
    values["journal"] = journal
    values["department"] = _department_for(user, raw.get("department"), errors)
    values["reply_to"] = _reply_to(user, raw.get("reply_to"), errors)
    if errors:
        raise ValidationError(errors)
    return values


def register(user: User, raw: Mapping[str, Any], upload: Upload | None) -> Document:
    """Register a document with its first file, numbered in its journal."""
    # Every problem at once: the metadata's and the file name's.
    file_errors: dict[str, str] = {}
    try:
        check_upload_name(upload)
    except ValidationError as exc:
        file_errors = exc.errors
    try:
        values = validate_registration(user, raw)
    except ValidationError as exc:
        raise ValidationError({**exc.errors, **file_errors}) from None
    if file_errors or upload is None:
        raise ValidationError(file_errors)
    end_read_only_transaction()  # no database lock while the file streams in
    file = store_upload(upload)
    journal: Journal = values.pop("journal")
    reply_to: Document | None = values.pop("reply_to")
    doc_type: DocumentType = values.pop("document_type")
    reg_date = today()
    number = registry.next_number(journal, reg_date.year)
    doc = Document(
        journal=journal,
        document_type=doc_type,
        direction=journal.direction,
        registration_date=reg_date,
        sequence_year=reg_date.year,
        sequence_number=number,
        registration_number=journal.format_number(reg_date.year, number),
        status=Status.REGISTERED.value,
        created_by_id=user.id,
        **values,
    )
    db.session.add(doc)
    db.session.flush()
    version = _new_version(doc, user, file)
    if reply_to is not None:
        db.session.add(
            DocumentLink(
                from_document_id=doc.id,
                to_document_id=reply_to.id,
                kind=LinkKind.REPLY_TO.value,
                created_by_id=user.id,
            )
        )
        db.session.flush()
    audit.record(
        "document.register",
        "document",
        doc.id,
        {
            "registration_number": doc.registration_number,
            "journal": journal.code,
            "version": version.number,
            "sha256": version.sha256,
            "size": version.size,
        },
        actor=user,
    )
    return doc


def add_version(
    user: User, doc: Document, upload: Upload | None, comment: str = ""
) -> DocumentVersion:
    require_edit(user, doc)
    problem = text_problem(comment.strip(), 500)
    if problem:
        raise ValidationError({"comment": problem})
    if upload is None:
        raise ValidationError({"file": "a file is required"})
    end_read_only_transaction()  # no database lock while the file streams in
    file = store_upload(upload)
    version = _new_version(doc, user, file, comment.strip())
    doc.updated_at = version.created_at
    audit.record(
        "document.version_add",
        "document",
        doc.id,
        {"version": version.number, "sha256": version.sha256, "size": version.size},
        actor=user,
    )
    return version


def add_derived_version(
    user: User, doc: Document, upload: Upload, comment: str = ""
) -> DocumentVersion:
    """Store a version the application made from the current one (a signed PDF).

    No edit right is checked: the caller decided that ``user`` may do what made the
    file (sign it), and records its own audit event.
    """
    file = store_upload(upload)
    version = _new_version(doc, user, file, comment[:500])
    doc.updated_at = version.created_at
    return version


def update_metadata(user: User, doc: Document, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Change the editable fields present in ``raw``; return what changed (audited)."""
    require_edit(user, doc)
    unknown = set(raw) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "cannot be changed"))
    errors: dict[str, str] = {}
    merged = {f: getattr(doc, f) for f in EDITABLE_FIELDS if f.startswith("correspondent_")}
    merged.update(raw)
    values = _clean_metadata(
        merged if any(f.startswith("correspondent_") for f in raw) else raw, errors, partial=True
    )
    if errors:
        raise ValidationError(errors)
    changes: dict[str, Any] = {}
    for field, new in values.items():
        attr = "document_type" if field == "document_type" else field
        old = getattr(doc, attr)
        if old == new:
            continue
        if field in PERSONAL_FIELDS:
            changes[field] = "changed"
        elif field == "document_type":
            changes[field] = {"old": old.code, "new": new.code}
        else:
            changes[field] = {"old": old, "new": new}
        setattr(doc, attr, new)
    if changes:
        db.session.flush()
        audit.record("document.update", "document", doc.id, {"changes": changes}, actor=user)
    return changes


def add_comment(user: User, doc: Document, body: str) -> DocumentComment:
    body = body.strip()
    if not body:
        raise ValidationError({"body": "is required"})
    problem = text_problem(body, 5000)
    if problem:
        raise ValidationError({"body": problem})
    comment = DocumentComment(document_id=doc.id, author_id=user.id, body=body)
    db.session.add(comment)
    db.session.flush()
    audit.record("document.comment", "document", doc.id, {"comment": comment.id}, actor=user)
    return comment


def grant_access(user: User, doc: Document, grantee: User, reason: AccessReason) -> DocumentAccess:
    """Let ``grantee`` see the document (shared by a clerk, or assigned a task on it)."""
    if reason == AccessReason.SHARED:
        require_edit(user, doc)
    existing = db.session.scalar(
        select(DocumentAccess).where(
            DocumentAccess.document_id == doc.id,
            DocumentAccess.user_id == grantee.id,
            DocumentAccess.reason == reason.value,
        )
    )
    if existing is not None:
        return existing
    access = DocumentAccess(
        document_id=doc.id, user_id=grantee.id, reason=reason.value, granted_by_id=user.id
    )
    db.session.add(access)
    db.session.flush()
    audit.record(
        "document.access_grant",
        "document",
        doc.id,
        {"user": grantee.username, "reason": reason.value},
        actor=user,
    )
    return access


# Reading ---------------------------------------------------------------------


def get_version(doc: Document, number: int | None = None) -> DocumentVersion:
    query = select(DocumentVersion).where(DocumentVersion.document_id == doc.id)
    if number is None:
        query = query.order_by(DocumentVersion.number.desc()).limit(1)
    else:
        query = query.where(DocumentVersion.number == number)
    version = db.session.scalar(query)
    if version is None:
        raise NotFound("No such version.")
    return version


def open_version(version: DocumentVersion) -> BinaryIO:
    try:
        return get_store().open(version.storage_key)
    except storage.StorageError as exc:
        raise from_storage_error(exc) from exc


MAX_LINK_MINUTES = 24 * 60


def download_link(
    user: User, doc: Document, version: DocumentVersion, minutes: int = 15
) -> tuple[str, datetime]:
    """A link that downloads the version without logging in, for ``minutes`` (audited).

    Presigned by S3, or signed by the application for the other backends.
    """
    if not 1 <= minutes <= MAX_LINK_MINUTES:
        raise ValidationError({"minutes": f"must be from 1 to {MAX_LINK_MINUTES}"})
    expires = timedelta(minutes=minutes)
    try:
        url = get_store().url(
            version.storage_key,
            expires=expires,
            filename=version.original_filename,
            content_type=version.media_type,
        )
    except storage.StorageError as exc:
        raise from_storage_error(exc) from exc
    audit.record(
        "document.link",
        "document",
        doc.id,
        {"version": version.number, "minutes": minutes},
        actor=user,
    )
    return url, datetime.now(UTC) + expires


def history(doc: Document) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "document", AuditEvent.object_id == str(doc.id))
            .order_by(AuditEvent.id)
        )
    )


def links(user: User, doc: Document) -> list[tuple[str, Document]]:
    """Links from and to the document, only to documents the user may see."""
    out: list[tuple[str, Document]] = []
    rows = db.session.execute(
        select(DocumentLink.kind, Document)
        .join(Document, Document.id == DocumentLink.to_document_id)
        .where(DocumentLink.from_document_id == doc.id, visible_clause(user))
    )
    out.extend((kind, other) for kind, other in rows)
    rows = db.session.execute(
        select(DocumentLink.kind, Document)
        .join(Document, Document.id == DocumentLink.from_document_id)
        .where(DocumentLink.to_document_id == doc.id, visible_clause(user))
    )
    out.extend((f"{kind}_of", other) for kind, other in rows)
    return out


# Listing ---------------------------------------------------------------------

SORTS = {
    "registration_date": Document.registration_date,
    "registered_at": Document.created_at,
    "title": Document.title,
    "registration_number": Document.registration_number,
    "updated_at": Document.updated_at,
}


@dataclass
class Page:
    items: list[Document]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _date(raw: Mapping[str, Any], field: str, errors: dict[str, str]) -> date | None:
    value = raw.get(field)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[field] = "must be a date like 2026-01-31"
        return None


def _int(raw: Mapping[str, Any], field: str, default: int, errors: dict[str, str]) -> int:
    value = raw.get(field)
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        errors[field] = "must be a whole number"
        return default
    if number < 1:
        errors[field] = "must be 1 or more"
        return default
    return number


def list_documents(user: User, raw: Mapping[str, Any]) -> Page:
    """Filter, sort and page the documents the user may see.

    Filters: ``journal``, ``document_type``, ``direction``, ``department``,
    ``status`` (codes), ``date_from``/``date_to`` (registration date),
    ``number`` and ``q`` (contained in the registration number / title).
    ``sort`` is a field of ``SORTS``, prefixed with ``-`` for descending.
    """
    require_staff(user)
    settings = current_app.config["EDMS"]
    errors: dict[str, str] = {}
    query = select(Document).where(visible_clause(user))
    if raw.get("journal"):
        query = query.join(Journal, Journal.id == Document.journal_id).where(
            Journal.code == str(raw["journal"]).upper()
        )
    if raw.get("document_type"):
        query = query.join(DocumentType, DocumentType.id == Document.document_type_id).where(
            DocumentType.code == str(raw["document_type"])
        )
    if raw.get("department"):
        query = query.join(Department, Department.id == Document.department_id).where(
            Department.code == str(raw["department"]).upper()
        )
    direction = _choice(raw, "direction", ("incoming", "outgoing", "internal"), None, errors)
    if direction:
        query = query.where(Document.direction == direction)
    status = _choice(raw, "status", tuple(s.value for s in Status), None, errors)
    if status:
        query = query.where(Document.status == status)
    date_from = _date(raw, "date_from", errors)
    date_to = _date(raw, "date_to", errors)
    if date_from:
        query = query.where(Document.registration_date >= date_from)
    if date_to:
        query = query.where(Document.registration_date <= date_to)
    if raw.get("number"):
        query = query.where(
            Document.registration_number.ilike(_like(str(raw["number"]).strip()), escape="\\")
        )
    if raw.get("q"):
        text = str(raw["q"]).strip()[:200]
        query = query.where(
            or_(
                Document.title.ilike(_like(text), escape="\\"),
                Document.registration_number.ilike(_like(text), escape="\\"),
            )
        )
    sort = str(raw.get("sort") or "-registration_date")
    key = sort.lstrip("-")
    if key not in SORTS:
        errors["sort"] = f"must be one of {', '.join(SORTS)} (prefix - for descending)"
        key, sort = "registration_date", "-registration_date"
    page = _int(raw, "page", 1, errors)
    per_page = _int(raw, "per_page", settings["page_size"], errors)
    if per_page > settings["max_page_size"]:
        errors["per_page"] = f"must be at most {settings['max_page_size']}"
    if errors:
        raise ValidationError(errors)
    column = SORTS[key]
    order = column.desc() if sort.startswith("-") else column.asc()
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(
        db.session.scalars(
            query.order_by(order, Document.sequence_number.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(items, total, page, per_page)
