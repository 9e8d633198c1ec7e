"""Stored files (blobs) as the database knows them, and their fixity checks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, utcnow


class FixityStatus(enum.StrEnum):
    OK = "ok"
    CHANGED = "changed"  # the bytes no longer hash to their key
    MISSING = "missing"  # the store has no object under the key
    UNREADABLE = "unreadable"  # the store failed while reading it


class Blob(Base):
    """One stored object, by its content address; documents' versions refer to it."""

    __tablename__ = "blobs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    checked_at: Mapped[datetime | None]
    check_status: Mapped[str | None] = mapped_column(String(16))

    def __repr__(self) -> str:
        return f"<Blob {self.key[:12]} {self.size} bytes {self.check_status or 'unchecked'}>"


class FixityCheck(Base):
    """One re-reading of one blob: kept as history, never changed."""

    __tablename__ = "fixity_checks"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    blob_key: Mapped[str] = mapped_column(ForeignKey("blobs.key", ondelete="CASCADE"), index=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    actual_sha256: Mapped[str | None] = mapped_column(String(64))
    actual_size: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(500), default="")

    def __repr__(self) -> str:
        return f"<FixityCheck {self.blob_key[:12]} {self.status}>"
