"""The applicant's pages of the portal, end to end through the Flask test client:
catalogue, service, draft (bad inputs first), submission, confirmation and its e-mail,
status, information requests, the decision, reports with an error table, and what
others (applicants, staff, visitors) may not see."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from edms.auth import services as auth
from edms.auth.models import Role, User
from edms.db import db
from edms.documents.models import Document
from edms.portal import services as portal
from edms.portal.models import (
    ApplicantProfile,
    Application,
    ApplicationFile,
    ApplicationStatus,
    Membership,
    Organisation,
    ServiceDefinition,
)
from edms.routing import services as routing
from tests.conftest import csrf_token, login
from tests.edms.people.conftest import Inbox
from tests.edms.people.conftest import mail_on as mail_on
from tests.edms.people.conftest import smtp as smtp
from tests.edms.routing.conftest import Org
from tests.edms.routing.conftest import definitions as definitions
from tests.edms.routing.conftest import org as org
from tests.edms.ui.conftest import Page, text_of
from tests.edms.ui.test_accessibility import check_page

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
#: The start of a Linux executable, under a name that says PDF.
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(200)
PINFL = "31234567890123"
TIN = "301234567"
EMAIL = "aziz@example.uz"

needs_soffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)


# Fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def make_user(make_user: Callable[..., User]) -> Callable[..., User]:
    """Users without a password: tests log in without the form, and hashing one is slow."""

    def make(*args: Any, **kwargs: Any) -> User:
        kwargs.setdefault("password", None)
        return make_user(*args, **kwargs)

    return make


@pytest.fixture
def catalogue(org: Org, definitions: dict[str, Any]) -> dict[str, ServiceDefinition]:
    """The shipped services, after the demo departments, journals and routes."""
    for code, username in (("LICENSING", "licensor"), ("STATS", "statistician")):
        auth.set_department_head(code, username)
    rows = portal.sync_services()
    db.session.commit()
    return {row.code: row for row, _created in rows}


@pytest.fixture
def make_applicant(ctx: Flask, make_user: Callable[..., User]) -> Callable[..., User]:
    """An applicant with a PINFL, an e-mail address and an organisation they act for."""
    counter = iter(range(1, 1000))

    def make(username: str = "aziz", email: str = EMAIL) -> User:
        n = next(counter)
        user = make_user(Role.APPLICANT, None, username)
        user.email = email
        user.full_name = f"Aziz Karimov {n}"
        db.session.add(ApplicantProfile(user_id=user.id, pinfl=f"{PINFL[:-1]}{n}"))
        company = Organisation(tin=f"{TIN[:-1]}{n}", name=f"Savdo MChJ {n}")
        db.session.add(company)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, organisation_id=company.id))
        db.session.commit()
        return user

    return make


@pytest.fixture
def applicant(make_applicant: Callable[..., User]) -> User:
    return make_applicant()


@pytest.fixture
def browser(client: FlaskClient, applicant: User, catalogue: Any) -> FlaskClient:
    """The applicant's logged-in client, with every URL it was sent to remembered."""
    login(client, applicant)
    return client


def _organisation(user: User) -> str:
    org_id = db.session.scalar(
        select(Membership.organisation_id).where(Membership.user_id == user.id)
    )
    return f"organisation:{org_id}"


def _token(client: FlaskClient, url: str = "/portal/") -> str:
    return csrf_token(client, url)


def _start(client: FlaskClient, code: str) -> str:
    """Start a draft of ``code`` through the service page; its edit URL."""
    page = client.get(f"/portal/services/{code}")
    assert page.status_code == 200
    reply = client.post(
        f"/portal/services/{code}/start", data={"csrf_token": _token(client, page.request.path)}
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    location = reply.headers["Location"]
    assert re.fullmatch(r"/portal/applications/[0-9a-f-]{36}/edit", location)
    return location


def _post(client: FlaskClient, url: str, data: dict[str, Any]) -> TestResponse:
    """A multipart POST with the page's CSRF token, encoded in memory (the test client
    would spool a large body to a temporary file that nothing closes)."""
    fields = MultiDict({"csrf_token": _token(client, url)})
    for key, value in data.items():
        if isinstance(value, tuple):
            value = FileStorage(value[0], filename=value[1])
        fields.add(key, value)
    boundary, body = encode_multipart(fields)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _summary_links(html: str) -> list[tuple[str, str]]:
    """The error summary's (target, text) pairs."""
    start = html.index('class="error-summary"')
    end = html.index("</div>", start)
    page = Page(html[start - 5 : end])
    return [(href, text) for href, text in page.links]


LICENCE_FORM = {
    "activity": "pharmacy",
    "activity_details": "Retail pharmacy",
    "address": "Toshkent sh., Yunusobod t., Amir Temur ko'chasi, 108",
    "start_date": "2026-12-01",
    "employees": "12",
    "contact_phone": "+998901234567",
    "contact_email": "info@savdo.uz",
    "agree": "true",
}


def _no_identifiers(urls: list[str], *identifiers: str) -> None:
    for url in urls:
        for identifier in identifiers:
            assert identifier not in url, url


# The catalogue --------------------------------------------------------------------------------


def test_the_catalogue_and_a_service_are_public(client: FlaskClient, catalogue: Any) -> None:
    reply = client.get("/portal/")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    for name in (
        "Application for a licence",
        "Certificate that a licence is valid",
        "Quarterly statistical report on labour and wages",
    ):
        assert name in text
    assert "15 working days" in text
    assert "1,236,000 UZS" in text
    assert "Free" in text
    assert "Organisations (identified by their TIN)" in text
    assert 'href="/portal/services/licence_request"' in html

    service = client.get("/portal/services/licence_request")
    assert service.status_code == 200
    html = service.get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    assert "Founding document (charter) — required; PDF, up to 20 MB" in text
    assert "Plan of the premises — optional; PDF, JPEG, PNG, up to 20 MB" in text
    assert "Kind of activity" in text
    assert "Log in to start" in text  # a visitor is asked to log in first
    assert client.get("/portal/services/no_such_service").status_code == 404


def test_the_catalogue_speaks_the_visitors_language(client: FlaskClient, catalogue: Any) -> None:
    for lang, name in (
        ("ru", "Заявление на получение лицензии"),
        ("uz", "Litsenziya olish uchun ariza"),
    ):
        client.post("/language", data={"csrf_token": _token(client), "lang": lang})
        html = client.get("/portal/").get_data(as_text=True)
        check_page(html, lang)
        assert name in html


def test_only_applicants_start_an_application(
    client: FlaskClient, catalogue: Any, make_user: Callable[..., User]
) -> None:
    # A visitor is sent to log in.
    reply = client.post(
        "/portal/services/licence_request/start", data={"csrf_token": _token(client)}
    )
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/login")
    # Staff get a page that says why.
    clerk = make_user(Role.CLERK)
    login(client, clerk)
    reply = client.post(
        "/portal/services/licence_request/start", data={"csrf_token": _token(client)}
    )
    assert reply.status_code == 403
    assert "The portal is for applicants" in text_of(reply.get_data(as_text=True))
    assert client.get("/portal/applications").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Application)) == 0


def test_applicants_see_the_portal_menu_not_the_registry(browser: FlaskClient) -> None:
    page = Page(browser.get("/portal/").get_data(as_text=True))
    hrefs = [href for href, _text in page.links]
    assert "/portal/applications" in hrefs
    assert "/portal/account" in hrefs
    assert "/documents" not in hrefs
    assert "/search" not in hrefs
    current = [a["href"] for a in page.find("a") if a.get("aria-current") == "page"]
    assert current == ["/portal/"]


def test_csrf_is_required(browser: FlaskClient) -> None:
    assert browser.post("/portal/services/licence_request/start").status_code == 400
    edit = _start(browser, "licence_request")
    reply = browser.post(edit, data={"action": "save", "address": "x"})
    assert reply.status_code == 400
    assert db.session.scalar(select(Application.data)) == {}


# Applying ---------------------------------------------------------------------------------------


def test_apply_bad_inputs_then_draft_then_submit(
    browser: FlaskClient,
    applicant: User,
    make_applicant: Callable[..., User],
    make_user: Callable[..., User],
    mail_on: Inbox,
) -> None:
    urls: list[str] = []
    home = browser.get("/portal/")
    assert 'href="/portal/services/licence_request"' in home.get_data(as_text=True)
    edit = _start(browser, "licence_request")
    urls.append(edit)
    page = browser.get(edit)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_page(html, "en")
    parsed = Page(html)
    # Browser-side help: required, types, bounds, lengths and patterns.
    [activity] = parsed.find("select", id="field-activity")
    assert "required" in activity
    [start_date] = parsed.find("input", id="field-start_date")
    assert start_date["type"] == "date"
    [employees] = parsed.find("input", id="field-employees")
    assert (employees["type"], employees["min"], employees["max"]) == ("number", "0", "100000")
    assert "required" not in employees
    [email] = parsed.find("input", id="field-contact_email")
    assert (email["type"], email["maxlength"]) == ("email", "254")
    [phone] = parsed.find("input", id="field-contact_phone")
    assert phone["pattern"] == r"\+998[0-9]{9}"
    [address] = parsed.find("input", id="field-address")
    assert (address["minlength"], address["maxlength"]) == ("5", "300")
    assert address["aria-describedby"] == "field-address-hint"
    [charter] = parsed.find("input", id="attachment-charter")
    assert charter["type"] == "file"
    assert "required" in charter
    assert ".pdf" in charter["accept"]
    # "Apply as": the person (PINFL masked) or the organisation.
    radios = parsed.find("input", type="radio")
    assert [r["value"] for r in radios] == ["person", _organisation(applicant)]
    assert PINFL[:-1] not in html
    assert TIN[:-1] not in html

    # 1. Everything missing: every problem in the summary, each linked to its field.
    reply = _post(browser, edit, {"action": "submit"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert "<title>Error: " in html
    links = dict(_summary_links(html))
    assert links["#field-activity"] == "Kind of activity: choose one of the options"
    assert links["#field-address"] == "Address of the premises: enter a value"
    assert links["#field-agree"].endswith("tick this box to continue")
    assert links["#attachment-charter"] == "Founding document (charter): attach this file"
    assert links["#acting_for-0"].startswith("Apply as:")
    summary = Page(html).find("div", class_="error-summary")[0]
    assert (summary["role"], summary["tabindex"]) == ("alert", "-1")
    assert "data-focus-on-load" in summary
    [field] = Page(html).find("input", id="field-address")
    assert field["aria-invalid"] == "true"
    assert field["aria-describedby"] == "field-address-hint field-address-error"
    assert 'id="field-address-error"' in html
    assert "Your draft has been saved" in html

    # 2. HTML in a text field, a wrong pattern, and an executable named .pdf.
    reply = _post(
        browser,
        edit,
        {
            **LICENCE_FORM,
            "address": '<script>alert("x")</script> Toshkent',
            "contact_phone": "12345",
            "employees": "many",
            "acting_for": "person",
            "action": "submit",
            "attachment.charter": (io.BytesIO(ELF), "charter.pdf"),
        },
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Toshkent" in html
    links = dict(_summary_links(html))
    assert links["#attachment-charter"].startswith(
        "Founding document (charter): a PDF file is needed; this one is "
    )
    assert links["#field-contact_phone"] == "Telephone number: is not in the expected format"
    assert links["#field-employees"] == "Number of employees: enter a whole number"
    assert "#field-address" not in links  # HTML is only text: it is kept, escaped
    # What was typed stays on the page, even what could not be read.
    assert Page(html).find("input", id="field-employees")[0]["value"] == "many"
    application = db.session.scalar(select(Application))
    db.session.refresh(application)
    assert application.status == ApplicationStatus.DRAFT
    assert application.files == []
    assert application.tracking_number is None
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert application.data["address"] == '<script>alert("x")</script> Toshkent'

    # 3. A file larger than the attachment allows (20 MB).
    big = io.BytesIO(PDF + b"0" * (20 * 1024 * 1024))
    reply = _post(
        browser,
        edit,
        {**LICENCE_FORM, "action": "save", "attachment.charter": (big, "charter.pdf")},
    )
    assert reply.status_code == 422
    links = dict(_summary_links(reply.get_data(as_text=True)))
    assert links == {
        "#attachment-charter": "Founding document (charter): "
        "the file is larger than the limit of 20 MB"
    }
    db.session.refresh(application)
    assert application.files == []

    # 4. Save the draft: a redirect back to the form, which shows what was kept.
    reply = _post(
        browser,
        edit,
        {
            **LICENCE_FORM,
            "acting_for": _organisation(applicant),
            "action": "save",
            "attachment.charter": (io.BytesIO(PDF), "charter.pdf"),
        },
    )
    assert reply.status_code == 302
    assert reply.headers["Location"] == edit
    html = browser.get(edit).get_data(as_text=True)
    assert "Your draft has been saved." in html
    assert "Attached: <strong>charter.pdf</strong>" in html
    parsed = Page(html)
    assert parsed.find("input", id="field-address")[0]["value"] == LICENCE_FORM["address"]
    assert "checked" in parsed.find("input", id="field-agree")[0]
    checked = [r["value"] for r in parsed.find("input", type="radio") if "checked" in r]
    assert checked == [_organisation(applicant)]
    assert "required" not in parsed.find("input", id="attachment-charter")[0]
    listing = browser.get("/portal/applications").get_data(as_text=True)
    assert "Draft" in listing
    assert edit in listing

    # 5. Submit: the confirmation page with the tracking number.
    before = db.session.scalar(select(func.count()).select_from(Document))
    reply = _post(
        browser, edit, {**LICENCE_FORM, "acting_for": _organisation(applicant), "action": "submit"}
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    confirmation = reply.headers["Location"]
    urls.append(confirmation)
    match = re.fullmatch(
        r"/portal/applications/(AP-[0-9A-Z]{4}-[0-9A-Z]{4})/submitted", confirmation
    )
    assert match
    number = match[1]
    page = browser.get(confirmation)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    assert f"Your tracking number {number}" in text
    assert "What happens next" in text
    db.session.expire_all()
    application = db.session.scalar(select(Application))
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.due_on is not None
    due = application.due_on.strftime("%B %-d, %Y")
    assert f"The legal due date of the decision is {due}" in text
    assert "15 working days" in text
    assert db.session.scalar(select(func.count()).select_from(Document)) == before + 1
    assert application.document.journal.code == "IN"

    # 6. The e-mail with the tracking number.
    [message] = mail_on.to(EMAIL)
    assert number in message["Subject"]
    assert number in message.get_content()

    # 7. The status page: status, current step, due date, history.
    status_url = f"/portal/applications/{number}"
    urls.append(status_url)
    assert f'href="{status_url}"' in html
    page = browser.get(status_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    assert "Status Under review" in text
    assert "Current step Review" in text
    assert f"Legal due date {due}" in text
    assert "The application was submitted and registered as IN-" in text
    # A submitted application cannot be edited any more: its form sends to the status.
    assert browser.get(edit).headers["Location"] == status_url
    listing = browser.get("/portal/applications").get_data(as_text=True)
    assert number in listing
    assert "Under review" in listing
    _no_identifiers(urls, PINFL, TIN, EMAIL, applicant.username)

    # 8. Nobody else learns that it exists: another applicant, staff.
    login(browser, make_applicant("bobur", "bobur@example.uz"))
    for url in (status_url, confirmation, f"{status_url}/decision", edit):
        assert browser.get(url).status_code == 404, url
    answer = _post(browser, f"{status_url}/answer", {"answer": "hello"})
    assert answer.status_code == 404
    login(browser, make_user(Role.ADMIN))
    for url in (status_url, f"{status_url}/decision", edit):
        assert browser.get(url).status_code == 404, url


def test_a_wrong_tin_is_named(browser: FlaskClient) -> None:
    edit = _start(browser, "certificate_request")
    reply = _post(
        browser,
        edit,
        {
            "licence_number": "L-0012345",
            "holder_tin": "12345",
            "purpose": "bank",
            "acting_for": "person",
            "action": "submit",
        },
    )
    assert reply.status_code == 422
    links = dict(_summary_links(reply.get_data(as_text=True)))
    assert links == {"#field-holder_tin": "TIN of the licence holder: a TIN is exactly 9 digits"}
    # On "Save draft" too: what was typed is checked, what is still empty is not.
    reply = _post(browser, edit, {"holder_tin": "012345678", "action": "save"})
    assert reply.status_code == 422
    links = dict(_summary_links(reply.get_data(as_text=True)))
    assert links == {"#field-holder_tin": "TIN of the licence holder: a TIN does not start with 0"}


def test_a_request_larger_than_the_upload_limit_is_named_on_the_form(
    app: Flask, browser: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit = _start(browser, "licence_request")
    token = _token(browser, edit)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    reply = browser.post(
        edit,
        data={
            "csrf_token": token,
            "action": "save",
            "attachment.charter": (io.BytesIO(PDF + b"0" * 128 * 1024), "charter.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 413
    html = reply.get_data(as_text=True)
    links = dict(_summary_links(html))
    assert list(links) == ["#attachment-charter"]
    assert "larger than" in links["#attachment-charter"]
    assert db.session.scalar(select(func.count()).select_from(ApplicationFile)) == 0


def test_an_attachment_can_be_removed(browser: FlaskClient) -> None:
    edit = _start(browser, "licence_request")
    _post(browser, edit, {"action": "save", "attachment.charter": (io.BytesIO(PDF), "scan.pdf")})
    html = browser.get(edit).get_data(as_text=True)
    [button] = [b for b in Page(html).find("button") if b.get("name") == "remove"]
    reply = _post(browser, edit, {"remove": button["value"], "address": "Samarqand, 1"})
    assert reply.status_code == 302
    html = browser.get(edit).get_data(as_text=True)
    assert "scan.pdf has been removed." in html
    assert "Attached:" not in html
    assert Page(html).find("input", id="field-address")[0]["value"] == "Samarqand, 1"


# Statistical reports ------------------------------------------------------------------------------

REPORT_FORM = {
    "year": "2026",
    "quarter": "1",
    "total_employees": "30",
    "total_wages": "1500,5",
    "contact_person": "Dilshod",
    "contact_email": "stat@savdo.uz",
    "agree": "true",
}
HEADER = "region_code,activity,employees,wages,revenue,period_end\n"


def test_a_report_with_errors_shows_the_error_table_then_a_good_one_submits(
    browser: FlaskClient, applicant: User
) -> None:
    edit = _start(browser, "statistical_report")
    base = {**REPORT_FORM, "acting_for": _organisation(applicant), "action": "submit"}

    wrong_columns = "region,activity,staff\n1726,A,10\n"
    reply = _post(
        browser, edit, {**base, "attachment.report": (io.BytesIO(wrong_columns.encode()), "q1.csv")}
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    links = dict(_summary_links(html))
    assert links["#attachment-report"].startswith("Report table: the report has ")
    table = Page(html[html.index('id="report-errors"') :])
    assert table.find("caption")
    rows = _error_rows(html)
    assert rows
    assert all(row == "1" for row, _column, _reason in rows)
    assert any("employees" in reason or "employees" in column for _r, column, reason in rows)

    bad = (
        HEADER
        + "1726,A,10,500.5,,2026-03-31\n"
        + "99,A,10,500,,2026-03-31\n"  # row 3: not a SOATO region code
        + "1727,A,=SUM(C2:C3),500,,2026-03-31\n"  # row 4: a formula
        + "1727,Z,10,500,,31.03.2026\n"  # row 5: no such activity
    )
    reply = _post(
        browser, edit, {**base, "attachment.report": (io.BytesIO(bad.encode()), "q1.csv")}
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    rows = _error_rows(html)
    by_row = {(row, column) for row, column, _reason in rows}
    assert ("3", "Region code (SOATO) region_code") in by_row
    assert ("4", "Employees employees") in by_row
    assert ("5", "Activity (OKED section) activity") in by_row
    assert any("formulas are not accepted" in reason for _r, _c, reason in rows)
    assert "=SUM" not in html  # messages never repeat a cell
    db.session.expire_all()
    assert db.session.scalar(select(Application)).files == []  # the bad report is not kept

    good = HEADER + "1726,A,10,500.5,,2026-03-31\n1727,G,20,1000,20000,31.03.2026\n"
    reply = _post(
        browser, edit, {**base, "attachment.report": (io.BytesIO(good.encode()), "q1.csv")}
    )
    assert reply.status_code == 302, _summary_links(reply.get_data(as_text=True))
    assert reply.headers["Location"].endswith("/submitted")
    db.session.expire_all()
    application = db.session.scalar(select(Application))
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.document.department.code == "STATS"


def _error_rows(html: str) -> list[tuple[str, str, str]]:
    start = html.index('id="report-errors"')
    body = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows.append((cells[0], cells[1], cells[2]))
    return rows


# After submitting: information requests and the decision ---------------------------------------


def _submit_licence(client: FlaskClient, applicant: User) -> str:
    edit = _start(client, "licence_request")
    reply = _post(
        client,
        edit,
        {
            **LICENCE_FORM,
            "acting_for": "person",
            "action": "submit",
            "attachment.charter": (io.BytesIO(PDF), "charter.pdf"),
        },
    )
    assert reply.status_code == 302, _summary_links(reply.get_data(as_text=True))
    return reply.headers["Location"].removesuffix("/submitted")


def test_the_applicant_answers_a_request_for_information(
    app: Flask, browser: FlaskClient, applicant: User, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    status_url = _submit_licence(browser, applicant)
    application = db.session.scalar(select(Application))
    portal.request_information(org.licensor, application.document, "Please send the lease.")
    db.session.commit()

    html = browser.get(status_url).get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    assert "More information needed from you" in text
    assert "Please send the lease." in text
    assert "More information was asked of you." in text

    # Neither text nor a file: the answer names its field.
    reply = _post(browser, f"{status_url}/answer", {"answer": "  "})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "en")
    assert dict(_summary_links(html)) == {
        "#answer": "Your answer: write an answer or attach a file"
    }

    # Files over the upload limit: the request cannot be read, the page says why.
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
        reply = _post(
            browser,
            f"{status_url}/answer",
            {"answer": "Big", "files": (io.BytesIO(PDF + bytes(128 * 1024)), "lease.pdf")},
        )
    assert reply.status_code == 413
    links = dict(_summary_links(reply.get_data(as_text=True)))
    assert list(links) == ["#answer-files"]
    assert links["#answer-files"].startswith("Files: The files you chose are larger than")

    reply = _post(
        browser,
        f"{status_url}/answer",
        {"answer": "The lease is attached.", "files": (io.BytesIO(PDF), "lease.pdf")},
    )
    assert reply.status_code == 302
    html = browser.get(status_url).get_data(as_text=True)
    text = text_of(html)
    assert "Thank you: your answer has been sent." in text
    assert "You answered the request for information (1 file)." in text
    assert "Status Under review" in text
    assert 'action="' + status_url + '/answer"' not in html
    # Answering twice is refused with a message, not an error page.
    reply = _post(browser, f"{status_url}/answer", {"answer": "Again"})
    assert reply.status_code == 302
    assert "Nothing has been asked of this application." in browser.get(status_url).get_data(
        as_text=True
    )


@needs_soffice
@pytest.mark.slow
def test_the_decision_is_downloaded_with_its_verification_code(
    browser: FlaskClient, applicant: User, make_applicant: Callable[..., User]
) -> None:
    from edms.signing import services as signatures

    signatures.init_demo_pki()
    status_url = _submit_licence(browser, applicant)
    application = db.session.scalar(select(Application))
    instance = routing.current_instance(application.document)
    for _ in range(10):  # one open task at a time: a quorum closes the others
        db.session.expire_all()
        task = next((t for t in routing.instance_tasks(instance) if t.status == "open"), None)
        if task is None:
            break
        routing.decide(task.assignee, task.id, "approve")
        db.session.commit()
    portal.make_decision(application.id)
    db.session.commit()

    html = browser.get(status_url).get_data(as_text=True)
    check_page(html, "en")
    text = text_of(html)
    code = application.decision_document.verification_code
    assert "Status Granted" in text
    assert "Download the decision (PDF)" in text
    assert f"Verification code: {code}" in text
    assert f'href="/verify?code={code}"' in html
    assert "your application is granted" in text
    reply = browser.get(f"{status_url}/decision")
    assert reply.status_code == 200
    assert reply.mimetype == "application/pdf"
    assert reply.headers["Content-Disposition"].startswith("attachment")
    assert reply.data.startswith(b"%PDF")
    reply.close()
    login(browser, make_applicant("bobur", "bobur@example.uz"))
    assert browser.get(f"{status_url}/decision").status_code == 404


# Accessibility in every language ---------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "ru", "uz"])
def test_portal_pages_are_structured_for_assistive_technology(
    browser: FlaskClient, applicant: User, locale: str
) -> None:
    browser.post("/language", data={"csrf_token": _token(browser), "lang": locale})
    status_url = _submit_licence(browser, applicant)
    edit = _start(browser, "statistical_report")
    pages: dict[str, TestResponse] = {
        "catalogue": browser.get("/portal/"),
        "service": browser.get("/portal/services/statistical_report"),
        "edit": browser.get(edit),
        "edit (errors)": _post(
            browser,
            edit,
            {
                "action": "submit",
                "year": "1900",
                "attachment.report": (io.BytesIO(b"a,b\n1,2\n"), "r.csv"),
            },
        ),
        "submitted": browser.get(f"{status_url}/submitted"),
        "status": browser.get(status_url),
        "list": browser.get("/portal/applications"),
        "not found": browser.get("/portal/applications/AP-0000-0000"),
    }
    for name, reply in pages.items():
        try:
            check_page(reply.get_data(as_text=True), locale)
        except AssertionError as exc:
            raise AssertionError(f"{name} ({locale}): {exc}") from exc
    assert pages["edit (errors)"].status_code == 422
    assert pages["not found"].status_code == 404


def test_a_value_that_cannot_be_read_keeps_its_own_message(browser: FlaskClient) -> None:
    edit = _start(browser, "statistical_report")
    reply = _post(browser, edit, {"year": "two thousand", "action": "submit"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    links = dict(_summary_links(html))
    assert links["#field-year"] == "Reporting year: enter a whole number"
    assert links["#field-quarter"] == "Quarter: choose one of the options"


def test_an_xlsx_report_with_a_formula_is_refused_row_by_row(
    browser: FlaskClient, applicant: User
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["1726", "A", 10, 500.5, None, "2026-03-31"])
    sheet.append(["1727", "G", "=C2*2", 1000, None, "2026-03-31"])
    out = io.BytesIO()
    book.save(out)
    edit = _start(browser, "statistical_report")
    reply = _post(
        browser,
        edit,
        {
            **REPORT_FORM,
            "acting_for": _organisation(applicant),
            "action": "save",
            "attachment.report": (io.BytesIO(out.getvalue()), "q1.xlsx"),
        },
    )
    assert reply.status_code == 422
    rows = _error_rows(reply.get_data(as_text=True))
    assert rows == [("3", "Employees employees", "formulas are not accepted; enter the value")]
