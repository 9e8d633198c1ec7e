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
