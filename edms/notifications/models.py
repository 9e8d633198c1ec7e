"""In-app notifications, and the state of the e-mail sent for each."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import User
from edms.db import Base, utcnow


class EmailStatus(enum.StrEnum):
    PENDING = "pending"  # to be sent once the transaction commits, or retried
    SENT = "sent"
    FAILED = "failed"  # given up after the last attempt


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("email_status IN ('pending', 'sent', 'failed')", name="email_status"),
        # The header counter: a user's unread notifications.
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        # The retry job: pending e-mails that are due.
        Index("ix_notifications_email_due", "email_status", "email_next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    # None: no e-mail for this one (SMTP off, or the user has no address).
    email_status: Mapped[str | None] = mapped_column(String(16))
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_next_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(String(500))

    user: Mapped[User] = relationship()

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} for user {self.user_id}>"
