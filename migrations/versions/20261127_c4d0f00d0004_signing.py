"""add signing credentials, trusted certificates, document signatures and verification codes

Revision ID: c4d0f00d0004
Revises: c3c0f00d0003
Create Date: 2026-11-27 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edms.db

revision = "c4d0f00d0004"
down_revision = "c3c0f00d0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("common_name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("not_before", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", edms.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('uploaded', 'demo_ca', 'pkcs11')",
            name=op.f("ck_signing_credentials_source"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_signing_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_credentials")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_signing_credentials_fingerprint")),
    )
    with op.batch_alter_table("signing_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signing_credentials_user_id"), ["user_id"], unique=False
        )
        batch_op.create_index(
            "uq_signing_credentials_active_user",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "trusted_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("not_after", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["users.id"],
            name=op.f("fk_trusted_certificates_added_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_certificates")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_trusted_certificates_fingerprint")),
    )
    op.create_table(
        "document_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("on_behalf_of_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("field_name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("certified", sa.Boolean(), nullable=False),
        sa.Column("signature_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_at", edms.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_signatures_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["on_behalf_of_id"],
            ["users.id"],
            name=op.f("fk_document_signatures_on_behalf_of_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["signer_id"], ["users.id"], name=op.f("fk_document_signatures_signer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_document_signatures_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["document_versions.id"],
            name=op.f("fk_document_signatures_version_id_document_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_signatures")),
    )
    with op.batch_alter_table("document_signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_signatures_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_signatures_signature_sha256"),
            ["signature_sha256"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_document_signatures_signer_id"), ["signer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_signatures_task_id"), ["task_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_signatures_version_id"), ["version_id"], unique=False
        )

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_code", sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_documents_verification_code"), ["verification_code"]
        )


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_documents_verification_code"), type_="unique")
        batch_op.drop_column("verification_code")

    with op.batch_alter_table("document_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_signatures_version_id"))
        batch_op.drop_index(batch_op.f("ix_document_signatures_task_id"))
        batch_op.drop_index(batch_op.f("ix_document_signatures_signer_id"))
        batch_op.drop_index(batch_op.f("ix_document_signatures_signature_sha256"))
        batch_op.drop_index(batch_op.f("ix_document_signatures_document_id"))

    op.drop_table("document_signatures")
    op.drop_table("trusted_certificates")
    with op.batch_alter_table("signing_credentials", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_signing_credentials_active_user",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_signing_credentials_user_id"))

    op.drop_table("signing_credentials")
