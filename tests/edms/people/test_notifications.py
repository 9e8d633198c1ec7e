"""Notifications: in-app, and e-mail that leaves only after the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from edms.auth.models import Role, User
from edms.db import db, utcnow
from edms.errors import ValidationError
from edms.notifications import services
from edms.notifications.models import Notification
from edms.scheduler import run_due_jobs
from tests.edms.people.conftest import BASE_URL, SMTP_FROM, Inbox, free_port


def _row(notification_id: int) -> Notification | None:
    return db.session.get(Notification, notification_id, populate_existing=True)


def _user(app: Flask, user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


# In the app ------------------------------------------------------------------


def test_notify_lists_counts_and_marks_read(ctx: Flask, staff: Callable[..., User]) -> None:
    user, other = staff(), staff()
    first = services.notify(user, "test.one", "First", "Body one", "/documents")
    second = services.notify(user, "test.two", "Second", "Body two")
    services.notify(other, "test.one", "Not yours", "")
    db.session.commit()

    assert services.unread_count(user) == 2
    page = services.list_for(user, 1)
    assert [n.subject for n in page.items] == ["Second", "First"]
    assert (page.total, page.unread, page.pages) == (2, 2, 1)
    assert first.email_status is None  # SMTP is off

    # Another user's id is ignored, as an unknown one is.
    assert services.mark_read(user, [first.id, 999_999]) == 1
    assert services.mark_read(other, [second.id]) == 0
    db.session.commit()
    assert services.unread_count(user) == 1
    assert services.unread_count(other) == 1
    assert [n.subject for n in services.list_for(user, 1, unread_only=True).items] == ["Second"]
    assert services.mark_read(user, None) == 1
    assert services.unread_count(user) == 0
    assert services.mark_read(user, []) == 0


def test_list_pages_and_refuses_bad_page(
    ctx: Flask, app: Flask, staff: Callable[..., User]
) -> None:
    user = staff()
    per_page = app.config["EDMS"]["page_size"]
    for i in range(per_page + 1):
        services.notify(user, "test.many", f"Message {i}", "")
    db.session.commit()
    assert services.list_for(user, 1).pages == 2
    assert [n.subject for n in services.list_for(user, 2).items] == ["Message 0"]
    with pytest.raises(ValidationError) as caught:
        services.list_for(user, 0)
    assert set(caught.value.errors) == {"page"}


def test_notify_refuses_bad_kind_and_link(ctx: Flask, staff: Callable[..., User]) -> None:
    user = staff()
    with pytest.raises(ValueError, match="kind"):
        services.notify(user, "", "Subject", "")
    with pytest.raises(ValueError, match="link"):
        services.notify(user, "test", "Subject", "", "javascript:alert(1)")
    with pytest.raises(ValueError, match="link"):
        services.notify(user, "test", "Subject", "", "//evil.example/")


def test_subject_is_one_line(ctx: Flask, staff: Callable[..., User]) -> None:
    n = services.notify(staff(), "test", "Line one\r\nBcc: someone@evil.example", "")
    assert n.subject == "Line one Bcc: someone@evil.example"


# E-mail after commit ---------------------------------------------------------


def test_mail_leaves_only_after_commit(
    app: Flask, ctx: Flask, staff: Callable[..., User], mail_on: Inbox
) -> None:
    user = staff()
    with app.app_context():
        recipient = _user(app, user.id)
        n = services.notify(recipient, "task.opened", "A task for you", "Please look.", "/tasks/7")
        assert n.email_status == "pending"
        db.session.flush()
        assert mail_on.messages == []  # not before the commit ...
        db.session.commit()
        assert mail_on.messages == []  # ... and not before the session ends
    [message] = mail_on.messages
    assert message["To"] == user.email
    assert message["From"] == SMTP_FROM
    assert message["Subject"] == "A task for you"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content().splitlines() == ["Please look.", "", f"{BASE_URL}/tasks/7"]
    row = _row(n.id)
    assert row is not None
    assert (row.email_status, row.email_attempts, row.email_error) == ("sent", 1, None)
    assert row.emailed_at is not None


def test_no_mail_for_a_rolled_back_transaction(
    app: Flask, ctx: Flask, staff: Callable[..., User], mail_on: Inbox
) -> None:
    user = staff()
    with app.app_context():
        n = services.notify(_user(app, user.id), "task.opened", "Rolled back", "")
        notification_id = n.id
        db.session.rollback()
    with app.app_context():  # a session ending without a commit at all
        services.notify(_user(app, user.id), "task.opened", "Never committed", "")
    assert mail_on.messages == []
    assert _row(notification_id) is None


def test_no_mail_for_a_rolled_back_savepoint(
    app: Flask, ctx: Flask, staff: Callable[..., User], mail_on: Inbox
) -> None:
    user = staff()
    with app.app_context():
        recipient = _user(app, user.id)
        with db.session.begin_nested() as savepoint:
            services.notify(recipient, "task.opened", "Inside a savepoint", "")
            savepoint.rollback()
        services.notify(recipient, "task.opened", "Kept", "")
        db.session.commit()
    assert [m["Subject"] for m in mail_on.messages] == ["Kept"]


def test_mail_after_commit_on_a_real_database(
    committing_app: Flask, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.edms.people.conftest import mail_settings

    for key, value in mail_settings(smtp.port).items():
        monkeypatch.setitem(committing_app.config["EDMS"], key, value)
    from edms.auth import services as auth

    with committing_app.app_context():
        auth.create_department("MAIL", "Mail room")
        auth.create_user("reader", ["approver"], department_code="MAIL", email="reader@example.uz")
        db.session.commit()
    with committing_app.app_context():
        services.notify(auth.get_user("reader"), "test", "Committed", "")
        db.session.commit()
        services.notify(auth.get_user("reader"), "test", "Rolled back", "")
        db.session.rollback()
    assert [m["Subject"] for m in smtp.messages] == ["Committed"]
    with committing_app.app_context():
        rows = db.session.scalars(select(Notification)).all()
        assert [(n.subject, n.email_status) for n in rows] == [("Committed", "sent")]


def test_no_mail_without_an_address_or_smtp(
    app: Flask,
    ctx: Flask,
    staff: Callable[..., User],
    mail_on: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nobody = staff(email=None)
    with app.app_context():
        n = services.notify(_user(app, nobody.id), "test", "No address", "")
        assert n.email_status is None
        db.session.commit()
    user = staff()
    monkeypatch.setitem(app.config["EDMS"], "smtp_host", "")
    with app.app_context():
        n = services.notify(_user(app, user.id), "test", "SMTP off", "")
        assert n.email_status is None
        db.session.commit()
    assert mail_on.messages == []


def test_failed_send_does_not_fail_and_is_retried_by_the_job(
    app: Flask,
    ctx: Flask,
    staff: Callable[..., User],
    mail_on: Inbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = staff()
    mail_on.refuse = True
    with app.app_context():
        n = services.notify(_user(app, user.id), "test", "Try again", "Body")
        notification_id = n.id
        db.session.commit()
    assert mail_on.messages == []
    row = _row(notification_id)
    assert row is not None
    assert (row.email_status, row.email_attempts) == ("pending", 1)
    assert "451" in (row.email_error or "")
    assert row.email_next_at is not None
    assert any("not sent" in r.getMessage() for r in caplog.records)

    # Not yet due: the job leaves it alone.
    mail_on.refuse = False
    assert services.RETRY_JOB in run_due_jobs(row.email_next_at - timedelta(seconds=1))
    assert mail_on.messages == []
    # Due in the job's next period: sent.
    later = row.email_next_at + services.RETRY_EVERY
    assert services.RETRY_JOB in run_due_jobs(later)
    assert [m["Subject"] for m in mail_on.messages] == ["Try again"]
    row = _row(notification_id)
    assert row is not None
    assert (row.email_status, row.email_attempts, row.email_error) == ("sent", 2, None)


def test_retries_give_up_after_the_last_attempt(
    app: Flask, ctx: Flask, staff: Callable[..., User], mail_on: Inbox
) -> None:
    user = staff()
    mail_on.refuse = True
    with app.app_context():
        notification_id = services.notify(_user(app, user.id), "test", "Doomed", "").id
        db.session.commit()
    for _attempt in range(services.MAX_ATTEMPTS - 1):
        row = _row(notification_id)
        assert row is not None
        assert row.email_next_at is not None
        with app.app_context():
            services.deliver([notification_id], row.email_next_at)
    row = _row(notification_id)
    assert row is not None
    assert (row.email_status, row.email_attempts) == ("failed", services.MAX_ATTEMPTS)
    assert row.email_next_at is None
    with app.app_context():
        assert services.deliver([notification_id]) == {}  # no longer pending


def test_unreachable_server_is_a_logged_failure_and_pauses_sending(
    app: Flask,
    ctx: Flask,
    staff: Callable[..., User],
    mail_on: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiosmtpd.controller import Controller

    user = staff()
    port = free_port()  # nothing listens there yet
    monkeypatch.setitem(app.config["EDMS"], "smtp_port", port)
    with app.app_context():
        first = services.notify(_user(app, user.id), "test", "Unreachable", "").id
        db.session.commit()
    row = _row(first)
    assert row is not None
    assert (row.email_status, row.email_attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in (row.email_error or "")
    # The next requests do not wait for the server: their e-mails go to the retry job.
    with app.app_context():
        second = services.notify(_user(app, user.id), "test", "Left to the job", "").id
        db.session.commit()
    row = _row(second)
    assert row is not None
    assert (row.email_status, row.email_attempts) == ("pending", 0)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        later = utcnow() + timedelta(hours=1)
        assert services.RETRY_JOB in run_due_jobs(later)
    finally:
        controller.stop()
    assert sorted(m["Subject"] for m in inbox.messages) == ["Left to the job", "Unreachable"]
    with app.app_context():  # the server is back: sending after commit resumes
        assert not services._server_seems_down(app.config["EDMS"])


def test_the_smtp_password_is_never_logged(
    app: Flask,
    ctx: Flask,
    staff: Callable[..., User],
    mail_on: Inbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "s3cret-smtp-passw0rd"
    monkeypatch.setitem(app.config["EDMS"], "smtp_username", "edms")
    monkeypatch.setitem(app.config["EDMS"], "smtp_password", secret)
    user = staff()
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        notification_id = services.notify(_user(app, user.id), "test", "With login", "").id
        db.session.commit()
    row = _row(notification_id)
    assert row is not None
    assert row.email_status == "pending"  # the test server offers no AUTH without TLS
    assert secret not in caplog.text
    assert secret not in (row.email_error or "")


def test_notifications_go_in_the_recipients_language(
    ctx: Flask, staff: Callable[..., User]
) -> None:
    from flask_babel import gettext

    user = staff()
    user.locale = "ru"
    with services.recipient_locale(user):
        assert gettext("Notifications") == "Уведомления"


def test_retry_job_is_registered() -> None:
    from edms.scheduler import registered_jobs

    job = {j.name: j for j in registered_jobs()}[services.RETRY_JOB]
    assert job.every == services.RETRY_EVERY


def test_old_pending_mail_is_sent_once_by_one_run(
    app: Flask, ctx: Flask, staff: Callable[..., User], mail_on: Inbox
) -> None:
    user = staff(Role.CLERK)
    # A row left pending (say the process died between commit and send).
    n = Notification(
        user_id=user.id,
        kind="test",
        subject="Left behind",
        body="",
        email_status="pending",
        email_next_at=utcnow() - timedelta(minutes=1),
    )
    db.session.add(n)
    db.session.commit()
    now = utcnow()
    assert services.RETRY_JOB in run_due_jobs(now)
    assert services.RETRY_JOB not in run_due_jobs(now + timedelta(seconds=1))
    assert [m["Subject"] for m in mail_on.to(user.email or "")] == ["Left behind"]
