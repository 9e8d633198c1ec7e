"""Applicants see nothing of the internal registry; TIN and PINFL stay out of URLs, audit, logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from edms.audit.models import AuditEvent
from edms.auth import services as auth
from edms.auth.models import Role, User
from edms.db import db
from edms.documents.models import Document
from tests.conftest import PASSWORD, bearer, csrf_token, login
from tests.edms.applicants.conftest import (
    PINFL,
    TIN,
    Inbox,
    form_login,
    link_in,
    register_form,
)


@pytest.fixture
def document(make_user: Callable[..., User], make_document: Callable[..., Document]) -> Document:
    return make_document(make_user(Role.CLERK))


def _staff_pages(doc: Document) -> list[str]:
    return [
        "/documents",
        "/documents/new",
        f"/documents/{doc.id}",
        f"/documents/{doc.id}/versions/1/download",
        f"/documents/{doc.id}/view",
        f"/documents/{doc.id}/edit",
        f"/documents/{doc.id}/draft",
        f"/documents/{doc.id}/acquaintance",
        f"/documents/{doc.id}/resolutions/new",
        "/inbox",
        "/search",
        "/search?q=test",
        "/assignments",
        "/control",
        "/control/report",
        "/delegations",
        "/account/signing",
        "/admin/workflows",
        "/admin/trust",
        "/admin/applicants",
    ]


def _api(doc: Document) -> list[str]:
    return [
        "/api/v1/documents",
        f"/api/v1/documents/{doc.id}",
        f"/api/v1/documents/{doc.id}/file",
        f"/api/v1/documents/{doc.id}/versions/1/file",
        f"/api/v1/documents/{doc.id}/versions/1/link",
        f"/api/v1/documents/{doc.id}/workflow",
        f"/api/v1/documents/{doc.id}/resolutions",
        f"/api/v1/documents/{doc.id}/acquaintance",
        "/api/v1/search?q=test",
        "/api/v1/journals",
        "/api/v1/tasks",
        "/api/v1/assignments",
        "/api/v1/control/overdue",
        "/api/v1/control/report",
        "/api/v1/workflows",
        "/api/v1/delegations",
    ]


def test_an_applicant_sees_nothing_of_the_registry(
    client: FlaskClient, make_applicant: Callable[..., User], document: Document
) -> None:
    user = make_applicant()
    login(client, user)
    for url in _staff_pages(document):
        reply = client.get(url)
        assert reply.status_code in (403, 404), (url, reply.status_code)
        assert document.title not in reply.get_data(as_text=True), url
    start = client.get("/")
    assert (start.status_code, start.headers["Location"]) == (302, "/portal/")
    own = client.get("/portal/account").get_data(as_text=True)
    assert 'href="/documents"' not in own
    assert 'href="/search"' not in own


def test_an_applicant_token_opens_nothing_of_the_registry(
    ctx: Flask, client: FlaskClient, make_applicant: Callable[..., User], document: Document
) -> None:
    user = make_applicant()
    _token, plain = auth.create_token(user, "my program")
    db.session.commit()
    headers = bearer(plain)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    for url in _api(document):
        reply = client.get(url, headers=headers)
        assert reply.status_code in (403, 404), (url, reply.status_code)
        assert document.title not in reply.get_data(as_text=True), url
    posted = client.post(
        "/api/v1/documents",
        headers=headers,
        data={"title": "x"},
        content_type="multipart/form-data",
    )
    assert posted.status_code == 403, posted.status_code


def test_identifiers_never_reach_urls_audit_or_logs(
    ctx: Flask,
    client: FlaskClient,
    mail_on: Inbox,
    make_user: Callable[..., User],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="edms")
    urls: list[str] = []

    def seen(reply: TestResponse) -> TestResponse:
        urls.append(reply.request.url)
        urls.append(reply.headers.get("Location", ""))
        return reply

    # Self-registration with a PINFL and an organisation, confirmation, login.
    address = "ali@example.uz"
    seen(
        client.post(
            "/portal/register",
            data=register_form(client, email=address, pinfl=PINFL, tin=TIN, org_name="Org"),
        )
    )
    [message] = mail_on.to(address)
    seen(client.get(link_in(message)))
    seen(form_login(client, address))
    # The account page: change the PINFL, add and leave an organisation, a bad TIN.
    other_pinfl, other_tin = "41234567890123", "512345678"
    page = "/portal/account"
    seen(client.get(page))
    seen(
        client.post(
            page,
            data={
                "csrf_token": csrf_token(client, page),
                "full_name": "Ali",
                "phone": "",
                "pinfl": other_pinfl,
            },
        )
    )
    seen(
        client.post(
            "/portal/account/organisations",
            data={"csrf_token": csrf_token(client, page), "tin": other_tin, "org_name": "Other"},
        )
    )
    seen(
        client.post(
            "/portal/account/organisations",
            data={"csrf_token": csrf_token(client, page), "tin": "12345", "org_name": "Bad"},
        )
    )
    user = db.session.scalar(select(User).where(User.username == address))
    assert user is not None
    from edms.applicants import services

    for organisation in services.organisations_of(user):
        seen(
            client.post(
                f"/portal/account/organisations/{organisation.id}/leave",
                data={"csrf_token": csrf_token(client, page)},
            )
        )
    # An administrator opens an account with both, through the page and the CLI.
    login(client, make_user(Role.ADMIN))
    admin_page = "/admin/applicants"
    seen(
        client.post(
            admin_page,
            data={
                "csrf_token": csrf_token(client, admin_page),
                "full_name": "Nodira",
                "email": "nodira@example.uz",
                "pinfl": "51234567890123",
                "tin": "612345678",
                "org_name": "Nodira LLC",
            },
        )
    )
    seen(client.get(admin_page))
    [created] = mail_on.to("nodira@example.uz")
    path = link_in(created)
    seen(
        client.post(
            path,
            data={
                "csrf_token": csrf_token(client, path),
                "password": PASSWORD,
                "confirm_password": PASSWORD,
            },
        )
    )
    result = ctx.test_cli_runner().invoke(
        args=[
            "applicant",
            "create",
            "--email",
            "cli@example.uz",
            "--name",
            "Cli",
            "--pinfl",
            "21234567890123",
            "--tin",
            "712345678",
            "--org-name",
            "Cli LLC",
        ]
    )
    assert result.exit_code == 0, result.output

    secrets = [
        PINFL,
        TIN,
        other_pinfl,
        other_tin,
        "51234567890123",
        "612345678",
        "21234567890123",
        "712345678",
    ]
    details = [str(event.details) for event in db.session.scalars(select(AuditEvent))]
    rows = [
        (e.action, e.object_type, e.object_id, e.actor_name)
        for e in db.session.scalars(select(AuditEvent))
    ]
    assert any(action == "applicant.register" for action, *_rest in rows)
    records = [record.getMessage() for record in caplog.records]
    assert records
    for secret in secrets:
        assert not [url for url in urls if secret in url], secret
        assert not [d for d in details if secret in d], secret
        assert not [r for r in rows if secret in str(r)], secret
        assert not [r for r in records if secret in r], secret
    # Nor the addresses, in audit details or logs.
    for address_seen in ("ali@example.uz", "nodira@example.uz", "cli@example.uz"):
        assert not [d for d in details if address_seen in d]
        assert not [r for r in records if address_seen in r]
