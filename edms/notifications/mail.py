"""Plain-text e-mail over SMTP, configured by the smtp_* settings.

The password is only handed to ``smtplib``; it is never logged, and smtplib's
debug output (which would show it) stays off.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any


@dataclass(frozen=True)
class Outgoing:
    """One message to send: who to, and what."""

    notification_id: int
    to: str
    subject: str
    body: str
    link: str | None


def link_url(link: str | None, base_url: str) -> str | None:
    """The link as the e-mail shows it: after the configured base URL, or as it is."""
    if not link:
        return None
    if link.startswith("/") and base_url:
        return base_url + link
    return link


def build_message(settings: dict[str, Any], item: Outgoing, now: datetime) -> EmailMessage:
    """A plain-text message: the body, then the link on a line of its own."""
    message = EmailMessage()
    message["Subject"] = " ".join(item.subject.split())
    message["From"] = settings["smtp_from"]
    message["To"] = item.to
    message["Date"] = format_datetime(now)
    domain = settings["smtp_from"].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    # Tells mail servers and auto-responders this is an automatic message (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    text = item.body.rstrip()
    url = link_url(item.link, settings["mail_base_url"])
    if url:
        text = f"{text}\n\n{url}" if text else url
    message.set_content(text + "\n")
    return message


@contextmanager
def connection(settings: dict[str, Any]) -> Iterator[smtplib.SMTP]:
    """An SMTP session: connected, upgraded with STARTTLS and logged in as configured."""
    smtp = smtplib.SMTP(
        settings["smtp_host"], settings["smtp_port"], timeout=settings["smtp_timeout_seconds"]
    )
    try:
        smtp.ehlo()
        if settings["smtp_starttls"]:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings["smtp_username"]:
            smtp.login(settings["smtp_username"], settings["smtp_password"])
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def describe_error(exc: BaseException) -> str:
    """A short reason for the log and the row: the server's reply, never the credentials."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{type(exc).__name__}: {exc.smtp_code} {text}"[:500]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "SMTPRecipientsRefused: the server refused the recipient"
    return f"{type(exc).__name__}: {exc}"[:500]
