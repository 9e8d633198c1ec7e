"""Resolutions, assignments, execution control and acquaintance through the pages."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from edms.auth.models import User
from edms.db import db
from edms.resolutions import services
from edms.resolutions.models import Assignment, ExtensionRequest, Resolution
from tests.conftest import csrf_token
from tests.edms.resolutions.conftest import Cast, Clock, executors
from tests.edms.ui.conftest import Page, compile_catalogues, text_of
from tests.edms.ui.test_accessibility import check_page

PDF = b"%PDF-1.4\n% the result\n"

Login = Callable[[User], FlaskClient]


def _post(client: FlaskClient, url: str, form_url: str, **data: Any) -> Any:
    data["csrf_token"] = csrf_token(client, form_url)
    return client.post(url, data=data)


def _fresh(model: type, key: object) -> Any:
    return db.session.get(model, key, populate_existing=True)


def _write(cast: Cast, clock: Clock, days: int = 7, *co: str, executor: str = "lead") -> Resolution:
    resolution = services.create_resolution(
        cast.boss,
        cast.doc,
        {
            "text": "Answer the applicant.",
            "due_date": clock.day(days),
            "executors": executors(executor, *co),
        },
    )
    db.session.commit()
    return resolution


def _errors(html: str) -> list[str]:
    page = Page(html)
    summary = page.find("div", class_="error-summary")
    assert summary, "an error summary"
    return [href for href, _text in page.links if href.startswith("#") and href != "#main"]


def test_the_whole_cycle_through_the_pages(as_user: Login, cast: Cast, clock: Clock) -> None:
    doc_url = f"/documents/{cast.doc.id}"
    client = as_user(cast.boss)
    html = client.get(doc_url).get_data(as_text=True)
    assert "No resolutions yet." in text_of(html)
    assert f"{doc_url}/resolutions/new" in html

    new_url = f"{doc_url}/resolutions/new"
    reply = _post(
        client,
        new_url,
        new_url,
        text="Prepare the answer.",
        due_date=clock.day(5),
        responsible="lead",
        co_executors="helper",
        parent="",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    resolution = db.session.scalar(select(Resolution))
    assert resolution is not None
    assert reply.headers["Location"] == f"/resolutions/{resolution.id}"
    page = text_of(client.get(reply.headers["Location"]).get_data(as_text=True))
    assert "On control" in page
    assert "Test approver" in page
    lead_part = resolution.responsible
    assert lead_part is not None

    # The executor from department B finds it among their assignments and reports with a file.
    client = as_user(cast.lead)
    page = text_of(client.get("/assignments").get_data(as_text=True))
    assert cast.doc.registration_number in page
    assignment_url = f"/assignments/{lead_part.id}"
    token = csrf_token(client, assignment_url)
    reply = client.post(
        f"{assignment_url}/report",
        data={
            "csrf_token": token,
            "report-text": "The draft answer.",
            "report-file": (io.BytesIO(PDF), "answer.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert "Reported, awaiting acceptance" in text_of(
        client.get(assignment_url).get_data(as_text=True)
    )

    # The author returns it: a comment is required.
    client = as_user(cast.boss)
    detail_url = f"/resolutions/{resolution.id}"
    html = client.get(detail_url).get_data(as_text=True)
    assert "Reports awaiting your decision" in html
    assert "answer.pdf" in html
    prefix = f"a{lead_part.id}"
    reply = _post(client, f"{assignment_url}/return", detail_url, **{f"{prefix}-comment": ""})
    assert reply.status_code == 422
    assert _errors(reply.get_data(as_text=True)) == [f"#{prefix}-comment"]
    reply = _post(
        client, f"{assignment_url}/return", detail_url, **{f"{prefix}-comment": "Add March."}
    )
    assert reply.status_code == 302
    download = client.get(
        f"{assignment_url}/reports/{_fresh(Assignment, lead_part.id).reports[0].id}/file"
    )
    assert download.status_code == 200
    assert download.data == PDF
    download.close()

    client = as_user(cast.lead)
    page = text_of(client.get(assignment_url).get_data(as_text=True))
    assert "Returned for rework" in page
    assert "Add March." in page
    reply = client.post(
        f"{assignment_url}/report",
        data={"csrf_token": csrf_token(client, assignment_url), "report-text": "With March."},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 302

    client = as_user(cast.boss)
    reply = _post(client, f"{assignment_url}/accept", detail_url, **{f"{prefix}-comment": ""})
    assert reply.status_code == 302
    page = text_of(client.get(detail_url).get_data(as_text=True))
    assert "The resolution has been removed from control." in page
    assert "Report accepted" in page  # the history
    assert _fresh(Resolution, resolution.id).status == "closed"
    page = text_of(client.get(doc_url).get_data(as_text=True))
    assert "Removed from control" in page


def test_resolution_form_errors(as_user: Login, cast: Cast, clock: Clock) -> None:
    client = as_user(cast.boss)
    url = f"/documents/{cast.doc.id}/resolutions/new"
    reply = _post(
        client, url, url, text="", due_date="", responsible="", co_executors="", parent=""
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert _errors(html) == ["#text", "#due_date", "#responsible"]
    assert "<title>Error:" in html
    check_page(html, "en")

    reply = _post(
        client,
        url,
        url,
        text="Do it.",
        due_date=clock.day(-1),
        responsible="worker",
        co_executors="ghost, helper",
        parent="",
    )
    assert reply.status_code == 422
    page = text_of(reply.get_data(as_text=True))
    assert "must not be in the past" in page
    assert "ghost: there is no active staff member with this user name" in page
    assert db.session.scalar(select(Resolution.id)) is None

    # Only executives write resolutions.
    client = as_user(cast.clerk)
    assert client.get(url).status_code == 403
    client = as_user(cast.outsider)
    assert client.get(url).status_code == 404


def test_sub_resolution_due_later_than_the_parent_is_refused(
    as_user: Login, cast: Cast, clock: Clock
) -> None:
    parent = _write(cast, clock, 7)
    url = f"/documents/{cast.doc.id}/resolutions/new?parent={parent.id}"
    client = as_user(cast.lead)
    page = text_of(client.get(f"/assignments/{parent.responsible.id}").get_data(as_text=True))
    assert "Write a sub-resolution" in page
    html = client.get(url).get_data(as_text=True)
    assert "(your own due date)" in html
    post_url = f"/documents/{cast.doc.id}/resolutions/new"
    fields = {
        "text": "Collect the figures.",
        "responsible": "worker",
        "co_executors": "",
        "parent": str(parent.id),
    }
    reply = _post(client, post_url, url, due_date=clock.day(8), **fields)
    assert reply.status_code == 422
    assert f"must be on or before {clock.day(7)}, the parent's due date" in text_of(
        reply.get_data(as_text=True)
    )
    reply = _post(client, post_url, url, due_date=clock.day(6), **fields)
    assert reply.status_code == 302
    child = db.session.scalar(select(Resolution).where(Resolution.parent_id == parent.id))
    assert child is not None
    page = text_of(as_user(cast.boss).get(f"/resolutions/{parent.id}").get_data(as_text=True))
    assert "Sub-resolutions" in page

    assert as_user(cast.clerk).get(url).status_code == 403  # sees the document, no executor
    assert as_user(cast.outsider).get(url).status_code == 404


def test_extension_approved_and_declined_on_the_pages(
    as_user: Login, cast: Cast, clock: Clock
) -> None:
    resolution = _write(cast, clock, 7)
    part = resolution.responsible
    assignment_url = f"/assignments/{part.id}"
    client = as_user(cast.lead)
    reply = _post(
        client,
        f"{assignment_url}/extension",
        assignment_url,
        **{"extension-due_date": clock.day(3), "extension-reason": ""},
    )
    assert reply.status_code == 422
    assert _errors(reply.get_data(as_text=True)) == ["#extension-due_date", "#extension-reason"]
    reply = _post(
        client,
        f"{assignment_url}/extension",
        assignment_url,
        **{"extension-due_date": clock.day(10), "extension-reason": "Waiting for data."},
    )
    assert reply.status_code == 302

    client = as_user(cast.boss)
    detail_url = f"/resolutions/{resolution.id}"
    assert "Requests for more time" in client.get(detail_url).get_data(as_text=True)
    extension = db.session.scalar(select(ExtensionRequest))
    reply = _post(
        client,
        f"/extensions/{extension.id}/decision",
        detail_url,
        decision="approve",
        **{f"e{extension.id}-comment": "OK"},
    )
    assert reply.status_code == 302
    assert f"The due date is now {clock.day(10)}." in text_of(
        client.get(detail_url).get_data(as_text=True)
    )
    assert _fresh(Assignment, part.id).due_date.isoformat() == clock.day(10)

    client = as_user(cast.lead)
    _post(
        client,
        f"{assignment_url}/extension",
        assignment_url,
        **{"extension-due_date": clock.day(20), "extension-reason": "More."},
    )
    second = db.session.scalar(select(ExtensionRequest).where(ExtensionRequest.id != extension.id))
    client = as_user(cast.boss)
    reply = _post(client, f"/extensions/{second.id}/decision", detail_url, decision="decline")
    assert reply.status_code == 302
    assert _fresh(ExtensionRequest, second.id).status == "declined"
    assert _fresh(Assignment, part.id).due_date.isoformat() == clock.day(10)


def test_overdue_and_report_pages(as_user: Login, cast: Cast, clock: Clock) -> None:
    _write(cast, clock, 2, executor="worker")
    client = as_user(cast.officer)
    assert "Nothing is overdue." in text_of(client.get("/control").get_data(as_text=True))
    clock.advance(days=3)
    page = text_of(client.get("/control").get_data(as_text=True))
    assert "1 overdue assignment" in page
    assert cast.doc.registration_number in page
    reply = client.get("/control?department=NOPE")
    assert reply.status_code == 422
    assert "unknown department" in text_of(reply.get_data(as_text=True))

    reply = client.get(f"/control/report?from={clock.day(-3)}&to={clock.day(0)}")
    assert reply.status_code == 200
    page = Page(reply.get_data(as_text=True))
    html = reply.get_data(as_text=True)
    row = re.search(r"<th scope=\"row\">Department DB</th>\s*((?:<td>\d+</td>)+)", html)
    assert row, html
    assert re.findall(r"\d+", row.group(1)) == ["1", "0", "0", "1", "0"]
    assert page.h1_count == 1
    reply = client.get("/control/report?from=2026-03-05&to=2026-03-01")
    assert reply.status_code == 422
    assert _errors(reply.get_data(as_text=True)) == ["#f-to"]


def test_acquaintance_through_the_pages(as_user: Login, cast: Cast, clock: Clock) -> None:
    doc_url = f"/documents/{cast.doc.id}"
    url = f"{doc_url}/acquaintance"
    client = as_user(cast.clerk)
    reply = _post(client, url, url, users="")
    assert reply.status_code == 422
    assert _errors(reply.get_data(as_text=True)) == ["#users"]
    reply = _post(client, url, url, users="lead\nnobody")
    assert "unknown user: nobody" in text_of(reply.get_data(as_text=True))
    reply = _post(client, url, url, users="lead, worker")
    assert reply.status_code == 302
    page = text_of(client.get(doc_url).get_data(as_text=True))
    assert "0 of 2 have read it." in page
    assert "Not yet" in page

    client = as_user(cast.worker)
    html = client.get(doc_url).get_data(as_text=True)
    assert "I have read this document" in html
    assert cast.doc.registration_number in text_of(
        client.get("/assignments").get_data(as_text=True)
    )
    reply = _post(client, f"{url}/confirm", doc_url)
    assert reply.status_code == 302
    page = text_of(client.get(doc_url).get_data(as_text=True))
    assert "1 of 2 have read it." in page
    assert "I have read this document" not in page
    assert "Nothing to read." in text_of(client.get("/assignments").get_data(as_text=True))
    assert client.get(url).status_code == 403  # a clerk of B may not ask

    client = as_user(cast.outsider)
    assert client.get(doc_url).status_code == 404
    assert _post(client, f"{url}/confirm", "/documents").status_code == 404


def test_strangers_get_404_and_colleagues_403(as_user: Login, cast: Cast, clock: Clock) -> None:
    resolution = _write(cast, clock, 7)
    part = resolution.responsible
    client = as_user(cast.outsider)
    for url in (f"/resolutions/{resolution.id}", f"/assignments/{part.id}"):
        assert client.get(url).status_code == 404
    assert _post(client, f"/assignments/{part.id}/accept", "/documents").status_code == 404
    client = as_user(cast.lead)
    reply = _post(client, f"/resolutions/{resolution.id}/cancel", f"/resolutions/{resolution.id}")
    assert reply.status_code == 403
    assert "Only the author of the resolution may do this." in text_of(reply.get_data(as_text=True))


@pytest.fixture
def catalogues(app: Flask) -> None:
    from edms.extensions import babel

    compile_catalogues()
    with app.app_context():
        babel.domain_instance.cache.clear()


@pytest.mark.parametrize("locale", ["en", "ru", "uz"])
def test_pages_are_structured_and_translated(
    as_user: Login, cast: Cast, clock: Clock, catalogues: None, locale: str
) -> None:
    resolution = _write(cast, clock, 7, "helper")
    part = resolution.responsible
    services.submit_report(cast.lead, part, "Done.")
    services.request_extension(
        cast.helper, resolution.co_executors[0], {"due_date": clock.day(9), "reason": "Busy."}
    )
    services.request_acquaintance(cast.clerk, cast.doc, ["lead"])
    db.session.commit()
    clock.advance(days=9)

    def pages(client: FlaskClient) -> dict[str, Any]:
        return {
            "document": client.get(f"/documents/{cast.doc.id}"),
            "resolution": client.get(f"/resolutions/{resolution.id}"),
            "assignment": client.get(f"/assignments/{part.id}"),
            "assignments": client.get("/assignments?status=all"),
            "overdue": client.get("/control"),
            "report": client.get("/control/report"),
            "report (errors)": client.get("/control/report?from=x&to=y"),
            "new": client.get(f"/documents/{cast.doc.id}/resolutions/new"),
            "acquaintance": client.get(f"/documents/{cast.doc.id}/acquaintance"),
        }

    seen = {}
    for user in (cast.boss, cast.lead):
        client = as_user(user)
        client.post(
            "/language", data={"csrf_token": csrf_token(client, "/documents"), "lang": locale}
        )
        for name, reply in pages(client).items():
            if reply.status_code in (403, 404):
                continue
            html = reply.get_data(as_text=True)
            try:
                check_page(html, locale)
            except AssertionError as exc:
                raise AssertionError(f"{name} as {user.username} ({locale}): {exc}") from exc
            seen[name] = html
    assert set(seen) == {
        "document",
        "resolution",
        "assignment",
        "assignments",
        "overdue",
        "report",
        "report (errors)",
        "new",
        "acquaintance",
    }
    heading = {"en": "Execution control", "ru": "Контроль исполнения", "uz": "Ijro nazorati"}[
        locale
    ]
    assert heading in seen["overdue"]
