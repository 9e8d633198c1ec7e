"""What search keeps in the database: extracted text, the indexing queue, saved
searches, and the entries of the PostgreSQL backend."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from edms.db import Base, utcnow


class TsVector(TypeDecorator[str]):
    """``tsvector`` on PostgreSQL; plain text elsewhere (the PostgreSQL backend is only
    used on PostgreSQL, but the table exists everywhere so migrations stay one)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TSVECTOR())
        return dialect.type_descriptor(Text())


class DocumentText(Base):
    """The text extracted from a document's latest version: the body of its index entry
    and the source of search snippets (the index itself does not store it)."""

    __tablename__ = "document_texts"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("document_versions.id", ondelete="SET NULL")
    )
    #: ok, truncated, failed, unsupported or empty (see edms.search.extract)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    extracted_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<DocumentText {self.document_id} {self.status}>"


class SearchQueue(Base):
    """Documents whose index entry must be refreshed (or removed), written in the same
    transaction as the change; the single indexer drains it in id order."""

    __tablename__ = "search_queue"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    document_id: Mapped[uuid.UUID] = mapped_column(index=True)
    #: "index": refresh the entry (and its text when ``extract``); "delete": remove it
    action: Mapped[str] = mapped_column(String(8), default="index")
    extract: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<SearchQueue {self.id} {self.action} {self.document_id}>"


class SavedSearch(Base):
    """A search a user keeps under a name: the query string and its filters."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<SavedSearch {self.id} {self.name!r}>"


class SearchEntry(Base):
    """One document in the PostgreSQL search backend (``search_backend = "postgres"``).

    ``tsv`` holds the analysed title (weight A), registration number and correspondent
    (B) and body (D); ``access`` the principals allowed to see the document, as
    tsvector lexemes, so the permission filter is a GIN-indexed ``@@`` too.
    """

    __tablename__ = "search_entries"
    __table_args__ = (
        Index("ix_search_entries_tsv", "tsv", postgresql_using="gin"),
        Index("ix_search_entries_access", "access", postgresql_using="gin"),
    )

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    registration_number: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    journal: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    correspondent: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    registered_on: Mapped[date] = mapped_column(index=True)
    year: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    tsv: Mapped[str] = mapped_column(TsVector())
    access: Mapped[str] = mapped_column(TsVector())

    def __repr__(self) -> str:
        return f"<SearchEntry {self.document_id}>"
