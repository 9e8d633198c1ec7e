"""Workflow definitions (versioned), the instances running on documents, and their tasks.

The engine (``workflows``) owns the meaning of an instance: its whole state is
the JSON of ``InstanceState.to_dict()`` in ``WorkflowInstance.state``. ``Task``
rows mirror the state's tasks so that an inbox is one indexed query.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import User
from edms.db import Base, utcnow
from edms.documents.models import Document


class InstanceStatus(enum.StrEnum):
    RUNNING = "running"
    RETURNED = "returned"  # sent back to the author for rework
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


#: An instance in one of these is still going: a document has at most one.
OPEN_STATUSES = frozenset({InstanceStatus.RUNNING, InstanceStatus.RETURNED})


class TaskStatus(enum.StrEnum):
    WAITING = "waiting"  # a later turn of a sequential stage
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class WorkflowDefinition(Base):
    """One version of a route, with the YAML text it was loaded from (never changed)."""

    __tablename__ = "workflow_definitions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    # {"en": ..., "ru": ..., "uz": ...} as the definition names itself.
    name: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by: Mapped[User | None] = relationship()

    def display_name(self, lang: str) -> str:
        names = self.name or {}
        return names.get(lang) or names.get("en") or self.code

    def __repr__(self) -> str:
        return f"<WorkflowDefinition {self.code} v{self.version}>"


class WorkflowInstance(Base):
    """One document moving through one definition version."""

    __tablename__ = "workflow_instances"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'returned', 'approved', 'rejected', 'cancelled')",
            name="status",
        ),
        Index("ix_workflow_instances_document_status", "document_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("workflow_definitions.id"), index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING, index=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # Bumped on every change; together with SELECT ... FOR UPDATE in the services it
    # turns a lost update into an error instead of a silent overwrite.
    lock_version: Mapped[int] = mapped_column(default=1)

    document: Mapped[Document] = relationship()
    definition: Mapped[WorkflowDefinition] = relationship(lazy="joined")
    started_by: Mapped[User | None] = relationship()
    tasks: Mapped[list[Task]] = relationship(
        back_populates="instance", order_by="Task.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def __repr__(self) -> str:
        return f"<WorkflowInstance {self.id} {self.status} on {self.document_id}>"


class Task(Base):
    """One person's action in an instance, as the engine's state has it."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("instance_id", "key"),
        CheckConstraint("status IN ('waiting', 'open', 'done', 'cancelled')", name="status"),
        # The inbox: a user's tasks by status, soonest due first.
        Index("ix_tasks_inbox", "assignee_id", "status", "due_at"),
        # The deadline job: open tasks with a reminder or escalation coming.
        Index("ix_tasks_due_check", "status", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("workflow_instances.id", ondelete="CASCADE")
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(100))  # TaskState.id: "{stage}:{round}:{n}"
    stage_id: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(default=1)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.WAITING)
    decision: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    decided_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    reminded: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    # When the deadline job next has something to do for this task (a reminder or an
    # escalation); None when nothing is pending.
    next_check_at: Mapped[datetime | None]

    instance: Mapped[WorkflowInstance] = relationship(back_populates="tasks")
    document: Mapped[Document] = relationship()
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    def is_overdue(self, now: datetime) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at is not None and self.due_at < now

    def __repr__(self) -> str:
        return f"<Task {self.key} of instance {self.instance_id} {self.status}>"
