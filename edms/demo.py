"""Demo data for the embedded default: departments, users, journals, a few documents."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from edms.auth import services as auth
from edms.auth.models import Department, User
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.registry import services as registry
from edms.registry.models import Journal

DEPARTMENTS = [
    ("MIN", "Ministry", None),
    ("CHANCERY", "Chancellery", "MIN"),
    ("LEGAL", "Legal Department", "MIN"),
    ("LICENSING", "Licensing Department", "MIN"),
    ("STATS", "Statistics Department", "MIN"),
]
JOURNALS = [
    ("IN", "IN", "Incoming correspondence", "incoming", "CHANCERY"),
    ("OUT", "OUT", "Outgoing correspondence", "outgoing", "CHANCERY"),
    ("INT", "INT", "Internal documents", "internal", "CHANCERY"),
]
# (username, password, role, department, full name)
USERS = [
    ("admin", "demo-admin-2026", "admin", "MIN", "Aziza Karimova"),
    ("clerk", "demo-clerk-2026", "clerk", "CHANCERY", "Bekzod Rahimov"),
    ("approver", "demo-approver-2026", "approver", "LEGAL", "Dilnoza Yusupova"),
    ("archivist", "demo-archivist-2026", "records_officer", None, "Farrukh Tursunov"),
    ("lawyer", "demo-lawyer-2026", "clerk", "LEGAL", "Gulnora Saidova"),
]
DEMO_LOGINS = [(u, p, r) for u, p, r, _, _ in USERS]
DOCUMENTS = [
    ("IN", "letter", "Request for statistical data for Q3", "organisation", "Uzstat agency"),
    ("IN", "application", "Application for a construction permit", "organisation", "Qurilish LLC"),
    ("OUT", "letter", "Reply on the provision of statistical data", None, None),
    ("INT", "memo", "Memo on the office move", None, None),
]


def load_demo() -> int:
    """Create what is missing; return how many records were created."""
    created = 0
    for code, name, parent in DEPARTMENTS:
        if db.session.scalar(select(Department.id).where(Department.code == code)) is None:
            auth.create_department(code, name, parent)
            created += 1
    for code, prefix, name, direction, dept in JOURNALS:
        if db.session.scalar(select(Journal.id).where(Journal.code == code)) is None:
            registry.create_journal(code, prefix, name, direction, dept)
            created += 1
    for username, password, role, user_dept, full_name in USERS:
        if db.session.scalar(select(User.id).where(User.username == username)) is None:
            auth.create_user(
                username, [role], password=password, department_code=user_dept, full_name=full_name
            )
            created += 1
    if not db.session.scalar(select(func.count()).select_from(Document)):
        clerk = auth.get_user("clerk")
        for journal, doc_type, title, kind, correspondent in DOCUMENTS:
            body = f"{title}\n\nThis is a demo document of the EDMS registry.\n".encode()
            documents.register(
                clerk,
                {
                    "journal": journal,
                    "document_type": doc_type,
                    "title": title,
                    "correspondent_kind": kind,
                    "correspondent_name": correspondent,
                    "summary": "Demo document.",
                    "language": "en",
                },
                documents.Upload(f"{doc_type}.txt", io.BytesIO(body)),
            )
            created += 1
    return created
