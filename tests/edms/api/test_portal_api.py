"""The portal's API: the public catalogue, one-request submissions that leave nothing
behind when they fail, idempotent retries, per-token rate limits, status, answers and
the decision."""

from __future__ import annotations

import io
import json
import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

import signing
from edms import create_app
from edms.api.portal import purge_idempotency_keys
from edms.auth import services as auth
from edms.auth.models import Role, User
from edms.auth.services import create_token
from edms.blobs.models import Blob
from edms.db import db, utcnow
from edms.documents.models import Document
from edms.errors import ConfigError
from edms.portal import services as portal
from edms.portal.models import (
    ApplicantProfile,
    Application,
    ApplicationFile,
    ApplicationStatus,
    IdempotencyRecord,
    Membership,
    Organisation,
    ServiceDefinition,
)
from edms.registry import services as registry
from edms.routing import services as routing
from edms.signing import services as signatures
from storage import LocalStore
from tests.edms.api.conftest import ApiClient, multipart_body, problem
from tests.edms.portal.conftest import catalogue as catalogue
from tests.edms.routing.conftest import Org
from tests.edms.routing.conftest import definitions as definitions
from tests.edms.routing.conftest import org as org

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]"
    b"/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
#: The start of a Windows program ("MZ", the DOS stub and a PE header).
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8"
    + b"\x00" * 7
    + b"\x40"
    + b"\x00" * 35
    + b"\x80\x00\x00\x00"
    + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
    + b"This program cannot be run in DOS mode.\r\r\n$"
    + b"\x00" * 7
    + b"PE\x00\x00\x4c\x01\x03\x00"
    + b"\x00" * 400
)
PINFL = "31234567890123"
TIN = "301234567"
LICENCE = {
    "activity": "pharmacy",
    "address": "Toshkent sh., Yunusobod t., Amir Temur ko‘chasi, 108",
    "start_date": "2026-12-01",
    "employees": 12,
    "contact_phone": "+998901234567",
    "agree": True,
}
REPORT_DATA = {
    "year": 2026,
    "quarter": "3",
    "total_employees": 15,
    "total_wages": 5000.5,
    "contact_person": "Malika Xolmatova",
    "contact_email": "stat@savdo.uz",
    "agree": True,
}
REPORT_HEADER = "region_code,activity,employees,wages,revenue,period_end\n"
GOOD_REPORT = REPORT_HEADER + "1726,G,10,3000.5,10000,2026-09-30\n1703,C,5,2000,,2026-09-30\n"


# Fixtures ------------------------------------------------------------------------------


def _applicant(make_user: Callable[..., User], username: str, tin: str) -> User:
    """An applicant with a PINFL who acts for an organisation with the TIN ``tin``."""
    user = make_user(Role.APPLICANT, None, username)
    user.full_name = f"Applicant {username}"
    db.session.add(ApplicantProfile(user_id=user.id, pinfl=f"3{tin}0000"))
    company = Organisation(tin=tin, name=f"{username} MChJ")
    db.session.add(company)
    db.session.flush()
    db.session.add(Membership(user_id=user.id, organisation_id=company.id))
    db.session.commit()
    return user


@pytest.fixture
def applicant(catalogue: dict[str, ServiceDefinition], make_user: Callable[..., User]) -> User:
    return _applicant(make_user, "aziz", TIN)


@pytest.fixture
def token(applicant: User, token_for: Callable[[User], str]) -> str:
    return token_for(applicant)


@pytest.fixture
def company(applicant: User) -> str:
    """The ``acting_for`` value of the applicant's organisation."""
    org_id = db.session.scalar(
        select(Membership.organisation_id).where(Membership.user_id == applicant.id)
    )
    return f"organisation:{org_id}"


def licence(company: str, **data: Any) -> dict[str, Any]:
    return {"service": "licence_request", "acting_for": company, "data": {**LICENCE, **data}}


def metadata(payload: dict[str, Any] | str) -> tuple[io.BytesIO, str, str]:
    """A ``metadata`` part sent as a file."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return (io.BytesIO(text.encode()), "metadata.json", "application/json")


def form(payload: dict[str, Any] | str, **files: bytes | tuple[bytes, str]) -> dict[str, Any]:
    """A multipart submission: the metadata and one file part per attachment."""
    body: dict[str, Any] = {
        "metadata": payload if isinstance(payload, str) else json.dumps(payload)
    }
    for code, content in files.items():
        data, name = content if isinstance(content, tuple) else (content, f"{code}.pdf")
        body[code] = (io.BytesIO(data), name)
    return body


def submit(
    api: ApiClient, token: str, body: dict[str, Any], key: str | None = None, as_json: bool = False
) -> TestResponse:
    headers = {"Idempotency-Key": key} if key is not None else {}
    if as_json:
        return api.post("/applications", token, json=body, headers=headers)
    return api.post(
        "/applications", token, data=body, content_type="multipart/form-data", headers=headers
    )


def state(store: LocalStore) -> dict[str, Any]:
    """Everything a submission may leave behind."""
    db.session.expire_all()

    def count(model: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(model)) or 0

    return {
        "applications": count(Application),
        "files": count(ApplicationFile),
        "documents": count(Document),
        "blobs": count(Blob),
        "keys": count(IdempotencyRecord),
        "stored": sorted(store.keys()),
    }


# The catalogue -----------------------------------------------------------------------------


def test_the_catalogue_is_public(api: ApiClient, catalogue: dict[str, ServiceDefinition]) -> None:
    response = api.get("/services")
    assert response.status_code == 200, response.get_data(as_text=True)
    services = {s["code"]: s for s in response.get_json()}
    assert {"licence_request", "statistical_report", "certificate_request"} <= set(services)
    licence_ = services["licence_request"]
    assert set(licence_["name"]) == {"uz", "ru", "en"}
    assert licence_["name"]["en"] == "Application for a licence"
    assert set(licence_["description"]) == {"uz", "ru", "en"}
    assert licence_["term_days"] == 15
    assert licence_["fee"] == {"amount": 1236000, "currency": "UZS"}
    assert licence_["applicants"] == ["organisation", "person"]
    charter = licence_["attachments"][0]
    assert charter["code"] == "charter"
    assert charter["required"] is True
    assert charter["types"] == ["application/pdf"]
    assert charter["max_mb"] == 20
    assert "form_schema" not in licence_

    detail = api.get("/services/licence_request").get_json()
    spec = portal.spec_of(catalogue["licence_request"])
    assert detail["form_schema"] == json.loads(json.dumps(spec.form))
    assert detail["report"] is None
    assert detail["version"] == catalogue["licence_request"].version

    report = api.get("/services/statistical_report").get_json()["report"]
    assert report["attachment"] == "report"
    assert [c["name"] for c in report["columns"]] == [
        "region_code",
        "activity",
        "employees",
        "wages",
        "revenue",
        "period_end",
    ]
    assert {"column": "employees", "field": "total_employees"} in report["totals"]


def test_an_unknown_service_is_a_404_and_a_bad_token_a_401(
    api: ApiClient, catalogue: dict[str, ServiceDefinition]
) -> None:
    problem(api.get("/services/no_such_service"), 404)
    problem(api.get("/services", "edms_not-a-token"), 401)


# Submitting ----------------------------------------------------------------------------------


def test_the_whole_flow_up_to_submitted(
    api: ApiClient, token: str, company: str, store: LocalStore
) -> None:
    before = state(store)
    response = submit(api, token, form(licence(company), charter=PDF, premises_plan=PDF))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    number = body["tracking_number"]
    assert portal.normalise_tracking_number(number) == number
    assert body["status"] == "submitted"
    assert body["due_on"]
    assert body["links"]["self"] == f"/api/v1/applications/{number}"
    assert response.headers["Location"] == body["links"]["self"]
    assert "Idempotent-Replayed" not in response.headers
    assert response.headers["X-RateLimit-Limit"]

    after = state(store)
    assert after["applications"] == before["applications"] + 1
    assert after["documents"] == before["documents"] + 1
    assert after["files"] == before["files"] + 2

    status = api.get(body["links"]["self"], token)
    assert status.status_code == 200, status.get_data(as_text=True)
    view = status.get_json()
    assert view["tracking_number"] == number
    assert view["service"]["code"] == "licence_request"
    assert view["service"]["name"]["en"] == "Application for a licence"
    assert view["status"] == "submitted"
    assert view["due_on"] == body["due_on"]
    assert view["open_request"] is None
    assert view["decision"] is None
    assert [e["kind"] for e in view["events"]] == ["submitted"]
    assert set(view["events"][0]["details"]) <= {"registration_number"}
    assert TIN not in status.get_data(as_text=True)
    # Case, spaces and dashes of a tracking number do not matter.
    loose = number.lower().replace("-", "")
    assert api.get(f"/applications/{loose}", token).get_json()["tracking_number"] == number

    problem(api.get(f"/applications/{number}/decision", token), 404)


def test_a_json_submission_without_files(api: ApiClient, token: str) -> None:
    body = {
        "service": "certificate_request",
        "acting_for": "person",
        "data": {"licence_number": "L-0012345", "holder_tin": TIN, "purpose": "bank"},
    }
    response = submit(api, token, body, as_json=True)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["status"] == "submitted"


def test_a_statistical_report_is_checked_and_submitted(
    api: ApiClient, token: str, company: str
) -> None:
    body = {"service": "statistical_report", "acting_for": company, "data": REPORT_DATA}
    # The metadata may come as a file part of its own (application/json), as some clients send it.
    parts = {"metadata": metadata(body), "report": (io.BytesIO(GOOD_REPORT.encode()), "r.csv")}
    response = submit(api, token, parts)
    assert response.status_code == 201, response.get_data(as_text=True)


def test_markup_in_free_text_is_kept_as_text(api: ApiClient, token: str, company: str) -> None:
    """Fields with a pattern, a format or a list of values refuse markup (see the bad
    inputs); free text keeps it as the characters typed, escaped wherever it is shown."""
    address = '<img src=x onerror="alert(1)"> Amir Temur 108'
    response = submit(api, token, form(licence(company, address=address), charter=PDF))
    assert response.status_code == 201, response.get_data(as_text=True)
    number = response.get_json()["tracking_number"]
    application = db.session.scalar(
        select(Application).where(Application.tracking_number == number)
    )
    assert application is not None
    assert application.data["address"] == address


def _report(company: str, csv: str) -> dict[str, Any]:
    body = {"service": "statistical_report", "acting_for": company, "data": REPORT_DATA}
    return form(body, report=(csv.encode(), "report.csv"))


BAD_INPUTS: list[tuple[str, Callable[[str], dict[str, Any]], list[str]]] = [
    (
        "wrong TIN",
        lambda c: form(
            {
                "service": "certificate_request",
                "acting_for": c,
                "data": {"licence_number": "L-1234", "holder_tin": "123", "purpose": "bank"},
            }
        ),
        ["data.holder_tin"],
    ),
    ("missing attachment", lambda c: form(licence(c)), ["attachment.charter"]),
    (
        "an executable named .pdf",
        lambda c: form(licence(c), charter=(EXE, "charter.pdf")),
        ["attachment.charter"],
    ),
    (
        "an executable as an optional attachment",
        lambda c: form(licence(c), charter=PDF, premises_plan=(EXE, "plan.pdf")),
        ["attachment.premises_plan"],
    ),
    (
        "a CSV with the wrong columns",
        lambda c: _report(c, "region,activity,staff\n1726,G,10\n"),
        ["attachment.report"],
    ),
    (
        "formulas in cells",
        lambda c: _report(c, REPORT_HEADER + '=HYPERLINK("http://x"),G,10,3000.5,1,2026-09-30\n'),
        ["attachment.report"],
    ),
    ("metadata that is not JSON", lambda c: form("{service: licence", charter=PDF), ["metadata"]),
    ("metadata that is not an object", lambda c: form("[1, 2]", charter=PDF), ["metadata"]),
    (
        "wrong types",
        lambda c: form(
            {"service": 5, "acting_for": ["person"], "data": "activity=pharmacy"}, charter=PDF
        ),
        ["acting_for", "data", "service"],
    ),
    (
        "wrong types in the data",
        lambda c: form(licence(c, employees="a dozen", agree="maybe"), charter=PDF),
        ["data.agree", "data.employees"],
    ),
    ("an unknown service", lambda c: form({**licence(c), "service": "nope"}), ["service"]),
    (
        "unknown fields",
        lambda c: form({**licence(c, colour="red"), "extra": 1}, charter=PDF),
        ["data.colour", "extra"],
    ),
    (
        "HTML in fields",
        lambda c: form(
            licence(c, contact_phone="<b>+998901234567</b>", activity="<script>x</script>"),
            charter=PDF,
        ),
        ["data.activity", "data.contact_phone"],
    ),
    (
        "an attachment the service does not ask for",
        lambda c: form(licence(c), charter=PDF, passport=PDF),
        ["attachment.passport"],
    ),
    (
        "acting for an organisation of someone else",
        lambda c: form({**licence(c), "acting_for": "organisation:999999"}, charter=PDF),
        ["acting_for"],
    ),
    (
        "a person applying for an organisations' service",
        lambda c: _report_as_person(),
        ["acting_for"],
    ),
    (
        "every problem at once",
        lambda c: form({**licence(c, address="x"), "acting_for": "nobody"}),
        ["acting_for", "attachment.charter", "data.address"],
    ),
]


def _report_as_person() -> dict[str, Any]:
    body = {"service": "statistical_report", "acting_for": "person", "data": REPORT_DATA}
    return form(body, report=(GOOD_REPORT.encode(), "report.csv"))


@pytest.mark.parametrize(
    ("make_body", "fields"),
    [(b, f) for _n, b, f in BAD_INPUTS],
    ids=[n for n, _b, _f in BAD_INPUTS],
)
def test_bad_input_is_named_and_leaves_nothing(
    api: ApiClient,
    token: str,
    company: str,
    store: LocalStore,
    make_body: Callable[[str], dict[str, Any]],
    fields: list[str],
) -> None:
    before = state(store)
    response = submit(api, token, make_body(company), key=str(uuid.uuid4()))
    body = problem(response, 422, *fields)
    for error in body["errors"]:
        assert error["message"]
        assert TIN not in error["message"]
    assert state(store) == before


def test_the_table_errors_of_a_report_are_listed(
    api: ApiClient, token: str, company: str, store: LocalStore
) -> None:
    before = state(store)
    rows = "".join(f"=1+{i},G,abc,3000.5,1,2026-09-30\n" for i in range(700))
    response = submit(api, token, _report(company, REPORT_HEADER + rows))
    body = problem(response, 422, "attachment.report")
    report = body["report"]
    assert report["attachment"] == "attachment.report"
    assert report["errors_total"] >= len(report["errors"])
    assert 1 <= len(report["errors"]) <= 1000
    first = report["errors"][0]
    assert first["row"] == 2
    assert first["column"] in ("region_code", "employees")
    assert first["reason"]
    assert {e["column"] for e in report["errors"]} >= {"region_code", "employees"}
    assert state(store) == before

    wrong = problem(
        submit(api, token, _report(company, "region,staff\n1,2\n")), 422, "attachment.report"
    )
    assert wrong["report"]["errors"][0]["row"] == 1
    assert state(store) == before


def test_a_file_over_the_attachment_limit(
    api: ApiClient, token: str, company: str, store: LocalStore
) -> None:
    before = state(store)
    big = PDF + b"\n%" + b"0" * (20 * 1024 * 1024)
    # Written by hand: the test client would spool so large a body to a file it never closes.
    boundary = "big-boundary"
    raw = multipart_body(
        boundary,
        [("metadata", None, json.dumps(licence(company)).encode()), ("charter", "c.pdf", big)],
    )
    response = api.post(
        "/applications", token, data=raw, content_type=f"multipart/form-data; boundary={boundary}"
    )
    body = problem(response, 422, "attachment.charter")
    assert "20 MB" in body["errors"][0]["message"]
    assert state(store) == before


def test_a_request_over_the_upload_limit(
    app: Flask,
    api: ApiClient,
    token: str,
    company: str,
    store: LocalStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body over max_upload_mb (a 2 GB file, say) is refused before it is read."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    before = state(store)
    big = PDF + b"0" * (128 * 1024)
    problem(submit(api, token, form(licence(company), charter=big)), 413)
    assert state(store) == before


def test_bodies_that_cannot_be_read(api: ApiClient, token: str, store: LocalStore) -> None:
    before = state(store)
    problem(api.post("/applications", token, data="service=x", content_type="text/plain"), 415)
    problem(
        api.post("/applications", token, data=b"{not json", content_type="application/json"), 400
    )
    problem(api.post("/applications", token, json=[1, 2]), 422, "_")
    boundary = "b0undary"
    raw = multipart_body(
        boundary, [("metadata", None, b"{}"), ("service", None, b"licence_request")]
    )
    response = api.post(
        "/applications",
        token,
        data=raw,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    problem(response, 422, "service")  # the text part is unknown: fields go in metadata
    raw = multipart_body(boundary, [("charter", "c.pdf", PDF)])
    response = api.post(
        "/applications", token, data=raw, content_type=f"multipart/form-data; boundary={boundary}"
    )
    problem(response, 422, "metadata")
    assert state(store) == before


def test_a_failure_after_the_files_were_stored_leaves_nothing(
    api: ApiClient, token: str, company: str, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registration fails at the very end (storage, the journal ...): the draft made at the
    start of the request, its files and their blobs go too."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise portal.ServiceUnavailable("The registry is down.")

    monkeypatch.setattr(routing, "start", broken)
    before = state(store)
    content = PDF + b"% unique to this test\n"
    response = submit(api, token, form(licence(company), charter=content), key="k-1")
    problem(response, 503)
    assert state(store) == before


# Idempotency -----------------------------------------------------------------------------------


def test_a_retry_returns_the_first_answer(
    api: ApiClient, token: str, company: str, store: LocalStore
) -> None:
    first = submit(api, token, form(licence(company), charter=PDF), key="order-42")
    assert first.status_code == 201, first.get_data(as_text=True)
    after_first = state(store)
    # The same request again; the client picks another multipart boundary.
    again = submit(api, token, form(licence(company), charter=PDF), key="order-42")
    assert again.status_code == 201, again.get_data(as_text=True)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert state(store) == after_first

    # The same key for another request is refused.
    other = submit(api, token, form(licence(company, employees=13), charter=PDF), key="order-42")
    body = problem(other, 422, "Idempotency-Key")
    assert "another request" in body["detail"]
    assert state(store) == after_first
    # Another file is another request too.
    other = submit(api, token, form(licence(company), charter=PDF + b"%\n"), key="order-42")
    problem(other, 422, "Idempotency-Key")


def test_json_key_order_does_not_matter(api: ApiClient, token: str) -> None:
    body: dict[str, Any] = {
        "service": "certificate_request",
        "acting_for": "person",
        "data": {"licence_number": "L-0012345", "holder_tin": TIN, "purpose": "bank"},
    }
    first = submit(api, token, body, key="json-1", as_json=True)
    assert first.status_code == 201, first.get_data(as_text=True)
    reordered = {
        "data": dict(reversed(list(body["data"].items()))),
        "acting_for": body["acting_for"],
        "service": body["service"],
    }
    assert json.dumps(reordered) != json.dumps(body)
    again = submit(api, token, reordered, key="json-1", as_json=True)
    assert again.status_code == 201
    assert again.get_json()["tracking_number"] == first.get_json()["tracking_number"]


def test_a_failed_request_does_not_use_up_its_key(
    api: ApiClient, token: str, company: str, store: LocalStore
) -> None:
    before = state(store)
    problem(submit(api, token, form(licence(company)), key="try-1"), 422, "attachment.charter")
    assert state(store) == before
    fixed = submit(api, token, form(licence(company), charter=PDF), key="try-1")
    assert fixed.status_code == 201, fixed.get_data(as_text=True)
    assert "Idempotent-Replayed" not in fixed.headers


def test_keys_belong_to_their_user_and_expire(
    api: ApiClient,
    token: str,
    company: str,
    make_user: Callable[..., User],
    token_for: Callable[[User], str],
) -> None:
    first = submit(api, token, form(licence(company), charter=PDF), key="shared")
    other = _applicant(make_user, "bobur", "301234568")
    other_company = f"organisation:{other_org(other)}"
    second = submit(api, token_for(other), form(licence(other_company), charter=PDF), key="shared")
    assert second.status_code == 201, second.get_data(as_text=True)
    assert second.get_json()["tracking_number"] != first.get_json()["tracking_number"]

    # A day later the key is forgotten (the purge job, or at once when it is used again).
    db.session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    third = submit(api, token, form(licence(company, employees=3), charter=PDF), key="shared")
    assert third.status_code == 201, third.get_data(as_text=True)
    assert "Idempotent-Replayed" not in third.headers
    assert purge_idempotency_keys() == 1  # bobur's; the renewed one is new
    db.session.commit()
    keys = db.session.scalars(select(IdempotencyRecord.key)).all()
    assert keys == ["shared"]


def other_org(user: User) -> int:
    org_id = db.session.scalar(
        select(Membership.organisation_id).where(Membership.user_id == user.id)
    )
    assert org_id is not None
    return org_id


@pytest.mark.parametrize("key", ["", "x" * 129, "ключ", "tab\tinside"])
def test_a_malformed_key_is_refused(api: ApiClient, token: str, company: str, key: str) -> None:
    response = submit(api, token, form(licence(company), charter=PDF), key=key)
    problem(response, 422, "Idempotency-Key")


def _setup_committed_org() -> None:
    """The demo departments, journals and people, the workflows and the services."""
    auth.create_department("MIN", "Ministry")
    for code in ("CHANCERY", "LEGAL", "LICENSING", "STATS"):
        auth.create_department(code, code.title(), "MIN")
    for username, role, dept in (
        ("clerk", Role.CLERK, "CHANCERY"),
        ("head", Role.APPROVER, "CHANCERY"),
        ("minister", Role.APPROVER, "MIN"),
        ("lawyer", Role.APPROVER, "LEGAL"),
        ("licensor", Role.APPROVER, "LICENSING"),
        ("statistician", Role.APPROVER, "STATS"),
    ):
        auth.create_user(username, [role], department_code=dept)
    for code, head in (
        ("CHANCERY", "head"),
        ("MIN", "minister"),
        ("LICENSING", "licensor"),
        ("STATS", "statistician"),
        ("LEGAL", "lawyer"),
    ):
        auth.set_department_head(code, head)
    registry.create_journal("IN", "IN", "Incoming", "incoming", "CHANCERY")
    registry.create_journal("OUT", "OUT", "Outgoing", "outgoing", "CHANCERY")
    routing.sync_definitions()
    portal.sync_services()


def test_concurrent_retries_make_one_application(committing_app: Flask) -> None:
    with committing_app.app_context():
        _setup_committed_org()
        user = auth.create_user("racer", [Role.APPLICANT])
        db.session.add(ApplicantProfile(user_id=user.id, pinfl=PINFL))
        _, plain = create_token(user, "tests")
        db.session.commit()

    threads_n = 4
    barrier = threading.Barrier(threads_n)
    answers: list[TestResponse] = []
    errors: list[BaseException] = []
    body = {"service": "licence_request", "acting_for": "person", "data": LICENCE}

    def post() -> None:
        try:
            client = ApiClient(committing_app.test_client())
            barrier.wait(timeout=30)
            answers.append(submit(client, plain, form(body, charter=PDF), key="race"))
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert [a.status_code for a in answers] == [201] * threads_n, [
        a.get_data(as_text=True) for a in answers
    ]
    assert len({a.get_json()["tracking_number"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == [""] + ["true"] * (
        threads_n - 1
    )
    with committing_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Application)) == 1
        assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


# Rate limits ---------------------------------------------------------------------------------


def test_writes_are_rate_limited_per_token(
    app: Flask,
    api: ApiClient,
    token: str,
    applicant: User,
    token_for: Callable[[User], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config["EDMS"], "portal_api_rate_limit", "2 per minute")
    for _ in range(2):
        problem(submit(api, token, {"service": "nope"}, as_json=True), 422, "acting_for", "service")
    refused = submit(api, token, {"service": "nope"}, as_json=True)
    body = problem(refused, 429)
    assert "API token" in body["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    problem(api.post("/applications/AP-0000-0000/responses", token, json={"answer": "x"}), 429)
    # Reads have a looser limit of their own; another token of the same user is not limited.
    problem(api.get("/applications/AP-0000-0000", token), 404)
    fresh = token_for(applicant)
    problem(submit(api, fresh, {"service": "nope"}, as_json=True), 422, "acting_for", "service")


def test_a_bad_limit_stops_the_start(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="portal_api_rate_limit"):
        create_app(
            {
                "data_dir": str(tmp_path),
                "database_url": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                "secret_key": "test-secret-key-0123456789",
                "scheduler": "off",
                "portal_api_rate_limit": "lots",
            }
        )


# Who may see what ------------------------------------------------------------------------------


@pytest.fixture
def submitted(api: ApiClient, token: str, company: str) -> str:
    response = submit(api, token, form(licence(company), charter=PDF))
    assert response.status_code == 201, response.get_data(as_text=True)
    number: str = response.get_json()["tracking_number"]
    return number


def test_only_the_owner_sees_an_application(
    api: ApiClient,
    submitted: str,
    org: Org,
    make_user: Callable[..., User],
    token_for: Callable[[User], str],
) -> None:
    other = token_for(_applicant(make_user, "bobur", "301234568"))
    staff = token_for(org.licensor)
    for who in (other, staff):
        problem(api.get(f"/applications/{submitted}", who), 404)
        problem(api.get(f"/applications/{submitted}/decision", who), 404)
        answered = api.post(f"/applications/{submitted}/responses", who, json={"answer": "x"})
        problem(answered, 404)
    problem(api.get("/applications/AP-ZZZZ-ZZZZ", other), 404)
    problem(api.get("/applications/not-a-number", other), 404)
    problem(api.get(f"/applications/{submitted}"), 401)


def test_staff_tokens_cannot_submit(
    api: ApiClient,
    org: Org,
    catalogue: dict[str, ServiceDefinition],
    token_for: Callable[[User], str],
) -> None:
    response = submit(api, token_for(org.clerk), {"service": "licence_request"}, as_json=True)
    body = problem(response, 403)
    assert "applicants" in body["detail"]


# Answers and the decision -------------------------------------------------------------------------


def test_answering_a_request_for_information(
    api: ApiClient, token: str, submitted: str, org: Org, store: LocalStore
) -> None:
    url = f"/applications/{submitted}/responses"
    problem(api.post(url, token, json={"answer": "Here it is."}), 409)

    application = db.session.scalar(
        select(Application).where(Application.tracking_number == submitted)
    )
    assert application is not None
    assert application.document is not None
    portal.request_information(org.licensor, application.document, "Please attach the lease.")
    db.session.commit()

    view = api.get(f"/applications/{submitted}", token).get_json()
    assert view["status"] == "information_requested"
    assert view["open_request"]["message"] == "Please attach the lease."
    assert view["open_request"]["answer_due_on"]

    before = state(store)
    problem(api.post(url, token, json={"answer": 5}), 422, "answer")
    problem(api.post(url, token, json={"reply": "x"}), 422, "reply")
    problem(api.post(url, token, json={"answer": ""}), 422, "answer")
    bad = {"metadata": json.dumps({"answer": "  "}), "files": (io.BytesIO(b""), "")}
    problem(api.post(url, token, data=bad, content_type="multipart/form-data"), 422, "answer")
    assert state(store) == before

    body = {
        "metadata": json.dumps({"answer": "The lease is attached."}),
        "files": [(io.BytesIO(PDF), "lease.pdf"), (io.BytesIO(PDF + b"%2\n"), "annex.pdf")],
    }
    response = api.post(url, token, data=body, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["files"] == 2
    assert answer["status"] == "submitted"
    assert response.headers["Location"] == f"/api/v1/applications/{submitted}"

    view = api.get(f"/applications/{submitted}", token).get_json()
    assert view["open_request"] is None
    assert [e["kind"] for e in view["events"]] == ["submitted", "information_requested", "answered"]
    assert view["events"][-1]["details"] == {"request": answer["request"], "files": 2}
    problem(api.post(url, token, json={"answer": "Again."}), 409)


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)
def test_from_submission_to_a_verifiable_decision(
    api: ApiClient, token: str, submitted: str, token_for: Callable[[User], str]
) -> None:
    """Staff approve the route through the API; the decision is made (the scheduler's
    job, run here) and the applicant downloads a PDF sealed by the organisation."""
    url = f"/applications/{submitted}/decision"
    problem(api.get(url, token), 404)  # not decided yet
    signatures.init_demo_pki()
    application = db.session.scalar(
        select(Application).where(Application.tracking_number == submitted)
    )
    assert application is not None
    instance = routing.current_instance(application.document)
    for _ in range(20):
        db.session.expire_all()
        task = next((t for t in routing.instance_tasks(instance) if t.status == "open"), None)
        if task is None:
            break
        decided = api.post(
            f"/tasks/{task.id}/decision", token_for(task.assignee), json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.get_data(as_text=True)
    db.session.expire_all()
    assert application.status == ApplicationStatus.DECIDING
    portal.make_decision(application.id)
    db.session.commit()
    view = api.get(f"/applications/{submitted}", token).get_json()
    assert view["status"] == "granted"
    assert view["decision"]["outcome"] == "granted"
    assert view["decision"]["link"] == f"/api/v1{url}"
    response = api.get(url, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    report = signing.verify(io.BytesIO(response.data), signatures.trust_store())
    assert [r.indication for r in report.signatures] == ["TOTAL_PASSED"]


# The OpenAPI document ---------------------------------------------------------------------------


def test_the_endpoints_are_documented(api: ApiClient) -> None:
    spec = api.get("/openapi.json").get_json()
    paths = spec["paths"]
    assert paths["/api/v1/services"]["get"]["security"] == []
    assert "form_schema" in spec["components"]["schemas"]["Service"]["properties"]
    post = paths["/api/v1/applications"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"201", "401", "403", "409", "422", "429"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    for path in (
        "/api/v1/applications/{tracking_number}",
        "/api/v1/applications/{tracking_number}/decision",
    ):
        assert "get" in paths[path]
    assert "post" in paths["/api/v1/applications/{tracking_number}/responses"]
    decision = paths["/api/v1/applications/{tracking_number}/decision"]["get"]["responses"]["200"]
    assert "application/pdf" in decision["content"]
