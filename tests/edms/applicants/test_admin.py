"""Applicant accounts opened by an administrator: the admin page and ``edms applicant create``."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import select
from werkzeug.test import TestResponse

from edms.applicants import services
from edms.auth.models import Role, User
from edms.db import db
from edms.portal.models import ApplicantProfile
from tests.conftest import PASSWORD, csrf_token, login
from tests.edms.applicants.conftest import PINFL, TIN, Inbox, form_login, link_in, token_of
from tests.edms.ui.conftest import Page, text_of

ADDRESS = "nodira@example.uz"


def _applicant(address: str = ADDRESS) -> User | None:
    return db.session.scalar(
        select(User).where(User.username == address).execution_options(populate_existing=True)
    )


def _create(client: FlaskClient, **fields: str) -> TestResponse:
    data = {
        "csrf_token": csrf_token(client, "/admin/applicants"),
        "full_name": "Nodira Karimova",
        "email": ADDRESS,
        "pinfl": PINFL,
        "tin": TIN,
        "org_name": "Karimova Trade",
        **fields,
    }
    return client.post("/admin/applicants", data=data)


def _choose_password(client: FlaskClient, path: str) -> None:
    form = client.get(path)
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert ADDRESS in html
    assert Page(html).h1_count == 1
    mismatch = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "password": PASSWORD,
            "confirm_password": PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 422
    assert "the two passwords are not the same" in mismatch.get_data(as_text=True)
    chosen = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "password": PASSWORD,
            "confirm_password": PASSWORD,
        },
    )
    assert chosen.status_code == 302
    assert chosen.headers["Location"] == "/login"


def test_admin_opens_an_account_and_the_applicant_chooses_a_password(
    ctx: Flask, client: FlaskClient, mail_on: Inbox, make_user: Callable[..., User]
) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin)
    page = client.get("/admin/applicants")
    assert page.status_code == 200
    parsed = Page(page.get_data(as_text=True))
    assert parsed.h1_count == 1
    for _tag, attrs in parsed.controls():
        assert attrs["id"] in parsed.label_for, attrs

    reply = _create(client)
    assert reply.status_code == 302
    user = _applicant()
    assert user is not None
    assert (user.is_active, user.password_hash, user.roles) == (False, None, {Role.APPLICANT})
    listing = client.get("/admin/applicants").get_data(as_text=True)
    assert "Nodira Karimova" in listing
    assert ADDRESS in listing
    assert "Not confirmed" in listing
    assert PINFL not in listing
    assert TIN not in listing
    assert "1 applicant" in text_of(listing)

    [message] = mail_on.to(ADDRESS)
    assert message["Subject"] == "Choose the password of your portal account"
    path = link_in(message)
    assert path.startswith("/portal/password/")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/applicants")})

    _choose_password(client, path)
    user = _applicant()
    assert user is not None
    assert user.is_active
    profile = db.session.get(ApplicantProfile, user.id, populate_existing=True)
    assert profile is not None
    assert profile.confirmed_at is not None
    assert form_login(client, ADDRESS).status_code == 302
    # The link worked once.
    assert client.get(path).status_code == 410

    login(client, admin)
    listing = client.get("/admin/applicants").get_data(as_text=True)
    assert "Confirmed" in listing


def test_without_e_mail_the_link_is_shown_once(
    ctx: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    login(client, make_user(Role.ADMIN))
    reply = _create(client)  # smtp_host is empty
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "Hand this link to the applicant" in html
    start = html.index("http://localhost/portal/password/")
    link = html[start : html.index("<", start)]
    # Not kept anywhere the next page could show it.
    assert "/portal/password/" not in client.get("/admin/applicants").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/applicants")})
    _choose_password(client, link.removeprefix("http://localhost"))
    assert form_login(client, ADDRESS).status_code == 302


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "no-at-sign"}, "email", "an e-mail address looks like name@example.uz"),
        ({"email": "a" * 60 + "@example.uz"}, "email", "longer than 64 characters"),
        ({"email": "a" * 10_000}, "email", "must be at most 254 characters"),
        ({"pinfl": "1234567890123"}, "pinfl", "a PINFL is exactly 14 digits"),
        ({"tin": "1234567890"}, "tin", "a TIN is exactly 9 digits"),
        ({"tin": "", "org_name": "Org"}, "tin", "is required when an organisation name is given"),
        ({"full_name": "x" * 10_000}, "full_name", "must be at most 200 characters"),
        ({"full_name": "Tab\there"}, "full_name", "must not contain control characters"),
    ],
)
def test_bad_input_is_named(
    ctx: Flask,
    client: FlaskClient,
    make_user: Callable[..., User],
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    login(client, make_user(Role.ADMIN))
    reply = _create(client, **fields)
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert message in text_of(html)
    assert f'href="#{field}"' in html
    assert _applicant() is None


def test_an_address_in_use_is_named_to_the_admin(
    ctx: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    login(client, make_user(Role.ADMIN))
    assert _create(client).status_code == 200
    again = _create(client, email=ADDRESS.upper(), pinfl="", tin="", org_name="")
    assert again.status_code == 422
    assert "an account with this e-mail address exists already" in again.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.CLERK, Role.APPROVER, Role.RECORDS_OFFICER])
def test_only_administrators(
    client: FlaskClient, make_user: Callable[..., User], role: Role
) -> None:
    assert client.get("/admin/applicants").status_code == 302  # visitors: the login page
    login(client, make_user(role))
    assert client.get("/admin/applicants").status_code == 403
    assert client.post("/admin/applicants", data={"email": ADDRESS}).status_code in (400, 403)


def test_applicants_cannot_open_accounts(
    client: FlaskClient, make_applicant: Callable[..., User]
) -> None:
    login(client, make_applicant())
    assert client.get("/admin/applicants").status_code in (403, 404)


def test_an_expired_password_link_is_refused(
    ctx: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, _path = services.create_applicant(full_name="Late", email=ADDRESS)
    hours = ctx.config["EDMS"]["portal_confirm_hours"]
    with monkeypatch.context() as patch:
        signed_at = int(time.time()) - hours * 3600 - 1
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = services.password_path(user)
    db.session.commit()
    reply = client.get(old)
    assert reply.status_code == 410
    assert "This link has expired" in reply.get_data(as_text=True)
    posted = client.post(
        old,
        data={
            "csrf_token": csrf_token(client, old),
            "password": PASSWORD,
            "confirm_password": PASSWORD,
        },
    )
    assert posted.status_code == 410
    assert _applicant() is not None
    assert _applicant().password_hash is None


# The command line -----------------------------------------------------------------------


def test_the_cli_opens_an_account_and_prints_the_link(ctx: Flask, client: FlaskClient) -> None:
    result = ctx.test_cli_runner().invoke(
        args=[
            "applicant",
            "create",
            "--email",
            ADDRESS,
            "--name",
            "Nodira Karimova",
            "--pinfl",
            PINFL,
            "--tin",
            TIN,
            "--org-name",
            "Karimova Trade",
        ]
    )
    assert result.exit_code == 0, result.output
    [link] = result.stdout.splitlines()
    assert link.startswith("/portal/password/")
    assert "works once, for 48 hours" in result.stderr
    assert PINFL not in result.output
    assert TIN not in result.output
    user = _applicant()
    assert user is not None
    assert user.full_name == "Nodira Karimova"
    [organisation] = services.organisations_of(user)
    assert organisation.tin == TIN
    _choose_password(client, link)
    assert form_login(client, ADDRESS).status_code == 302


def test_the_cli_e_mails_the_link_when_it_can(app: Flask, db_conn: object, mail_on: Inbox) -> None:
    # Without a test's app context: the command's own ends, and the e-mail leaves then.
    result = app.test_cli_runner().invoke(
        args=["applicant", "create", "--email", ADDRESS, "--name", "Nodira Karimova"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "e-mailed" in result.stderr
    [message] = mail_on.to(ADDRESS)
    assert message["Subject"] == "Choose the password of your portal account"
    assert token_of(link_in(message))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tin", "12345", "--org-name", "X"], "--tin: a TIN is exactly 9 digits"),
        (["--pinfl", "99999999999999"], "--pinfl: a PINFL starts with a digit from 1 to 6"),
        (["--tin", TIN], "--org-name: is required when a TIN is given"),
    ],
)
def test_the_cli_names_bad_options_without_echoing_them(
    ctx: Flask, args: list[str], message: str
) -> None:
    result = ctx.test_cli_runner().invoke(
        args=["applicant", "create", "--email", ADDRESS, "--name", "N", *args]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    for value in ("12345", "99999999999999", TIN):
        if value in args:
            assert value not in result.output
    assert _applicant() is None


def test_the_cli_refuses_a_known_address(ctx: Flask, make_applicant: Callable[..., User]) -> None:
    user = make_applicant()
    result = ctx.test_cli_runner().invoke(
        args=["applicant", "create", "--email", user.username, "--name", "Again"]
    )
    assert result.exit_code == 1
    assert "--email: an account with this e-mail address exists already" in result.output
