"""Documents, their versions (files), links, comments and explicit access grants."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import Department, User
from edms.db import Base, TimestampMixin, utcnow
from edms.registry.models import DocumentType, Journal


class Status(enum.StrEnum):
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ARCHIVED = "archived"
    CANCELLED = "cancelled"


class Confidentiality(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"


class CorrespondentKind(enum.StrEnum):
    ORGANISATION = "organisation"
    PERSON = "person"


LANGUAGES = ("uz", "uz-Cyrl", "ru", "en", "other")


class Document(TimestampMixin, Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("journal_id", "sequence_year", "sequence_number"),
        CheckConstraint(
            "status IN ('registered', 'in_progress', 'completed', 'archived', 'cancelled')",
            name="status",
        ),
        CheckConstraint(
            "confidentiality IN ('public', 'internal', 'confidential')", name="confidentiality"
        ),
        CheckConstraint("direction IN ('incoming', 'outgoing', 'internal')", name="direction"),
    )

    # Random ids in URLs, so nobody can count another body's documents.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(500))
    document_type_id: Mapped[int] = mapped_column(ForeignKey("document_types.id"), index=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("journals.id"), index=True)
    registration_number: Mapped[str] = mapped_column(String(64), unique=True)
    registration_date: Mapped[date] = mapped_column(index=True)
    sequence_year: Mapped[int]
    sequence_number: Mapped[int]
    direction: Mapped[str] = mapped_column(String(16), index=True)
    correspondent_kind: Mapped[str | None] = mapped_column(String(16))
    correspondent_name: Mapped[str | None] = mapped_column(String(300))
    correspondent_tin: Mapped[str | None] = mapped_column(String(9))
    correspondent_pinfl: Mapped[str | None] = mapped_column(String(14))
    summary: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="uz")
    confidentiality: Mapped[str] = mapped_column(String(16), default=Confidentiality.INTERNAL)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.REGISTERED, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Given at the first signature; printed on the stamps, looked up on the public /verify page.
    verification_code: Mapped[str | None] = mapped_column(String(16), unique=True)

    document_type: Mapped[DocumentType] = relationship(lazy="joined")
    journal: Mapped[Journal] = relationship(lazy="joined")
    department: Mapped[Department] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number"
    )
    comments: Mapped[list[DocumentComment]] = relationship(
        back_populates="document", order_by="DocumentComment.created_at"
    )

    def __repr__(self) -> str:
        return f"<Document {self.registration_number}>"


class DocumentVersion(Base):
    """One immutable file of a document; a new version never replaces an old one."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    original_filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<DocumentVersion {self.document_id} v{self.number}>"


class LinkKind(enum.StrEnum):
    REPLY_TO = "reply_to"
    RELATED = "related"


class DocumentLink(Base):
    __tablename__ = "document_links"
    __table_args__ = (
        UniqueConstraint("from_document_id", "to_document_id", "kind"),
        CheckConstraint("kind IN ('reply_to', 'related')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    to_document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    from_document: Mapped[Document] = relationship(foreign_keys=[from_document_id])
    to_document: Mapped[Document] = relationship(foreign_keys=[to_document_id])

    def __repr__(self) -> str:
        return f"<DocumentLink {self.from_document_id} {self.kind} {self.to_document_id}>"


class DocumentComment(Base):
    __tablename__ = "document_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship(back_populates="comments")
    author: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<DocumentComment {self.id} on {self.document_id}>"


class AccessReason(enum.StrEnum):
    SHARED = "shared"
    ASSIGNED = "assigned"


class DocumentAccess(Base):
    """A user outside the owning department who may see the document, and why."""

    __tablename__ = "document_access"
    __table_args__ = (
        UniqueConstraint("document_id", "user_id", "reason"),
        CheckConstraint("reason IN ('shared', 'assigned')", name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    def __repr__(self) -> str:
        return f"<DocumentAccess {self.user_id} {self.reason} {self.document_id}>"
