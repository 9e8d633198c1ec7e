"""Delegations: validation, who the deputy is at a given moment, ending early, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.auth.models import Role, User
from edms.db import db, utcnow
from edms.delegations import services
from edms.delegations.models import Delegation
from edms.errors import Conflict, NotFound, PermissionDenied, ValidationError
from edms.notifications.models import Notification


@pytest.fixture
def today(ctx: Flask) -> date:
    return services.today()


def _errors(call: Callable[[], object]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    db.session.rollback()
    return caught.value.errors


def _at(day: date, hour: int = 12) -> datetime:
    """Noon (by default) of ``day`` in the registry's time zone (Asia/Tashkent, UTC+5)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=5)


def test_deputy_for_the_days_of_the_delegation(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, deputy = staff(), staff()
    start, end = today + timedelta(days=2), today + timedelta(days=4)
    delegation = services.create_delegation(boss, deputy.username, start, end, "Leave")
    db.session.commit()
    assert services.deputy_for(boss, _at(start - timedelta(days=1))) is None
    assert services.deputy_for(boss, _at(start, hour=0)) == deputy  # from the first hour
    assert services.deputy_for(boss, _at(end, hour=23)) == deputy  # to the last
    assert services.deputy_for(boss, _at(end + timedelta(days=1), hour=0)) is None
    assert services.deputy_for(deputy, _at(start)) is None  # not the other way round
    assert services.acting_for(deputy, _at(start)) == [boss]
    assert services.status(delegation, _at(start)) == "active"
    assert services.status(delegation, _at(today)) == "upcoming"
    assert services.status(delegation, _at(end + timedelta(days=1))) == "over"
    assert services.list_for(boss) == [delegation]
    assert services.list_for(deputy) == []


def test_days_are_local_days(ctx: Flask, staff: Callable[..., User], today: date) -> None:
    boss, deputy = staff(), staff()
    start = today + timedelta(days=1)
    services.create_delegation(boss, deputy.username, start, start, "")
    # 00:30 in Tashkent is still the day before in UTC.
    half_past_midnight = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(
        hours=4, minutes=30
    )
    assert half_past_midnight.date() == start - timedelta(days=1)
    assert services.deputy_for(boss, half_past_midnight) == deputy
    with pytest.raises(ValueError, match="timezone"):
        services.deputy_for(boss, datetime(2026, 12, 1, 12))


def test_delegation_is_not_chained(ctx: Flask, staff: Callable[..., User], today: date) -> None:
    """X -> Y and Y -> Z on the same days: X's deputy is Y, not Z."""
    x, y, z = staff(), staff(), staff()
    services.create_delegation(x, y.username, today, today + timedelta(days=3), "")
    services.create_delegation(y, z.username, today, today + timedelta(days=3), "")
    services.create_delegation(z, x.username, today, today + timedelta(days=3), "")  # a loop
    db.session.commit()
    at = _at(today + timedelta(days=1))
    assert services.deputy_for(x, at) == y
    assert services.deputy_for(y, at) == z
    assert services.deputy_for(z, at) == x


def test_an_inactive_deputy_stands_in_for_no_one(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, deputy = staff(), staff()
    services.create_delegation(boss, deputy.username, today, today + timedelta(days=1), "")
    deputy.is_active = False
    db.session.commit()
    assert services.deputy_for(boss, _at(today + timedelta(days=1))) is None


@pytest.mark.parametrize(
    ("starts", "ends", "fields"),
    [
        (None, None, {"starts_on", "ends_on"}),
        ("", "2026-13-01", {"starts_on", "ends_on"}),
        ("yesterday", "tomorrow", {"starts_on", "ends_on"}),
        (-1, 2, {"starts_on"}),  # in the past
        (3, 2, {"ends_on"}),  # ends before it starts
        (0, 366, {"ends_on"}),  # longer than a year
    ],
)
def test_bad_dates_are_refused_naming_the_field(
    ctx: Flask,
    staff: Callable[..., User],
    today: date,
    starts: object,
    ends: object,
    fields: set[str],
) -> None:
    boss, deputy = staff(), staff()

    def day(value: object) -> object:
        return today + timedelta(days=value) if isinstance(value, int) else value

    errors = _errors(
        lambda: services.create_delegation(boss, deputy.username, day(starts), day(ends), "")  # type: ignore[arg-type]
    )
    assert set(errors) == fields


def test_iso_text_dates_are_accepted(ctx: Flask, staff: Callable[..., User], today: date) -> None:
    boss, deputy = staff(), staff()
    delegation = services.create_delegation(
        boss, f" {deputy.username.upper()} ", today.isoformat(), today.isoformat(), ""
    )
    assert (delegation.starts_on, delegation.ends_on, delegation.deputy) == (today, today, deputy)


def test_deputy_must_be_someone_else_active_and_staff(
    ctx: Flask, staff: Callable[..., User], make_user: Callable[..., User], today: date
) -> None:
    boss = staff()
    applicant = make_user(Role.APPLICANT)
    gone = staff()
    gone.is_active = False
    db.session.commit()
    for name, message in [
        (boss.username, "you cannot be your own deputy"),
        ("nobody-at-all", "no user with this user name"),
        (applicant.username, "must be an active staff member"),
        (gone.username, "must be an active staff member"),
        ("", "is required"),
    ]:
        errors = _errors(lambda n=name: services.create_delegation(boss, n, today, today, ""))
        assert errors == {"deputy": message}, name


def test_every_problem_is_reported_at_once(ctx: Flask, staff: Callable[..., User]) -> None:
    boss = staff()
    errors = _errors(lambda: services.create_delegation(boss, boss.username, "x", None, "\x00"))
    assert set(errors) == {"deputy", "starts_on", "ends_on", "reason"}


def test_overlapping_delegations_are_refused(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, first, second = staff(), staff(), staff()
    days = [today + timedelta(days=n) for n in range(20)]
    services.create_delegation(boss, first.username, days[5], days[10], "")
    db.session.commit()
    for start, end in [(5, 10), (0, 5), (10, 15), (6, 7), (0, 19)]:
        errors = _errors(
            lambda s=start, e=end: services.create_delegation(
                boss, second.username, days[s], days[e], ""
            )
        )
        assert errors == {"starts_on": "overlaps another of your delegations"}, (start, end)
    # Next to it is fine, and so is another user's delegation on the same days.
    services.create_delegation(boss, second.username, days[11], days[12], "")
    services.create_delegation(second, first.username, days[5], days[10], "")
    db.session.commit()


def test_ending_early(ctx: Flask, staff: Callable[..., User], today: date) -> None:
    boss, deputy, other = staff(), staff(), staff()
    delegation = services.create_delegation(boss, deputy.username, today, today + timedelta(7), "")
    db.session.commit()
    assert services.deputy_for(boss, utcnow()) == deputy

    with pytest.raises(NotFound):  # another user's delegation is not found
        services.end_delegation(other, delegation.id)
    with pytest.raises(NotFound):
        services.end_delegation(boss, 999_999)

    services.end_delegation(boss, delegation.id)
    db.session.commit()
    assert delegation.ended_at is not None
    assert services.deputy_for(boss, utcnow()) is None
    assert services.status(delegation) == "ended"
    with pytest.raises(Conflict):
        services.end_delegation(boss, delegation.id)
    db.session.rollback()
    # The rest of its days are free again.
    services.create_delegation(boss, other.username, today + timedelta(1), today + timedelta(3), "")


def test_cancelling_before_it_starts_frees_its_days(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, deputy = staff(), staff()
    start, end = today + timedelta(days=3), today + timedelta(days=5)
    delegation = services.create_delegation(boss, deputy.username, start, end, "")
    services.end_delegation(boss, delegation.id)
    assert services.status(delegation) == "ended"
    assert services.deputy_for(boss, _at(start)) is None
    services.create_delegation(boss, deputy.username, start, end, "")
    assert services.deputy_for(boss, _at(start)) == deputy


def test_a_delegation_that_ran_its_course_cannot_be_ended(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, deputy = staff(), staff()
    delegation = Delegation(
        user_id=boss.id,
        deputy_id=deputy.id,
        starts_on=today - timedelta(days=5),
        ends_on=today - timedelta(days=1),
    )
    db.session.add(delegation)
    db.session.commit()
    assert services.status(delegation) == "over"
    with pytest.raises(Conflict):
        services.end_delegation(boss, delegation.id)


def test_only_staff_name_deputies(
    ctx: Flask, staff: Callable[..., User], make_user: Callable[..., User], today: date
) -> None:
    applicant = make_user(Role.APPLICANT)
    with pytest.raises(PermissionDenied):
        services.create_delegation(applicant, staff().username, today, today, "")


def test_delegations_are_audited_and_the_deputy_notified(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, deputy = staff(), staff()
    deputy.locale = "en"
    delegation = services.create_delegation(boss, deputy.username, today, today, "Business trip")
    services.end_delegation(boss, delegation.id)
    db.session.commit()
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "delegation", AuditEvent.object_id == str(delegation.id))
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["delegation.create", "delegation.end"]
    assert events[0].details == {
        "deputy": deputy.username,
        "starts_on": today.isoformat(),
        "ends_on": today.isoformat(),
    }
    assert {e.actor_id for e in events} == {boss.id}
    notes = db.session.scalars(
        select(Notification).where(Notification.user_id == deputy.id).order_by(Notification.id)
    ).all()
    assert [n.kind for n in notes] == ["delegation.created", "delegation.ended"]
    assert boss.display_name in notes[0].subject
    assert "Business trip" in notes[0].body
    assert notes[0].link == "/delegations"


def test_a_new_deputy_for_today_after_ending_this_mornings(
    ctx: Flask, staff: Callable[..., User], today: date
) -> None:
    boss, first, second = staff(), staff(), staff()
    delegation = services.create_delegation(boss, first.username, today, today, "")
    services.end_delegation(boss, delegation.id)
    db.session.commit()
    services.create_delegation(boss, second.username, today, today + timedelta(days=1), "")
    db.session.commit()
    assert services.deputy_for(boss, utcnow()) == second
