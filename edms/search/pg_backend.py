"""The PostgreSQL full-text search backend (``search_backend = "postgres"``).

For deployments with several application servers, where one Whoosh directory cannot
be shared: the index is the ``search_entries`` table, one row per document, with

- ``tsv``: the analysed title (weight A), registration number and correspondent (B)
  and body (D), with word positions, GIN-indexed;
- ``access``: the principals allowed to see the document, one lexeme each,
  GIN-indexed, so the permission filter is an indexed ``@@`` as well.

Text goes through ``edms.search.analysis`` in Python, exactly as for Whoosh. The
analysed terms are written as ``tsvector`` and ``tsquery`` *literals* (cast from
text), not through ``to_tsvector``/``to_tsquery``: those would run PostgreSQL's own
word parser over the terms again and split them where our rules do not (``o'zbek``
would become ``o`` and ``zbek``), so the two backends would disagree. The casts take
each quoted lexeme as it is; quotes and backslashes are escaped, so no user input
can produce a ``tsquery`` syntax error.

Limits of PostgreSQL that shape the entries (documented here, enforced in
``_document_vector``): a ``tsvector`` holds at most 1 MB of lexemes and positions,
at most 256 positions per lexeme, positions up to 16383, lexemes up to 2047 bytes.
The body contributes at most its first ``MAX_BODY_TERMS`` terms and stops adding
lexemes when the vector would pass ``MAX_VECTOR_BYTES``; terms longer than
``MAX_TERM_CHARS`` characters are not indexed (and cannot be searched for); positions
past 16383 are all 16383 (the word is still found, phrases across it are not).

Queries: ``analysis.parse_query`` decides what the user's text means (words AND-ed,
"phrases", prefix*, OR, -word/NOT, friendly ``QueryError``s), for both backends;
``build_tsquery`` writes its result as a tsquery. Each query word carries its Russian
and English stems as alternatives (OR-ed), as for Whoosh.

Time limit: every statement of a search runs under ``SET LOCAL statement_timeout``
set to what is left of ``Query.time_limit``; a cancelled statement (or a deadline
passed between two statements) gives ``Results(partial=True, note=TIMEOUT_NOTE)``
with the hits found so far, never an error.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg.errors
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from edms.db import NAMING_CONVENTION
from edms.errors import ConfigError
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
from edms.search.models import SearchEntry

__all__ = [
    "MAX_BODY_TERMS",
    "MAX_TERM_CHARS",
    "MAX_VECTOR_BYTES",
    "TIMEOUT_NOTE",
    "PostgresBackend",
    "build_tsquery",
]

logger = logging.getLogger(__name__)

#: Terms longer than this are neither indexed nor searchable (base64, hashes, junk);
#: 200 characters stay below PostgreSQL's 2047-byte lexeme limit in any script.
MAX_TERM_CHARS = 200
#: How much of a body is indexed, in terms.
MAX_BODY_TERMS = 200_000
#: Room for lexemes and positions in one tsvector (PostgreSQL allows 1 MB - 1 byte).
MAX_VECTOR_BYTES = 1_000_000
#: The note on a search cut short by its time limit.
TIMEOUT_NOTE = "The search took too long and may be incomplete; please refine it."

_MAX_POSITION = 16383  # PostgreSQL clamps larger positions to this one
_MAX_POSITIONS_PER_LEXEME = 256  # PostgreSQL keeps only the first 256
_MAX_PAGE = 10_000  # deeper pages are no use to anyone and cost an ever larger OFFSET
_MAX_PER_PAGE = 1000
_DELETE_CHUNK = 5000


def _lexeme(term: str) -> str:
    """A term as a quoted tsvector/tsquery lexeme literal."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _clean(term: str) -> str:
    return term.replace("\x00", "")


# --- queries -------------------------------------------------------------------------


def build_tsquery(parsed: analysis.ParsedQuery) -> str | None:
    """``analysis.parse_query``'s result as a ``tsquery`` literal: groups AND-ed (``&``),
    the clauses of a group and the variants of a clause OR-ed (``|``), phrases with
    ``<->``, prefixes with ``:*``, excluded clauses as ``& !(…)``. Every lexeme is
    quoted, so the literal is valid whatever was typed.

    "" when the query has no words (no text condition); ``None`` when it can match
    nothing (a required term longer than ``MAX_TERM_CHARS``, which is never indexed).
    """

    def clause(c: analysis.Clause) -> str | None:
        variants: list[str] = []
        for variant in c.variants:
            if not variant or any(not t or len(t) > MAX_TERM_CHARS for t in variant):
                continue  # cannot be in the index
            if c.kind == "prefix":
                variants.append(_lexeme(variant[0]) + ":*")
            else:
                variants.append(" <-> ".join(_lexeme(t) for t in variant))
        if not variants:
            return None
        return "(" + " | ".join(dict.fromkeys(variants)) + ")"

    parts: list[str] = []
    for group in parsed.groups:
        alternatives = [found for c in group if (found := clause(c)) is not None]
        if not alternatives:
            return None
        parts.append(
            "(" + " | ".join(alternatives) + ")" if len(alternatives) > 1 else alternatives[0]
        )
    for c in parsed.excluded:
        found = clause(c)
        if found is not None:
            parts.append("!" + found)
    return " & ".join(parts)


# --- the backend -------------------------------------------------------------------


class _TimeUp(Exception):
    """The time limit ran out between two statements."""


def _is_timeout(exc: sa.exc.DBAPIError) -> bool:
    return isinstance(exc.orig, psycopg.errors.QueryCanceled)


class PostgresBackend:
    """A search index in a PostgreSQL table (``search_entries``), used through its own
    connections and transactions on ``engine``, not the request's session."""

    def __init__(self, engine: Engine, *, table: sa.Table | None = None) -> None:
        if engine.dialect.name != "postgresql":
            raise ConfigError(
                f'search_backend = "postgres" needs a PostgreSQL database, not '
                f'{engine.dialect.name}; use search_backend = "whoosh" there'
            )
        self._engine = engine
        self._table = table if table is not None else cast(sa.Table, SearchEntry.__table__)
        self._schema: str | None = None  # set by for_tests: drop() removes it

    def __repr__(self) -> str:
        return f"<PostgresBackend {self._table.fullname}>"

    # --- tests ---

    @classmethod
    def for_tests(cls, url: str) -> PostgresBackend:
        """A backend on a table of its own, in a new schema of the database at ``url``
        (tests run in parallel); ``drop()`` removes the schema."""
        engine = sa.create_engine(url, pool_size=2, max_overflow=4)
        # Short enough that index names (ix_<schema>_<table>_<column>) stay within
        # PostgreSQL's 63 characters: truncated names end in a 4-digit hash, and two of
        # them collided now and then.
        schema = f"search_test_{uuid.uuid4().hex[:10]}"
        metadata = sa.MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
        table = cast(sa.Table, SearchEntry.__table__).to_metadata(metadata)
        with engine.begin() as conn:
            conn.execute(sa.schema.CreateSchema(schema))
            metadata.create_all(conn)
        backend = cls(engine, table=table)
        backend._schema = schema
        return backend

    def drop(self) -> None:
        """Remove the schema made by ``for_tests`` and close the engine's connections."""
        if self._schema is not None:
            with self._engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(self._schema, cascade=True, if_exists=True))
            self._schema = None
        self._engine.dispose()

    # --- writing ---

    def upsert(self, entries: Sequence[Entry]) -> None:
        """Add or replace entries in one transaction (one INSERT … ON CONFLICT, sent
        in pages of rows)."""
        if not entries:
            return
        by_id = {entry.id: entry for entry in entries}  # one row per id per statement
        rows = [self._row(entry) for entry in by_id.values()]
        t = self._table
        columns = [c.name for c in t.columns if c.name not in ("tsv", "access")]
        values: dict[str, Any] = {name: sa.bindparam(f"p_{name}") for name in columns}
        values["tsv"] = sa.cast(sa.bindparam("p_tsv", type_=sa.Text()), postgresql.TSVECTOR)
        values["access"] = sa.cast(sa.bindparam("p_access", type_=sa.Text()), postgresql.TSVECTOR)
        stmt = postgresql.insert(t).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.document_id],
            set_={name: stmt.excluded[name] for name in values if name != "document_id"},
        )
        with self._engine.begin() as conn:
            conn.execute(stmt, rows)
        logger.info("search index: %d entries written", len(rows))

    @staticmethod
    def _row(entry: Entry) -> dict[str, Any]:
        return {
            "p_document_id": entry.id,
            "p_title": _clean(entry.title),
            "p_registration_number": _clean(entry.registration_number),
            "p_type": _clean(entry.type),
            "p_journal": _clean(entry.journal),
            "p_direction": _clean(entry.direction),
            "p_department": _clean(entry.department),
            "p_status": _clean(entry.status),
            "p_correspondent": _clean(entry.correspondent),
            "p_language": _clean(entry.language),
            "p_registered_on": entry.registered_on,
            "p_year": entry.registered_on.year,
            "p_updated_at": entry.updated_at,
            "p_tsv": _document_vector(entry),
            "p_access": _access_vector(entry.principals),
        }

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        unique = list(dict.fromkeys(ids))
        removed = 0
        with self._engine.begin() as conn:
            for start in range(0, len(unique), _DELETE_CHUNK):
                chunk = unique[start : start + _DELETE_CHUNK]
                result = conn.execute(
                    sa.delete(self._table).where(self._table.c.document_id.in_(chunk))
                )
                removed += result.rowcount
        logger.info("search index: %d entries removed", removed)

    def clear(self) -> None:
        # DELETE rather than TRUNCATE: no exclusive lock, searches go on meanwhile.
        with self._engine.begin() as conn:
            conn.execute(sa.delete(self._table))
        logger.info("search index cleared")

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(self._table)) or 0)

    # --- searching ---

    def search(self, query: Query, text_for: TextSource) -> Results:
        """Answer ``query``; ``QueryError`` for a malformed one. A query slower than
        ``query.time_limit`` returns what it found with ``partial=True`` and a note."""
        parsed = analysis.parse_query(query.text)
        literal = build_tsquery(parsed)
        where = self._where(query, literal)
        if where is None:  # sees nothing, or asks for what cannot be indexed
            return Results(total=0, hits=[], facets={name: {} for name in FACETS})
        offset = (query.page - 1) * query.per_page
        t = self._table
        tsquery = _tsquery(literal) if literal else None
        score: sa.ColumnElement[Any] = (
            sa.func.ts_rank_cd(t.c.tsv, tsquery) if tsquery is not None else sa.literal(0.0)
        )
        hits_stmt = (
            sa.select(t.c.document_id, score.label("score"))
            .where(*where)
            .order_by(*self._order(query.sort, score if tsquery is not None else None))
            .limit(query.per_page)
            .offset(offset)
        )
        facets_stmt = self._facets_statement(where)

        rows: list[tuple[str, float]] = []
        total = 0
        facets: dict[str, dict[str, int]] = {}
        partial = False
        deadline = time.monotonic() + max(query.time_limit, 0.0)
        try:
            with self._reading() as conn:
                _limit_time(conn, deadline, first=True)
                rows = [(r.document_id, float(r.score)) for r in conn.execute(hits_stmt)]
                _limit_time(conn, deadline)
                total, facets = _facet_counts(conn.execute(facets_stmt))
        except _TimeUp:
            partial = True
        except sa.exc.OperationalError as exc:
            if not _is_timeout(exc):
                raise IndexUnavailable("the search database cannot be reached") from exc
            partial = True
        if partial:
            logger.warning("search cut short by its time limit of %.3fs", query.time_limit)
            # What we know for sure: the rows up to the end of this page.
            total = offset + len(rows) if rows else 0
            facets = {}
        hits = self._hits(rows, parsed, text_for, deadline)
        return Results(
            total=total,
            hits=hits,
            facets=facets,
            partial=partial,
            note=TIMEOUT_NOTE if partial else None,
        )

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.ProgrammingError as exc:
            if isinstance(exc.orig, psycopg.errors.UndefinedTable):
                raise IndexUnavailable(
                    f"the search table {self._table.fullname} is missing (run the migrations)"
                ) from exc
            raise

    def _where(self, query: Query, literal: str | None) -> list[sa.ColumnElement[bool]] | None:
        if query.sort not in SORTS:
            raise QueryError(f"Cannot sort by “{query.sort}”; choose one of {', '.join(SORTS)}.")
        if query.page < 1 or query.per_page < 1:
            raise QueryError("Page numbers and page sizes start at 1.")
        if query.page > _MAX_PAGE or query.per_page > _MAX_PER_PAGE:
            raise QueryError(
                f"Only the first {_MAX_PAGE} pages of at most {_MAX_PER_PAGE} results "
                "can be shown; refine the search."
            )
        t = self._table
        where: list[sa.ColumnElement[bool]] = []
        for name, value in query.filters.items():
            if name not in FILTERS:
                raise QueryError(f"Cannot filter on “{name}”; choose one of {', '.join(FILTERS)}.")
            if value:
                where.append(t.c[name] == _clean(value))
        if query.date_from is not None:
            where.append(t.c.registered_on >= query.date_from)
        if query.date_to is not None:
            where.append(t.c.registered_on <= query.date_to)
        if literal is None:
            return None
        if literal:
            where.append(t.c.tsv.bool_op("@@")(_tsquery(literal)))
        if query.principals is not None:
            principals = [_clean(p) for p in dict.fromkeys(query.principals)]
            lexemes = [_lexeme(p) for p in principals if p]
            if not lexemes:
                return None
            where.append(t.c.access.bool_op("@@")(_tsquery(" | ".join(lexemes))))
        return where

    def _order(self, sort: str, score: sa.ColumnElement[Any] | None) -> list[sa.ColumnElement[Any]]:
        t = self._table
        if sort == "date":
            return [t.c.registered_on.asc(), t.c.document_id.asc()]
        if sort == "relevance" and score is not None:
            return [score.desc(), t.c.registered_on.desc(), t.c.document_id.desc()]
        # "-date", and "relevance" without words to rank by
        return [t.c.registered_on.desc(), t.c.document_id.desc()]

    def _facets_statement(self, where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
        t = self._table
        columns = [t.c[name] for name in FACETS]
        return (
            sa.select(*columns, sa.func.grouping(*columns).label("g"), sa.func.count().label("n"))
            .where(*where)
            .group_by(
                # one scan for every facet and the total: (type), (department), …, ()
                sa.func.grouping_sets(*[sa.tuple_(c) for c in columns], sa.text("()"))
            )
        )

    @staticmethod
    def _hits(
        rows: list[tuple[str, float]],
        parsed: analysis.ParsedQuery,
        text_for: TextSource,
        deadline: float,
    ) -> list[Hit]:
        if not rows:
            return []
        ids = [document_id for document_id, _ in rows]
        snippets = analysis.snippets(ids, text_for(ids), parsed, deadline)
        return [
            Hit(id=document_id, score=score, snippet=snippets.get(document_id, ""))
            for document_id, score in rows
        ]


def _tsquery(literal: str) -> sa.ColumnElement[Any]:
    return sa.cast(sa.literal(literal, sa.Text()), postgresql.TSQUERY)


def _limit_time(conn: Connection, deadline: float, *, first: bool = False) -> None:
    """Give the next statement what is left of the time limit (``SET LOCAL``)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 and not first:
        raise _TimeUp
    if not remaining <= 86_400:  # also for an infinite or NaN time limit
        remaining = 86_400
    # statement_timeout = 0 would mean "no limit": never less than 1 ms
    ms = max(1, math.ceil(remaining * 1000))
    conn.execute(
        sa.select(sa.func.set_config("statement_timeout", str(ms), True)),
    )


def _facet_counts(rows: sa.Result[Any]) -> tuple[int, dict[str, dict[str, int]]]:
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    total = 0
    # GROUPING(type, department, year, status) sets the bit of each column left out:
    # type is the highest bit, status the lowest.
    width = len(FACETS)
    by_mask = {((1 << width) - 1) ^ (1 << (width - 1 - i)): name for i, name in enumerate(FACETS)}
    for row in rows:
        mapping = row._mapping
        if mapping["g"] == (1 << width) - 1:
            total = int(mapping["n"])
            continue
        name = by_mask[mapping["g"]]
        facets[name][str(mapping[name])] = int(mapping["n"])
    return total, facets


# --- vectors -----------------------------------------------------------------------


def _document_vector(entry: Entry) -> str:
    """The ``tsv`` of an entry as a tsvector literal: analysed terms with positions and
    weights, each field starting two positions after the previous one ends so that no
    phrase matches across two fields."""
    positions: dict[str, list[str]] = {}
    size = 8
    position = 0
    fields: list[tuple[str, list[str]]] = [
        ("A", analysis.terms(entry.title)),
        ("B", analysis.terms(f"{entry.registration_number} {entry.correspondent}")),
        ("D", analysis.terms(entry.body)[:MAX_BODY_TERMS]),
    ]
    for weight, found in fields:
        position += 1
        for term in found:
            term = _clean(term)
            position += 1
            if not term or len(term) > MAX_TERM_CHARS:
                continue
            at = positions.get(term)
            if at is None:
                cost = len(term.encode()) + 8
                if size + cost > MAX_VECTOR_BYTES:
                    continue
                at = positions[term] = []
            elif len(at) >= _MAX_POSITIONS_PER_LEXEME:
                continue
            else:
                cost = 2
            mark = f"{min(position, _MAX_POSITION)}{weight}"
            if at and at[-1] == mark:
                continue  # past the last position everything lands on it
            if size + cost > MAX_VECTOR_BYTES:
                continue
            at.append(mark)
            size += cost
    return " ".join(f"{_lexeme(term)}:{','.join(at)}" for term, at in positions.items())


def _access_vector(principals: Sequence[str]) -> str:
    """The ``access`` tsvector literal: each principal (``dept:12``) one lexeme, as is."""
    return " ".join(_lexeme(p) for p in dict.fromkeys(_clean(p) for p in principals) if p)
