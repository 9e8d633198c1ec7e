"""Delegations: a user names a deputy for a range of days (while on leave, say)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import User
from edms.db import Base, TimestampMixin


class Delegation(TimestampMixin, Base):
    """``user`` is away from ``starts_on`` to ``ends_on`` (both included, in local days).

    Ending one early sets ``ended_at``: it stops applying from that moment.
    """

    __tablename__ = "delegations"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint("deputy_id <> user_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(500), default="")
    ended_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    deputy: Mapped[User] = relationship(foreign_keys=[deputy_id])

    def __repr__(self) -> str:
        return (
            f"<Delegation {self.id} of user {self.user_id} to {self.deputy_id} "
            f"{self.starts_on}..{self.ends_on}>"
        )
