"""Signing credentials, trusted certificate authorities and the signatures made on documents."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.auth.models import User
from edms.db import Base, utcnow
from edms.documents.models import Document, DocumentVersion


class CredentialSource(enum.StrEnum):
    UPLOADED = "uploaded"  #: a PKCS#12 file the user uploaded
    DEMO_CA = "demo_ca"  #: issued by the demo CA of `edms pki init`
    PKCS11 = "pkcs11"  #: reserved: a key on a token or HSM, never in the database


class SigningCredential(Base):
    """A user's signing key and certificate, sealed at rest.

    ``sealed`` is a PKCS#12 archive without a passphrase, encrypted with the
    credential key (``signing.seal``): the server signs when the user approves,
    without asking for a passphrase. At most one credential per user is active
    (``revoked_at`` empty); revoked ones stay for the history of signatures.
    """

    __tablename__ = "signing_credentials"
    __table_args__ = (
        CheckConstraint("source IN ('uploaded', 'demo_ca', 'pkcs11')", name="source"),
        Index(
            "uq_signing_credentials_active_user",
            "user_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    common_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(500))
    serial: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the certificate (DER), hex.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        state = "active" if self.revoked_at is None else "revoked"
        return f"<SigningCredential {self.id} of user {self.user_id} {state}>"


class TrustedCertificate(Base):
    """A certificate authority an administrator trusts, besides those of the configuration.

    Removing one disables it (``enabled`` false): the row stays, so it is known later
    which authorities were trusted when.
    """

    __tablename__ = "trusted_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_after: Mapped[datetime]
    enabled: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    added_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<TrustedCertificate {self.id} {self.fingerprint[:16]}>"


class DocumentSignature(Base):
    """One signature made here on a document: the PDF version it produced, who and when."""

    __tablename__ = "document_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document_versions.id", ondelete="CASCADE"), index=True
    )
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), index=True
    )
    field_name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(8))
    certified: Mapped[bool] = mapped_column(default=False)
    # SHA-256 of the CMS signature (DER), hex: what /verify reports for the signature.
    signature_sha256: Mapped[str] = mapped_column(String(64), index=True)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship()
    version: Mapped[DocumentVersion] = relationship()
    signer: Mapped[User] = relationship(foreign_keys=[signer_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])

    def __repr__(self) -> str:
        return f"<DocumentSignature {self.id} {self.field_name} on {self.document_id}>"
