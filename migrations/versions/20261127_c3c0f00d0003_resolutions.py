"""add resolutions, executors, extension requests and acquaintance lists

Revision ID: c3c0f00d0003
Revises: c2b0f00d0002
Create Date: 2026-11-27 11:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "c3c0f00d0003"
down_revision = "c2b0f00d0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acquaintances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_acquaintances_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_acquaintances_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_acquaintances_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acquaintances")),
        sa.UniqueConstraint(
            "document_id", "user_id", name=op.f("uq_acquaintances_document_id_user_id")
        ),
    )
    with op.batch_alter_table("acquaintances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_acquaintances_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            "ix_acquaintances_user_pending", ["user_id", "confirmed_at"], unique=False
        )

    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'cancelled')", name=op.f("ck_resolutions_status")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_resolutions_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_resolutions_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["resolutions.id"],
            name=op.f("fk_resolutions_parent_id_resolutions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
    )
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resolutions_author_id"), ["author_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_resolutions_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_resolutions_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resolutions_status"), ["status"], unique=False)

    op.create_table(
        "resolution_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resolution_id", sa.Integer(), nullable=False),
        sa.Column("executor_id", sa.Integer(), nullable=False),
        sa.Column("executor_department_id", sa.Integer(), nullable=True),
        sa.Column("responsible", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("accepted_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("overdue_notified_for", sa.Date(), nullable=True),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'reported', 'accepted', 'cancelled')",
            name=op.f("ck_resolution_assignments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["executor_department_id"],
            ["departments.id"],
            name=op.f("fk_resolution_assignments_executor_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["executor_id"], ["users.id"], name=op.f("fk_resolution_assignments_executor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolution_id"],
            ["resolutions.id"],
            name=op.f("fk_resolution_assignments_resolution_id_resolutions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolution_assignments")),
        sa.UniqueConstraint(
            "resolution_id",
            "executor_id",
            name=op.f("uq_resolution_assignments_resolution_id_executor_id"),
        ),
    )
    with op.batch_alter_table("resolution_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_resolution_assignments_due", ["status", "due_date"], unique=False)
        batch_op.create_index(
            "ix_resolution_assignments_executor",
            ["executor_id", "status", "due_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_resolution_assignments_report",
            ["executor_department_id", "assigned_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_resolution_assignments_resolution_id"), ["resolution_id"], unique=False
        )

    op.create_table(
        "resolution_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("old_due_date", sa.Date(), nullable=False),
        sa.Column("new_due_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined')",
            name=op.f("ck_resolution_extensions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["resolution_assignments.id"],
            name=op.f("fk_resolution_extensions_assignment_id_resolution_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_resolution_extensions_decided_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_resolution_extensions_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolution_extensions")),
    )
    with op.batch_alter_table("resolution_extensions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resolution_extensions_assignment_id"), ["assignment_id"], unique=False
        )

    op.create_table(
        "resolution_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("media_type", sa.String(length=127), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('pending', 'accepted', 'returned')",
            name=op.f("ck_resolution_reports_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["resolution_assignments.id"],
            name=op.f("fk_resolution_reports_assignment_id_resolution_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_resolution_reports_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_resolution_reports_decided_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolution_reports")),
    )
    with op.batch_alter_table("resolution_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resolution_reports_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resolution_reports_storage_key"), ["storage_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resolution_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolution_reports_storage_key"))
        batch_op.drop_index(batch_op.f("ix_resolution_reports_assignment_id"))

    op.drop_table("resolution_reports")
    with op.batch_alter_table("resolution_extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolution_extensions_assignment_id"))

    op.drop_table("resolution_extensions")
    with op.batch_alter_table("resolution_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolution_assignments_resolution_id"))
        batch_op.drop_index("ix_resolution_assignments_report")
        batch_op.drop_index("ix_resolution_assignments_executor")
        batch_op.drop_index("ix_resolution_assignments_due")

    op.drop_table("resolution_assignments")
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolutions_status"))
        batch_op.drop_index(batch_op.f("ix_resolutions_parent_id"))
        batch_op.drop_index(batch_op.f("ix_resolutions_document_id"))
        batch_op.drop_index(batch_op.f("ix_resolutions_author_id"))

    op.drop_table("resolutions")
    with op.batch_alter_table("acquaintances", schema=None) as batch_op:
        batch_op.drop_index("ix_acquaintances_user_pending")
        batch_op.drop_index(batch_op.f("ix_acquaintances_document_id"))

    op.drop_table("acquaintances")
