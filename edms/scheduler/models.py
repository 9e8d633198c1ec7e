"""One row per periodic job: when it runs next and who is running it now (a lease)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base


class ScheduledJob(Base):
    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    every_seconds: Mapped[int]
    next_run_at: Mapped[datetime]
    # The lease: set by the process that claimed the job, cleared when the run ends.
    locked_until: Mapped[datetime | None]
    holder: Mapped[str | None] = mapped_column(String(200))
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(default=0)
    # Failed runs in a row; 0 after a run that succeeded.
    failures: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<ScheduledJob {self.name!r} next {self.next_run_at:%Y-%m-%d %H:%M:%S}>"
