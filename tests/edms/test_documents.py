"""Registering documents, versions, metadata, visibility and the audit trail (services)."""

from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.db import db
from edms.documents import services
from edms.documents.models import AccessReason, Document, DocumentVersion
from edms.errors import NotFound, PayloadTooLarge, PermissionDenied, ServiceUnavailable
from edms.errors import ValidationError as Invalid
from storage import MemoryStore

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _register(user, journal, content=PDF, filename="a.pdf", **raw):
    raw = {"title": "Letter", "journal": journal.code, **raw}
    return services.register(user, raw, services.Upload(filename, io.BytesIO(content)))


def test_register_numbers_stores_and_audits(ctx, make_user, make_journal, store) -> None:
    clerk = make_user("clerk")
    journal = make_journal("IN", prefix="IN")
    doc = _register(
        clerk,
        journal,
        summary="Dear sirs",
        correspondent_name="Acme LLC",
        correspondent_tin="301234567",
    )
    assert doc.registration_number == f"IN-{doc.registration_date.year}/000001"
    assert doc.direction == "incoming"
    assert doc.status == "registered"
    assert doc.department_id == clerk.department_id
    assert doc.correspondent_kind == "organisation"
    [version] = doc.versions
    assert version.number == 1
    assert version.sha256 == hashlib.sha256(PDF).hexdigest() == version.storage_key
    assert version.size == len(PDF)
    assert version.media_type == "application/pdf"
    assert store.exists(version.storage_key)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.register"))
    assert event is not None
    assert event.object_id == str(doc.id)
    assert event.actor_id == clerk.id
    second = _register(clerk, journal)
    assert second.registration_number.endswith("/000002")


def test_media_type_comes_from_content_not_name(ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    assert _register(clerk, journal, PDF, "report.txt").versions[0].media_type == "application/pdf"
    text = _register(clerk, journal, b"just words\n", "report.pdf")
    assert text.versions[0].media_type == "text/plain"


def test_new_version_keeps_the_old_one(ctx, make_user, make_journal, store) -> None:
    clerk = make_user("clerk")
    doc = _register(clerk, make_journal())
    version = services.add_version(clerk, doc, services.Upload("b.txt", io.BytesIO(b"v2")), "fix")
    db.session.commit()
    assert version.number == 2
    assert version.comment == "fix"
    old = services.get_version(doc, 1)
    with services.open_version(old) as fh:
        assert fh.read() == PDF
    with services.open_version(services.get_version(doc)) as fh:
        assert fh.read() == b"v2"
    assert _count(DocumentVersion) == 2


def test_identical_files_are_stored_once(ctx, make_user, make_journal, store) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    a, b = _register(clerk, journal), _register(clerk, journal)
    assert a.versions[0].storage_key == b.versions[0].storage_key
    assert len(list(store.keys())) == 1


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": "bad\x00title"}, "title"),
        ({"journal": ""}, "journal"),
        ({"journal": "NOSUCH"}, "journal"),
        ({"document_type": "spaceship"}, "document_type"),
        ({"language": "klingon"}, "language"),
        ({"confidentiality": "top-secret"}, "confidentiality"),
        ({"correspondent_name": "Acme", "correspondent_tin": "12345"}, "correspondent_tin"),
        ({"correspondent_name": "Acme", "correspondent_tin": "01234567a"}, "correspondent_tin"),
        ({"correspondent_name": "Ali", "correspondent_pinfl": "1234"}, "correspondent_pinfl"),
        (
            {"correspondent_name": "Ali", "correspondent_pinfl": "92345678901234"},
            "correspondent_pinfl",
        ),
        (
            {
                "correspondent_kind": "person",
                "correspondent_name": "Ali",
                "correspondent_tin": "301234567",
            },
            "correspondent_tin",
        ),
        ({"correspondent_kind": "organisation"}, "correspondent_name"),
        ({"department": "NOPE"}, "department"),
        ({"reply_to": "IN-1999/000001"}, "reply_to"),
    ],
)
def test_bad_metadata_names_the_field_and_leaves_nothing(
    ctx, make_user, make_journal, store, raw, field
) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    data = {"title": "Letter", "journal": journal.code, **raw}
    with pytest.raises(Invalid) as exc:
        services.register(clerk, data, services.Upload("a.pdf", io.BytesIO(PDF)))
    assert field in exc.value.errors
    db.session.rollback()
    assert _count(Document) == 0
    assert list(store.keys()) == []


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("../../etc/passwd", PDF, "path"),
        ("..\\boot.ini", PDF, "path"),
        ("evil\x07name.pdf", PDF, "control"),
        ("rtl\u202egnp.exe", PDF, "control"),
        ("", PDF, "no name"),
        ("x" * 300 + ".pdf", PDF, "255"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_bad_files_are_refused(
    ctx, make_user, make_journal, store, filename, content, message
) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    with pytest.raises(Invalid, match=message) as exc:
        _register(clerk, journal, content, filename)
    assert "file" in exc.value.errors
    db.session.rollback()
    assert _count(Document) == 0
    assert list(store.keys()) == []


def test_no_file_at_all(ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    with pytest.raises(Invalid, match="file"):
        services.register(clerk, {"title": "x", "journal": make_journal().code}, None)


def test_oversized_file_leaves_nothing(app, ctx, make_user, make_journal, store) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    app.config["EDMS"]["max_upload_mb"] = 1
    try:
        with pytest.raises(PayloadTooLarge, match="file"):
            _register(clerk, journal, b"x" * (1024 * 1024 + 1), "big.bin")
    finally:
        app.config["EDMS"]["max_upload_mb"] = 512
    db.session.rollback()
    assert _count(Document) == 0
    assert list(store.keys()) == []


def test_storage_outage_is_503_and_leaves_no_row(app, ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    down = MemoryStore()
    down.available = False
    saved = app.extensions["edms.storage"]
    app.extensions["edms.storage"] = down
    try:
        with pytest.raises(ServiceUnavailable):
            _register(clerk, journal)
    finally:
        app.extensions["edms.storage"] = saved
    db.session.rollback()
    assert _count(Document) == 0


def test_a_failed_transaction_removes_the_new_blob(app, make_user, make_journal, store) -> None:
    """The file is stored before the row; if the transaction then fails, the file goes too."""
    with app.app_context():
        clerk = make_user("clerk")
        journal = make_journal()
    with app.app_context():
        clerk = db.session.merge(clerk)
        _register(clerk, db.session.merge(journal), b"orphan to be")
        assert len(list(store.keys())) == 1
    # The context ended without a commit: the blob is gone, no row refers to it.
    assert list(store.keys()) == []


def test_html_in_title_is_kept_as_text(ctx, make_user, make_journal) -> None:
    doc = _register(make_user("clerk"), make_journal(), title="<script>alert(1)</script>")
    assert doc.title == "<script>alert(1)</script>"


def test_reply_to_links_both_ways(ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    journal = make_journal()
    first = _register(clerk, journal)
    reply = _register(clerk, journal, reply_to=first.registration_number)
    assert [(k, d.id) for k, d in services.links(clerk, reply)] == [("reply_to", first.id)]
    assert [(k, d.id) for k, d in services.links(clerk, first)] == [("reply_to_of", reply.id)]


# Visibility ------------------------------------------------------------------


def test_visibility_follows_the_department_tree(
    ctx, make_user, make_department, make_journal
) -> None:
    root = make_department("ROOT")
    child = make_department("CHILD", parent=root)
    sibling = make_department("SIB", parent=root)
    journal = make_journal()
    head = make_user("clerk", department=root)
    clerk = make_user("clerk", department=child)
    stranger = make_user("clerk", department=sibling)
    approver = make_user("approver", department=sibling)
    archivist = make_user("records_officer")
    admin = make_user("admin")
    doc = _register(clerk, journal)
    db.session.commit()

    for user in (head, clerk, archivist, admin):
        assert services.get_document(user, doc.id).id == doc.id
    assert services.can_edit(head, doc)
    assert services.can_edit(clerk, doc)
    assert not services.can_edit(archivist, doc)
    with pytest.raises(NotFound):
        services.get_document(stranger, doc.id)
    assert services.list_documents(stranger, {}).total == 0
    assert services.list_documents(head, {}).total == 1

    services.grant_access(clerk, doc, approver, AccessReason.SHARED)
    assert services.get_document(approver, doc.id).id == doc.id
    assert not services.can_edit(approver, doc)
    with pytest.raises(PermissionDenied):
        services.update_metadata(approver, doc, {"title": "mine now"})


def test_denied_access_is_audited(app, ctx, make_user, make_journal) -> None:
    owner = make_user("clerk")
    other = make_user("clerk")
    doc = _register(owner, make_journal())
    db.session.commit()
    with app.app_context(), pytest.raises(NotFound):  # one request, that fails
        services.get_document(db.session.merge(other), doc.id)
    # the request's transaction was rolled back; the denial was recorded after it
    denied = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "access.denied")
    ).all()
    assert [(e.object_id, e.actor_id) for e in denied] == [(str(doc.id), other.id)]


def test_applicants_stay_out_of_the_registry(ctx, make_user, make_journal) -> None:
    applicant = make_user("applicant")
    with pytest.raises(PermissionDenied):
        services.list_documents(applicant, {})
    with pytest.raises(PermissionDenied):
        _register(applicant, make_journal())


def test_malformed_ids_are_simply_not_found(ctx, make_user) -> None:
    clerk = make_user("clerk")
    for bad in ("not-a-uuid", "1 OR 1=1", "../etc"):
        with pytest.raises(NotFound):
            services.get_document(clerk, bad)


# Metadata --------------------------------------------------------------------


def test_update_metadata_audits_changes_but_not_identifiers(ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    doc = _register(
        clerk,
        make_journal(),
        correspondent_name="Ali Valiyev",
        correspondent_pinfl="31234567890123",
    )
    changes = services.update_metadata(
        clerk, doc, {"title": "Renamed", "correspondent_pinfl": "41234567890123"}
    )
    assert changes["title"] == {"old": "Letter", "new": "Renamed"}
    assert changes["correspondent_pinfl"] == "changed"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "document.update"))
    assert event is not None
    assert "41234567890123" not in str(event.details)
    assert "31234567890123" not in str(event.details)
    assert services.update_metadata(clerk, doc, {"title": "Renamed"}) == {}
    with pytest.raises(Invalid, match="registration_number"):
        services.update_metadata(clerk, doc, {"registration_number": "X-1"})
    with pytest.raises(Invalid, match="correspondent_pinfl"):
        services.update_metadata(clerk, doc, {"correspondent_pinfl": "123"})


# Listing ---------------------------------------------------------------------


def test_filters_sort_and_pages(ctx, make_user, make_journal) -> None:
    clerk = make_user("clerk")
    incoming = make_journal("INX", prefix="INX")
    outgoing = make_journal("OUTX", direction="outgoing", prefix="OUTX")
    for i in range(5):
        _register(
            clerk, incoming, f"in {i}".encode(), title=f"Incoming {i}", document_type="letter"
        )
    for i in range(3):
        _register(clerk, outgoing, f"out {i}".encode(), title=f"Outgoing {i}")
    db.session.commit()
    assert services.list_documents(clerk, {}).total == 8
    assert services.list_documents(clerk, {"journal": "inx"}).total == 5
    assert services.list_documents(clerk, {"direction": "outgoing"}).total == 3
    assert services.list_documents(clerk, {"document_type": "letter"}).total == 5
    assert services.list_documents(clerk, {"number": "OUTX-"}).total == 3
    assert services.list_documents(clerk, {"q": "incoming 3"}).total == 1
    assert services.list_documents(clerk, {"q": "%"}).total == 0  # LIKE wildcards are literal
    assert services.list_documents(clerk, {"q": "' OR 1=1 --"}).total == 0
    assert services.list_documents(clerk, {"status": "registered"}).total == 8
    today = services.today().isoformat()
    assert services.list_documents(clerk, {"date_from": today, "date_to": today}).total == 8
    assert services.list_documents(clerk, {"date_to": "2000-01-01"}).total == 0
    page = services.list_documents(clerk, {"per_page": "3", "page": "3", "sort": "title"})
    assert page.pages == 3
    assert [d.title for d in page.items] == ["Outgoing 1", "Outgoing 2"]
    titles = [d.title for d in services.list_documents(clerk, {"sort": "-title"}).items]
    assert titles == sorted(titles, reverse=True)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"page": "zero"}, "page"),
        ({"page": "0"}, "page"),
        ({"per_page": "100000"}, "per_page"),
        ({"sort": "password"}, "sort"),
        ({"date_from": "31/12/2026"}, "date_from"),
        ({"direction": "up"}, "direction"),
        ({"status": "lost"}, "status"),
    ],
)
def test_bad_filters_name_the_field(ctx, make_user, raw, field) -> None:
    with pytest.raises(Invalid) as exc:
        services.list_documents(make_user("clerk"), raw)
    assert field in exc.value.errors
