"""Imports every model module so the metadata knows all tables (Alembic, tests)."""

from edms.audit.models import AuditEvent
from edms.auth.models import ApiToken, Department, LoginThrottle, User, UserRole
from edms.blobs.models import Blob, FixityCheck
from edms.delegations.models import Delegation
from edms.documents.models import (
    Document,
    DocumentAccess,
    DocumentComment,
    DocumentLink,
    DocumentVersion,
)
from edms.notifications.models import Notification
from edms.portal.models import (
    ApplicantProfile,
    Application,
    ApplicationEvent,
    ApplicationFile,
    IdempotencyRecord,
    InformationRequest,
    Membership,
    Organisation,
    ServiceDefinition,
)
from edms.registry.models import DocumentType, Journal, JournalSequence
from edms.resolutions.models import (
    Acquaintance,
    Assignment,
    AssignmentReport,
    ExtensionRequest,
    Resolution,
)
from edms.routing.models import Task, WorkflowDefinition, WorkflowInstance
from edms.scheduler.models import ScheduledJob
from edms.search.models import DocumentText, SavedSearch, SearchEntry, SearchQueue
from edms.signing.models import DocumentSignature, SigningCredential, TrustedCertificate

__all__ = [
    "Acquaintance",
    "ApiToken",
    "ApplicantProfile",
    "Application",
    "ApplicationEvent",
    "ApplicationFile",
    "Assignment",
    "AssignmentReport",
    "AuditEvent",
    "Blob",
    "Delegation",
    "Department",
    "Document",
    "DocumentAccess",
    "DocumentComment",
    "DocumentLink",
    "DocumentSignature",
    "DocumentText",
    "DocumentType",
    "DocumentVersion",
    "ExtensionRequest",
    "FixityCheck",
    "IdempotencyRecord",
    "InformationRequest",
    "Journal",
    "JournalSequence",
    "LoginThrottle",
    "Membership",
    "Notification",
    "Organisation",
    "Resolution",
    "SavedSearch",
    "ScheduledJob",
    "SearchEntry",
    "SearchQueue",
    "ServiceDefinition",
    "SigningCredential",
    "Task",
    "TrustedCertificate",
    "User",
    "UserRole",
    "WorkflowDefinition",
    "WorkflowInstance",
]
