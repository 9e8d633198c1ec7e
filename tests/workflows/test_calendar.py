"""Working days: weekends, holidays, time of day kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import Calendar, CalendarError

TASHKENT = timezone(timedelta(hours=5))
FRIDAY = datetime(2026, 3, 6, 10, 30, tzinfo=TASHKENT)
# Navruz (21 March 2026) is a Saturday; say the Monday after is a holiday too.
HOLIDAYS = {date(2026, 3, 21), date(2026, 3, 23)}


def test_friday_plus_one_is_monday_same_time() -> None:
    due = Calendar().add_working_days(FRIDAY, 1)
    assert due == datetime(2026, 3, 9, 10, 30, tzinfo=TASHKENT)
    assert due.tzinfo is TASHKENT


def test_holidays_are_skipped() -> None:
    calendar = Calendar(HOLIDAYS)
    friday = datetime(2026, 3, 20, 9, 0, tzinfo=TASHKENT)
    assert calendar.add_working_days(friday, 1) == datetime(2026, 3, 24, 9, 0, tzinfo=TASHKENT)
    assert not calendar.is_working_day(date(2026, 3, 23))
    assert calendar.is_working_day(date(2026, 3, 24))


def test_start_on_a_weekend_counts_from_the_next_working_day() -> None:
    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    calendar = Calendar()
    assert calendar.add_working_days(saturday, 1) == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert calendar.add_working_days(saturday, 0) == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert calendar.add_working_days(FRIDAY, 0) == FRIDAY


def test_backwards() -> None:
    monday = datetime(2026, 3, 9, 10, 30, tzinfo=TASHKENT)
    assert Calendar().add_working_days(monday, -1) == FRIDAY


def test_other_weekends() -> None:
    calendar = Calendar(weekend={4, 5})  # Friday and Saturday
    thursday = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    assert calendar.add_working_days(thursday, 1) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)


def test_working_days_between() -> None:
    calendar = Calendar(HOLIDAYS)
    assert calendar.working_days_between(date(2026, 3, 20), date(2026, 3, 24)) == 1
    assert calendar.working_days_between(date(2026, 3, 24), date(2026, 3, 20)) == 0


def test_bad_calendars() -> None:
    with pytest.raises(CalendarError):
        Calendar(weekend=range(7))
    with pytest.raises(CalendarError):
        Calendar(weekend={7})
    with pytest.raises(CalendarError):
        Calendar().add_working_days(FRIDAY, 1.5)  # type: ignore[arg-type]


def test_a_long_run_of_holidays_ends() -> None:
    every_day = {date(2026, 1, 1) + timedelta(days=n) for n in range(400)}
    due = Calendar(every_day).add_working_days(datetime(2026, 1, 1, tzinfo=UTC), 1)
    assert due.date() == date(2027, 2, 5)  # the first weekday after the 400 days


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    days=st.integers(0, 40),
    holidays=st.sets(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 3, 1)), max_size=30),
    weekend=st.sets(st.integers(0, 6), max_size=3),
)
def test_lands_on_a_working_day_at_the_same_time(
    start: datetime, days: int, holidays: set[date], weekend: set[int]
) -> None:
    calendar = Calendar(holidays, weekend)
    due = calendar.add_working_days(start, days)
    assert calendar.is_working_day(due)
    assert due.time() == start.time()
    assert due >= start
    if days:
        assert calendar.working_days_between(start.date(), due.date()) == days
        assert calendar.add_working_days(due, -days) <= start or not calendar.is_working_day(start)
