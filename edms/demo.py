"""Demo data for the embedded default: departments, users, journals, a few documents."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from edms.auth import services as auth
from edms.auth.models import Department, User
from edms.db import db, utcnow
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
    # Heads and reviewers, so that the shipped workflow routes have someone at every stage.
    ("head", "demo-head-2026", "approver", "CHANCERY", "Jahongir Nazarov"),
    ("minister", "demo-minister-2026", "approver", "MIN", "Kamola Ergasheva"),
    ("licensor", "demo-licensor-2026", "approver", "LICENSING", "Laziz Umarov"),
    ("statistician", "demo-statistician-2026", "approver", "STATS", "Malika Xolmatova"),
]
# Department -> the user who heads it ("head_of" assignees, escalation to a supervisor).
HEADS = [
    ("MIN", "minister"),
    ("CHANCERY", "head"),
    ("LEGAL", "approver"),
    ("LICENSING", "licensor"),
    ("STATS", "statistician"),
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
    created += _heads()
    created += _workflows()
    created += _services()
    created += _signing()
    return created


def _heads() -> int:
    """Make the demo heads of departments (when departments have heads: the people feature)."""
    set_head = getattr(auth, "set_department_head", None)
    if set_head is None or not hasattr(Department, "head_id"):
        return 0
    changed = 0
    for code, username in HEADS:
        dept = auth.get_department(code)
        head = auth.get_user(username)
        if dept.head_id != head.id:
            set_head(code, username)
            changed += 1
    return changed


def _workflows() -> int:
    """Load the shipped workflow definitions (config/workflows); a new version if one changed."""
    from edms.routing import services as routing

    return sum(1 for _row, created in routing.sync_definitions() if created)


def _services() -> int:
    """Load the shipped service catalogue (config/services); a new version if one changed."""
    from edms.portal import services as portal

    return sum(1 for _row, created in portal.sync_services() if created)


def _signing() -> int:
    """The demo CA and TSA, and a demo signing certificate for each demo user without one."""
    from edms.signing import services as signing

    made = 1 if signing.init_demo_pki() else 0
    now = utcnow()
    for username, *_rest in USERS:
        user = auth.get_user(username)
        active = signing.active_credential(user)
        if active is None or active.not_after < now:
            signing.issue_demo_credential(user)
            made += 1
    return made
