"""The API of notifications and delegations: one's own only, problems that name the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from edms.auth.models import Role, User
from edms.auth.services import create_token
from edms.db import db
from edms.delegations import services as delegations
from edms.notifications import services as notifications
from tests.edms.api.conftest import ApiClient, fresh, problem
from tests.edms.people.conftest import Inbox


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def token_for(ctx: Flask) -> Callable[[User], str]:
    def make(user: User) -> str:
        _, plain = create_token(user, "tests")
        db.session.commit()
        return plain

    return make


@pytest.fixture
def today(ctx: Flask) -> date:
    return delegations.today()


# Notifications ---------------------------------------------------------------


def test_notifications_are_ones_own(
    api: ApiClient, staff: Callable[..., User], token_for: Callable[[User], str]
) -> None:
    me, other = staff(), staff()
    mine = notifications.notify(me, "test.one", "For me", "Body", "/documents")
    theirs = notifications.notify(other, "test.one", "For them", "")
    db.session.commit()

    reply = api.get("/notifications", token_for(me))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_json()
    assert [n["subject"] for n in body["items"]] == ["For me"]
    assert body["items"][0] == {
        "id": mine.id,
        "kind": "test.one",
        "subject": "For me",
        "body": "Body",
        "link": "/documents",
        "created_at": body["items"][0]["created_at"],
        "read": False,
        "read_at": None,
    }
    assert (body["total"], body["unread"], body["page"], body["pages"]) == (1, 1, 1, 1)

    # Marking another user's notification read changes nothing.
    token = token_for(me)
    reply = api.post("/notifications/read", token, json={"ids": [theirs.id]})
    assert reply.get_json() == {"marked": 0, "unread": 1}
    assert fresh(type(theirs), theirs.id).read_at is None

    reply = api.post("/notifications/read", token, json={"ids": [mine.id]})
    assert reply.get_json() == {"marked": 1, "unread": 0}
    assert api.get("/notifications?unread=true", token).get_json()["items"] == []
    assert api.get("/notifications", token).get_json()["items"][0]["read"] is True


def test_mark_all_read(
    api: ApiClient, staff: Callable[..., User], token_for: Callable[[User], str]
) -> None:
    me = staff()
    for i in range(3):
        notifications.notify(me, "test", f"N{i}", "")
    db.session.commit()
    reply = api.post("/notifications/read", token_for(me), json={"all": True})
    assert reply.get_json() == {"marked": 3, "unread": 0}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["ids"]),
        ({"ids": ["one"]}, ["ids.0"]),
        ({"ids": "1"}, ["ids"]),
        ({"ids": [1], "all": True}, ["ids"]),
        ({"ids": [1], "extra": 1}, ["extra"]),
    ],
)
def test_mark_read_refuses_bad_bodies(
    api: ApiClient,
    staff: Callable[..., User],
    token_for: Callable[[User], str],
    body: dict[str, object],
    fields: list[str],
) -> None:
    problem(api.post("/notifications/read", token_for(staff()), json=body), 422, *fields)


def test_notification_queries_are_checked(
    api: ApiClient, staff: Callable[..., User], token_for: Callable[[User], str]
) -> None:
    token = token_for(staff())
    problem(api.get("/notifications?page=0", token), 422, "page")
    problem(api.get("/notifications?page=x", token), 422, "page")
    problem(api.get("/notifications?unread=maybe", token), 422, "unread")
    problem(api.get("/notifications?colour=red", token), 422, "colour")
    problem(api.get("/notifications"), 401)


def test_applicants_get_their_notifications_too(
    api: ApiClient, make_user: Callable[..., User], token_for: Callable[[User], str]
) -> None:
    applicant = make_user(Role.APPLICANT, password=None)
    notifications.notify(applicant, "application.status", "Your application moved on", "")
    db.session.commit()
    items = api.get("/notifications", token_for(applicant)).get_json()["items"]
    assert [n["subject"] for n in items] == ["Your application moved on"]


# Delegations -----------------------------------------------------------------


def test_create_list_get_and_end_a_delegation(
    api: ApiClient, staff: Callable[..., User], token_for: Callable[[User], str], today: date
) -> None:
    me, deputy = staff(), staff()
    token = token_for(me)
    start, end = today + timedelta(days=1), today + timedelta(days=5)
    reply = api.post(
        "/delegations",
        token,
        json={
            "deputy": deputy.username,
            "starts_on": start.isoformat(),
            "ends_on": end.isoformat(),
            "reason": "Leave",
        },
    )
    assert reply.status_code == 201, reply.get_data(as_text=True)
    created = reply.get_json()
    assert created["deputy"] == deputy.username
    assert created["deputy_name"] == deputy.display_name
    assert (created["starts_on"], created["ends_on"]) == (start.isoformat(), end.isoformat())
    assert (created["status"], created["reason"], created["ended_at"]) == (
        "upcoming",
        "Leave",
        None,
    )
    assert reply.headers["Location"].endswith(f"/api/v1/delegations/{created['id']}")

    assert [d["id"] for d in api.get("/delegations", token).get_json()] == [created["id"]]
    assert api.get(f"/delegations/{created['id']}", token).get_json() == created

    assert api.delete(f"/delegations/{created['id']}", token).status_code == 204
    ended = api.get(f"/delegations/{created['id']}", token).get_json()
    assert ended["status"] == "ended"
    assert ended["ended_at"] is not None
    problem(api.delete(f"/delegations/{created['id']}", token), 409)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"starts_on": "01/12/2026"}, ["starts_on"]),
        ({"starts_on": None}, ["starts_on"]),
        ({"ends_on": "2026-02-30"}, ["ends_on"]),
        ({"starts_on": -1}, ["starts_on"]),
        ({"starts_on": 3, "ends_on": 1}, ["ends_on"]),
        ({"deputy": "SELF"}, ["deputy"]),
        ({"deputy": "no-such-user"}, ["deputy"]),
        ({"deputy": ""}, ["deputy"]),
        ({"reason": "x" * 501}, ["reason"]),
        ({"colour": "red"}, ["colour"]),
        ({"starts_on": 0, "ends_on": 1, "deputy": "SELF"}, ["deputy"]),
    ],
)
def test_bad_delegations_are_422_naming_the_field(
    api: ApiClient,
    staff: Callable[..., User],
    token_for: Callable[[User], str],
    today: date,
    change: dict[str, object],
    fields: list[str],
) -> None:
    me, deputy = staff(), staff()
    body: dict[str, object] = {
        "deputy": deputy.username,
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=1)).isoformat(),
    }
    for key, value in change.items():
        if isinstance(value, int):
            value = (today + timedelta(days=value)).isoformat()
        elif value == "SELF":
            value = me.username
        body[key] = value
    if body.get("starts_on") is None:
        del body["starts_on"]
    problem(api.post("/delegations", token_for(me), json=body), 422, *fields)


def test_overlapping_delegation_is_422(
    api: ApiClient, staff: Callable[..., User], token_for: Callable[[User], str], today: date
) -> None:
    me, first, second = staff(), staff(), staff()
    token = token_for(me)
    days = {"starts_on": today.isoformat(), "ends_on": (today + timedelta(days=3)).isoformat()}
    assert (
        api.post("/delegations", token, json={"deputy": first.username, **days}).status_code == 201
    )
    body = problem(
        api.post("/delegations", token, json={"deputy": second.username, **days}), 422, "starts_on"
    )
    assert body["errors"][0]["message"] == "overlaps another of your delegations"


def test_another_users_delegation_is_404(
    api: ApiClient, staff: Callable[..., User], token_for: Callable[[User], str], today: date
) -> None:
    owner, deputy, snoop = staff(), staff(), staff()
    delegation = delegations.create_delegation(owner, deputy.username, today, today, "")
    db.session.commit()
    token = token_for(snoop)
    problem(api.get(f"/delegations/{delegation.id}", token), 404)
    problem(api.delete(f"/delegations/{delegation.id}", token), 404)
    # Not even the deputy may end it.
    problem(api.delete(f"/delegations/{delegation.id}", token_for(deputy)), 404)
    assert fresh(type(delegation), delegation.id).ended_at is None
    assert api.get("/delegations", token).get_json() == []


def test_applicants_have_no_delegations(
    api: ApiClient, make_user: Callable[..., User], token_for: Callable[[User], str]
) -> None:
    token = token_for(make_user(Role.APPLICANT, password=None))
    problem(api.get("/delegations", token), 403)
    problem(api.post("/delegations", token, json={"deputy": "x"}), 403)


def test_the_deputy_is_mailed_after_the_request_commits(
    api: ApiClient,
    staff: Callable[..., User],
    token_for: Callable[[User], str],
    today: date,
    mail_on: Inbox,
) -> None:
    me, deputy = staff(), staff()
    token = token_for(me)
    days = {"starts_on": today.isoformat(), "ends_on": today.isoformat()}
    # A refused request mails no one.
    problem(api.post("/delegations", token, json={"deputy": me.username, **days}), 422, "deputy")
    assert mail_on.messages == []
    reply = api.post("/delegations", token, json={"deputy": deputy.username, **days})
    assert reply.status_code == 201
    [message] = mail_on.to(deputy.email or "")
    assert me.display_name in message["Subject"]
    assert message.get_content().rstrip().endswith("https://edms.example.uz/delegations")
