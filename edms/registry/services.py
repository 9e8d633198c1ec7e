"""Journals, gapless yearly numbering and document types."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from edms.audit import services as audit
from edms.auth.services import CODE_RE, get_department
from edms.db import db, insert_ignoring_duplicates
from edms.errors import Conflict, NotFound, ValidationError
from edms.registry.models import Direction, DocumentType, Journal, JournalSequence

logger = logging.getLogger(__name__)


def list_journals(active_only: bool = True) -> list[Journal]:
    query = select(Journal).order_by(Journal.code)
    if active_only:
        query = query.where(Journal.is_active.is_(True))
    return list(db.session.scalars(query))


def get_journal(code: str, field: str = "journal") -> Journal:
    journal = db.session.scalar(select(Journal).where(Journal.code == code.strip().upper()))
    if journal is None or not journal.is_active:
        raise ValidationError({field: f"unknown journal {code!r}"})
    return journal


def create_journal(
    code: str, prefix: str, name: str, direction: str, department_code: str | None = None
) -> Journal:
    code = code.strip().upper()
    prefix = prefix.strip().upper()
    errors: dict[str, str] = {}
    if not CODE_RE.fullmatch(code):
        errors["code"] = "use 1-32 letters, digits, '-' or '_'"
    if not CODE_RE.fullmatch(prefix) or len(prefix) > 16:
        errors["prefix"] = "use 1-16 letters, digits, '-' or '_'"
    if direction not in {d.value for d in Direction}:
        errors["direction"] = "must be incoming, outgoing or internal"
    if not name.strip():
        errors["name"] = "is required"
    if errors:
        raise ValidationError(errors)
    if db.session.scalar(select(Journal.id).where(Journal.code == code)):
        raise Conflict(f"journal {code} already exists")
    department = get_department(department_code) if department_code else None
    journal = Journal(
        code=code, prefix=prefix, name=name.strip(), direction=direction, department=department
    )
    db.session.add(journal)
    db.session.flush()
    audit.record("journal.create", "journal", journal.id, {"code": code})
    return journal


def next_number(journal: Journal, year: int) -> int:
    """Take the next number of the journal's year inside the current transaction.

    The UPDATE locks the sequence row until the transaction ends, so concurrent
    registrations queue up and each gets its own consecutive number; a rolled
    back registration gives its number back, so the sequence has no gaps.
    """
    insert_ignoring_duplicates(JournalSequence, journal_id=journal.id, year=year, last_value=0)
    value = db.session.execute(
        update(JournalSequence)
        .where(JournalSequence.journal_id == journal.id, JournalSequence.year == year)
        .values(last_value=JournalSequence.last_value + 1)
        .returning(JournalSequence.last_value)
    ).scalar_one()
    return int(value)


def list_document_types() -> list[DocumentType]:
    return list(db.session.scalars(select(DocumentType).order_by(DocumentType.name)))


def get_document_type(code: str, field: str = "document_type") -> DocumentType:
    doc_type = db.session.scalar(select(DocumentType).where(DocumentType.code == code.strip()))
    if doc_type is None:
        raise ValidationError({field: f"unknown document type {code!r}"})
    return doc_type


def ensure_document_type(code: str, name: str) -> DocumentType:
    doc_type = db.session.scalar(select(DocumentType).where(DocumentType.code == code))
    if doc_type is None:
        doc_type = DocumentType(code=code, name=name)
        db.session.add(doc_type)
        db.session.flush()
    return doc_type


def get_journal_by_id(journal_id: int) -> Journal:
    journal = db.session.get(Journal, journal_id)
    if journal is None:
        raise NotFound("no such journal")
    return journal
