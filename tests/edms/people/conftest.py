"""Fixtures of the people-and-time tests: an SMTP server on loopback, mail settings, users."""

from __future__ import annotations

import email
import socket
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from edms.auth.models import Role, User
from edms.db import db

SMTP_FROM = "edms@registry.example.uz"
BASE_URL = "https://edms.example.uz"


class Inbox:
    """An aiosmtpd handler keeping what it receives; ``refuse`` makes it answer 451."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse = False
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(message)  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [
            m for m, rcpt in zip(self.messages, self.recipients, strict=True) if address in rcpt
        ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues(app: Flask) -> None:
    """Up-to-date .mo files, loaded afresh (as tests/edms/ui/conftest.py does for its tests)."""
    from edms.extensions import babel
    from tests.edms.ui.conftest import compile_catalogues

    compile_catalogues()
    with app.app_context():
        babel.domain_instance.cache.clear()


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port."""
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def mail_settings(port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_from": SMTP_FROM,
        "smtp_starttls": False,
        "smtp_timeout_seconds": 5,
        "mail_base_url": BASE_URL,
    }


@pytest.fixture
def mail_on(app: Flask, smtp: Inbox, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """The shared app sends e-mail to the test server for the length of a test."""
    for key, value in mail_settings(smtp.port).items():
        monkeypatch.setitem(app.config["EDMS"], key, value)
    return smtp


@pytest.fixture
def staff(make_user: Callable[..., User]) -> Callable[..., User]:
    """A staff user with an e-mail address (the factory's users have none)."""

    def make(role: Role | str = Role.APPROVER, email: str | None = "auto", **kwargs: Any) -> User:
        user = make_user(role, **kwargs)
        user.email = f"{user.username}@example.uz" if email == "auto" else email
        db.session.commit()
        return user

    return make
