"""Notifications: in-app always, by e-mail too when SMTP is configured.

``notify`` adds the notification to the current transaction. Its e-mail is sent
only once that transaction has committed, when the session ends (the end of the
request, CLI command or job): a rolled-back notification is never mailed. The
send re-reads the row in a session of its own, so a notification whose
savepoint was rolled back is not mailed either.

A failed send does not fail the request: it is logged, and the scheduled job
"notifications: retry e-mails" tries again with growing pauses, up to
``MAX_ATTEMPTS`` times. After the server could not be reached at all, sends
after commit pause for ``SERVER_DOWN_PAUSE`` seconds (the job sends them), so
requests do not each wait ``smtp_timeout_seconds`` for a dead server. Fresh rows are left to the send after commit for
``FIRST_RETRY_AFTER``, so the job and the request do not both send one message.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from edms.auth.models import User
from edms.db import after_close, db, utcnow
from edms.errors import ValidationError
from edms.notifications import mail
from edms.notifications.models import EmailStatus, Notification
from edms.scheduler import register_job

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY_AFTER = timedelta(minutes=2)
MAX_RETRY_PAUSE = timedelta(hours=6)
RETRY_JOB = "notifications: retry e-mails"
RETRY_EVERY = timedelta(minutes=2)
RETRY_BATCH = 200

_OUTBOX = "edms.mail_outbox"  # ids added in the current transaction
_COMMITTED = "edms.mail_committed"  # ids whose transaction committed, to send at the end
_HOOKED = "edms.mail_hooked"


@dataclass
class NotificationPage:
    items: list[Notification]
    total: int
    page: int
    per_page: int
    unread: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@contextmanager
def recipient_locale(user: User) -> Iterator[None]:
    """Translate (``gettext``) in the recipient's language while composing a notification."""
    settings = current_app.config["EDMS"]
    locale = user.locale if user.locale in settings["languages"] else settings["default_locale"]
    with force_locale(locale):
        yield


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notify(
    user: User,
    kind: str,
    subject: str,
    body: str,
    link: str | None = None,
    *,
    to_inactive: bool = False,
) -> Notification:
    """Notify ``user`` in the app and, when SMTP is configured and they have an address, by e-mail.

    ``kind`` is a code such as ``task.opened``; ``subject`` and ``body`` are text in
    the recipient's language (see ``recipient_locale``); ``link`` is a path on this
    site such as ``/tasks/12`` (e-mails put ``mail_base_url`` before it). An inactive
    user gets no e-mail unless ``to_inactive`` (the link that activates a new account).
    """
    if not kind or len(kind) > 64:
        raise ValueError(f"a notification kind has 1 to 64 characters: {kind!r}")
    if link is not None and (
        len(link) > 500 or link.startswith("//") or not link.startswith(("/", "https://"))
    ):
        raise ValueError("a notification link is a path on this site (or an https:// URL)")
    settings = current_app.config["EDMS"]
    by_mail = bool(settings["smtp_host"] and user.email and (user.is_active or to_inactive))
    notification = Notification(
        user_id=user.id,
        kind=kind,
        subject=_one_line(subject, 300),
        body=str(body),
        link=link,
        email_status=EmailStatus.PENDING.value if by_mail else None,
        email_next_at=utcnow() + FIRST_RETRY_AFTER if by_mail else None,
    )
    db.session.add(notification)
    db.session.flush()
    if by_mail:
        _queue(notification.id)
    logger.info("notification %s (%s) for user %s", notification.id, kind, user.id)
    return notification


def _queue(notification_id: int) -> None:
    session = db.session()
    info = session.info
    info.setdefault(_OUTBOX, []).append(notification_id)
    if not info.get(_HOOKED):
        info[_HOOKED] = True
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def send_committed() -> None:
            info.pop(_HOOKED, None)
            info.pop(_OUTBOX, None)  # never committed
            ids = info.pop(_COMMITTED, [])
            if ids:
                with app.app_context():
                    if _server_seems_down(app.config["EDMS"]):
                        logger.info(
                            "mail server down lately: %s e-mail(s) left to the retry job", len(ids)
                        )
                        return
                    deliver(ids)

        after_close(send_committed)


@event.listens_for(Session, "after_commit")
def _outbox_committed(session: Session) -> None:
    ids = session.info.pop(_OUTBOX, None)
    if ids:
        session.info.setdefault(_COMMITTED, []).extend(ids)


@event.listens_for(Session, "after_rollback")
def _outbox_rolled_back(session: Session) -> None:
    session.info.pop(_OUTBOX, None)


# Sending ---------------------------------------------------------------------


def _pause_after(attempts: int) -> timedelta:
    """2, 4, 8 ... minutes after the nth failed attempt, at most MAX_RETRY_PAUSE."""
    return min(FIRST_RETRY_AFTER * (2 ** max(0, attempts - 1)), MAX_RETRY_PAUSE)


def deliver(ids: Iterable[int], now: datetime | None = None) -> dict[int, str | None]:
    """Send the pending e-mails of these notifications; {id: error or None} of those tried.

    Reads and records in short transactions of its own, and talks to the SMTP
    server outside any, so a slow server holds no database lock.
    """
    settings = current_app.config["EDMS"]
    wanted = sorted(set(ids))
    if not settings["smtp_host"] or not wanted:
        return {}
    bind = current_app.extensions["edms.db"]["bind"]
    with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
        rows = session.execute(
            select(Notification, User.email)
            .join(User, User.id == Notification.user_id)
            .where(
                Notification.id.in_(wanted),
                Notification.email_status == EmailStatus.PENDING.value,
            )
            .order_by(Notification.id)
        ).all()
        outgoing = [
            mail.Outgoing(n.id, email or "", n.subject, n.body, n.link) for n, email in rows
        ]
        attempts = {n.id: n.email_attempts for n, _email in rows}
        session.rollback()
    if not outgoing:
        return {}
    results = _send_all(settings, outgoing, now or utcnow())
    _record(bind, results, attempts)
    return results


# The send after commit runs before the reply leaves (at the end of the request): when
# the mail server cannot be reached, later requests leave their e-mails to the retry job
# for a while instead of each waiting smtp_timeout_seconds for it. Per process and server.
SERVER_DOWN_PAUSE = 60.0
_down_until: dict[tuple[str, int], float] = {}


def _server_key(settings: dict[str, Any]) -> tuple[str, int]:
    return (settings["smtp_host"], settings["smtp_port"])


def _server_seems_down(settings: dict[str, Any]) -> bool:
    return time.monotonic() < _down_until.get(_server_key(settings), 0.0)


def _send_all(
    settings: dict[str, Any], outgoing: list[mail.Outgoing], now: datetime
) -> dict[int, str | None]:
    results: dict[int, str | None] = {}
    try:
        with mail.connection(settings) as smtp:
            _down_until.pop(_server_key(settings), None)
            for item in outgoing:
                if not item.to:
                    results[item.notification_id] = "the user has no e-mail address"
                    continue
                try:
                    smtp.send_message(mail.build_message(settings, item, now))
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, ValueError) as exc:
                    results[item.notification_id] = mail.describe_error(exc)
                else:
                    results[item.notification_id] = None
    except (smtplib.SMTPException, OSError) as exc:
        reason = mail.describe_error(exc)
        if isinstance(exc, OSError | smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
            _down_until[_server_key(settings)] = time.monotonic() + SERVER_DOWN_PAUSE
        for item in outgoing:
            results.setdefault(item.notification_id, reason)
    for notification_id, error in results.items():
        if error:
            logger.warning("e-mail of notification %s not sent: %s", notification_id, error)
        else:
            logger.info("e-mail of notification %s sent", notification_id)
    return results


def _record(bind: Any, results: dict[int, str | None], attempts: dict[int, int]) -> None:
    now = utcnow()
    with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
        for notification_id, error in results.items():
            tried = attempts.get(notification_id, 0) + 1
            values: dict[str, Any]
            if error is None:
                values = {
                    "email_status": EmailStatus.SENT.value,
                    "emailed_at": now,
                    "email_next_at": None,
                    "email_error": None,
                }
            elif tried >= MAX_ATTEMPTS:
                values = {"email_status": EmailStatus.FAILED.value, "email_next_at": None}
                logger.error(
                    "e-mail of notification %s failed %s times; given up", notification_id, tried
                )
            else:
                values = {"email_next_at": now + _pause_after(tried)}
            if error is not None:
                values["email_error"] = error
            session.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.email_status == EmailStatus.PENDING.value,
                )
                .values(email_attempts=tried, **values)
                .execution_options(synchronize_session=False)
            )
        session.commit()


def retry_emails(now: datetime) -> None:
    """The scheduled job: send the pending e-mails whose next attempt is due."""
    if not current_app.config["EDMS"]["smtp_host"]:
        return
    ids = list(
        db.session.scalars(
            select(Notification.id)
            .where(
                Notification.email_status == EmailStatus.PENDING.value,
                Notification.email_next_at <= now,
            )
            .order_by(Notification.email_next_at)
            .limit(RETRY_BATCH)
        )
    )
    db.session.commit()  # hold no lock while talking to the mail server
    if ids:
        results = deliver(ids)
        sent = sum(1 for error in results.values() if error is None)
        logger.info("e-mail retry: %s of %s sent", sent, len(results))


register_job(RETRY_JOB, RETRY_EVERY, retry_emails)


# Reading ---------------------------------------------------------------------


def unread_count(user: User) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def list_for(user: User, page: int = 1, *, unread_only: bool = False) -> NotificationPage:
    """One page of the user's own notifications, newest first."""
    per_page = current_app.config["EDMS"]["page_size"]
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise ValidationError({"page": "must be 1 or more"})
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(
        db.session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return NotificationPage(items, total, page, per_page, unread_count(user))


def mark_read(user: User, ids: Iterable[int] | None) -> int:
    """Mark the user's notifications with these ids (None: all of them) read; how many were.

    Ids of other users' notifications are ignored, as unknown ones are.
    """
    query = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        wanted = {int(i) for i in ids}
        if not wanted:
            return 0
        query = query.where(Notification.id.in_(wanted))
    result = db.session.execute(
        query.values(read_at=utcnow()).execution_options(synchronize_session="fetch")
    )
    db.session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]
