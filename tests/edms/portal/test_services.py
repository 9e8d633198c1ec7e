"""The portal's services: the catalogue in the database, submission, information requests
and their clock rules, the route's end and the sealed decision."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

import signing
from edms.audit.models import AuditEvent
from edms.auth import services as auth
from edms.auth.models import Role, User
from edms.db import db
from edms.documents import services as documents
from edms.documents.models import Document
from edms.errors import Conflict, NotFound, ValidationError
from edms.portal import services as portal
from edms.portal.models import (
    ApplicantProfile,
    Application,
    ApplicationStatus,
    Membership,
    Organisation,
    ServiceDefinition,
)
from edms.routing import services as routing
from edms.signing import services as signatures
from tests.edms.portal.conftest import approve_all
from tests.edms.routing.conftest import Org
from tests.edms.routing.conftest import definitions as definitions
from tests.edms.routing.conftest import org as org

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def applicant(ctx: Flask, make_user: Callable[..., User]) -> User:
    user = make_user(Role.APPLICANT, None, "aziz", password=None)
    user.email = "aziz@example.uz"
    user.full_name = "Aziz Karimov"
    db.session.add(ApplicantProfile(user_id=user.id, pinfl="31234567890123"))
    company = Organisation(tin="301234567", name="Savdo MChJ")
    db.session.add(company)
    db.session.flush()
    db.session.add(Membership(user_id=user.id, organisation_id=company.id))
    db.session.commit()
    return user


def _company(user: User) -> str:
    org_id = db.session.scalar(
        select(Membership.organisation_id).where(Membership.user_id == user.id)
    )
    return f"organisation:{org_id}"


LICENCE = {
    "activity": "pharmacy",
    "address": "Toshkent sh., Yunusobod t., 1-uy",
    "start_date": "2026-12-01",
    "employees": 12,
    "contact_phone": "+998901234567",
    "agree": True,
}


def _submitted(applicant: User, row: ServiceDefinition) -> Application:
    application = portal.new_application(applicant, row.code)
    spec = portal.spec_of(row)
    errors = portal.save_draft(applicant, application, LICENCE)
    assert errors == {}
    for attachment in spec.attachments:
        if attachment.required:
            portal.add_attachment(
                applicant,
                application,
                attachment.code,
                documents.Upload("charter.pdf", io.BytesIO(PDF)),
            )
    portal.submit(applicant, application, _company(applicant))
    db.session.commit()
    return application


def test_sync_loads_the_shipped_services_once(catalogue: dict[str, ServiceDefinition]) -> None:
    assert {
        "licence_request",
        "permit_request",
        "certificate_request",
        "statistical_report",
    } <= set(catalogue)
    again = portal.sync_services()
    assert [created for _row, created in again] == [False] * len(again)
    assert [r.code for r in portal.list_services()] == sorted(catalogue)


def test_a_definition_naming_a_missing_journal_is_refused(
    catalogue: dict[str, ServiceDefinition], org: Org
) -> None:
    text = catalogue["licence_request"].text.replace("journal: IN", "journal: NOPE")
    with pytest.raises(portal.CatalogueInvalid) as caught:
        portal.new_service_version(_admin(), text)
    assert "NOPE" in " ".join(caught.value.problems)


def _admin() -> User:
    return auth.create_user("portaladmin", [Role.ADMIN])


def test_submission_registers_starts_the_route_and_sets_the_due_date(
    catalogue: dict[str, ServiceDefinition], applicant: User
) -> None:
    application = _submitted(applicant, catalogue["licence_request"])
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.tracking_number
    assert application.tracking_number.startswith("AP-")
    doc = application.document
    assert doc is not None
    assert doc.journal.code == "IN"
    assert doc.department.code == "LICENSING"
    assert doc.correspondent_tin == "301234567"  # the organisation applied
    assert routing.current_instance(doc) is not None
    spec = portal.spec_of(application.service)
    assert application.due_on == portal.add_working_days(
        application.submitted_at.date(), spec.term_days
    )
    assert [e.kind for e in application.events] == ["submitted"]
    # The audit trail names the service and the number, never a TIN or PINFL.
    details = db.session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "application.submit")
    ).all()
    assert details
    assert "301234567" not in str(details)
    assert "31234567890123" not in str(details)


def test_a_failed_submission_leaves_a_draft_and_no_document(
    catalogue: dict[str, ServiceDefinition], applicant: User
) -> None:
    application = portal.new_application(applicant, "licence_request")
    db.session.commit()
    documents_before = db.session.scalar(select(func.count()).select_from(Document))
    with pytest.raises(ValidationError) as caught:
        portal.submit(applicant, application, "person")
    db.session.rollback()
    assert caught.value.errors  # every missing field and attachment, by name
    assert any(k.startswith("attachment.") for k in caught.value.errors)
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == ApplicationStatus.DRAFT
    assert db.session.scalar(select(func.count()).select_from(Document)) == documents_before


def test_others_cannot_see_an_application(
    catalogue: dict[str, ServiceDefinition], applicant: User, make_user: Callable[..., User]
) -> None:
    application = _submitted(applicant, catalogue["licence_request"])
    other = make_user(Role.APPLICANT, None, "other")
    with pytest.raises(NotFound):
        portal.get_own(other, application.tracking_number)
    with pytest.raises(NotFound):
        portal.get_own(other, str(application.id))
    assert (
        portal.get_own(applicant, application.tracking_number.lower().replace("-", " "))
        is application
    )


@pytest.mark.parametrize(("clock", "moved"), [("pause", True), ("continue", False)])
def test_information_request_and_the_clock(
    catalogue: dict[str, ServiceDefinition],
    applicant: User,
    org: Org,
    clock: str,
    moved: bool,
) -> None:
    application = _submitted(applicant, catalogue["licence_request"])
    doc = application.document
    assert doc is not None
    due = application.due_on
    request = portal.request_information(org.licensor, doc, "Please attach the lease contract.")
    request.clock = clock
    db.session.commit()
    assert application.status == ApplicationStatus.INFORMATION_REQUESTED
    with pytest.raises(ValidationError):
        portal.answer(applicant, application, "", [])
    # Answer three working days later.
    asked = request.asked_at
    request.asked_at = asked - _working_days_back(3)
    portal.answer(
        applicant, application, "Attached.", [documents.Upload("lease.pdf", io.BytesIO(PDF))]
    )
    db.session.commit()
    assert application.status == ApplicationStatus.SUBMITTED
    assert request.answered_at is not None
    assert [f.original_filename for f in application.files if f.request_id == request.id] == [
        "lease.pdf"
    ]
    if moved:
        assert application.due_on > due  # the term stood still while the applicant was asked
    else:
        assert application.due_on == due
    with pytest.raises(Conflict):
        portal.answer(applicant, application, "Again", [])
    assert [e.kind for e in application.events] == [
        "submitted",
        "information_requested",
        "answered",
    ]


def _working_days_back(days: int) -> Any:
    from datetime import timedelta

    return timedelta(days=days + 2)  # a weekend at most in between


def test_a_stranger_cannot_ask_for_information(
    catalogue: dict[str, ServiceDefinition],
    applicant: User,
    org: Org,
) -> None:
    application = _submitted(applicant, catalogue["licence_request"])
    with pytest.raises(NotFound):
        portal.request_information(org.outsider, application.document, "Give me everything.")


@needs_soffice
def test_the_route_ends_in_a_sealed_verifiable_decision(
    catalogue: dict[str, ServiceDefinition], applicant: User
) -> None:
    signatures.init_demo_pki()
    application = _submitted(applicant, catalogue["licence_request"])
    instance = routing.current_instance(application.document)
    approve_all(instance)
    db.session.expire_all()
    assert application.status == ApplicationStatus.DECIDING
    portal.make_decision(application.id)
    db.session.commit()
    assert application.status == ApplicationStatus.GRANTED
    decision = application.decision_document
    assert decision is not None
    assert decision.verification_code
    version = portal.decision_version(applicant, application)
    assert version.media_type == "application/pdf"
    with documents.open_version(version) as fh:  # an S3 stream cannot seek: read it
        pdf = fh.read()
    report = signing.verify(io.BytesIO(pdf), signatures.trust_store())
    assert [s.indication for s in report.signatures] == ["TOTAL_PASSED"]
    assert report.signatures[0].certification
    assert [e.kind for e in application.events][-2:] == ["route_finished", "decided"]
    if shutil.which("pdftotext"):  # the licence names the licensee, its TIN and activity
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        assert "Savdo MChJ" in text
        assert "301234567" in text
        assert application.tracking_number in text
        assert decision.verification_code in text


DATA = Path(__file__).parent / "data"
REPORT = {
    "year": 2026,
    "quarter": "1",
    "total_employees": 845,
    "total_wages": 7264800.75,
    "contact_person": "Dilshod Karimov",
    "contact_email": "hisobot@example.uz",
    "agree": True,
}


@pytest.mark.parametrize("name", ["report-ok.csv", "report-ok.xlsx"])
def test_an_accepted_report_is_kept_with_the_registered_document(
    catalogue: dict[str, ServiceDefinition], applicant: User, name: str
) -> None:
    application = portal.new_application(applicant, "statistical_report")
    assert portal.save_draft(applicant, application, REPORT) == {}
    portal.add_attachment(
        applicant,
        application,
        "report",
        documents.Upload(name, io.BytesIO((DATA / name).read_bytes())),
    )
    portal.submit(applicant, application, _company(applicant))
    db.session.commit()
    doc = application.document
    assert doc is not None
    current = documents.get_version(doc)
    assert (current.number, current.original_filename) == (
        2,
        name,
    )  # searchable as the document's text
    assert doc.journal.code == "IN"
    assert doc.department.code == "STATS"


def test_a_report_with_errors_is_refused_with_its_table(
    catalogue: dict[str, ServiceDefinition], applicant: User
) -> None:
    application = portal.new_application(applicant, "statistical_report")
    portal.save_draft(applicant, application, REPORT)
    db.session.commit()
    with pytest.raises(portal.ReportProblems) as caught:
        portal.add_attachment(
            applicant,
            application,
            "report",
            documents.Upload("report.csv", io.BytesIO((DATA / "report-bad.csv").read_bytes())),
        )
    db.session.rollback()
    table = caught.value.table
    assert table.errors_total >= 7
    assert {(e.row, e.column) for e in table.errors} >= {
        (3, "region_code"),
        (6, "wages"),
        (8, "employees"),
    }
    assert "attachment.report" in caught.value.errors
    db.session.expire_all()
    assert db.session.get(Application, application.id).files == []  # nothing half-kept


def test_the_services_sync_command(
    app: Flask,
    org: Org,
    definitions: dict[str, Any],
    tmp_path: Path,
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["services", "sync"])
    assert result.exit_code == 0, result.output
    assert "licence_request: loaded as version 1" in result.output
    again = runner.invoke(args=["services", "sync"])
    assert "licence_request: unchanged, version 1" in again.output
    broken = tmp_path / "services"
    broken.mkdir()
    text = (portal.SERVICES_DIR / "permit_request.yaml").read_text("utf-8")
    (broken / "permit_request.yaml").write_text(
        text.replace("workflow: permit_request", "workflow: nowhere")
    )
    failed = runner.invoke(args=["services", "sync", "--dir", str(broken)])
    assert failed.exit_code == 1
    assert "permit_request.yaml" in failed.output
    assert "nowhere" in failed.output
    assert "no service was loaded" in failed.output
    assert "Traceback" not in failed.output
