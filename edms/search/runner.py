"""The one indexer: a thread of an app process (embedded mode) or of ``edms worker``.

Every process may start the thread; only the one holding the indexer lock (see
``services.drain``) writes the index, the others find nothing to do. The thread
looks at the queue every ``search_poll_seconds`` and drains it in batches, and merges
the Whoosh index's segments once a night.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from edms.search import services

logger = logging.getLogger(__name__)

_start_lock = threading.Lock()
MERGE_EVERY = 24 * 3600.0


def _loop(app: Flask, stop: threading.Event) -> None:
    lock = services._IndexerLock()
    poll = float(app.config["EDMS"]["search_poll_seconds"])
    last_merge = time.monotonic()
    try:
        while not stop.is_set():
            busy = False
            try:
                with app.app_context():
                    if lock.acquire():
                        busy = services.drain() > 0
                        if time.monotonic() - last_merge > MERGE_EVERY:
                            services.merge()
                            last_merge = time.monotonic()
            except Exception:  # the database or the index may be away for a while
                logger.exception("search: indexing failed; trying again")
            if not busy:
                stop.wait(poll)
    finally:
        lock.release()


def start_indexer(app: Flask, *, force: bool = False) -> threading.Thread | None:
    """Start this process's indexer thread unless it runs already, is off, or in tests."""
    if not force and (app.testing or app.config["EDMS"]["search_indexer"] != "thread"):
        return None
    with _start_lock:
        state = app.extensions.setdefault("edms.search.indexer", {})
        thread = state.get("thread")
        if state.get("pid") == os.getpid() and thread is not None and thread.is_alive():
            return None
        stop = threading.Event()
        thread = threading.Thread(target=_loop, args=(app, stop), name="edms-indexer", daemon=True)
        state.update(pid=os.getpid(), thread=thread, stop=stop)
        thread.start()
        logger.info("search indexer thread started in process %s", os.getpid())
        return thread


def stop_indexer(app: Flask, timeout: float = 10) -> None:
    state = app.extensions.get("edms.search.indexer", {})
    if state.get("stop") is not None:
        state["stop"].set()
        state["thread"].join(timeout)


def init_app(app: Flask) -> None:
    services.install_hooks()
    app.extensions.setdefault("edms.search.indexer", {})

    @app.before_request
    def _start_indexer() -> None:
        state = app.extensions["edms.search.indexer"]
        if state.get("tried") != os.getpid():
            state["tried"] = os.getpid()
            start_indexer(app)


@click.group("search")
def search_group() -> None:
    """The search index: rebuild it, drain its queue, see its state."""


@search_group.command("reindex")
@with_appcontext
def reindex_command() -> None:
    """Rebuild the whole index from the database (chunked, bounded memory).

    The Whoosh index is built in a new directory and swapped in when complete;
    searches keep using the old one meanwhile.
    """
    from sqlalchemy import func, select

    from edms.db import db
    from edms.documents.models import Document

    total = db.session.scalar(select(func.count()).select_from(Document)) or 0
    db.session.rollback()
    with tqdm(total=total, unit="doc", desc="reindex") as bar:
        count = services.reindex(progress=bar.update)
    click.echo(f"indexed {count} document(s)")


@search_group.command("drain")
@with_appcontext
def drain_command() -> None:
    """Index what is queued now and exit (the indexer thread or worker does this too)."""
    lock = services._IndexerLock()
    if not lock.acquire():
        raise click.ClickException("another process is indexing; try again later")
    try:
        click.echo(f"indexed {services.drain_all()} document(s)")
    finally:
        lock.release()


@search_group.command("status")
@with_appcontext
def status_command() -> None:
    """How many documents the index holds and how many wait in the queue."""
    from sqlalchemy import func, select

    from edms.db import db
    from edms.search.models import SearchQueue

    waiting = db.session.scalar(select(func.count()).select_from(SearchQueue)) or 0
    settings = current_app.config["EDMS"]
    click.echo(f"backend: {settings['search_backend']}")
    click.echo(f"entries: {services.backend().count()}")
    click.echo(f"queued: {waiting}")
