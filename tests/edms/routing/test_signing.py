"""Signature stages sign: from a DOCX template to a certified PDF with three approval
signatures, checked by our verifier, by poppler's pdfsig and on the /verify page."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

import signing
from edms.audit.models import AuditEvent
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.drafting import services as drafting
from edms.errors import Conflict
from edms.routing import services as routing
from edms.signing import pki
from edms.signing import services as signatures
from tests.conftest import login
from tests.edms.routing.conftest import MONDAY, Org, open_task
from tests.signing.pdfs import minimal_pdf
from tests.signing.pdfsig import CERTUTIL, PDFSIG, pdfsig

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)


@pytest.fixture
def signers(org: Org) -> Org:
    """The demo PKI, and a demo credential for everyone who signs in signed_document."""
    signatures.init_demo_pki()
    for user in (org.lawyer, org.head, org.minister):
        signatures.issue_demo_credential(user)
    db.session.commit()
    return org


def _decide(user: Any, instance: Any, decision: str) -> None:
    routing.decide(user, open_task(instance, user.username).id, decision, now=MONDAY)
    db.session.commit()


def _latest_bytes(doc: Document) -> bytes:
    db.session.expire_all()
    with documents.open_version(documents.get_version(doc)) as fh:
        return fh.read()


def test_signature_fields_count_the_signers_of_a_route(definitions: dict[str, Any]) -> None:
    signed = routing.parse(definitions["signed_document"])
    assert routing.signature_fields(signed) == ["Approval1", "Approval2", "Approval3"]
    letter = routing.parse(definitions["outgoing_letter"])
    assert routing.signature_fields(letter) == ["Approval1"]


@needs_soffice
def test_a_drafted_letter_gets_three_approval_signatures_and_a_certification(
    signers: Org,
    definitions: dict[str, Any],
    make_document: Callable[..., Document],
    client: FlaskClient,
    tmp_path: Path,
) -> None:
    org = signers
    doc = make_document(
        org.clerk,
        journal=org.outgoing,
        title="Ruxsatnoma: Oʻzbekiston «Савдо» MChJ",
        document_type="letter",
    )
    drafting.generate(
        org.clerk,
        doc,
        "letter",
        "Просим рассмотреть.\nIltimos, ko‘rib chiqing.",
        {},
    )
    db.session.commit()
    instance = routing.start(org.clerk, doc, "signed_document", now=MONDAY)
    db.session.commit()

    _decide(org.lawyer, instance, "approve")  # the DOCX becomes PDF/A, sealed, signed
    _decide(org.head, instance, "approve")
    _decide(org.minister, instance, "sign")
    _decide(org.clerk2, instance, "acknowledge")
    db.session.expire_all()
    assert routing.current_instance(doc).status == "approved"

    versions = documents.get_document(org.clerk, doc.id).versions
    # registered PDF, drafted DOCX, PDF/A, then one signed PDF per signer
    assert [v.media_type for v in versions[-4:]] == ["application/pdf"] * 4
    assert versions[2].comment == "Converted to PDF/A"
    data = _latest_bytes(doc)
    report = signing.verify(io.BytesIO(data), signatures.trust_store())
    assert [s.field_name for s in report.signatures] == [
        "Certification",
        "Approval1",
        "Approval2",
        "Approval3",
    ]
    assert [s.indication for s in report.signatures] == ["TOTAL_PASSED"] * 4
    assert report.signatures[0].certification == "FILL_FORMS"
    assert not any(s.changed_after for s in report.signatures)

    # Each decision records the hash of the signature it made.
    rows = signatures.signatures_of(doc)
    decisions = list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id == str(doc.id), AuditEvent.action == "workflow.decision")
            .order_by(AuditEvent.id)
        )
    )
    signed = [e.details["signature_sha256"] for e in decisions if "signature_sha256" in e.details]
    assert signed == [r.signature_sha256 for r in rows]
    assert [s.signature_sha256 for s in report.signatures[1:]] == signed
    assert [r.task_id is not None for r in rows] == [True] * 3

    if PDFSIG is not None:
        root = pki.ca_certificate(signatures.pki_dir())
        shown = pdfsig(data, tmp_path, root)
        assert shown.count("Signature Validation: Signature is Valid.") == 4, shown
        if CERTUTIL is not None:
            assert shown.count("Certificate Validation: Certificate is Trusted.") == 4, shown

    # The public page finds it by its code and says it in words.
    reply = client.get(f"/verify?code={doc.verification_code}")
    assert reply.status_code == 200
    page = reply.get_data(as_text=True)
    assert doc.registration_number in page
    assert page.count("Valid signature") >= 4
    assert doc.title not in page  # the title may be confidential: not on a public page


def test_approving_without_a_credential_changes_nothing(
    org: Org, definitions: dict[str, Any], make_document: Callable[..., Document]
) -> None:
    doc = make_document(org.clerk, journal=org.outgoing, content=minimal_pdf())
    instance = routing.start(org.clerk, doc, "signed_document", now=MONDAY)
    db.session.commit()
    task = open_task(instance, "lawyer")
    with pytest.raises(Conflict, match="no signing credential"):
        routing.decide(org.lawyer, task.id, "approve", now=MONDAY)
    db.session.rollback()
    db.session.expire_all()
    assert open_task(instance, "lawyer").id == task.id
    assert len(documents.get_document(org.clerk, doc.id).versions) == 1


def test_the_page_offers_signing_and_the_signature_is_recorded(
    signers: Org,
    definitions: dict[str, Any],
    make_document: Callable[..., Document],
    client: FlaskClient,
) -> None:
    org = signers
    doc = make_document(org.clerk, journal=org.outgoing, content=minimal_pdf())
    instance = routing.start(org.clerk, doc, "signed_document", now=MONDAY)
    db.session.commit()
    task = open_task(instance, "lawyer")
    login(client, org.lawyer)
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "This stage needs your signature" in html
    assert "You have no signing credential yet." not in html
    _decide(org.lawyer, instance, "approve")
    [row] = signatures.signatures_of(doc)
    assert row.signer_id == org.lawyer.id
    assert row.task_id == task.id
    assert documents.get_version(doc).comment == f"Signed by {org.lawyer.display_name}"
