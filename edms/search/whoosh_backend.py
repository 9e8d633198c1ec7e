"""The search index in a Whoosh directory, for one machine.

Layout of the index directory::

    <dir>/current          pointer file: the name of the live generation ("gen-3\\n"),
                           replaced atomically (os.replace) when a rebuild finishes
    <dir>/gen-<n>/         one complete Whoosh index ("generation")
    <dir>/gen-<n>/schema-version
                           SCHEMA_VERSION of the code that built it (inside the
                           generation, so the swap changes index and version at once)

Health. On opening and on every search the pointer is checked (one ``stat``): a
changed pointer (another process rebuilt) reopens the index. The index is *broken*
when the pointer or its generation is missing, the schema version differs, or Whoosh
fails to open or read it (a truncated segment file raises from deep inside Whoosh:
any error other than a query error counts). A broken index makes ``search``,
``count`` raise ``IndexUnavailable`` (the app shows "the index is being rebuilt", never
a 500) and, once per ``RETRY_REBUILD`` seconds, the ``rebuild`` callback is called in a
background thread. ``upsert``/``delete`` then go to the generation being built, are
skipped while the rebuild has not started yet (it reads the database afterwards), and
raise ``IndexUnavailable`` only when nobody rebuilds (no callback). In the indexer process that callback
is ``lambda b: b.rebuild_into_new_generation(feed)``; in a process that must not write
it can ask the indexer instead, or be ``None``. A directory that was never an index (no
pointer, no generation) is created empty, as on a first start (no automatic rebuild:
every process would start one). While a rebuild runs in this process, the old
generation still answers and results carry the note ``INCOMPLETE``.

``rebuild_into_new_generation(feed)`` builds ``gen-<n+1>`` from ``feed`` (which calls
the function it is given with chunks of entries; one commit per chunk, so memory is
bounded), replays the upserts and deletes that arrived meanwhile (they are written to
both generations and remembered by id), writes the version, swaps the pointer and
removes the older generations. ``edms search reindex`` uses it too; ``clear()`` is a
rebuild from nothing.

Writing: one writer at a time per process (a lock), and Whoosh's own lock file
against other processes (``LockError`` after ``lock_timeout`` becomes
``IndexLocked``). ``upsert`` writes a whole batch with ``update_document`` and commits
once. ``merge()`` (scheduled) merges small segments, ``optimize()`` merges all.

Searching: each thread keeps a ``Searcher`` and replaces it when the index has changed
(checked per search; whoosh's own ``refresh()`` is not used, see ``_searcher``). Text
analysis is ``edms.search.analysis`` (the Postgres backend uses the same rules).
Prefixes expand to at most ``PREFIX_EXPANSIONS`` terms per field (the most frequent of
the first ``PREFIX_SCAN`` in the term list), so ``a*``-like queries stay fast on a
large index. Time limit: a collector checks the clock before each document and stops
the search, which then answers with what it has and ``partial=True``.
"""

from __future__ import annotations

import gc
import heapq
import logging
import os
import pickle
import shutil
import struct
import threading
import time
import warnings
import weakref
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

from whoosh import fields, index, query, scoring
from whoosh.analysis import Token, Tokenizer
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import TimeLimit

from edms.search import analysis
from edms.search.backend import (
    FACETS,
    FILTERS,
    SORTS,
    Entry,
    Hit,
    IndexUnavailable,
    Query,
    QueryError,
    Results,
    TextSource,
)
from edms.search.whoosh_collect import (
    Allowed,
    ColumnCache,
    Gather,
    Near,
    Option,
    Phrase,
    Plan,
    expand,
)

__all__ = [
    "PREFIX_EXPANSIONS",
    "SCHEMA_VERSION",
    "IndexLocked",
    "WhooshBackend",
    "document",
    "schema",
]

logger = logging.getLogger(__name__)

#: Change when the schema or the analysis rules change: indexes built with another
#: version are rebuilt automatically.
SCHEMA_VERSION = 1
#: Most index terms one prefix expands to, per field.
PREFIX_EXPANSIONS = 64
#: How many terms with the prefix are looked at to find the most frequent ones.
PREFIX_SCAN = 5000
#: Seconds before a broken index asks for another rebuild.
RETRY_REBUILD = 300.0
#: Answer queries from cached postings (``Gather.run_plan``) rather than
#: with Whoosh's matchers (same matches and scores; switched off in tests to compare).
FAST_PATH = True

POINTER = "current"
VERSION_FILE = "schema-version"
_TEXT_FIELDS = ("title", "body", "registration_number", "correspondent")
REBUILDING = "The search index is being rebuilt; please try again in a few minutes."
NEEDS_REBUILD = "The search index is unavailable until it is rebuilt (edms search reindex)."
#: Errors that mean the files are damaged (anything else is a bug and propagates).
_DAMAGE = (
    OSError,
    EOFError,
    ValueError,
    LookupError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
    index.IndexError,
)
PARTIAL = "The search took too long; these are the results found so far."
INCOMPLETE = "The search index is being rebuilt; results may be incomplete."

#: A feed calls its argument with successive chunks of entries.
Feed = Callable[[Callable[[Sequence[Entry]], None]], None]


class IndexLocked(IndexUnavailable):
    """Another process holds the index's write lock for longer than ``lock_timeout``."""


class EDMSTokenizer(Tokenizer):
    """A Whoosh tokenizer (and whole analyzer) yielding ``analysis.terms``."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for start, end, word in analysis.word_spans(value):
            text = analysis.term(word)
            if not text:
                continue
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = word
            if positions:
                t.pos = pos
                pos += 1
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t


def schema() -> fields.Schema:
    """The index schema (bump ``SCHEMA_VERSION`` when changing it)."""
    text = EDMSTokenizer()
    return fields.Schema(
        id=fields.ID(unique=True, stored=True, sortable=True),
        title=fields.TEXT(analyzer=text, field_boost=2.0),
        body=fields.TEXT(analyzer=text),
        registration_number=fields.TEXT(analyzer=text, field_boost=2.0),
        correspondent=fields.TEXT(analyzer=text),
        type=fields.ID(sortable=True),
        journal=fields.ID(),
        direction=fields.ID(),
        department=fields.ID(sortable=True),
        status=fields.ID(sortable=True),
        language=fields.ID(),
        year=fields.ID(sortable=True),
        registered_on=fields.NUMERIC(int, bits=32, sortable=True),  # yyyymmdd
        updated_at=fields.NUMERIC(int, bits=64, sortable=True),  # epoch seconds
        principals=fields.KEYWORD(commas=True),
    )


def document(entry: Entry) -> dict[str, Any]:
    """The fields Whoosh indexes for an entry."""
    return {
        "id": entry.id,
        "title": entry.title,
        "body": entry.body,
        "registration_number": entry.registration_number,
        "correspondent": entry.correspondent,
        "type": entry.type,
        "journal": entry.journal,
        "direction": entry.direction,
        "department": entry.department,
        "status": entry.status,
        "language": entry.language,
        "year": str(entry.registered_on.year),
        "registered_on": _yyyymmdd(entry.registered_on),
        "updated_at": int(entry.updated_at.timestamp()),
        "principals": ",".join(entry.principals),
    }


class _Build:
    """A generation being built, and the changes that arrived meanwhile."""

    def __init__(self, ix: Any, name: str) -> None:
        self.ix = ix
        self.name = name
        self.journal: dict[str, Entry | None] = {}


class WhooshBackend:
    """A ``Backend`` on a Whoosh index directory (layout and health: module docstring)."""

    def __init__(
        self,
        directory: str | Path,
        *,
        rebuild: Callable[[WhooshBackend], None] | None = None,
        lock_timeout: float = 30.0,
        limitmb: int = 128,
    ) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self.limitmb = limitmb
        self._rebuild_callback = rebuild
        self._write_lock = threading.RLock()  # one writer per process
        self._build_lock = threading.Lock()  # one rebuild at a time
        self._state_lock = threading.RLock()
        self._ix: Any = None
        self._generation: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._problem: str | None = None
        self._build: _Build | None = None
        self._rebuild_thread: threading.Thread | None = None
        self._rebuild_asked = 0.0
        self._local = threading.local()
        self._searchers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._columns = ColumnCache()
        with self._state_lock:
            self._open()

    # Opening and health -------------------------------------------------------------

    def _pointer(self) -> Path:
        return self.directory / POINTER

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._pointer())
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _open(self) -> None:
        """(Re)open the live generation, or mark the index broken. Under _state_lock."""
        self._stamp = self._read_stamp()
        self._ix = None
        self._generation = None
        if self._stamp is None:
            fresh = not self.directory.exists() or not any(self.directory.glob("gen-*"))
            if fresh:
                # A first start: an empty index. No automatic rebuild here: every
                # process of a new installation would start one at once; the
                # installer runs `edms search reindex` if the database has documents.
                self._create_empty()
                return
            self._broken("the index is missing")
            return
        try:
            name = self._pointer().read_text(encoding="utf-8").strip()
            gen_dir = self.directory / name
            version = (gen_dir / VERSION_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            self._broken("the index is missing")
            return
        if version != str(SCHEMA_VERSION):
            self._broken(f"the index has schema version {version}, not {SCHEMA_VERSION}")
            return
        failure = None
        try:
            ix = index.open_dir(str(gen_dir))
            with ix.searcher() as s:  # reads the segment list and every segment
                s.doc_count()
        except Exception as exc:
            # No traceback kept (logger.exception would hold it, and with it the files
            # whoosh leaves open): the type and message say what is damaged.
            logger.error("search index %s cannot be opened: %s", gen_dir, repr(exc))
            failure = type(exc).__name__
            _forget(exc)
        if failure is not None:
            self._broken(f"the index cannot be read ({failure})")
            return
        self._ix = ix
        self._generation = name
        self._problem = None
        logger.info("search index %s open (%s)", self.directory, name)

    def _create_empty(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name, ix = self._new_generation()
        self._finish_generation(name)
        ix.close()
        self._ix = index.open_dir(str(self.directory / name))
        self._generation = name
        self._problem = None
        self._stamp = self._read_stamp()
        logger.info("search index %s created (%s)", self.directory, name)

    def _new_generation(self) -> tuple[str, Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name[4:]) for p in self.directory.glob("gen-*") if p.name[4:].isdigit()]
        n = max(numbers, default=0) + 1
        while True:
            gen_dir = self.directory / f"gen-{n}"
            try:
                gen_dir.mkdir()
                break
            except FileExistsError:
                n += 1
        # Without memory-mapped files: the writer merges segments as the generation grows,
        # and mapped segment files would count in the process's resident memory (clean
        # pages, but a 100,000-document rebuild would show some 1.5 GB). Searching the
        # generation after the swap reopens it with the default storage.
        storage = FileStorage(str(gen_dir), supports_mmap=False)
        return gen_dir.name, storage.create_index(schema())

    def _finish_generation(self, name: str) -> None:
        """Write the version file and point ``current`` at generation ``name``."""
        gen_dir = self.directory / name
        _write_atomically(gen_dir / VERSION_FILE, f"{SCHEMA_VERSION}\n")
        _write_atomically(self._pointer(), f"{name}\n")

    def _broken(self, reason: str) -> None:
        if self._problem != reason:
            logger.warning("search index %s unavailable: %s", self.directory, reason)
        self._problem = reason
        self._ix = None
        self._generation = None
        self._ask_rebuild()

    def _ask_rebuild(self) -> None:
        callback = self._rebuild_callback
        if callback is None or self._build is not None:
            return
        if self._rebuild_thread is not None and self._rebuild_thread.is_alive():
            return
        now = time.monotonic()
        if self._rebuild_asked and now - self._rebuild_asked < RETRY_REBUILD:
            return
        self._rebuild_asked = now

        def run() -> None:
            try:
                callback(self)
            except Exception:
                logger.exception("rebuilding search index %s failed", self.directory)

        self._rebuild_thread = threading.Thread(
            target=run, name="search-index-rebuild", daemon=True
        )
        self._rebuild_thread.start()

    def _check(self) -> Any:
        """The live index, reopened if the pointer changed; else ``IndexUnavailable``."""
        with self._state_lock:
            stamp = self._read_stamp()
            if stamp is None and self._stamp is not None:
                # It was there: deleted under us (not a first start).
                if self._ix is not None or self._problem is None:
                    self._broken("the index is missing")
            elif stamp != self._stamp or (self._ix is None and stamp is not None):
                self._open()
            if self._ix is None:
                if self._problem:
                    self._ask_rebuild()
                raise IndexUnavailable(self._unavailable_message())
            return self._ix

    def _unavailable_message(self) -> str:
        if self._rebuild_callback is None and self._build is None:
            return NEEDS_REBUILD
        return REBUILDING

    @property
    def available(self) -> bool:
        """Whether the index can answer now (reopening it if needed)."""
        try:
            self._check()
        except IndexUnavailable:
            return False
        return True

    @property
    def rebuilding(self) -> bool:
        return self._build is not None or (
            self._rebuild_thread is not None and self._rebuild_thread.is_alive()
        )

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Wait for a rebuild started by this backend; True if none is running now."""
        thread = self._rebuild_thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _searcher(self) -> Any:
        ix = self._check()
        held = getattr(self._local, "held", None)
        if held is not None and held[0] is ix and held[1].up_to_date():
            return held[1]
        # Not ``Searcher.refresh()``: whoosh 2.7's reader reuse keeps segments that a
        # merge removed and stale deletion lists (an updated document counted twice).
        if held is not None:
            held[1].close()
        searcher = ix.searcher()
        self._searchers.add(searcher)
        self._local.held = (ix, searcher)
        return searcher

    def _drop_searcher(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            with suppress(Exception):  # a broken reader may fail to close too
                held[1].close()

    def _read(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(searcher)``; a read error reopens (another generation) or breaks."""
        for attempt in (1, 2):
            searcher = self._searcher()
            stamp = self._stamp
            try:
                return fn(searcher)
            except (QueryError, IndexUnavailable):
                raise
            except _DAMAGE as exc:
                logger.error("search index %s failed to read: %s", self.directory, repr(exc))
                failure = type(exc).__name__
                _forget(exc)
            self._drop_searcher()
            with self._state_lock:
                if attempt == 1 and self._read_stamp() != stamp:
                    continue  # swapped under us: read the new generation
                if self._stamp == stamp:
                    self._broken(f"the index cannot be read ({failure})")
                message = self._unavailable_message()
            raise IndexUnavailable(message)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close searchers and the index (the backend cannot be used afterwards)."""
        for searcher in list(self._searchers):
            with suppress(Exception):  # closing is best effort
                searcher.close()
        self._local = threading.local()
        with self._state_lock:
            if self._ix is not None:
                self._ix.close()
            self._ix = None
            self._problem = "closed"

    # Writing ------------------------------------------------------------------------

    @contextmanager
    def _writer(self, ix: Any, **commit: Any) -> Iterator[Any]:
        try:
            writer = ix.writer(timeout=self.lock_timeout, limitmb=self.limitmb)
        except index.LockError as exc:
            raise IndexLocked(
                f"another process has been writing to the search index for over "
                f"{self.lock_timeout:g} s"
            ) from exc
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        writer.commit(**commit)

    def _targets(self) -> list[Any]:
        """Indexes a change goes to: the live one and the one being built.

        None while the index is broken and a rebuild has been asked for but has not
        started: that rebuild reads the database afterwards, so it will include the
        change. ``IndexUnavailable`` if broken and nobody rebuilds."""
        targets = []
        build = self._build
        if build is not None:
            targets.append(build.ix)
        try:
            targets.append(self._check())
        except IndexUnavailable:
            if build is None and not self.rebuilding:
                raise
        return targets

    def upsert(self, entries: Sequence[Entry]) -> None:
        """Add or replace entries (by id): one writer, one commit per index."""
        latest = {e.id: e for e in entries}  # one document per id, the last one wins
        if not latest:
            return
        with self._write_lock:
            if self._build is not None:
                self._build.journal.update(latest)
            for ix in self._targets():
                with self._writer(ix) as writer:
                    for entry in latest.values():
                        writer.update_document(**document(entry))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove entries; unknown ids are ignored."""
        if not ids:
            return
        with self._write_lock:
            if self._build is not None:
                self._build.journal.update(dict.fromkeys(ids))
            for ix in self._targets():
                with self._writer(ix) as writer:
                    for doc_id in ids:
                        writer.delete_by_term("id", doc_id)

    def clear(self) -> None:
        """Remove every entry: an empty generation replaces the live one."""
        self.rebuild_into_new_generation(lambda write: None)

    def merge(self) -> None:
        """Merge small segments (the scheduled job)."""
        with self._write_lock, self._writer(self._check(), merge=True):
            pass

    def optimize(self) -> None:
        """Merge every segment into one (slow on a large index; for quiet hours)."""
        with self._write_lock, self._writer(self._check(), optimize=True):
            pass

    def rebuild_into_new_generation(self, feed: Feed) -> None:
        """Build a new generation from ``feed`` and swap it in (see module docstring).

        ``feed(write)`` must call ``write(chunk)`` for successive chunks of all
        entries; each chunk is committed on its own. Search keeps using the old
        generation (if it is healthy) until the swap."""
        old = None
        with self._build_lock:
            with self._write_lock:
                name, ix = self._new_generation()
                build = self._build = _Build(ix, name)
            logger.info("search index %s: building %s", self.directory, name)
            started = time.monotonic()
            count = 0
            try:

                def write(chunk: Sequence[Entry]) -> None:
                    nonlocal count
                    latest = {e.id: e for e in chunk}
                    with self._write_lock, self._writer(ix) as writer:
                        for entry in latest.values():
                            if entry.id not in build.journal:  # a newer change is there
                                writer.update_document(**document(entry))
                    count += len(latest)

                feed(write)
                with self._write_lock:
                    if build.journal:
                        with self._writer(ix) as writer:
                            for doc_id, entry in build.journal.items():
                                if entry is None:
                                    writer.delete_by_term("id", doc_id)
                                else:
                                    writer.update_document(**document(entry))
                    with self._state_lock:
                        self._finish_generation(name)
                        old = self._ix
                        ix.close()  # written; searched through the default storage
                        self._ix = index.open_dir(str(self.directory / name))
                        self._generation = name
                        self._problem = None
                        self._stamp = self._read_stamp()
                        self._rebuild_asked = 0.0
                    self._build = None
            except BaseException:
                with self._write_lock:
                    self._build = None
                ix.close()
                shutil.rmtree(self.directory / name, ignore_errors=True)
                raise
        if old is not None:
            old.close()
        for stale in self.directory.glob("gen-*"):
            if stale.name != name:
                shutil.rmtree(stale, ignore_errors=True)
        logger.info(
            "search index %s: %s live, %d entries in %.1f s",
            self.directory,
            name,
            count,
            time.monotonic() - started,
        )

    # Reading ------------------------------------------------------------------------

    def count(self) -> int:
        """How many entries the index holds."""
        return int(self._read(lambda s: s.doc_count()))

    def search(self, query: Query, text_for: TextSource) -> Results:
        """Answer ``query`` (see ``Backend.search``); ``IndexUnavailable`` while broken."""
        deadline = time.monotonic() + max(0.0, query.time_limit)
        parsed = analysis.parse_query(query.text)
        _validate(query)
        if query.principals is not None and not query.principals:
            return Results(total=0, hits=[], facets={name: {} for name in FACETS})
        found = self._read(lambda s: _run(s, parsed, query, deadline, self._columns))
        ids = [doc_id for doc_id, _ in found.page]
        snippets = analysis.snippets(ids, text_for(ids) if ids else {}, parsed, deadline)
        hits = [
            Hit(id=doc_id, score=score, snippet=snippets.get(doc_id, ""))
            for doc_id, score in found.page
        ]
        note = PARTIAL if found.partial else None
        if self.rebuilding:
            note = INCOMPLETE
        return Results(
            total=found.total,
            hits=hits,
            facets=found.facets,
            partial=found.partial,
            note=note,
        )


def _forget(exc: BaseException) -> None:
    """Whoosh leaves the file of a damaged segment open when reading it fails, reachable
    only from the traceback: drop the traceback and close that file now, quietly,
    rather than with a ResourceWarning at some later point. (Rare path: the brief
    change of the process-wide warning filters does not matter.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        while exc is not None:
            exc.__traceback__ = None
            exc = exc.__context__  # type: ignore[assignment]
        gc.collect()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _validate(q: Query) -> None:
    unknown = sorted(set(q.filters) - set(FILTERS))
    if unknown:
        raise QueryError(f"Cannot filter on {', '.join(unknown)}.")
    if q.sort not in SORTS:
        raise QueryError(f"Cannot sort by {q.sort!r}; choose one of {', '.join(SORTS)}.")
    if q.page < 1 or not 1 <= q.per_page <= 1000:
        raise QueryError("Page numbers start at 1 and a page holds 1 to 1000 results.")
    if q.date_from and q.date_to and q.date_from > q.date_to:
        raise QueryError("The start date is after the end date.")


class _Found:
    def __init__(
        self,
        total: int,
        page: list[tuple[str, float]],
        facets: dict[str, dict[str, int]],
        partial: bool,
    ) -> None:
        self.total = total
        self.page = page
        self.facets = facets
        self.partial = partial


def _expand(
    reader: Any, fieldname: str, prefix: str, cache: ColumnCache | None = None
) -> list[str]:
    """The most frequent terms of ``fieldname`` starting with ``prefix``: from the
    segments' cached term lists in ``cache``, else scanning ``reader``'s."""
    if cache is not None:
        found = expand(cache, reader, fieldname, prefix, PREFIX_SCAN, PREFIX_EXPANSIONS)
        if found is not None:
            return found
    scanned = []
    for n, (text, info) in enumerate(reader.iter_prefix(fieldname, prefix)):
        if n >= PREFIX_SCAN:
            break
        scanned.append((info.doc_frequency(), text))
    best = heapq.nlargest(PREFIX_EXPANSIONS, scanned)
    return [t.decode("utf-8") if isinstance(t, bytes) else t for _, t in best]


def _clause(searcher: Any, clause: analysis.Clause, gate: Any | None) -> Any:
    parts: list[Any] = []
    for fieldname in _TEXT_FIELDS:
        if clause.kind == "phrase":
            # One phrase per field whatever the stem variants (each position accepts
            # any of its stems), checked only where ``gate`` (the rights) lets through.
            length = len(clause.variants[0])
            positions = [[v[i] for v in clause.variants] for i in range(length)]
            parts.append(Near(fieldname, positions, gate))
            continue
        for variant in clause.variants:
            if clause.kind == "word":
                parts.append(query.Term(fieldname, variant[0]))
            else:
                parts.extend(
                    query.Term(fieldname, t)
                    for t in _expand(searcher.reader(), fieldname, variant[0])
                )
    if not parts:
        return query.NullQuery
    if len(parts) == 1:
        return parts[0]
    either = query.Or(parts)
    # A word is several terms (fields, stems), a prefix many more: preload their
    # postings a window at a time rather than walk a tree of union matchers per
    # document (measured at 100,000 documents: prefixes 2.5 to 3 times faster, words
    # and the whole query mix a quarter faster at p95).
    either.matcher_type = query.Or.ARRAY_MATCHER
    return either


def _terms(
    searcher: Any, clause: analysis.Clause, cache: ColumnCache | None = None
) -> tuple[tuple[str, str], ...]:
    """The terms of a word or prefix clause, in the order of ``_clause``'s query."""
    found: list[tuple[str, str]] = []
    for fieldname in _TEXT_FIELDS:
        for variant in clause.variants:
            if clause.kind == "word":
                found.append((fieldname, variant[0]))
            else:
                found.extend(
                    (fieldname, t) for t in _expand(searcher.reader(), fieldname, variant[0], cache)
                )
    return tuple(found)


def _phrase(clause: analysis.Clause) -> Phrase:
    """A phrase clause as ``_clause`` makes it: one ``Near`` per field, each position
    accepting any of its stems."""
    length = len(clause.variants[0])
    positions = tuple(tuple(dict.fromkeys(v[i] for v in clause.variants)) for i in range(length))
    return Phrase(_TEXT_FIELDS, positions)


def _option(searcher: Any, clause: analysis.Clause, cache: ColumnCache | None) -> Option:
    return _phrase(clause) if clause.kind == "phrase" else _terms(searcher, clause, cache)


def _plan(
    searcher: Any, parsed: analysis.ParsedQuery, q: Query, cache: ColumnCache | None = None
) -> Plan | None:
    """The query as a ``Plan`` for ``Gather.run_plan``, or None if it excludes a phrase
    (the parser makes none) or the searcher does not score with BM25F: then Whoosh's
    matchers answer it."""
    if any(c.kind == "phrase" for c in parsed.excluded):
        return None
    if type(searcher.weighting) is not scoring.BM25F:
        return None
    groups = tuple(tuple(_option(searcher, c, cache) for c in group) for group in parsed.groups)
    filters = tuple((name, q.filters[name]) for name in FILTERS if q.filters.get(name))
    dates = None
    if q.date_from or q.date_to:
        dates = (
            _yyyymmdd(q.date_from) if q.date_from else None,
            _yyyymmdd(q.date_to) if q.date_to else None,
        )
    excluded = tuple(t for c in parsed.excluded for t in _terms(searcher, c, cache))
    principals = tuple(q.principals) if q.principals is not None else None
    return Plan(groups, filters, dates, "registered_on", principals, excluded)


def _whoosh_query(searcher: Any, parsed: analysis.ParsedQuery, q: Query, gate: Any | None) -> Any:
    required: list[Any] = []
    for group in parsed.groups:
        options = [_clause(searcher, c, gate) for c in group]
        required.append(options[0] if len(options) == 1 else query.Or(options))
    for name in FILTERS:
        value = q.filters.get(name)
        if value:
            required.append(query.Term(name, value))
    if q.date_from or q.date_to:
        start = _yyyymmdd(q.date_from) if q.date_from else None
        end = _yyyymmdd(q.date_to) if q.date_to else None
        required.append(query.NumericRange("registered_on", start, end))
    if gate is not None:
        # The rights are part of the query (a constant score, so ranking is unchanged):
        # matching skips what the user may not see instead of scoring and then
        # filtering it; hits, totals and facets all come from the same matches.
        required.append(gate)
    positive: Any
    if not required:
        positive = query.Every()
    elif len(required) == 1:
        positive = required[0]
    else:
        positive = query.And(required)
    if parsed.excluded:
        positive = query.AndNot(
            positive, query.Or([_clause(searcher, c, None) for c in parsed.excluded])
        )
    return positive


def _yyyymmdd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def _ids(reader: Any, docnums: Sequence[int]) -> list[str]:
    """The ids of documents of one segment (for ordering documents of the same date)."""
    if len(docnums) <= 64:
        return [reader.stored_fields(d)["id"] for d in docnums]
    column = reader.column_reader("id", translate=True)
    return [column[d] for d in docnums]


def _run(
    searcher: Any,
    parsed: analysis.ParsedQuery,
    q: Query,
    deadline: float,
    columns: ColumnCache,
) -> _Found:
    limit = q.page * q.per_page
    sort = q.sort
    if sort == "relevance" and not parsed.groups:
        sort = "-date"  # nothing to rank by: newest first
    gather = Gather(columns, limit=limit, scored=sort == "relevance", deadline=deadline)
    plan = _plan(searcher, parsed, q, columns) if FAST_PATH else None
    partial = False
    try:
        if plan is not None:
            gather.run_plan(searcher, plan)
        else:
            gate = Allowed(q.principals, columns) if q.principals is not None else None
            searcher.search_with_collector(_whoosh_query(searcher, parsed, q, gate), gather)
    except TimeLimit:
        partial = True
    start = (q.page - 1) * q.per_page
    if sort == "relevance":
        ranked = gather.best()[start:limit]
        page = [(searcher.stored_fields(docnum)["id"], float(score)) for score, docnum in ranked]
    else:
        docnums = gather.by_number(
            "registered_on", limit=limit, reverse=sort == "-date", keys=_ids
        )[start:]
        page = [(searcher.stored_fields(docnum)["id"], 0.0) for docnum in docnums]
    return _Found(gather.total, page, gather.facets(FACETS), partial)
