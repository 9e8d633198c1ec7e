"""Execution control: the department report's numbers (one query), overdue notices, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from edms.db import db
from edms.resolutions import services
from edms.resolutions.models import Assignment, Resolution
from edms.scheduler import registered_jobs, run_due_jobs
from tests.edms.resolutions.conftest import Cast, Clock, executors, notifications_of


def _write(cast: Cast, clock: Clock, executor: str, days: int, *co: str) -> Resolution:
    resolution = services.create_resolution(
        cast.boss,
        cast.doc,
        {"text": "Do it.", "due_date": clock.day(days), "executors": executors(executor, *co)},
    )
    db.session.commit()
    return resolution


def _report(cast: Cast, assignment: Assignment, accept: bool = True) -> None:
    services.submit_report(assignment.executor, assignment, "Done.")
    if accept:
        services.accept_report(cast.boss, assignment)
    db.session.commit()


class _Statements:
    """The SELECT statements run while listening (not the BEGIN of a transaction)."""

    def __init__(self) -> None:
        self.selects: list[str] = []

    def __call__(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.selects.append(statement)


def test_department_report_numbers_come_from_one_query(
    cast: Cast, clock: Clock, db_conn: sa.Connection
) -> None:
    on_time = _write(cast, clock, "worker", 2)
    late = _write(cast, clock, "helper", 2)
    _write(cast, clock, "lead", 1)  # never done: overdue
    reported = _write(cast, clock, "worker", 3, "helper")  # reported in time, not yet accepted
    _write(cast, clock, "outsider", 10)  # not yet due: open
    cancelled = _write(cast, clock, "helper", 5)
    services.cancel_resolution(cast.boss, cancelled, "Not needed.")
    db.session.commit()

    clock.advance(days=1)
    _report(cast, on_time.assignments[0])
    _write(cast, clock, "worker", 3)  # given after the period: not counted
    clock.advance(days=1)
    _report(cast, reported.assignments[0], accept=False)
    clock.advance(days=2)
    _report(cast, late.assignments[0])  # sent two days after its due date
    clock.advance(days=1)

    statements = _Statements()
    event.listen(db_conn, "before_cursor_execute", statements)
    try:
        report = services.execution_report(cast.officer, {"from": "2026-03-01", "to": "2026-03-02"})
    finally:
        event.remove(db_conn, "before_cursor_execute", statements)
    assert len(statements.selects) == 1, statements.selects

    rows = {
        row.department.code: (row.assigned, row.on_time, row.late, row.overdue, row.open)
        for row in report.rows
    }
    # B: worker on time, helper late, lead overdue, worker's reported part overdue by now,
    # helper's co-executor part (due with it) overdue too; the cancelled one is left out.
    assert rows["DB"] == (5, 1, 1, 3, 0)
    assert rows["DC"] == (1, 0, 0, 0, 1)
    assert rows["DA"] == (0, 0, 0, 0, 0)
    total = report.total
    assert (total.assigned, total.on_time, total.late, total.overdue, total.open) == (6, 1, 1, 3, 1)
    assert report.as_of == clock.today

    # The period only counts what was given in it.
    later = services.execution_report(cast.officer, {"from": "2026-03-03", "to": "2026-03-31"})
    assert {r.department.code: r.assigned for r in later.rows}["DB"] == 1


def test_reminders_one_working_day_before_and_overdue_notices(cast: Cast, clock: Clock) -> None:
    assert services.REMINDER_JOB in [job.name for job in registered_jobs()]
    # Written Monday 2 March, due Monday 9 March: reminded on Friday 6 March.
    resolution = _write(cast, clock, "worker", 7)
    assignment = resolution.assignments[0]
    tashkent_nine = datetime(2026, 3, 5, 4, 0, tzinfo=UTC)

    def run(day_offset: int) -> None:
        at = tashkent_nine + timedelta(days=day_offset)
        assert run_due_jobs(at, names=[services.REMINDER_JOB]) == [services.REMINDER_JOB]
        db.session.expire_all()

    run(0)  # Thursday
    assert notifications_of(cast.worker, "resolution.due_soon") == []
    run(1)  # Friday
    reminders = notifications_of(cast.worker, "resolution.due_soon")
    assert len(reminders) == 1
    assert "2026-03-09" in reminders[0].subject
    assert reminders[0].link == f"/assignments/{assignment.id}"
    run(2)  # Saturday: not again
    run(4)  # Monday, the due date
    assert len(notifications_of(cast.worker, "resolution.due_soon")) == 1
    assert notifications_of(cast.boss, "resolution.overdue") == []
    run(5)  # Tuesday: overdue, the author is told once
    run(6)
    overdue = notifications_of(cast.boss, "resolution.overdue")
    assert len(overdue) == 1
    assert overdue[0].link == f"/resolutions/{resolution.id}"

    # A new due date brings a new reminder and, if missed, a new notice.
    clock.set(tashkent_nine + timedelta(days=6))
    extension = services.request_extension(
        cast.worker, assignment, {"due_date": "2026-03-16", "reason": "Waiting for data."}
    )
    services.decide_extension(cast.boss, extension, "approve")
    db.session.commit()
    run(8)  # Friday 13 March
    assert len(notifications_of(cast.worker, "resolution.due_soon")) == 2
    run(12)  # Tuesday 17 March
    assert len(notifications_of(cast.boss, "resolution.overdue")) == 2


def test_holidays_move_the_reminder(
    cast: Cast, clock: Clock, monkeypatch: pytest.MonkeyPatch, ctx
) -> None:
    from edms.wiring import build_calendar

    def holidays(*days: str) -> None:
        calendar = build_calendar({"holidays": list(days)})
        monkeypatch.setitem(ctx.extensions, "edms.calendar", calendar)

    holidays("2026-03-06", "2026-03-05")
    assert services.reminder_day(datetime(2026, 3, 9).date()).isoformat() == "2026-03-04"
    holidays()
    assert services.reminder_day(datetime(2026, 3, 9).date()).isoformat() == "2026-03-06"
    assert services.reminder_day(datetime(2026, 3, 10).date()).isoformat() == "2026-03-09"


def test_no_reminder_for_what_was_given_too_late_for_one(cast: Cast, clock: Clock) -> None:
    clock.set(datetime(2026, 3, 6, 4, 0, tzinfo=UTC))  # Friday
    _write(cast, clock, "worker", 3)  # due Monday
    sent = services.send_reminders(clock.moment)
    assert sent == {"reminders": 0, "overdue": 0}
    assert notifications_of(cast.worker, "resolution.due_soon") == []


def test_cancelled_and_closed_resolutions_are_not_chased(cast: Cast, clock: Clock) -> None:
    first = _write(cast, clock, "worker", 1)
    second = _write(cast, clock, "helper", 1)
    services.cancel_resolution(cast.boss, first)
    _report(cast, second.assignments[0])
    later = clock.moment + timedelta(days=5)
    assert services.send_reminders(later) == {"reminders": 0, "overdue": 0}
    assert services.overdue(cast.officer) == []
