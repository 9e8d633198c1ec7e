"""Registrations racing for numbers in one journal (real commits, several connections)."""

from __future__ import annotations

import io
import threading

from flask import Flask
from sqlalchemy import select

from edms.auth import services as auth
from edms.db import db
from edms.documents import services
from edms.documents.models import Document
from edms.registry import services as registry
from tests.conftest import PASSWORD

THREADS = 20


def test_parallel_registrations_get_distinct_consecutive_numbers(committing_app: Flask) -> None:
    with committing_app.app_context():
        auth.create_department("CONC", "Concurrency")
        auth.create_user("racer", ["clerk"], password=PASSWORD, department_code="CONC")
        registry.create_journal("RACE", "RACE", "Race journal", "incoming")
        db.session.commit()

    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with committing_app.app_context():
                user = auth.get_user("racer")
                services.register(
                    user,
                    {"title": f"Parallel {i}", "journal": "RACE"},
                    services.Upload(f"{i}.txt", io.BytesIO(f"document {i}".encode())),
                )
                db.session.commit()
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    with committing_app.app_context():
        docs = db.session.scalars(select(Document)).all()
        numbers = sorted(d.sequence_number for d in docs)
        assert numbers == list(range(1, THREADS + 1))
        assert len({d.registration_number for d in docs}) == THREADS


def test_a_slow_upload_does_not_block_other_registrations(committing_app: Flask) -> None:
    """While one file streams in, no database lock is held (SQLite would block everyone)."""
    with committing_app.app_context():
        auth.create_department("SLOW", "Slow uploads")
        auth.create_user("slowpoke", ["clerk"], password=PASSWORD, department_code="SLOW")
        registry.create_journal("SLOWJ", "SL", "Slow journal", "incoming")
        db.session.commit()

    streaming = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    class Trickle:
        def __init__(self) -> None:
            self.parts = [b"first part ", b"second part"]

        def read(self, size: int = -1) -> bytes:
            if not self.parts:
                return b""
            if len(self.parts) == 1:
                streaming.set()
                release.wait(timeout=60)  # the client is slow
            return self.parts.pop(0)

    def register(title: str, stream: object) -> None:
        try:
            with committing_app.app_context():
                user = auth.get_user("slowpoke")
                raw = {"title": title, "journal": "SLOWJ"}
                services.register(user, raw, services.Upload(f"{title}.txt", stream))  # type: ignore[arg-type]
                db.session.commit()
        except BaseException as exc:
            errors.append(exc)

    slow = threading.Thread(target=register, args=("slow", Trickle()))
    slow.start()
    assert streaming.wait(timeout=30)
    quick = threading.Thread(target=register, args=("quick", io.BytesIO(b"quick")))
    quick.start()
    quick.join(timeout=20)
    finished_while_slow_was_streaming = not quick.is_alive()
    release.set()
    slow.join(timeout=30)
    quick.join(timeout=30)
    assert not errors, errors
    assert finished_while_slow_was_streaming
    with committing_app.app_context():
        rows = db.session.execute(select(Document.title, Document.sequence_number)).all()
        numbers = dict(rows)
        assert numbers == {"quick": 1, "slow": 2}


def test_discard_waits_for_a_request_that_is_claiming_the_same_file(
    committing_app: Flask,
) -> None:
    """Content addressing: request B found the file stored (by a request A that then
    failed) and is about to commit its reference while A's clean-up wants to delete it.
    The clean-up must wait for B and then keep the file."""
    from edms.blobs import services as blobs

    with committing_app.app_context():
        auth.create_department("DUP", "Dedup")
        auth.create_user("twin", ["clerk"], password=PASSWORD, department_code="DUP")
        registry.create_journal("DUPJ", "DU", "Dedup journal", "incoming")
        db.session.commit()
    store = committing_app.extensions["edms.storage"]
    key = store.put(io.BytesIO(b"the same bytes")).key  # stored by A, never referenced

    claimed = threading.Event()
    commit = threading.Event()
    errors: list[BaseException] = []

    def request_b() -> None:
        try:
            with committing_app.app_context():
                user = auth.get_user("twin")
                raw = {"title": "B", "journal": "DUPJ"}
                services.register(
                    user, raw, services.Upload("b.txt", io.BytesIO(b"the same bytes"))
                )
                claimed.set()
                commit.wait(timeout=30)
                db.session.commit()
        except BaseException as exc:
            errors.append(exc)
            claimed.set()

    b = threading.Thread(target=request_b)
    b.start()
    assert claimed.wait(timeout=30)
    outcome: list[bool] = []
    engine = committing_app.extensions["edms.db"]["engine"]
    a = threading.Thread(target=lambda: outcome.append(blobs.discard(store, key, engine)))
    a.start()
    a.join(timeout=1)
    assert a.is_alive(), "the clean-up did not wait for the claiming request"
    commit.set()
    b.join(timeout=30)
    a.join(timeout=30)
    assert not errors, errors
    assert outcome == [False]
    assert store.exists(key)
