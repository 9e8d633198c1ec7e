"""Shared fixtures: the application on SQLite or PostgreSQL, isolation, factories."""

from __future__ import annotations

import contextvars
import io
import os
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import close_all_sessions

# Settings of the developer's shell must not leak into the tests.
for _name in list(os.environ):
    if _name.startswith("EDMS_") and not _name.startswith("EDMS_TEST_"):
        del os.environ[_name]

import storage  # noqa: E402
from edms import create_app, migrate  # noqa: E402
from edms.auth.models import Department, Role, User  # noqa: E402
from edms.db import db  # noqa: E402
from edms.documents.models import Document  # noqa: E402
from edms.registry.models import Journal  # noqa: E402
from edms.wiring import url_signer  # noqa: E402
from storage import LocalStore  # noqa: E402
from tests.s3server import S3Server, s3_server  # noqa: E402

PG_URL = os.environ.get("EDMS_TEST_DATABASE_URL", "")
# "s3" runs the whole suite with documents stored on the S3 test server.
TEST_STORAGE = os.environ.get("EDMS_TEST_STORAGE", "local")
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback connections: tests start their own servers."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("localhost", "::1") and not str(host).startswith("127."):
                raise OSError(f"tests may not connect to {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_database(suffix: str = "") -> str:
    """A fresh database for this xdist worker on the PostgreSQL server of EDMS_TEST_DATABASE_URL."""
    parts = urlsplit(PG_URL)
    name = f"{parts.path.lstrip('/')}_{_worker()}{suffix}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        return _postgres_database()
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'edms.sqlite3'}"


@pytest.fixture
def fresh_database_url(tmp_path: Any) -> str:
    """An empty database of its own (SQLite file, or a new PostgreSQL database)."""
    if PG_URL:
        return _postgres_database("_fresh")
    return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


@pytest.fixture
def committing_app(fresh_database_url: str, tmp_path: Any) -> Iterator[Flask]:
    """An application on a migrated database of its own whose commits are real."""
    migrate.upgrade(fresh_database_url)
    application = create_app(
        {
            "data_dir": str(tmp_path / "data"),
            "database_url": fresh_database_url,
            "secret_key": "test-secret-key-0123456789",
            "default_locale": "en",
            "log_level": "WARNING",
            "scheduler": "off",
        }
    )
    application.config["TESTING"] = True
    application.test_client_class = IsolatedClient
    yield application
    # Threads of the test (indexer, workers) may leave a session behind: close them all
    # before the engine, so no connection outlives it (the next test drops the database
    # WITH (FORCE), and a connection it cut would be reported when garbage-collected).
    from edms.search.runner import stop_indexer

    stop_indexer(application, timeout=60)
    close_all_sessions()
    application.extensions["edms.db"]["engine"].dispose()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    data_dir = tmp_path_factory.mktemp("data")
    migrate.upgrade(database_url)
    application = create_app(
        {
            "data_dir": str(data_dir),
            "database_url": database_url,
            "secret_key": "test-secret-key-0123456789",
            "default_locale": "en",
            "languages": ["en", "ru", "uz"],
            "log_level": "WARNING",
            "scheduler": "off",  # tests run jobs themselves, with run_due_jobs
        }
    )
    application.config["TESTING"] = True
    application.test_client_class = IsolatedClient
    yield application
    # Threads of the test (indexer, workers) may leave a session behind: close them all
    # before the engine, so no connection outlives it (the next test drops the database
    # WITH (FORCE), and a connection it cut would be reported when garbage-collected).
    from edms.search.runner import stop_indexer

    stop_indexer(application, timeout=60)
    close_all_sessions()
    application.extensions["edms.db"]["engine"].dispose()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """An S3 server on loopback (moto, or the MinIO named by EDMS_TEST_S3_URL)."""
    with s3_server() as server:
        yield server


def make_s3_store(server: S3Server, **options: str) -> storage.ObjectStore:
    """A store on a new, empty bucket of the test server."""
    return storage.from_url(
        server.url(create="true", **options),
        access_key=server.access_key,
        secret_key=server.secret_key,
    )


@pytest.fixture
def store(app: Flask, tmp_path: Any, request: pytest.FixtureRequest) -> storage.ObjectStore:
    """A fresh, empty store for each test (local, or S3 with EDMS_TEST_STORAGE=s3)."""
    fresh: storage.ObjectStore
    if TEST_STORAGE == "s3":
        fresh = make_s3_store(request.getfixturevalue("s3"))
    else:
        fresh = LocalStore(tmp_path / "files", signer=url_signer(app.config["EDMS"]))
    app.extensions["edms.storage"] = fresh
    return fresh


@pytest.fixture
def db_conn(app: Flask, store: LocalStore) -> Iterator[sa.Connection]:
    """Everything a test does happens in one transaction that is rolled back at the end."""
    engine = app.extensions["edms.db"]["engine"]
    with engine.connect() as conn:
        trans = conn.begin()
        db.set_bind(app, conn)
        try:
            yield conn
        finally:
            db.set_bind(app, engine)
            trans.rollback()


@pytest.fixture
def ctx(app: Flask, db_conn: sa.Connection) -> Iterator[Flask]:
    """An application context for calling services directly."""
    with app.app_context():
        yield app
        db.session.remove()


class IsolatedClient(FlaskClient):
    """A test client whose requests never share the test's application context.

    Flask reuses an active app context for a request; tests that hold one (``ctx``)
    would then share their database session with the requests they make, and the
    end-of-request work (session removal, deferred audit writes) would not run.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app: Flask, db_conn: sa.Connection) -> FlaskClient:
    return app.test_client()


# Factories -------------------------------------------------------------------


@pytest.fixture
def make_department(ctx: Flask) -> Callable[..., Department]:
    from edms.auth import services

    counter = iter(range(1, 10_000))

    def make(code: str | None = None, parent: Department | None = None) -> Department:
        code = code or f"D{next(counter)}"
        dept = services.create_department(
            code, f"Department {code}", parent.code if parent else None
        )
        db.session.commit()
        return dept

    return make


@pytest.fixture
def make_user(ctx: Flask, make_department: Callable[..., Department]) -> Callable[..., User]:
    from edms.auth import services

    counter = iter(range(1, 10_000))

    def make(
        role: Role | str = Role.CLERK,
        department: Department | None = None,
        username: str | None = None,
        password: str = PASSWORD,
    ) -> User:
        role = Role(role)
        if department is None and role in (Role.CLERK, Role.APPROVER):
            department = make_department()
        user = services.create_user(
            username or f"{role.value.replace('_', '')}{next(counter)}",
            [role],
            password=password,
            department_code=department.code if department else None,
            full_name=f"Test {role.value}",
        )
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_journal(ctx: Flask) -> Callable[..., Journal]:
    from edms.registry import services

    counter = iter(range(1, 10_000))

    def make(
        code: str | None = None, direction: str = "incoming", prefix: str | None = None
    ) -> Journal:
        code = code or f"J{next(counter)}"
        journal = services.create_journal(code, prefix or code, f"Journal {code}", direction)
        db.session.commit()
        return journal

    return make


@pytest.fixture
def make_document(ctx: Flask, make_journal: Callable[..., Journal]) -> Callable[..., Document]:
    from edms.documents import services

    journals: list[Journal] = []

    def make(
        user: User,
        content: bytes = b"%PDF-1.4\n% test document\n",
        filename: str = "letter.pdf",
        journal: Journal | None = None,
        **metadata: Any,
    ) -> Document:
        if journal is None:
            if not journals:
                journals.append(make_journal())
            journal = journals[0]
        raw = {"title": "A test document", "journal": journal.code, **metadata}
        doc = services.register(user, raw, services.Upload(filename, io.BytesIO(content)))
        db.session.commit()
        return doc

    return make


# HTTP helpers ----------------------------------------------------------------


def login(client: FlaskClient, user: User) -> None:
    """Log the client in as ``user`` without going through the form."""
    from flask_login.utils import _create_identifier

    app = client.application
    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["_id"] = identifier


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
