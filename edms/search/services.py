"""Search in the application: what to index, one indexer, queries with the user's rights.

Every change to a document, its versions or who may see it puts the document on
``search_queue`` in the same transaction (a session hook, so no code path can forget
it). One indexer drains the queue in batches — a thread of one app process in the
embedded mode, ``edms worker`` in production — so web processes never write the
index: with Whoosh only the process holding ``<index dir>/indexer.lock`` indexes;
with PostgreSQL an advisory lock plays that part. The extracted text is kept in
``document_texts``: it is the body of the index entry and the source of snippets
(the index does not store it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

from flask import Flask, current_app
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from edms.auth.models import Department, User
from edms.db import db, utcnow
from edms.documents import services as documents
from edms.documents.models import Document, DocumentAccess, DocumentVersion
from edms.errors import PermissionDenied, ValidationError
from edms.search import analysis, extract
from edms.search.backend import (
    FILTERS,
    SORTS,
    Backend,
    Entry,
    IndexUnavailable,
    Query,
    QueryError,
    Results,
)
from edms.search.models import DocumentText, SearchQueue

logger = logging.getLogger(__name__)

MAX_QUERY = 500
#: The PostgreSQL advisory lock that makes one indexer among many processes.
_PG_LOCK = 0x45444D53  # "EDMS"
_LOCK = threading.Lock()


# The queue -----------------------------------------------------------------------------


def _queue_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Before each flush: queue the documents that change (their entry, and their text
    when a version is added)."""
    # What this transaction queued already (keyed by the transaction itself: commit
    # events do not fire for every way a transaction can end, savepoints included).
    transaction = session.get_transaction()
    held = session.info.get("edms.search.pending")
    if held is None or held[0]() is not transaction:
        held = (weakref.ref(transaction) if transaction is not None else lambda: None, {})
        session.info["edms.search.pending"] = held
    pending: dict[uuid.UUID, bool] = held[1]
    queued: dict[uuid.UUID, bool] = {}
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(obj, Document) and obj.id is not None:
            queued.setdefault(obj.id, False)
        elif isinstance(obj, DocumentVersion) and obj.document_id is not None:
            queued[obj.document_id] = queued.get(obj.document_id, False) or obj in session.new
        elif isinstance(obj, DocumentAccess) and obj.document_id is not None:
            queued.setdefault(obj.document_id, False)
    for doc_id, needs_text in queued.items():
        if doc_id in pending and (pending[doc_id] or not needs_text):
            continue  # queued in this transaction already
        pending[doc_id] = needs_text
        session.add(SearchQueue(document_id=doc_id, action="index", extract=needs_text))


_hooks_installed = False


def install_hooks() -> None:
    """Queue document changes from every session (once per process)."""
    global _hooks_installed
    with _LOCK:
        if _hooks_installed:
            return
        event.listen(Session, "before_flush", _queue_changes)
        _hooks_installed = True


# The backend ---------------------------------------------------------------------------


def _settings() -> dict[str, Any]:
    settings: dict[str, Any] = current_app.config["EDMS"]
    return settings


def index_dir() -> Path:
    return Path(_settings()["search_index_dir"])


def backend(app: Flask | None = None) -> Backend:
    """The application's search backend (one per process and app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.setdefault("edms.search", {})
    found = state.get("backend")
    if found is not None and state.get("pid") == os.getpid():
        return found
    with _LOCK:
        found = state.get("backend")
        if found is not None and state.get("pid") == os.getpid():
            return found
        settings = app.config["EDMS"]
        if settings["search_backend"] == "postgres":
            from edms.search.pg_backend import PostgresBackend

            made: Backend = PostgresBackend(db.engine)
        else:
            from edms.search.whoosh_backend import WhooshBackend

            made = WhooshBackend(Path(settings["search_index_dir"]), rebuild=_rebuild_callback(app))
        state.update(backend=made, pid=os.getpid())
        return made


def _rebuild_callback(app: Flask) -> Callable[[Any], None]:
    """What the Whoosh backend calls when it finds its index missing or broken: a
    request to the indexer, which rebuilds in its next round (``drain``). The web
    processes never write the index; their requests simply go unheard."""

    def ask(_backend: Any) -> None:
        app.extensions.setdefault("edms.search", {})["rebuild_requested"] = True

    return ask


def _rebuild_if_broken() -> bool:
    """In the indexer: rebuild a missing or broken index from the database."""
    engine = backend()
    healthy = bool(getattr(engine, "available", True))  # checking asks for a rebuild
    state = current_app.extensions.setdefault("edms.search", {})
    requested = state.pop("rebuild_requested", False)
    if healthy and not state.get("checked_empty"):
        # A new index beside an existing registry (an upgrade, a moved directory):
        # fill it once rather than wait for every document to change.
        state["checked_empty"] = True
        unqueued = (
            select(Document.id).where(Document.id.not_in(select(SearchQueue.document_id))).limit(1)
        )
        if engine.count() == 0 and db.session.scalar(unqueued) is not None:
            logger.warning("search: the index is empty but documents exist; building it")
            reindex()
            return True
    if healthy:
        return False
    logger.warning("search: index unavailable (%s); rebuilding", "asked" if requested else "found")
    reindex()
    return True


# What an entry holds -------------------------------------------------------------------


def _ancestors(department_id: int) -> list[int]:
    ids: list[int] = []
    current: int | None = department_id
    while current is not None and current not in ids:
        ids.append(current)
        current = db.session.scalar(select(Department.parent_id).where(Department.id == current))
    return ids


def principals_of(doc: Document) -> tuple[str, ...]:
    """Who sees the document besides administrators and records officers: the staff of
    its department and of every department above it, and the people it is shared
    with or assigned to (the same rule as ``documents.visible_clause``)."""
    found = [f"dept:{d}" for d in _ancestors(doc.department_id)]
    found += [
        f"user:{u}"
        for u in db.session.scalars(
            select(DocumentAccess.user_id).where(DocumentAccess.document_id == doc.id)
        )
    ]
    return tuple(dict.fromkeys(found))


def user_principals(user: User) -> tuple[str, ...] | None:
    """What the user sees by: None for everything, else their department and themselves."""
    if user.sees_everything:
        return None
    found = [f"user:{user.id}"]
    if user.department_id is not None:
        found.insert(0, f"dept:{user.department_id}")
    return tuple(found)


def entry_for(doc: Document, text: str) -> Entry:
    return Entry(
        id=str(doc.id),
        title=doc.title,
        body=text,
        registration_number=doc.registration_number,
        type=doc.document_type.code,
        journal=doc.journal.code,
        direction=doc.direction,
        department=doc.department.code,
        status=doc.status,
        correspondent=doc.correspondent_name or "",
        registered_on=doc.registration_date,
        updated_at=doc.updated_at,
        language=doc.language,
        principals=principals_of(doc),
    )


def _copy_to_file(version: DocumentVersion, target: IO[bytes]) -> None:
    with documents.open_version(version) as source:
        shutil.copyfileobj(source, target, 1 << 20)
    target.flush()


def extract_text(doc: Document) -> DocumentText:
    """Extract and keep the text of the document's latest version (a broken or hostile
    file gives an empty text with the reason, never an error)."""
    if not doc.versions:
        row = db.session.get(DocumentText, doc.id) or DocumentText(document_id=doc.id)
        row.version_id, row.status, row.reason, row.text = None, "empty", "no file", ""
        row.extracted_at = utcnow()
        db.session.add(row)
        return row
    version = doc.versions[-1]
    return _keep_text(doc, version, _extract(version))


def _text_of(doc: Document) -> str:
    row = db.session.get(DocumentText, doc.id)
    return row.text if row is not None else ""


# The indexer ---------------------------------------------------------------------------


class _IndexerLock:
    """Held by the one process that indexes (a file lock next to the Whoosh index; a
    PostgreSQL advisory lock for the PostgreSQL backend)."""

    def __init__(self) -> None:
        self._fd: int | None = None

    def acquire(self) -> bool:
        settings = _settings()
        if settings["search_backend"] == "postgres":
            return True  # taken per batch, in the transaction (see drain)
        if self._fd is not None:
            return True
        directory = index_dir()
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "indexer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def drain(limit: int | None = None) -> int:
    """Index one batch of the queue; how many documents it refreshed or removed.

    No database transaction is open while files are read and text extracted, nor while
    the index is written (on SQLite an open transaction holds the write lock). The
    queue rows go last: a crash before that indexes the same documents again, which
    is harmless.
    """
    settings = _settings()
    limit = limit or settings["search_batch"]
    postgres = settings["search_backend"] == "postgres"
    if postgres and db.engine.dialect.name == "postgresql" and not _pg_lock_taken():
        db.session.rollback()
        return 0
    if not postgres and _rebuild_if_broken():
        return 1
    rows = list(db.session.scalars(select(SearchQueue).order_by(SearchQueue.id).limit(limit)))
    if not rows:
        db.session.commit()
        return 0
    row_ids = [r.id for r in rows]
    needs_text: dict[uuid.UUID, bool] = {}
    for row in rows:
        needs_text[row.document_id] = needs_text.get(row.document_id, False) or row.extract
    known_text = set(
        db.session.scalars(
            select(DocumentText.document_id).where(DocumentText.document_id.in_(needs_text))
        )
    )
    latest: dict[uuid.UUID, DocumentVersion] = {}
    for doc in db.session.scalars(select(Document).where(Document.id.in_(needs_text))):
        if (needs_text[doc.id] or doc.id not in known_text) and doc.versions:
            latest[doc.id] = doc.versions[-1]
    db.session.commit()  # nothing written: no lock held while extracting

    texts = {doc_id: _extract(version) for doc_id, version in latest.items()}

    docs = {
        d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(needs_text)))
    }
    entries: list[Entry] = []
    gone: list[str] = []
    for doc_id in needs_text:
        found_doc = docs.get(doc_id)
        if found_doc is None:
            gone.append(str(doc_id))
            continue
        if doc_id in texts:
            text = _keep_text(found_doc, latest[doc_id], texts[doc_id]).text
        else:
            text = _text_of(found_doc)
        entries.append(entry_for(found_doc, text))
    db.session.commit()

    engine = backend()
    if entries:
        engine.upsert(entries)
    if gone:
        engine.delete(gone)
    db.session.execute(delete(SearchQueue).where(SearchQueue.id.in_(row_ids)))
    db.session.commit()
    logger.info("search: indexed %d document(s), removed %d", len(entries), len(gone))
    return len(needs_text)


def _extract(version: DocumentVersion) -> extract.Extracted:
    """The text of a version, read into a temporary file first (storage streams are not
    seekable, and the extractor reads files in a child process)."""
    settings = _settings()
    with tempfile.NamedTemporaryFile(prefix="edms-extract-") as tmp:
        try:
            _copy_to_file(version, tmp)
        except Exception as exc:  # storage down: the next change tries again
            logger.warning("search: file of version %s unreadable: %s", version.id, exc)
            return extract.Extracted("", "failed", "the file could not be read")
        return extract.extract(
            tmp.name,
            version.media_type,
            max_chars=settings["search_max_chars"],
            timeout=settings["search_extract_timeout"],
        )


def _keep_text(doc: Document, version: DocumentVersion, found: extract.Extracted) -> DocumentText:
    row = db.session.get(DocumentText, doc.id) or DocumentText(document_id=doc.id)
    row.version_id = version.id
    row.status, row.reason, row.text = found.status, found.reason, found.text
    row.extracted_at = utcnow()
    db.session.add(row)
    return row


def _pg_lock_taken() -> bool:
    """Take the indexer's advisory lock for this transaction, if nobody holds it."""
    return bool(db.session.scalar(select(func.pg_try_advisory_xact_lock(_PG_LOCK))))


def drain_all(max_batches: int = 1000) -> int:
    """Drain the queue completely (tests, the CLI)."""
    total = 0
    for _ in range(max_batches):
        done = drain()
        if not done:
            break
        total += done
    return total


def _feed_all(sink: Callable[[Sequence[Entry]], None], chunk: int = 500) -> int:
    """Feed every document to ``sink`` in chunks (bounded memory), extracting text that
    was never extracted; returns the count."""
    count = 0
    last: uuid.UUID | None = None
    while True:
        query = select(Document).order_by(Document.id).limit(chunk)
        if last is not None:
            query = query.where(Document.id > last)
        docs = list(db.session.scalars(query))
        if not docs:
            break
        texts = {
            t.document_id: t
            for t in db.session.scalars(
                select(DocumentText).where(DocumentText.document_id.in_([d.id for d in docs]))
            )
        }
        entries = []
        for doc in docs:
            known = texts.get(doc.id)
            text = known.text if known is not None else extract_text(doc).text
            entries.append(entry_for(doc, text))
        sink(entries)
        # The session holds clean objects weakly: memory stays bounded as chunks go.
        db.session.commit()
        count += len(docs)
        last = docs[-1].id
    return count


def reindex(progress: Callable[[int], object] | None = None) -> int:
    """Rebuild the whole index from the database (``edms search reindex``)."""
    engine = backend()
    total = 0
    # Changes queued after this point are indexed after the rebuild, not dropped.
    upto = db.session.scalar(select(func.max(SearchQueue.id)))
    db.session.commit()

    def sink(entries: Sequence[Entry]) -> None:
        nonlocal total
        total += len(entries)
        if progress is not None:
            progress(len(entries))

    def feed_into(write: Callable[[Sequence[Entry]], None]) -> None:
        def both(batch: Sequence[Entry]) -> None:
            write(batch)
            sink(batch)

        _feed_all(both)

    rebuild = getattr(engine, "rebuild_into_new_generation", None)
    if rebuild is not None:
        rebuild(feed_into)
    else:
        engine.clear()
        feed_into(engine.upsert)
    if upto is not None:
        db.session.execute(delete(SearchQueue).where(SearchQueue.id <= upto))
    db.session.commit()
    return total


# Queries -------------------------------------------------------------------------------


def _date(raw: Mapping[str, Any], name: str, errors: dict[str, str]) -> date | None:
    value = raw.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[name] = "must be a date like 2026-11-27"
        return None


def parse_query(user: User, raw: Mapping[str, Any]) -> Query:
    """The query of a request's parameters; ``ValidationError`` names a bad one."""
    settings = _settings()
    errors: dict[str, str] = {}
    text = str(raw.get("q") or "").strip()
    if len(text) > MAX_QUERY:
        errors["q"] = f"must be at most {MAX_QUERY} characters"
    filters = {}
    for name in FILTERS:
        value = raw.get(name)
        if value:
            filters[name] = str(value)[:64]
    date_from = _date(raw, "date_from", errors)
    date_to = _date(raw, "date_to", errors)
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = "must not be before date_from"
    sort = str(raw.get("sort") or ("relevance" if text else "-date"))
    if sort not in SORTS:
        errors["sort"] = f"must be one of {', '.join(SORTS)}"
    try:
        page = int(raw.get("page") or 1)
        if page < 1 or page > 10_000:
            raise ValueError
    except (TypeError, ValueError):
        errors["page"] = "must be a whole number from 1"
        page = 1
    try:
        per_page = int(raw.get("per_page") or settings["page_size"])
        if not 1 <= per_page <= settings["max_page_size"]:
            raise ValueError
    except (TypeError, ValueError):
        errors["per_page"] = f"must be a whole number from 1 to {settings['max_page_size']}"
        per_page = settings["page_size"]
    if errors:
        raise ValidationError(errors)
    return Query(
        text=text,
        filters=filters,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        page=page,
        per_page=per_page,
        principals=user_principals(user),
        time_limit=float(settings["search_time_limit"]),
    )


def text_for(ids: Sequence[str]) -> dict[str, str]:
    """The beginning of the kept text of the documents ``ids`` (for snippets: the
    first ``SNIPPET_SCAN`` characters, all a snippet looks at, not up to
    ``search_max_chars`` of each)."""
    wanted = []
    for value in ids:
        try:
            wanted.append(uuid.UUID(value))
        except ValueError:
            continue
    rows = db.session.execute(
        select(
            DocumentText.document_id, func.substr(DocumentText.text, 1, analysis.SNIPPET_SCAN)
        ).where(DocumentText.document_id.in_(wanted))
    )
    return {str(document_id): text or "" for document_id, text in rows}


REBUILDING = "The search index is being rebuilt; try again in a few minutes."


def search(user: User, raw: Mapping[str, Any]) -> tuple[Query, Results, list[Document]]:
    """Search as ``user``: the query, its results, and the documents of the page's hits
    (in hit order; a hit the database no longer shows the user is dropped)."""
    if not user.is_staff:
        raise PermissionDenied("Search is open to staff only.")
    query = parse_query(user, raw)
    try:
        results = backend().search(query, text_for)
    except QueryError as exc:
        raise ValidationError({"q": str(exc)}) from exc
    except IndexUnavailable:
        return query, Results(total=0, hits=[], facets={}, note=REBUILDING), []
    ids = []
    for hit in results.hits:
        try:
            ids.append(uuid.UUID(hit.id))
        except ValueError:
            continue
    # The index may lag behind a change of rights by a second: the database decides.
    visible = {
        d.id: d
        for d in db.session.scalars(
            select(Document).where(Document.id.in_(ids), documents.visible_clause(user))
        )
    }
    page = [visible[i] for i in ids if i in visible]
    return query, results, page


def merge() -> None:
    """Merge the index's segments (Whoosh; a no-op for PostgreSQL)."""
    engine = backend()
    optimize = getattr(engine, "optimize", None) or getattr(engine, "merge", None)
    if optimize is not None:
        optimize()
