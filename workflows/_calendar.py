"""Working days: weekends and public holidays, for deadlines."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from workflows._errors import CalendarError

_DAY = timedelta(days=1)


class Calendar:
    """A working-day calendar.

    ``holidays`` are dates that are not working days; ``weekend`` holds the weekdays
    that are not (``date.weekday()`` numbers: Monday is 0, so ``{5, 6}`` is Saturday
    and Sunday).
    """

    __slots__ = ("holidays", "weekend")

    def __init__(
        self, holidays: Iterable[date] = (), weekend: Iterable[int] = frozenset({5, 6})
    ) -> None:
        self.holidays: frozenset[date] = frozenset(
            day.date() if isinstance(day, datetime) else day for day in holidays
        )
        self.weekend: frozenset[int] = frozenset(weekend)
        if not self.weekend <= set(range(7)):
            raise CalendarError("weekend days are numbers from 0 (Monday) to 6 (Sunday)")
        if len(self.weekend) == 7:
            raise CalendarError("a calendar needs at least one working weekday")

    def __repr__(self) -> str:
        return f"Calendar(holidays={len(self.holidays)} dates, weekend={sorted(self.weekend)})"

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is neither a weekend day nor a holiday."""
        if isinstance(day, datetime):
            day = day.date()
        return day.weekday() not in self.weekend and day not in self.holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment ``days`` working days after ``start``, at the same time of day.

        Days are counted from the day after ``start``: each following working day counts
        one, weekend days and holidays count nothing, so the result always falls on a
        working day (Friday 10:00 + 1 is Monday 10:00; Saturday 10:00 + 1 is also Monday
        10:00). ``days == 0`` gives ``start`` itself on a working day, or else the next
        working day at the same time. Negative ``days`` count backwards the same way
        (used for "remind N working days before the due date").
        """
        if isinstance(days, bool) or not isinstance(days, int):
            raise CalendarError("days must be a whole number")
        step = _DAY if days >= 0 else -_DAY
        moment = start
        if days == 0:
            while not self.is_working_day(moment):
                moment += _DAY
            return moment
        left = abs(days)
        # Each week holds at least one working day unless a run of holidays covers it, so
        # the loop ends; the bound guards against a calendar that is all holidays.
        limit = left * 7 + len(self.holidays) + 7
        while left:
            moment += step
            limit -= 1
            if limit < 0:
                raise CalendarError("no working days in range: check the holiday list")
            if self.is_working_day(moment):
                left -= 1
        return moment

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
        if isinstance(start, datetime):
            start = start.date()
        if isinstance(end, datetime):
            end = end.date()
        count = 0
        day = start + _DAY
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += _DAY
        return count
