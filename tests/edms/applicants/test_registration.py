"""Self-registration: an inactive account, a signed link by e-mail, confirmation, login."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from edms.applicants import services
from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db
from edms.portal.models import ApplicantProfile, Membership, Organisation
from tests.conftest import csrf_token
from tests.edms.applicants.conftest import (
    PINFL,
    TIN,
    Inbox,
    form_login,
    link_in,
    register_form,
    token_of,
)
from tests.edms.ui.conftest import Page, text_of

ADDRESS = "ali.valiyev@example.uz"


def _user(address: str = ADDRESS) -> User | None:
    return db.session.scalar(
        select(User).where(User.username == address).execution_options(populate_existing=True)
    )


def _register(client: FlaskClient, **fields: str) -> str:
    """Register through the form; the path of the link that was mailed."""
    reply = client.post("/portal/register", data=register_form(client, **fields))
    assert reply.status_code == 302, reply.get_data(as_text=True)
    assert reply.headers["Location"] == "/portal/register/sent"
    return reply.headers["Location"]


def test_the_form_is_accessible(client: FlaskClient, mail_on: Inbox) -> None:
    reply = client.get("/portal/register")
    assert reply.status_code == 200
    page = Page(reply.get_data(as_text=True))
    assert page.h1_count == 1
    assert page.html_lang == "en"
    for _tag, attrs in page.controls():
        assert attrs["id"] in page.label_for, attrs
    assert page.find("input", name="csrf_token", type="hidden")
    assert page.find("input", id="password", type="password", autocomplete="new-password")
    assert page.find("input", id="consent", type="checkbox")
    assert len(page.ids()) == len(set(page.ids()))


def test_register_confirm_and_log_in(ctx: Flask, client: FlaskClient, mail_on: Inbox) -> None:
    _register(
        client,
        email="  Ali.Valiyev@Example.UZ ",
        pinfl=PINFL,
        tin=TIN,
        org_name="Valiyev & Sons LLC",
    )
    sent = client.get("/portal/register/sent")
    assert sent.status_code == 200
    assert "Check your e-mail" in text_of(sent.get_data(as_text=True))

    user = _user()
    assert user is not None
    assert (user.username, user.email, user.is_active) == (ADDRESS, ADDRESS, False)
    assert user.roles == {Role.APPLICANT}
    assert user.department_id is None
    profile = db.session.get(ApplicantProfile, user.id)
    assert profile is not None
    assert profile.pinfl == PINFL
    assert profile.confirmed_at is None
    [organisation] = services.organisations_of(user)
    assert (organisation.tin, organisation.name) == (TIN, "Valiyev & Sons LLC")

    [message] = mail_on.to(ADDRESS)
    assert message["Subject"] == "Confirm your e-mail address"
    body = message.get_body(("plain",))
    assert body is not None
    assert "48 hours" in body.get_content()
    assert PINFL not in body.get_content()
    assert TIN not in body.get_content()
    link = link_in(message)
    assert link.startswith("/portal/confirm/")

    # Not before the address is confirmed: the same words as a wrong password.
    refused = form_login(client, ADDRESS)
    assert refused.status_code == 401
    assert "The user name or password is not correct." in text_of(refused.get_data(as_text=True))

    confirmed = client.get(link)
    assert confirmed.status_code == 200
    html = confirmed.get_data(as_text=True)
    assert "Your account is active" in text_of(html)
    assert Page(html).h1_count == 1
    user = _user()
    assert user is not None
    assert user.is_active
    profile = db.session.get(ApplicantProfile, user.id, populate_existing=True)
    assert profile is not None
    assert profile.confirmed_at is not None
    actions = set(
        db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id)))
    )
    assert {"applicant.register", "applicant.confirm"} <= actions

    # The link logged no one in: the applicant logs in, in any case of the address.
    assert client.get("/portal/account").status_code == 302
    logged_in = form_login(client, "ALI.VALIYEV@example.uz")
    assert logged_in.status_code == 302
    landing = client.get(logged_in.headers["Location"])
    assert landing.status_code == 302
    assert landing.headers["Location"] == "/portal/"  # the portal's start page
    account = client.get("/portal/account")
    assert account.status_code == 200
    assert "Ali Valiyev" in account.get_data(as_text=True)

    # The link worked once.
    again = client.get(link)
    assert again.status_code == 410
    assert "This link has been used already" in text_of(again.get_data(as_text=True))
    assert 'href="/portal/confirm/resend"' in again.get_data(as_text=True)


def test_an_expired_link_is_refused_and_a_new_one_works(
    ctx: Flask, client: FlaskClient, mail_on: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(client)
    user = _user()
    assert user is not None
    hours = ctx.config["EDMS"]["portal_confirm_hours"]
    with monkeypatch.context() as patch:
        signed_at = int(time.time()) - hours * 3600 - 60
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = services.confirmation_path(user)
        db.session.commit()
    just_in_time = services.confirmation_path(user)

    expired = client.get(old)
    assert expired.status_code == 410
    html = expired.get_data(as_text=True)
    assert "This link has expired" in text_of(html)
    assert Page(html).h1_count == 1
    assert _user() is not None
    assert not _user().is_active

    form = client.get("/portal/confirm/resend")
    assert form.status_code == 200
    reply = client.post(
        "/portal/confirm/resend",
        data={"csrf_token": csrf_token(client, "/portal/confirm/resend"), "email": ADDRESS},
    )
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/portal/confirm/sent"
    first, second = mail_on.to(ADDRESS)
    fresh = link_in(second)
    assert client.get(fresh).status_code == 200
    # Both the old unused link and the new one were for the same state: both are spent now.
    assert client.get(link_in(first)).status_code == 410
    assert client.get(just_in_time).status_code == 410


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),  # signature
        lambda token: "W" + token[1:] if token[0] != "W" else "X" + token[1:],  # payload
        lambda token: token[: len(token) // 2],  # cut short
        lambda token: "not-a-token",
        lambda token: "A" * 1000,
    ],
    ids=["signature", "payload", "cut", "garbage", "long"],
)
def test_a_tampered_link_is_refused(
    ctx: Flask, client: FlaskClient, mail_on: Inbox, mangle: Callable[[str], str]
) -> None:
    _register(client)
    [message] = mail_on.to(ADDRESS)
    token = token_of(link_in(message))
    reply = client.get(f"/portal/confirm/{mangle(token)}")
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert "This link is not valid" in text_of(html)
    assert "Traceback" not in html
    assert 'href="/portal/confirm/resend"' in html
    user = _user()
    assert user is not None
    assert not user.is_active


def test_a_link_for_another_purpose_is_refused(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    _register(client)
    user = _user()
    assert user is not None
    password_link = services.password_path(user)
    db.session.commit()
    confirm_with_it = client.get("/portal/confirm/" + token_of(password_link))
    assert confirm_with_it.status_code == 400
    # ... and a confirmation link does not set a password.
    [message] = mail_on.to(ADDRESS)
    assert client.get("/portal/password/" + token_of(link_in(message))).status_code == 400


def test_asking_for_a_link_does_not_tell_who_has_an_account(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    _register(client)
    replies = []
    for address in (ADDRESS, "nobody@example.uz"):
        reply = client.post(
            "/portal/confirm/resend",
            data={"csrf_token": csrf_token(client, "/portal/confirm/resend"), "email": address},
        )
        replies.append((reply.status_code, reply.headers.get("Location")))
    assert replies[0] == replies[1] == (302, "/portal/confirm/sent")
    assert len(mail_on.to(ADDRESS)) == 2
    assert mail_on.to("nobody@example.uz") == []

    bad = client.post(
        "/portal/confirm/resend",
        data={"csrf_token": csrf_token(client, "/portal/confirm/resend"), "email": "no-at-sign"},
    )
    assert bad.status_code == 422
    assert "E-mail address: an e-mail address looks like name@example.uz" in text_of(
        bad.get_data(as_text=True)
    )


def test_a_confirmed_account_gets_no_new_link(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    _register(client)
    [message] = mail_on.to(ADDRESS)
    assert client.get(link_in(message)).status_code == 200
    reply = client.post(
        "/portal/confirm/resend",
        data={"csrf_token": csrf_token(client, "/portal/confirm/resend"), "email": ADDRESS},
    )
    assert reply.headers["Location"] == "/portal/confirm/sent"
    assert len(mail_on.to(ADDRESS)) == 1


def test_registering_a_known_address_does_not_reveal_it(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    first = client.post("/portal/register", data=register_form(client))
    [message] = mail_on.to(ADDRESS)
    assert client.get(link_in(message)).status_code == 200

    again = client.post(
        "/portal/register",
        data=register_form(client, email=ADDRESS.upper(), full_name="Someone Else"),
    )
    assert (again.status_code, again.headers["Location"]) == (
        first.status_code,
        first.headers["Location"],
    )
    count = db.session.scalar(select(func.count()).select_from(User).where(User.email == ADDRESS))
    assert count == 1
    user = _user()
    assert user is not None
    assert user.full_name == "Ali Valiyev"
    notice = mail_on.to(ADDRESS)[-1]
    assert notice["Subject"] == "Someone tried to register with your e-mail address"
    assert "/portal/" not in str(notice.get_body(("plain",)))

    # A staff member's address is no different.
    staff = User(username="clerk.person", email="clerk@example.uz", full_name="Clerk")
    db.session.add(staff)
    db.session.commit()
    reply = client.post("/portal/register", data=register_form(client, email="clerk@example.uz"))
    assert reply.headers["Location"] == "/portal/register/sent"
    assert _user("clerk@example.uz") is None


def test_registering_again_before_confirming_redoes_the_registration(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    # Someone registers another person's address first, with a password of their own ...
    _register(
        client,
        full_name="Impostor",
        password="impostor-password",
        confirm_password="impostor-password",
        pinfl=PINFL,
        tin=TIN,
        org_name="Impostor LLC",
    )
    # ... then its owner registers: the last registration wins.
    _register(client, full_name="Ali Valiyev")
    first, second = mail_on.to(ADDRESS)
    assert first["Subject"] == second["Subject"] == "Confirm your e-mail address"
    assert client.get(link_in(first)).status_code == 410
    assert client.get(link_in(second)).status_code == 200
    user = _user()
    assert user is not None
    assert user.full_name == "Ali Valiyev"
    assert services.organisations_of(user) == []
    assert services.acting_options(user) == []
    assert form_login(client, ADDRESS, "impostor-password").status_code == 401
    assert form_login(client, ADDRESS).status_code == 302
    count = db.session.scalar(select(func.count()).select_from(User).where(User.email == ADDRESS))
    assert count == 1


def test_registering_an_address_an_admin_opened_mails_its_password_link(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    services.create_applicant(full_name="Ali Valiyev", email=ADDRESS)
    db.session.commit()
    _register(
        client,
        full_name="Someone",
        password="another-password-1",
        confirm_password="another-password-1",
    )
    [message] = mail_on.to(ADDRESS)
    assert message["Subject"] == "Choose the password of your portal account"
    user = _user()
    assert user is not None
    assert (user.full_name, user.password_hash) == ("Ali Valiyev", None)


def test_registration_needs_e_mail(ctx: Flask, client: FlaskClient) -> None:
    page = client.get("/portal/register")
    assert page.status_code == 200
    assert "Registration is not available" in text_of(page.get_data(as_text=True))
    reply = client.post("/portal/register", data=register_form(client))
    assert reply.status_code == 503
    assert _user() is None


def test_a_taken_pinfl_is_refused(
    ctx: Flask, client: FlaskClient, mail_on: Inbox, make_applicant: Callable[..., User]
) -> None:
    make_applicant(pinfl=PINFL)
    reply = client.post("/portal/register", data=register_form(client, pinfl=PINFL))
    assert reply.status_code == 422
    assert "PINFL: this PINFL belongs to another account" in text_of(reply.get_data(as_text=True))
    assert _user() is None


def test_joining_a_known_organisation_keeps_its_name(
    ctx: Flask, client: FlaskClient, mail_on: Inbox, make_applicant: Callable[..., User]
) -> None:
    colleague = make_applicant(tin=TIN, org_name="Registered Name LLC")
    _register(client, tin=TIN, org_name="Another Name")
    user = _user()
    assert user is not None
    [organisation] = services.organisations_of(user)
    assert organisation.name == "Registered Name LLC"
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1
    members = db.session.scalars(
        select(Membership.user_id).where(Membership.organisation_id == organisation.id)
    )
    assert set(members) == {colleague.id, user.id}


def test_too_many_requests_from_one_address(
    ctx: Flask, client: FlaskClient, mail_on: Inbox
) -> None:
    for i in range(services.MAX_REQUESTS_PER_CLIENT):
        reply = client.post(
            "/portal/confirm/resend",
            data={
                "csrf_token": csrf_token(client, "/portal/confirm/resend"),
                "email": f"someone{i}@example.uz",
            },
        )
        assert reply.status_code == 302
    refused = client.post("/portal/register", data=register_form(client))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3600"
    assert "Too many requests from your address" in text_of(refused.get_data(as_text=True))
    assert _user() is None


def test_mails_to_one_account_are_limited(
    ctx: Flask, client: FlaskClient, mail_on: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "MAX_REQUESTS_PER_CLIENT", 100)
    _register(client)
    for _ in range(services.MAX_MAILS_PER_ACCOUNT + 2):
        reply = client.post(
            "/portal/confirm/resend",
            data={"csrf_token": csrf_token(client, "/portal/confirm/resend"), "email": ADDRESS},
        )
        assert reply.headers["Location"] == "/portal/confirm/sent"
    assert len(mail_on.to(ADDRESS)) == services.MAX_MAILS_PER_ACCOUNT
