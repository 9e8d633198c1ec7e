"""The delegation and notification pages, and the header counter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edms.auth.models import Role, User
from edms.db import db
from edms.delegations import services as delegations
from edms.notifications import services as notifications
from edms.notifications.models import Notification
from tests.conftest import csrf_token, login
from tests.edms.ui.conftest import Page, text_of
from tests.edms.ui.test_accessibility import check_page


@pytest.fixture
def me(staff: Callable[..., User]) -> User:
    return staff(Role.APPROVER)


@pytest.fixture
def browser(client: FlaskClient, me: User) -> FlaskClient:
    login(client, me)
    return client


@pytest.fixture
def today(ctx: Flask) -> date:
    return delegations.today()


def _switch(client: FlaskClient, lang: str) -> None:
    client.post(
        "/language", data={"csrf_token": csrf_token(client, "/notifications"), "lang": lang}
    )


# Delegations ---------------------------------------------------------------------


def test_delegation_page_creates_lists_and_ends(
    browser: FlaskClient, staff: Callable[..., User], today: date
) -> None:
    deputy = staff()
    page = browser.get("/delegations")
    assert page.status_code == 200
    check_page(page.get_data(as_text=True), "en")
    assert "You have not named a deputy yet." in page.get_data(as_text=True)

    token = csrf_token(browser, "/delegations")
    reply = browser.post(
        "/delegations",
        data={
            "csrf_token": token,
            "deputy": deputy.username,
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=2)).isoformat(),
            "reason": "Leave",
        },
    )
    assert reply.status_code == 302
    html = browser.get("/delegations").get_data(as_text=True)
    check_page(html, "en")
    assert f"{deputy.display_name} is your deputy from {today.isoformat()}" in html
    assert "In effect" in text_of(html)

    owned = Page(html).find("form", class_="inline")
    end_forms = [f for f in owned if "/end" in f.get("action", "")]
    assert len(end_forms) == 1
    reply = browser.post(end_forms[0]["action"], data={"csrf_token": token})
    assert reply.status_code == 302
    html = browser.get("/delegations").get_data(as_text=True)
    assert f"{deputy.display_name} is no longer your deputy." in html
    assert "Ended early" in html


def test_delegation_errors_are_summarised_and_linked_to_the_fields(
    browser: FlaskClient, me: User, today: date
) -> None:
    token = csrf_token(browser, "/delegations")
    reply = browser.post(
        "/delegations",
        data={
            "csrf_token": token,
            "deputy": me.username,
            "starts_on": (today - timedelta(days=1)).isoformat(),
            "ends_on": "tomorrow",
        },
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    page = check_page(html, "en")
    assert "<title>Error: Deputies — EDMS</title>" in html
    assert page.find("div", class_="error-summary")
    targets = [href[1:] for href, _text in page.links if href.startswith("#") and href != "#main"]
    assert targets == ["deputy", "starts_on", "ends_on"]
    for target in targets:
        field = page.find("input", id=target)[0]
        assert field["aria-invalid"] == "true"
        assert f"{target}-error" in field["aria-describedby"]
    text = text_of(html)
    assert "you cannot be your own deputy" in text
    assert "must be today or later" in text
    assert "must be a date like 2026-01-31" in text


def test_delegation_overlap_in_russian(
    browser: FlaskClient, me: User, staff: Callable[..., User], today: date
) -> None:
    deputy = staff()
    delegations.create_delegation(me, deputy.username, today, today + timedelta(days=3), "")
    db.session.commit()
    _switch(browser, "ru")
    reply = browser.post(
        "/delegations",
        data={
            "csrf_token": csrf_token(browser, "/delegations"),
            "deputy": deputy.username,
            "starts_on": today.isoformat(),
            "ends_on": today.isoformat(),
        },
    )
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    check_page(html, "ru")
    assert "пересекается с другим вашим замещением" in html


def test_another_users_delegation_cannot_be_ended(
    browser: FlaskClient, staff: Callable[..., User], today: date
) -> None:
    owner, deputy = staff(), staff()
    delegation = delegations.create_delegation(owner, deputy.username, today, today, "")
    db.session.commit()
    token = csrf_token(browser, "/delegations")
    assert (
        browser.post(f"/delegations/{delegation.id}/end", data={"csrf_token": token}).status_code
        == 404
    )
    assert browser.post(f"/delegations/{delegation.id}/end").status_code == 400  # no CSRF token


def test_deputies_see_whom_they_stand_in_for(
    client: FlaskClient, staff: Callable[..., User], today: date
) -> None:
    boss, deputy = staff(), staff()
    delegations.create_delegation(boss, deputy.username, today, today, "Conference")
    db.session.commit()
    login(client, deputy)
    html = client.get("/delegations").get_data(as_text=True)
    check_page(html, "en")
    assert "You stand in for" in html
    assert "Conference" in html


def test_applicants_have_no_delegation_page(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    login(client, make_user(Role.APPLICANT))
    assert client.get("/delegations").status_code == 403


# Notifications -------------------------------------------------------------------


def _nav_counter(html: str) -> str | None:
    page = Page(html)
    for href, text in page.links:
        if href == "/notifications":
            return text
    return None


def test_header_counter_and_notifications_page(
    browser: FlaskClient, me: User, staff: Callable[..., User]
) -> None:
    assert _nav_counter(browser.get("/documents").get_data(as_text=True)) == "Notifications"
    first = notifications.notify(me, "test", "First news", "Details", "/documents")
    notifications.notify(me, "test", "Second news", "")
    notifications.notify(staff(), "test", "Somebody else's news", "")
    db.session.commit()

    html = browser.get("/documents").get_data(as_text=True)
    assert _nav_counter(html) == "Notifications 2 (2 unread)"

    page = browser.get("/notifications")
    html = page.get_data(as_text=True)
    check_page(html, "en")
    assert "First news" in html
    assert "Second news" in html
    assert "Somebody else" not in html
    current = [a for a in Page(html).find("a") if a.get("aria-current") == "page"]
    assert [a["href"] for a in current] == ["/notifications"]

    token = csrf_token(browser, "/notifications")
    reply = browser.post(
        "/notifications/read",
        data={"csrf_token": token, "ids": str(first.id), "next": "/notifications?show=unread"},
    )
    assert reply.headers["Location"] == "/notifications?show=unread"
    html = browser.get("/notifications?show=unread").get_data(as_text=True)
    assert "1 notification marked as read." in html
    assert "First news" not in html
    assert _nav_counter(html) == "Notifications 1 (1 unread)"

    browser.post("/notifications/read", data={"csrf_token": token, "all": "1"})
    html = browser.get("/notifications?show=unread").get_data(as_text=True)
    assert "You have no unread notifications." in html
    assert _nav_counter(html) == "Notifications"


def test_opening_a_notification_marks_it_read_and_follows_the_link(
    browser: FlaskClient, me: User, staff: Callable[..., User]
) -> None:
    mine = notifications.notify(me, "test", "Go there", "", "/documents")
    theirs = notifications.notify(staff(), "test", "Not mine", "", "/documents")
    db.session.commit()
    token = csrf_token(browser, "/notifications")
    reply = browser.post(f"/notifications/{mine.id}/open", data={"csrf_token": token})
    assert reply.headers["Location"] == "/documents"
    assert db.session.get(Notification, mine.id, populate_existing=True).read_at is not None  # type: ignore[union-attr]
    assert (
        browser.post(f"/notifications/{theirs.id}/open", data={"csrf_token": token}).status_code
        == 404
    )
    assert db.session.get(Notification, theirs.id, populate_existing=True).read_at is None  # type: ignore[union-attr]


def test_mark_read_ignores_other_users_and_bad_ids(
    browser: FlaskClient, staff: Callable[..., User]
) -> None:
    theirs = notifications.notify(staff(), "test", "Not mine", "")
    db.session.commit()
    token = csrf_token(browser, "/notifications")
    reply = browser.post("/notifications/read", data={"csrf_token": token, "ids": str(theirs.id)})
    assert reply.status_code == 302
    assert db.session.get(Notification, theirs.id, populate_existing=True).read_at is None  # type: ignore[union-attr]
    assert (
        browser.post("/notifications/read", data={"csrf_token": token, "ids": "x"}).status_code
        == 422
    )
    # Never somewhere else after marking.
    reply = browser.post(
        "/notifications/read",
        data={"csrf_token": token, "ids": "1", "next": "https://evil.example/"},
    )
    assert reply.headers["Location"] == "/notifications"


def test_notifications_page_pages(app: Flask, browser: FlaskClient, me: User) -> None:
    for i in range(app.config["EDMS"]["page_size"] + 1):
        notifications.notify(me, "test", f"News {i}", "")
    db.session.commit()
    html = browser.get("/notifications").get_data(as_text=True)
    assert "Page 1 of 2" in html
    html = browser.get("/notifications?page=2").get_data(as_text=True)
    check_page(html, "en")
    assert "News 0" in html
    assert browser.get("/notifications?page=0").status_code == 422
    assert browser.get("/notifications?page=x").status_code == 422


@pytest.mark.parametrize(
    ("lang", "heading", "deputies"),
    [("ru", "Уведомления", "Заместители"), ("uz", "Bildirishnomalar", "O‘rinbosarlar")],
)
def test_pages_are_translated(
    browser: FlaskClient, me: User, lang: str, heading: str, deputies: str
) -> None:
    notifications.notify(me, "test", "News", "")
    db.session.commit()
    _switch(browser, lang)
    html = browser.get("/notifications").get_data(as_text=True)
    check_page(html, lang)
    assert f"<h1>{heading}</h1>" in html
    html = browser.get("/delegations").get_data(as_text=True)
    check_page(html, lang)
    assert f"<h1>{deputies}</h1>" in html


def test_pages_need_login(client: FlaskClient) -> None:
    for url in ("/notifications", "/delegations"):
        assert client.get(url).status_code == 302
