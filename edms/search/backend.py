"""What every search backend offers, and the plain data that crosses the boundary.

A backend stores one entry per document (``Entry``) and answers ``Query`` objects
with ``Results``. It never decides who may see what: the caller passes the
principals of the user (``Query.principals``) and the backend returns only entries
that carry one of them, in hits, totals and facets alike.

Principals are strings: ``"all"`` is never stored; a document carries
``"dept:<id>"`` for its department and every ancestor department whose staff see it,
``"user:<id>"`` for each person it is shared with or assigned to. A query with
``principals=None`` sees everything (administrators, records officers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

#: Facets every backend counts.
FACETS = ("type", "department", "year", "status")
#: Fields a query may filter on exactly (besides the dates).
FILTERS = ("type", "department", "journal", "direction", "status", "language")
SORTS = ("relevance", "date", "-date")


@dataclass(frozen=True)
class Entry:
    """One document as the index sees it. ``body`` is the extracted text (may be empty);
    backends analyse it but never store it."""

    id: str  #: the document's UUID, as text
    title: str
    body: str
    registration_number: str
    type: str  #: document type code
    journal: str  #: journal code
    direction: str
    department: str  #: department code
    status: str
    correspondent: str
    registered_on: date
    updated_at: datetime
    language: str
    principals: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    text: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    principals: tuple[str, ...] | None = ()  #: None sees all; () sees nothing
    time_limit: float = 1.0  #: seconds; a slow query returns what it found so far


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    snippet: str  #: HTML-safe text with <mark>…</mark> around matches ("" without text)


@dataclass
class Results:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]  #: facet name -> value -> count
    partial: bool = False  #: the time limit cut the query short
    note: str | None = None  #: a message for the user (e.g. "index rebuilding")


class QueryError(ValueError):
    """A malformed query; the message says what is wrong in words a user understands."""


class IndexUnavailable(RuntimeError):
    """The index is missing, corrupt or being rebuilt: search answers with a note."""


#: Given document ids, their stored text (for snippets): the body kept in the database.
TextSource = Callable[[Sequence[str]], Mapping[str, str]]


class Backend(Protocol):
    """A search index. Implementations: ``WhooshBackend``, ``PostgresBackend``."""

    def upsert(self, entries: Sequence[Entry]) -> None:
        """Add or replace entries (by id), in one batch/commit."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove entries; unknown ids are ignored."""

    def search(self, query: Query, text_for: TextSource) -> Results:
        """Answer a query; ``QueryError`` for a malformed one; never raises for a slow one."""

    def clear(self) -> None:
        """Remove every entry (before a full rebuild)."""

    def count(self) -> int:
        """How many entries the index holds."""
