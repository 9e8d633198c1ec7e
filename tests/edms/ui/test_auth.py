"""Logging in and out, throttling, CSRF, the password and personal API tokens, in the browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from edms.auth import services as auth
from edms.auth.models import ApiToken, Role, User
from edms.db import db
from tests.conftest import PASSWORD, csrf_token, login
from tests.edms.ui.conftest import form_login, text_of

GENERIC_FAILURE = "The user name or password is not correct."


def _error_summary(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return text_of(match.group(0)) if match else ""


# Logging in -----------------------------------------------------------------------


def test_login_page_renders(client: FlaskClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="username">' in html
    assert 'autocomplete="current-password"' in html


def test_login_success_starts_a_session(client: FlaskClient, clerk: User) -> None:
    reply = form_login(client, clerk.username, PASSWORD)
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/"
    page = client.get("/documents")
    assert page.status_code == 200
    assert clerk.display_name in page.get_data(as_text=True)


def test_login_accepts_the_user_name_in_any_case(client: FlaskClient, clerk: User) -> None:
    reply = form_login(client, f"  {clerk.username.upper()} ", PASSWORD)
    assert reply.status_code == 302


def test_login_failure_does_not_tell_whether_the_user_exists(
    client: FlaskClient, clerk: User
) -> None:
    wrong_password = form_login(client, clerk.username, "not-the-password")
    no_such_user = form_login(client, "nobody-here", "not-the-password")
    assert wrong_password.status_code == no_such_user.status_code == 401
    first = _error_summary(wrong_password.get_data(as_text=True))
    second = _error_summary(no_such_user.get_data(as_text=True))
    assert GENERIC_FAILURE in first
    assert first == second
    # The password is never sent back.
    assert "not-the-password" not in wrong_password.get_data(as_text=True)
    assert client.get("/documents").status_code == 302


def test_login_with_empty_fields_names_them(client: FlaskClient) -> None:
    reply = client.post("/login", data={"csrf_token": csrf_token(client), "username": ""})
    assert reply.status_code == 422
    summary = _error_summary(reply.get_data(as_text=True))
    assert "User name: Enter your user name." in summary
    assert "Password: Enter your password." in summary
    html = reply.get_data(as_text=True)
    assert 'href="#username"' in html
    assert re.search(
        r'<input[^>]*aria-describedby="username-error"[^>]*aria-invalid="true"', html
    ) or (re.search(r'<input[^>]*aria-invalid="true"[^>]*aria-describedby="username-error"', html))


def test_login_is_locked_after_too_many_failures(client: FlaskClient, clerk: User, app) -> None:
    limit = app.config["EDMS"]["login_max_failures"]
    assert limit == 5
    for _attempt in range(limit):
        assert form_login(client, clerk.username, "wrong-password-1").status_code == 401
    locked = form_login(client, clerk.username, PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many failed logins. Try again in" in text_of(locked.get_data(as_text=True))
    assert client.get("/documents").status_code == 302


def test_lockout_does_not_reveal_unknown_users(client: FlaskClient) -> None:
    for _attempt in range(5):
        assert form_login(client, "ghost", "wrong-password-1").status_code == 401
    assert form_login(client, "ghost", "wrong-password-1").status_code == 429


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "///evil.example",
    ],
)
def test_login_never_redirects_to_another_site(
    client: FlaskClient, clerk: User, target: str
) -> None:
    url = "/login?" + _query({"next": target})
    reply = form_login(client, clerk.username, PASSWORD, url=url)
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/"


def test_login_returns_to_the_page_asked_for(client: FlaskClient, clerk: User) -> None:
    first = client.get("/documents?q=letter")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert login_url == "/login?next=%2Fdocuments%3Fq%3Dletter"
    reply = form_login(client, clerk.username, PASSWORD, url=login_url)
    assert reply.headers["Location"] == "/documents?q=letter"


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@pytest.mark.parametrize(
    "url", ["/documents", "/documents/new", "/account/password", "/account/tokens"]
)
def test_pages_require_login(client: FlaskClient, url: str) -> None:
    reply = client.get(url)
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/login?next=")


# Logging out and CSRF --------------------------------------------------------------


def test_logout_needs_post_with_csrf(clerk_client: FlaskClient) -> None:
    assert clerk_client.get("/logout").status_code == 405
    assert clerk_client.post("/logout").status_code == 400
    assert clerk_client.get("/documents").status_code == 200
    reply = clerk_client.post(
        "/logout", data={"csrf_token": csrf_token(clerk_client, "/documents")}
    )
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/login"
    assert "You have logged out." in clerk_client.get("/login").get_data(as_text=True)
    assert clerk_client.get("/documents").status_code == 302


def test_form_post_without_csrf_token_is_rejected(client: FlaskClient, clerk: User) -> None:
    reply = client.post("/login", data={"username": clerk.username, "password": PASSWORD})
    assert reply.status_code == 400
    assert "The CSRF token is missing." in reply.get_data(as_text=True)
    assert client.get("/documents").status_code == 302


def test_form_post_with_a_wrong_csrf_token_is_rejected(clerk_client: FlaskClient) -> None:
    reply = clerk_client.post("/account/tokens", data={"name": "x", "csrf_token": "forged"})
    assert reply.status_code == 400


# Password ----------------------------------------------------------------------------


def _change_password(client: FlaskClient, current: str, new: str, again: str | None = None):
    token = csrf_token(client, "/account/password")
    return client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new if again is None else again,
        },
    )


def test_change_password_with_wrong_current_password(clerk_client: FlaskClient) -> None:
    reply = _change_password(clerk_client, "not-my-password", "a-brand-new-passphrase")
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert 'id="current_password-error"' in html
    assert "The current password is not correct." in text_of(html)
    assert 'href="#current_password"' in html


def test_change_password_checks_length_and_confirmation(clerk_client: FlaskClient) -> None:
    short = _change_password(clerk_client, PASSWORD, "short")
    assert short.status_code == 422
    assert 'id="new_password-error"' in short.get_data(as_text=True)
    mismatch = _change_password(clerk_client, PASSWORD, "a-brand-new-passphrase", "different-one-x")
    assert mismatch.status_code == 422
    assert "The two new passwords are not the same." in text_of(mismatch.get_data(as_text=True))


def test_change_password_ends_older_sessions(app, client: FlaskClient, clerk: User) -> None:
    login(client, clerk)
    other = app.test_client()
    login(other, clerk)
    assert other.get("/documents").status_code == 200

    reply = _change_password(client, PASSWORD, "a-brand-new-passphrase")
    assert reply.status_code == 302, reply.get_data(as_text=True)
    # This session goes on; the one made before the change is over.
    assert client.get("/documents").status_code == 200
    assert other.get("/documents").status_code == 302

    fresh = app.test_client()
    assert form_login(fresh, clerk.username, PASSWORD).status_code == 401
    assert form_login(fresh, clerk.username, "a-brand-new-passphrase").status_code == 302


# API tokens -------------------------------------------------------------------------------


def _create_token(client: FlaskClient, name: str):
    token = csrf_token(client, "/account/tokens")
    return client.post("/account/tokens", data={"csrf_token": token, "name": name})


def test_new_token_is_shown_once(clerk_client: FlaskClient, clerk: User) -> None:
    reply = _create_token(clerk_client, "Reporting script")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    match = re.search(r'<code class="token">(edms_[^<]+)</code>', html)
    assert match, "the new token is shown"
    plain = match.group(1)
    assert "never" in html  # not used yet
    again = clerk_client.get("/account/tokens").get_data(as_text=True)
    assert plain not in again
    assert "Reporting script" in again
    assert plain[:11] in again  # the prefix identifies it
    assert auth.user_for_token(plain).id == clerk.id


def test_token_last_use_is_shown(clerk_client: FlaskClient, clerk: User) -> None:
    _token, plain = auth.create_token(clerk, "Used one")
    db.session.commit()
    assert auth.user_for_token(plain) is not None
    db.session.commit()
    html = clerk_client.get("/account/tokens").get_data(as_text=True)
    row = re.search(r"<tr>\s*<th scope=\"row\">Used one</th>.*?</tr>", html, re.S)
    assert row
    assert "never" not in row.group(0)


def test_token_needs_a_name(clerk_client: FlaskClient) -> None:
    reply = _create_token(clerk_client, "")
    assert reply.status_code == 422
    assert "Enter a name for the token." in reply.get_data(as_text=True)


def test_revoke_token(clerk_client: FlaskClient, clerk: User) -> None:
    token, plain = auth.create_token(clerk, "Old script")
    db.session.commit()
    reply = clerk_client.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token(clerk_client, "/account/tokens")},
    )
    assert reply.status_code == 302
    page = clerk_client.get("/account/tokens").get_data(as_text=True)
    assert "has been revoked" in page
    assert "Revoked" in page
    assert auth.user_for_token(plain) is None


def test_cannot_revoke_another_users_token(
    clerk_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    someone = make_user(Role.CLERK)
    token, _plain = auth.create_token(someone, "Theirs")
    db.session.commit()
    reply = clerk_client.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token(clerk_client, "/account/tokens")},
    )
    assert reply.status_code == 404
    stored = db.session.scalar(select(ApiToken).where(ApiToken.id == token.id))
    db.session.refresh(stored)
    assert stored.revoked_at is None
