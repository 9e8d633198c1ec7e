"""Imports every model module so the metadata knows all tables (Alembic, tests)."""

from edms.audit.models import AuditEvent
from edms.auth.models import ApiToken, Department, LoginThrottle, User, UserRole
from edms.blobs.models import Blob, FixityCheck
from edms.documents.models import (
    Document,
    DocumentAccess,
    DocumentComment,
    DocumentLink,
    DocumentVersion,
)
from edms.registry.models import DocumentType, Journal, JournalSequence

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Blob",
    "Department",
    "Document",
    "DocumentAccess",
    "DocumentComment",
    "DocumentLink",
    "DocumentType",
    "DocumentVersion",
    "FixityCheck",
    "Journal",
    "JournalSequence",
    "LoginThrottle",
    "User",
    "UserRole",
]
