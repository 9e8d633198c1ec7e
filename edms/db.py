"""The database: one declarative base, its naming convention and the session.

``db.session`` is a scoped session, one per application context (a request, a
CLI command, a worker job). Services ``flush()``; the request or command
commits once. Tests may point ``db.bind`` at a connection inside a transaction
that they roll back afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session
from sqlalchemy.types import TypeDecorator

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes that come back aware on SQLite too (stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy manage transactions (BEGIN emitted below) so SAVEPOINT works.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at the start, so two writers queue up on
    # busy_timeout instead of failing with "database is locked" half-way.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def upsert(model: type[Base], session: Session | None = None) -> Any:
    """INSERT for ``model`` with ON CONFLICT support, in the session's SQL dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = (session or db.session()).get_bind().dialect.name
    insert: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise RuntimeError(f"EDMS runs on PostgreSQL or SQLite, not {dialect}")
    return insert(model)


def insert_ignoring_duplicates(model: type[Base], **values: Any) -> None:
    """INSERT a row unless one with the same key exists (ON CONFLICT DO NOTHING).

    Concurrent callers on PostgreSQL wait for each other instead of failing.
    """
    db.session.execute(upsert(model).values(**values).on_conflict_do_nothing())


class Database:
    """Engine and scoped session for a Flask app."""

    def __init__(self) -> None:
        factory = cast(Any, self._make_session)  # a callable is all scoped_session needs
        self.session: scoped_session[Session] = scoped_session(factory, scopefunc=self._scope)

    @staticmethod
    def _scope() -> int:
        return id(cast(Any, app_ctx)._get_current_object())

    def _make_session(self) -> Session:
        state = current_app.extensions["edms.db"]
        return Session(
            bind=state["bind"], expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["edms.db"] = {"engine": engine, "bind": engine}

        @app.teardown_appcontext
        def _remove_session(exc: BaseException | None) -> None:
            if not self.session.registry.has():
                return
            info = self.session().info
            aborted = info.pop("on_abort", [])
            after = info.pop("after_close", [])
            # Close (and so roll back) first: the callbacks use sessions of their own,
            # which on SQLite would wait for this one's write lock.
            self.session.remove()
            _run_callbacks(aborted)
            _run_callbacks(after)

    @property
    def engine(self) -> Engine:
        engine: Engine = current_app.extensions["edms.db"]["engine"]
        return engine

    def set_bind(self, app: Flask, bind: Engine | Connection) -> None:
        """Point new sessions at ``bind`` (tests use a connection in a transaction)."""
        app.extensions["edms.db"]["bind"] = bind


db = Database()

AbortCallback = Callable[[], None]


def on_abort(callback: AbortCallback) -> None:
    """Run ``callback`` if the current transaction ends without a commit.

    Used to remove side effects outside the database, such as a stored file
    that a failed request would otherwise leave behind.
    """
    db.session().info.setdefault("on_abort", []).append(callback)


def after_close(callback: AbortCallback) -> None:
    """Run ``callback`` once the current session has ended, committed or not.

    For writes that must survive a failing request (an audit event of a denied
    access); the callback opens its own session.
    """
    db.session().info.setdefault("after_close", []).append(callback)


def _run_callbacks(callbacks: list[AbortCallback]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            logger.exception("a callback after the end of a session failed")


def end_read_only_transaction() -> None:
    """End the current transaction if it has written nothing yet.

    Call before slow work that needs no database, such as streaming an upload
    to storage: on SQLite an open transaction holds the write lock (BEGIN
    IMMEDIATE) and would make every other request wait for the upload. Loaded
    objects stay usable; the next query starts a new transaction.
    """
    session = db.session()
    if session.info.get("wrote") or session.new or session.dirty or session.deleted:
        return
    if session.in_transaction():
        session.commit()


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: Any) -> None:
    session.info["wrote"] = True


@event.listens_for(Session, "after_commit")
def _forget_abort_callbacks(session: Session) -> None:
    session.info.pop("on_abort", None)
    session.info.pop("wrote", None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_writes(session: Session, _previous: Any) -> None:
    session.info.pop("wrote", None)


@event.listens_for(Session, "after_rollback")
def _abort_after_rollback(session: Session) -> None:
    _run_callbacks(session.info.pop("on_abort", []))
