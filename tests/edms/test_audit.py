"""Denied accesses reach the audit log even though their requests fail."""

from __future__ import annotations

from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.db import db
from tests.conftest import login


def _denials() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")))


def test_forbidden_page_is_audited(client, ctx, make_user) -> None:
    applicant = make_user("applicant")
    login(client, applicant)
    assert client.get("/documents").status_code == 403
    [event] = _denials()
    assert event.actor_id == applicant.id
    assert event.object_type == "route"
    assert event.object_id == "documents.registry"
    assert event.client_addr == "127.0.0.1"


def test_reading_someone_elses_document_is_audited(client, ctx, make_user, make_document) -> None:
    owner = make_user("clerk")
    doc = make_document(owner)
    snoop = make_user("clerk")
    login(client, snoop)
    assert client.get(f"/documents/{doc.id}").status_code == 404
    [event] = _denials()
    assert (event.actor_id, event.object_type, event.object_id) == (
        snoop.id,
        "document",
        str(doc.id),
    )


def test_changing_a_document_one_may_only_read_is_audited(
    client, ctx, make_user, make_document
) -> None:
    from edms.documents import services
    from edms.documents.models import AccessReason

    owner = make_user("clerk")
    doc = make_document(owner)
    reader = make_user("approver")
    services.grant_access(owner, doc, reader, AccessReason.SHARED)
    db.session.commit()
    login(client, reader)
    assert client.get(f"/documents/{doc.id}").status_code == 200
    assert client.get(f"/documents/{doc.id}/edit").status_code == 403
    [event] = _denials()
    assert (event.object_type, event.object_id) == ("document", str(doc.id))
