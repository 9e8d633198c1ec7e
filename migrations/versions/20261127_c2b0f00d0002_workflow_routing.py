"""add workflow definitions, instances and tasks

Revision ID: c2b0f00d0002
Revises: c1a0f00d0001
Create Date: 2026-11-27 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "c2b0f00d0002"
down_revision = "c1a0f00d0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_workflow_definitions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_definitions")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_workflow_definitions_code_version")),
    )
    with op.batch_alter_table("workflow_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflow_definitions_code"), ["code"], unique=False)

    op.create_table(
        "workflow_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'returned', 'approved', 'rejected', 'cancelled')",
            name=op.f("ck_workflow_instances_status"),
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["workflow_definitions.id"],
            name=op.f("fk_workflow_instances_definition_id_workflow_definitions"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_workflow_instances_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["users.id"],
            name=op.f("fk_workflow_instances_started_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_instances")),
    )
    with op.batch_alter_table("workflow_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_instances_definition_id"), ["definition_id"], unique=False
        )
        batch_op.create_index(
            "ix_workflow_instances_document_status", ["document_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_workflow_instances_status"), ["status"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("stage_id", sa.String(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("on_behalf_of_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("next_check_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'open', 'done', 'cancelled')", name=op.f("ck_tasks_status")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_tasks_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_tasks_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_tasks_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instances.id"],
            name=op.f("fk_tasks_instance_id_workflow_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["on_behalf_of_id"], ["users.id"], name=op.f("fk_tasks_on_behalf_of_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("instance_id", "key", name=op.f("uq_tasks_instance_id_key")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_decided_by_id"), ["decided_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_document_id"), ["document_id"], unique=False)
        batch_op.create_index("ix_tasks_due_check", ["status", "next_check_at"], unique=False)
        batch_op.create_index("ix_tasks_inbox", ["assignee_id", "status", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tasks_on_behalf_of_id"), ["on_behalf_of_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_on_behalf_of_id"))
        batch_op.drop_index("ix_tasks_inbox")
        batch_op.drop_index("ix_tasks_due_check")
        batch_op.drop_index(batch_op.f("ix_tasks_document_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_decided_by_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("workflow_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_instances_status"))
        batch_op.drop_index("ix_workflow_instances_document_status")
        batch_op.drop_index(batch_op.f("ix_workflow_instances_definition_id"))

    op.drop_table("workflow_instances")
    with op.batch_alter_table("workflow_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_definitions_code"))

    op.drop_table("workflow_definitions")
