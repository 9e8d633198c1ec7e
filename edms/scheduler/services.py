"""Periodic jobs that run at most once per period however many processes run them.

A job is registered in code (``register_job``) and has a row in ``scheduled_jobs``
with its ``next_run_at`` and a lease (``locked_until``, ``holder``). Each process
that runs jobs (the background thread of every app process, or ``edms worker``)
calls ``run_due_jobs`` every few seconds; for each registered job it tries to
claim the row with one conditional UPDATE::

    UPDATE scheduled_jobs SET next_run_at = :now + every, locked_until = :now + lease, ...
    WHERE name = :name AND next_run_at <= :now
      AND (locked_until IS NULL OR locked_until < :now)

Exactly one process sees a row count of 1 and runs the job. On PostgreSQL a
concurrent UPDATE waits for the row lock of the first and then re-checks the
WHERE clause against the committed row, whose ``next_run_at`` is now in the
future; on SQLite write transactions take turns (``BEGIN IMMEDIATE``). The next
run is scheduled when the job is claimed, so a process that dies mid-run does
not make it run twice in one period: it runs again in the next period, once its
lease has expired. The lease also keeps a run that outlasts its period from
overlapping the next one.

Each run has an application context and a transaction of its own, committed
when the job returns. An exception rolls it back, is logged and is kept in
``last_error``; the job runs again in its next period.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from edms.db import db, upsert, utcnow
from edms.scheduler.models import ScheduledJob

logger = logging.getLogger(__name__)

JobFunc = Callable[[datetime], None]
MAX_NAME_LENGTH = 100
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    func: JobFunc


_jobs: dict[str, Job] = {}
_jobs_lock = threading.Lock()


def register_job(name: str, every: timedelta, func: JobFunc) -> None:
    """Run ``func(now)`` once every ``every``, in one process at a time.

    Call it when a module is imported (the job must be known to every process
    that runs jobs). Registering a name again replaces the job.
    """
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a job name has 1 to {MAX_NAME_LENGTH} characters: {name!r}")
    if every <= timedelta(0):
        raise ValueError(f"job {name!r}: the period must be positive")
    with _jobs_lock:
        _jobs[name] = Job(name, every, func)


def unregister_job(name: str) -> None:
    """Forget a job (its row stays, unused). For tests."""
    with _jobs_lock:
        _jobs.pop(name, None)


def registered_jobs() -> list[Job]:
    with _jobs_lock:
        return sorted(_jobs.values(), key=lambda job: job.name)


def _holder() -> str:
    """Who claims a job: host, process, thread and a random part (for the logs too)."""
    host = socket.gethostname()[:100]
    return f"{host}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def _session(bind: Any) -> Session:
    return Session(bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint")


def _ensure_rows(bind: Any, jobs: list[Job], now: datetime) -> None:
    """Give each new job its row, due at once; concurrent callers insert it once."""
    with _session(bind) as session:
        known = set(session.scalars(select(ScheduledJob.name)))
        missing = [job for job in jobs if job.name not in known]
        for job in missing:
            session.execute(
                upsert(ScheduledJob, session)
                .values(
                    name=job.name,
                    every_seconds=int(job.every.total_seconds()),
                    next_run_at=now,
                    runs=0,
                    failures=0,
                )
                .on_conflict_do_nothing()
            )
        session.commit()


def _claim(bind: Any, job: Job, now: datetime, holder: str, lease: timedelta) -> bool:
    with _session(bind) as session:
        result = session.execute(
            update(ScheduledJob)
            .where(
                ScheduledJob.name == job.name,
                ScheduledJob.next_run_at <= now,
                or_(ScheduledJob.locked_until.is_(None), ScheduledJob.locked_until < now),
            )
            .values(
                next_run_at=now + job.every,
                locked_until=now + lease,
                holder=holder,
                last_started_at=now,
                every_seconds=int(job.every.total_seconds()),
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _run(app: Flask, job: Job, now: datetime) -> str | None:
    """Run the job in an application context and transaction of its own; its error, or None."""
    with app.app_context():
        try:
            job.func(now)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            logger.exception("scheduled job %r failed", job.name)
            return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    return None


def _finish(bind: Any, job: Job, holder: str, finished: datetime, error: str | None) -> None:
    with _session(bind) as session:
        result = session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.name == job.name, ScheduledJob.holder == holder)
            .values(
                locked_until=None,
                holder=None,
                last_finished_at=finished,
                last_error=error,
                runs=ScheduledJob.runs + 1,
                failures=(ScheduledJob.failures + 1) if error else 0,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        logger.warning(
            "scheduled job %r outlived its lease; another run may have started", job.name
        )


def run_due_jobs(now: datetime | None = None, names: Iterable[str] | None = None) -> list[str]:
    """Run every registered job (or those in ``names``) that is due; the names of those run.

    Call in an application context. ``now`` (timezone-aware) defaults to the clock;
    tests pass it to move time on.
    """
    if now is None:
        now = utcnow()
    elif now.tzinfo is None:
        raise ValueError("run_due_jobs needs a timezone-aware time")
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    bind = app.extensions["edms.db"]["bind"]
    lease = timedelta(minutes=app.config["EDMS"]["scheduler_lease_minutes"])
    jobs = registered_jobs()
    if names is not None:
        wanted = set(names)
        jobs = [job for job in jobs if job.name in wanted]
    if not jobs:
        return []
    _ensure_rows(bind, jobs, now)
    ran = []
    for job in jobs:
        holder = _holder()
        if not _claim(bind, job, now, holder, lease):
            continue
        logger.info("running scheduled job %r", job.name)
        started = time.monotonic()
        error = _run(app, job, now)
        finished = now + timedelta(seconds=time.monotonic() - started)
        _finish(bind, job, holder, finished, error)
        ran.append(job.name)
    return ran


def job_states() -> list[ScheduledJob]:
    """The rows of the jobs, for status pages and the CLI."""
    return list(db.session.scalars(select(ScheduledJob).order_by(ScheduledJob.name)))
