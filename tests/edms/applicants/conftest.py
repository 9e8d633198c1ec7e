"""Fixtures of the applicant tests: the loopback SMTP server of the people tests, applicants."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from edms.applicants import services
from edms.auth.models import User
from edms.db import db
from tests.conftest import PASSWORD, csrf_token
from tests.edms.people.conftest import BASE_URL, Inbox, mail_on, smtp

__all__ = ["Inbox", "mail_on", "smtp"]  # the fixtures, shared with the people tests

PINFL = "31234567890123"
TIN = "301234567"
LINK_RE = re.compile(re.escape(BASE_URL) + r"(/portal/(?:confirm|password)/[A-Za-z0-9_.-]+)")


def link_in(message: EmailMessage) -> str:
    """The path of the portal link in a message."""
    body = message.get_body(("plain",))
    assert body is not None
    match = LINK_RE.search(body.get_content())
    assert match, body.get_content()
    return match.group(1)


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


def register_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    """A valid registration, with ``fields`` changed (an empty consent leaves it out)."""
    data = {
        "csrf_token": csrf_token(client, "/portal/register"),
        "full_name": "Ali Valiyev",
        "email": "ali.valiyev@example.uz",
        "password": PASSWORD,
        "confirm_password": PASSWORD,
        "pinfl": "",
        "tin": "",
        "org_name": "",
        "consent": "y",
        **fields,
    }
    return {name: value for name, value in data.items() if not (name == "consent" and not value)}


def form_login(client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


@pytest.fixture
def make_applicant(ctx: Flask) -> Callable[..., User]:
    """An active, confirmed applicant with the test password (made as an admin would)."""
    counter = iter(range(1, 10_000))

    def make(
        *, pinfl: str = "", tin: str = "", org_name: str = "", full_name: str = "Test Applicant"
    ) -> User:
        user, path = services.create_applicant(
            full_name=full_name,
            email=f"applicant{next(counter)}@example.uz",
            pinfl=pinfl,
            tin=tin,
            org_name=org_name,
        )
        services.set_password(token_of(path), PASSWORD, PASSWORD)
        db.session.commit()
        return user

    return make
