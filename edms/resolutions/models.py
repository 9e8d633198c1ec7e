"""Resolutions on documents, their executors' assignments, reports, extension requests,
and acquaintance lists ("have read" tasks).

A resolution is an executive's instruction on a document: text, a due date and
executors, exactly one of them responsible. Each executor's part is an
``Assignment``, a tracked task with its own due date (an approved extension
moves it). The resolution stays on control until the responsible executor's
report is accepted.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import Department, User
from edms.blobs import services as _blobs
from edms.db import Base, TimestampMixin, utcnow
from edms.documents.models import Document


class ResolutionStatus(enum.StrEnum):
    OPEN = "open"  # on control
    CLOSED = "closed"  # removed from control: the responsible executor's report was accepted
    CANCELLED = "cancelled"


class AssignmentStatus(enum.StrEnum):
    OPEN = "open"  # to do (again, after a returned report)
    REPORTED = "reported"  # a report waits for the author
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"


#: Assignments not done yet: they count as open, or as overdue once past their due date.
ACTIVE_STATUSES = (AssignmentStatus.OPEN.value, AssignmentStatus.REPORTED.value)


class ReportOutcome(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    RETURNED = "returned"


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


def _in(column: str, enum_type: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in enum_type)})"


class Resolution(TimestampMixin, Base):
    __tablename__ = "resolutions"
    __table_args__ = (CheckConstraint(_in("status", ResolutionStatus), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    # A sub-resolution, written by an executor of the parent to their subordinates.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("resolutions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    # The term set for the responsible executor (moved by an extension approved for them).
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=ResolutionStatus.OPEN, index=True)
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    document: Mapped[Document] = relationship()
    author: Mapped[User] = relationship(lazy="joined", foreign_keys=[author_id])
    parent: Mapped[Resolution | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Resolution]] = relationship(
        back_populates="parent", order_by="Resolution.id"
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="resolution",
        order_by="(Assignment.responsible.desc(), Assignment.id)",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    @property
    def responsible(self) -> Assignment | None:
        return next((a for a in self.assignments if a.responsible), None)

    @property
    def co_executors(self) -> list[Assignment]:
        return [a for a in self.assignments if not a.responsible]

    @property
    def is_open(self) -> bool:
        return self.status == ResolutionStatus.OPEN

    def __repr__(self) -> str:
        return f"<Resolution {self.id} {self.status} on {self.document_id}>"


class Assignment(TimestampMixin, Base):
    """One executor's part of a resolution: a tracked task."""

    __tablename__ = "resolution_assignments"
    __table_args__ = (
        UniqueConstraint("resolution_id", "executor_id"),
        CheckConstraint(_in("status", AssignmentStatus), name="status"),
        # "My assignments", and the reminder job's scan of what is still to do.
        Index("ix_resolution_assignments_executor", "executor_id", "status", "due_date"),
        Index("ix_resolution_assignments_due", "status", "due_date"),
        # The execution report: a department's assignments given in a date range.
        Index("ix_resolution_assignments_report", "executor_department_id", "assigned_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resolution_id: Mapped[int] = mapped_column(
        ForeignKey("resolutions.id", ondelete="CASCADE"), index=True
    )
    executor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The executor's department when the assignment was given: the report counts it there
    # even if the person moves on.
    executor_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    responsible: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.OPEN)
    due_date: Mapped[date]
    assigned_on: Mapped[date]
    # The day the accepted report was sent: on time if not after due_date.
    completed_on: Mapped[date | None]
    accepted_at: Mapped[datetime | None]
    # The due date a reminder / an overdue notice was sent for (a new due date, a new notice).
    reminded_for: Mapped[date | None]
    overdue_notified_for: Mapped[date | None]

    resolution: Mapped[Resolution] = relationship(back_populates="assignments")
    executor: Mapped[User] = relationship(lazy="joined", foreign_keys=[executor_id])
    executor_department: Mapped[Department | None] = relationship()
    reports: Mapped[list[AssignmentReport]] = relationship(
        back_populates="assignment", order_by="AssignmentReport.id", cascade="all, delete-orphan"
    )
    extensions: Mapped[list[ExtensionRequest]] = relationship(
        back_populates="assignment", order_by="ExtensionRequest.id", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_active and self.due_date < today

    @property
    def pending_report(self) -> AssignmentReport | None:
        return next((r for r in self.reports if r.outcome == ReportOutcome.PENDING), None)

    @property
    def last_report(self) -> AssignmentReport | None:
        return self.reports[-1] if self.reports else None

    @property
    def pending_extension(self) -> ExtensionRequest | None:
        return next((e for e in self.extensions if e.status == ExtensionStatus.PENDING), None)

    def __repr__(self) -> str:
        return f"<Assignment {self.id} of resolution {self.resolution_id} {self.status}>"


class AssignmentReport(Base):
    """What an executor reports, with an optional file; the author accepts or returns it."""

    __tablename__ = "resolution_reports"
    __table_args__ = (CheckConstraint(_in("outcome", ReportOutcome), name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("resolution_assignments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_on: Mapped[date]  # in the registry's time zone
    # The attached file, stored like document versions (content-addressed).
    file_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(127))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(200), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default=ReportOutcome.PENDING)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")

    assignment: Mapped[Assignment] = relationship(back_populates="reports")
    author: Mapped[User] = relationship(lazy="joined", foreign_keys=[author_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    def __repr__(self) -> str:
        return f"<AssignmentReport {self.id} of assignment {self.assignment_id} {self.outcome}>"


class ExtensionRequest(Base):
    """An executor's request for a later due date, and the author's decision."""

    __tablename__ = "resolution_extensions"
    __table_args__ = (CheckConstraint(_in("status", ExtensionStatus), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("resolution_assignments.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    old_due_date: Mapped[date]
    new_due_date: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ExtensionStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")

    assignment: Mapped[Assignment] = relationship(back_populates="extensions")
    requested_by: Mapped[User] = relationship(lazy="joined", foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    def __repr__(self) -> str:
        return (
            f"<ExtensionRequest {self.id} {self.old_due_date}->{self.new_due_date} {self.status}>"
        )


class Acquaintance(Base):
    """One person asked to read a document, and when they confirmed they had."""

    __tablename__ = "acquaintances"
    __table_args__ = (
        UniqueConstraint("document_id", "user_id"),
        Index("ix_acquaintances_user_pending", "user_id", "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    document: Mapped[Document] = relationship()
    user: Mapped[User] = relationship(lazy="joined", foreign_keys=[user_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])

    def __repr__(self) -> str:
        state = "read" if self.confirmed_at else "not read"
        return f"<Acquaintance {self.user_id} {state} {self.document_id}>"


# Report files are blobs too: the garbage collector must not take them for leftovers.
if not any(column is AssignmentReport.storage_key for column in _blobs.REFERENCES):
    _blobs.REFERENCES.append(cast(Any, AssignmentReport.storage_key))
