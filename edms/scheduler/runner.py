"""Who calls ``run_due_jobs``: a background thread of an app process, or ``edms worker``.

With ``scheduler = "thread"`` (the default, for the embedded mode) every app
process starts a daemon thread on its first request. Starting on a request, not
in ``create_app``, matters under pre-forking servers: a thread started in the
master would not survive the fork into the workers. Several processes each with
a thread are fine: the lease in ``scheduled_jobs`` lets only one of them run a
job in each period. Tests (``app.testing``) never start it; they call
``run_due_jobs`` themselves.

In production set ``scheduler = "off"`` and run ``edms worker`` as a service of
its own; SIGTERM or SIGINT stops it after the job it is running.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from edms.scheduler.services import run_due_jobs

logger = logging.getLogger(__name__)

_start_lock = threading.Lock()


def _loop(app: Flask, stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        try:
            with app.app_context():
                ran = run_due_jobs()
            if ran:
                logger.debug("scheduled jobs run: %s", ", ".join(ran))
        except Exception:  # the database may be down for a while: keep trying
            logger.exception("running scheduled jobs failed")
        stop.wait(interval)


def start_thread(app: Flask) -> threading.Thread | None:
    """Start this process's scheduler thread unless it runs already, is off, or in tests."""
    if app.testing or app.config["EDMS"]["scheduler"] != "thread":
        return None
    with _start_lock:
        state = app.extensions.setdefault("edms.scheduler", {})
        thread = state.get("thread")
        if state.get("pid") == os.getpid() and thread is not None and thread.is_alive():
            return None
        stop = threading.Event()
        interval = app.config["EDMS"]["scheduler_interval_seconds"]
        thread = threading.Thread(
            target=_loop, args=(app, stop, interval), name="edms-scheduler", daemon=True
        )
        state.update(pid=os.getpid(), thread=thread, stop=stop)
        thread.start()
        logger.info("scheduler thread started in process %s", os.getpid())
        return thread


def stop_thread(app: Flask, timeout: float = 10) -> None:
    state = app.extensions.get("edms.scheduler", {})
    if state.get("stop") is not None:
        state["stop"].set()
        state["thread"].join(timeout)


def init_app(app: Flask) -> None:
    """Start the scheduler thread lazily, on the first request of each process."""
    app.extensions.setdefault("edms.scheduler", {})

    @app.before_request
    def _start_scheduler() -> None:
        state = app.extensions["edms.scheduler"]
        if state.get("pid") != os.getpid():
            start_thread(app)
            state["pid"] = os.getpid()  # tried once per process, even when off


@click.command("worker")
@click.option(
    "--once", is_flag=True, help="Run the jobs that are due once and exit (for cron or timers)."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between looks for due jobs [scheduler_interval_seconds].",
)
@with_appcontext
def worker_command(once: bool, interval: float | None) -> None:
    """Run the periodic jobs (e-mail retries, deadline checks) and the search indexer
    until stopped.

    Run one or more workers beside the web processes and set scheduler = "off"
    for the web processes; each job runs once per period whatever the number of
    workers. SIGTERM or SIGINT (Ctrl-C) stops the worker after its current job.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        ran = run_due_jobs()
        click.echo(f"ran {len(ran)} job(s){': ' + ', '.join(ran) if ran else ''}")
        return
    wait = interval if interval is not None else app.config["EDMS"]["scheduler_interval_seconds"]
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        logger.info("worker: signal %s received, stopping after the current job", signum)
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, _stop)
    click.echo(f"edms worker started (pid {os.getpid()}), looking for due jobs every {wait:g}s")
    # The worker also indexes for search (the web processes do not when
    # search_indexer = "off"); its own stop event ends it with the worker.
    from edms.search.runner import start_indexer, stop_indexer

    start_indexer(app, force=True)
    try:
        _loop(app, stop, wait)
    finally:
        stop_indexer(app)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("edms worker stopped")
