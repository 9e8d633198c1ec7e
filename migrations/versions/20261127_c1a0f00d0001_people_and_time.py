"""add department heads, delegations, notifications and scheduled jobs

Revision ID: c1a0f00d0001
Revises: b73b853c8ea0
Create Date: 2026-11-27 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "c1a0f00d0001"
down_revision = "b73b853c8ea0"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # departments.head_id refers to users, which refer to departments: on SQLite the
    # table is rebuilt (batch) to add the key.
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_departments_head_id"), ["head_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_departments_head_id_users"),
            "users",
            ["head_id"],
            ["id"],
            ondelete="SET NULL",
            use_alter=True,
        )

    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("ended_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("deputy_id <> user_id", name=op.f("ck_delegations_not_self")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_delegations_dates")),
        sa.ForeignKeyConstraint(
            ["deputy_id"],
            ["users.id"],
            name=op.f("fk_delegations_deputy_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_delegations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegations_deputy_id"), ["deputy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delegations_user_id"), ["user_id"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_status", sa.String(length=16), nullable=True),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("email_next_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "email_status IN ('pending', 'sent', 'failed')",
            name=op.f("ck_notifications_email_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_email_due", ["email_status", "email_next_at"], unique=False
        )
        batch_op.create_index("ix_notifications_user_unread", ["user_id", "read_at"], unique=False)

    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("next_run_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("last_started_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_jobs")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_jobs")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_unread")
        batch_op.drop_index("ix_notifications_email_due")
    op.drop_table("notifications")

    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_user_id"))
        batch_op.drop_index(batch_op.f("ix_delegations_deputy_id"))
    op.drop_table("delegations")

    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_departments_head_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_departments_head_id"))
        batch_op.drop_column("head_id")
