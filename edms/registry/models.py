"""Journals (registration books), their yearly sequences and document types."""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import Department
from edms.db import Base, TimestampMixin


class Direction(enum.StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"
    INTERNAL = "internal"


class Journal(TimestampMixin, Base):
    __tablename__ = "journals"
    __table_args__ = (
        CheckConstraint("direction IN ('incoming', 'outgoing', 'internal')", name="direction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT")
    )
    is_active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department | None] = relationship()

    def format_number(self, year: int, value: int) -> str:
        return f"{self.prefix}-{year}/{value:06d}"

    def __repr__(self) -> str:
        return f"<Journal {self.code}>"


class JournalSequence(Base):
    """The last number given in a journal in a year; the row is locked to take the next."""

    __tablename__ = "journal_sequences"

    journal_id: Mapped[int] = mapped_column(
        ForeignKey("journals.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<JournalSequence {self.journal_id}/{self.year}={self.last_value}>"


class DocumentType(Base):
    __tablename__ = "document_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<DocumentType {self.code}>"
