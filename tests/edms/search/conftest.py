"""Fixtures for the search backends: entries, and every backend under the same tests."""

from __future__ import annotations

import importlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from edms.search.backend import Backend, Entry

_counter = itertools.count(1)


def new_entry(**overrides: Any) -> Entry:
    """An Entry with sensible defaults and a fresh (random) id; ``overrides`` win."""
    n = next(_counter)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "title": f"Document {n}",
        "body": "",
        "registration_number": f"01-{n:05d}",
        "type": "letter",
        "journal": "incoming",
        "direction": "in",
        "department": "d1",
        "status": "registered",
        "correspondent": "Vazirlar Mahkamasi",
        "registered_on": date(2024, 3, 1),
        "updated_at": datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
        "language": "uz",
        "principals": ("dept:1",),
    }
    values.update(overrides)
    return Entry(**values)


@pytest.fixture
def make_entry() -> Callable[..., Entry]:
    """``make_entry(**overrides)``: ``new_entry`` as a fixture."""
    return new_entry


def _postgres(url: str) -> Backend:
    try:
        module = importlib.import_module("edms.search.pg_backend")
    except ModuleNotFoundError as exc:
        if exc.name != "edms.search.pg_backend":
            raise
        pytest.skip("edms.search.pg_backend is not written yet")
    backend: Backend = module.PostgresBackend.for_tests(url)
    return backend


@pytest.fixture(params=["whoosh", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Every backend, empty."""
    if request.param == "whoosh":
        from edms.search.whoosh_backend import WhooshBackend

        whoosh = WhooshBackend(tmp_path / "index")
        yield whoosh
        whoosh.close()
        return
    url = os.environ.get("EDMS_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("EDMS_TEST_DATABASE_URL does not name a PostgreSQL database")
    pg = _postgres(url)
    try:
        yield pg
    finally:
        pg.drop()  # type: ignore[attr-defined]
