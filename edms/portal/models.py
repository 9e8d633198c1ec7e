"""The single-window portal: applicants, organisations, the service catalogue, applications.

An *applicant* is a ``User`` with the ``applicant`` role and an ``ApplicantProfile``
(the PINFL of a person, the confirmation of the e-mail address). A user may act for
*organisations* (``Organisation``, identified by a TIN) through ``Membership`` rows.

The catalogue keeps every version of a service's definition (``ServiceDefinition``,
the YAML text as loaded from ``config/services`` or saved by an administrator); an
application stays on the version it was made with.

An ``Application`` is a draft until it is submitted; then it has a tracking number,
the incoming document it was registered as, a legal due date, public events
(``ApplicationEvent``: what the applicant sees on the status page), files
(``ApplicationFile``: the attachments and the files of answers), requests for more
information (``InformationRequest``) and finally a decision (an outgoing document,
signed, with its verification code). ``IdempotencyRecord`` remembers what an API
submission with an ``Idempotency-Key`` returned.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import User
from edms.db import Base, TimestampMixin, utcnow
from edms.documents.models import Document


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # registered; the route is running
    INFORMATION_REQUESTED = "information_requested"  # waiting for the applicant
    DECIDING = "deciding"  # the route finished; the decision is being made and signed
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


#: Statuses of an application that has been decided or withdrawn.
CLOSED_STATUSES = frozenset(
    {ApplicationStatus.GRANTED, ApplicationStatus.REFUSED, ApplicationStatus.WITHDRAWN}
)


class Organisation(TimestampMixin, Base):
    """A legal entity applicants act for, identified by its TIN (personal data: never in
    URLs or logs)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(300))

    members: Mapped[list[Membership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.id}>"


class Membership(Base):
    """``user`` may act for ``organisation``."""

    __tablename__ = "organisation_members"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    organisation: Mapped[Organisation] = relationship(back_populates="members")


class ApplicantProfile(TimestampMixin, Base):
    """What the portal knows of an applicant besides the ``User`` row."""

    __tablename__ = "applicant_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    pinfl: Mapped[str | None] = mapped_column(String(14), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    #: When the e-mail address was confirmed (self-registered accounts log in after it).
    confirmed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class ServiceDefinition(Base):
    """One version of a service of the catalogue, with the YAML text it came from."""

    __tablename__ = "service_definitions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    name: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<ServiceDefinition {self.code} v{self.version}>"


class Application(TimestampMixin, Base):
    __tablename__ = "applications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    #: Given on submission (a draft has none); unique, random, never sequential.
    tracking_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service_definitions.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: The organisation the applicant acts for; None: as a person.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(24), default=ApplicationStatus.DRAFT, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime | None]
    #: The legal due date (working days from submission; moved by information requests).
    due_on: Mapped[date | None]
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    decision_document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("documents.id"), unique=True
    )
    decided_at: Mapped[datetime | None]
    #: Working days the legal term stood still while the applicant was asked for more.
    paused_days: Mapped[int] = mapped_column(default=0)

    service: Mapped[ServiceDefinition] = relationship(lazy="joined")
    applicant: Mapped[User] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    document: Mapped[Document | None] = relationship(foreign_keys=[document_id])
    decision_document: Mapped[Document | None] = relationship(foreign_keys=[decision_document_id])
    files: Mapped[list[ApplicationFile]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="ApplicationFile.id",
    )
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="ApplicationEvent.id",
    )
    requests: Mapped[list[InformationRequest]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="InformationRequest.id",
    )

    def __repr__(self) -> str:
        return f"<Application {self.id} {self.status}>"


class ApplicationFile(Base):
    """A file of an application: an attachment of the form, or one given in an answer."""

    __tablename__ = "application_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    #: The attachment's code in the service definition ("" for a file of an answer).
    attachment: Mapped[str] = mapped_column(String(32), default="")
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("information_requests.id", ondelete="CASCADE"), index=True
    )
    original_filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(back_populates="files")


class ApplicationEvent(Base):
    """A step of an application's public history (what the applicant sees)."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    application: Mapped[Application] = relationship(back_populates="events")


class InformationRequest(Base):
    """Staff ask the applicant for more information; the applicant answers once."""

    __tablename__ = "information_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text)
    answer_due_on: Mapped[date]
    #: pause | restart | continue: what the legal term does meanwhile (from the service).
    clock: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    answer_text: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship(back_populates="requests")
    asked_by: Mapped[User | None] = relationship()


class IdempotencyRecord(Base):
    """An API request made with an ``Idempotency-Key``: a retry gets the same answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    #: SHA-256 of the request (method, path, body): the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    application_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
