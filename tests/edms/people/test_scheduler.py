"""The scheduler: once per period, across threads and processes; failures recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from edms.db import db
from edms.scheduler import register_job, registered_jobs, run_due_jobs, unregister_job
from edms.scheduler.models import ScheduledJob
from edms.scheduler.runner import start_thread, stop_thread

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)


@pytest.fixture
def job() -> Iterator[Callable[..., list[datetime]]]:
    """Register test jobs (forgotten afterwards); each returns the list of its runs."""
    names: list[str] = []

    def make(
        name: str = "test: counter",
        every: timedelta = EVERY,
        action: Callable[[datetime], None] | None = None,
    ) -> list[datetime]:
        runs: list[datetime] = []

        def run(now: datetime) -> None:
            runs.append(now)
            if action is not None:
                action(now)

        register_job(name, every, run)
        names.append(name)
        return runs

    yield make
    for name in names:
        unregister_job(name)


def _row(name: str) -> ScheduledJob:
    row = db.session.get(ScheduledJob, name, populate_existing=True)
    assert row is not None
    return row


def test_register_job_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="name"):
        register_job("", EVERY, lambda now: None)
    with pytest.raises(ValueError, match="name"):
        register_job("x" * 101, EVERY, lambda now: None)
    with pytest.raises(ValueError, match="period"):
        register_job("test: never", timedelta(0), lambda now: None)
    assert "test: never" not in {j.name for j in registered_jobs()}


def test_a_job_runs_once_per_period(ctx: Flask, job: Callable[..., list[datetime]]) -> None:
    runs = job()
    assert run_due_jobs(T0, names=["test: counter"]) == ["test: counter"]  # a new job is due
    assert run_due_jobs(T0, names=["test: counter"]) == []
    assert run_due_jobs(T0 + EVERY - timedelta(seconds=1), names=["test: counter"]) == []
    assert run_due_jobs(T0 + EVERY, names=["test: counter"]) == ["test: counter"]
    assert runs == [T0, T0 + EVERY]
    row = _row("test: counter")
    assert row.next_run_at == T0 + 2 * EVERY
    assert (row.runs, row.failures, row.last_error, row.holder, row.locked_until) == (
        2,
        0,
        None,
        None,
        None,
    )
    assert row.every_seconds == 600


def test_run_due_jobs_needs_an_aware_time(ctx: Flask) -> None:
    with pytest.raises(ValueError, match="timezone"):
        run_due_jobs(datetime(2026, 12, 1, 9, 0))


def test_a_failing_job_is_logged_recorded_rolled_back_and_retried_next_period(
    ctx: Flask,
    app: Flask,
    job: Callable[..., list[datetime]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from edms.auth import services as auth
    from edms.auth.models import Department

    fail = [True]

    def action(now: datetime) -> None:
        auth.create_department(f"JOB{len(runs)}", "Made by a job")
        if fail[0]:
            raise RuntimeError("the job broke")

    runs = job(action=action)
    assert run_due_jobs(T0, names=["test: counter"]) == ["test: counter"]
    assert "the job broke" in caplog.text
    row = _row("test: counter")
    assert row.last_error == "RuntimeError: the job broke"
    assert (row.failures, row.runs, row.locked_until) == (1, 1, None)
    # Its transaction was rolled back.
    assert db.session.scalar(select(Department).where(Department.code == "JOB1")) is None
    # Not retried at once, but in the next period.
    assert run_due_jobs(T0 + timedelta(minutes=1), names=["test: counter"]) == []
    fail[0] = False
    assert run_due_jobs(T0 + EVERY, names=["test: counter"]) == ["test: counter"]
    row = _row("test: counter")
    assert (row.last_error, row.failures, row.runs) == (None, 0, 2)
    # Its own transaction, committed when the job returned.
    assert db.session.scalar(select(Department).where(Department.code == "JOB2")) is not None


def test_a_leased_job_is_not_run_until_the_lease_expires(
    ctx: Flask, app: Flask, job: Callable[..., list[datetime]]
) -> None:
    runs = job()
    run_due_jobs(T0, names=["test: counter"])
    # Another process claimed it in the next period and is still running it.
    row = _row("test: counter")
    lease = timedelta(minutes=app.config["EDMS"]["scheduler_lease_minutes"])
    row.locked_until = T0 + EVERY + lease
    row.holder = "elsewhere:1:1:x"
    row.next_run_at = T0 + EVERY
    db.session.commit()
    assert run_due_jobs(T0 + EVERY, names=["test: counter"]) == []
    assert run_due_jobs(T0 + EVERY + lease - timedelta(seconds=1), names=["test: counter"]) == []
    # That process died: once its lease is over the job runs again.
    assert run_due_jobs(T0 + EVERY + lease + timedelta(seconds=1), names=["test: counter"]) == [
        "test: counter"
    ]
    assert len(runs) == 2


def test_only_jobs_due_run_and_names_filter(ctx: Flask, job: Callable[..., list[datetime]]) -> None:
    fast = job("test: fast", timedelta(minutes=1))
    slow = job("test: slow", timedelta(hours=1))
    names = ["test: fast", "test: slow"]
    assert run_due_jobs(T0, names=names) == names
    assert run_due_jobs(T0 + timedelta(minutes=1), names=names) == ["test: fast"]
    assert run_due_jobs(T0 + timedelta(minutes=2), names=["test: slow"]) == []
    assert (len(fast), len(slow)) == (2, 1)


THREADS = 8


def test_exactly_one_of_several_threads_runs_a_due_job(
    committing_app: Flask, job: Callable[..., list[datetime]]
) -> None:
    """Each thread is like another process: its own app context, sessions and connections."""
    started = threading.Event()

    def slow(now: datetime) -> None:
        started.set()
        time.sleep(0.2)  # still running while the others try

    runs = job("test: race", action=slow)
    errors: list[BaseException] = []
    results: list[list[str]] = []

    def worker(now: datetime, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(timeout=30)
            with committing_app.app_context():
                results.append(run_due_jobs(now, names=["test: race"]))
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    for period in range(3):
        now = T0 + period * EVERY + timedelta(seconds=period)
        barrier = threading.Barrier(THREADS)
        threads = [threading.Thread(target=worker, args=(now, barrier)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert len(runs) == period + 1, f"period {period}: {len(runs)} runs"
    assert sorted(len(r) for r in results).count(1) == 3
    with committing_app.app_context():
        row = db.session.get(ScheduledJob, "test: race")
        assert row is not None
        assert (row.runs, row.failures, row.holder) == (3, 0, None)


def test_the_background_thread_runs_jobs_and_is_off_in_tests_or_when_configured(
    committing_app: Flask, job: Callable[..., list[datetime]]
) -> None:
    ran = threading.Event()
    job("test: thread", timedelta(hours=1), action=lambda now: ran.set())
    assert start_thread(committing_app) is None  # app.testing
    committing_app.testing = False
    try:
        committing_app.config["EDMS"]["scheduler"] = "off"
        assert start_thread(committing_app) is None
        committing_app.config["EDMS"]["scheduler"] = "thread"
        committing_app.config["EDMS"]["scheduler_interval_seconds"] = 1
        thread = start_thread(committing_app)
        assert thread is not None
        assert start_thread(committing_app) is None  # one per process
        assert ran.wait(timeout=30)
    finally:
        stop_thread(committing_app)
        committing_app.testing = True
    assert thread is not None
    assert not thread.is_alive()


def test_the_thread_starts_on_the_first_request(
    committing_app: Flask, job: Callable[..., list[datetime]]
) -> None:
    ran = threading.Event()
    job("test: first request", timedelta(hours=1), action=lambda now: ran.set())
    committing_app.testing = False
    committing_app.config["EDMS"]["scheduler"] = "thread"  # the embedded default
    committing_app.config["EDMS"]["scheduler_interval_seconds"] = 1
    try:
        assert "thread" not in committing_app.extensions["edms.scheduler"]
        committing_app.test_client().get("/healthz")
        assert ran.wait(timeout=30)
    finally:
        stop_thread(committing_app)
        committing_app.testing = True


EDMS = str(Path(sys.executable).with_name("edms"))


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("EDMS_")},
        "EDMS_DATA_DIR": str(tmp_path),
        "EDMS_DATABASE_URL": database_url,
        "EDMS_DEMO": "true",
        "EDMS_LOG_LEVEL": "INFO",
        "EDMS_SCHEDULER": "off",
    }


def test_edms_worker_runs_jobs_and_stops_cleanly_on_sigterm(
    fresh_database_url: str, tmp_path: Path
) -> None:
    env = _env(fresh_database_url, tmp_path)
    upgrade = subprocess.run(
        [EDMS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert upgrade.returncode == 0, upgrade.stderr
    once = subprocess.run(
        [EDMS, "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert once.returncode == 0, once.stderr
    assert "notifications: retry e-mails" in once.stdout
    again = subprocess.run(
        [EDMS, "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "ran 0 job(s)" in again.stdout  # not due again within its period

    for signum in (signal.SIGTERM, signal.SIGINT):
        worker = subprocess.Popen(
            [EDMS, "worker", "--interval", "0.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert worker.stdout is not None
            assert "edms worker started" in worker.stdout.readline()
            time.sleep(0.5)  # a few rounds of looking for due jobs
            worker.send_signal(signum)
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert worker.returncode == 0, err
        assert "edms worker stopped" in out
        assert "Traceback" not in err
