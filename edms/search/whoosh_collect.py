"""Matching and collecting for ``WhooshBackend``: the parts of a search that decide its speed.

Whoosh's own building blocks, measured at 100,000 documents (docs/PERFORMANCE.md),
spend most of a search on three things this module does differently:

- Facets and date sorting. ``FacetCollector`` and ``SortingCollector`` open the
  column readers of every facet field in every segment on every search, and opening
  one reads that segment's offset table: time proportional to the number of
  documents in the index, whatever the number of hits. ``SegmentColumns`` reads each
  column of a segment once into compact arrays (codes into a table of values for the
  facets, yyyymmdd integers for the dates) and ``ColumnCache`` keeps them across
  searchers by segment id: segments never change once written (deletions are kept
  apart and the matchers already skip deleted documents).
- Counting facets per document in Python. ``Gather`` only appends each matching
  document number to a list; the facets are counted per segment at the end with
  ``Counter(map(codes.__getitem__, docs))``, which runs in C.
- Phrases. Whoosh's ``Phrase`` checks word positions in every document holding all
  the words before the permission filter is applied, and a query word with two stems
  makes four phrases. ``Near`` puts the permission query inside the intersection, so
  positions are read only in documents the user may see, and accepts alternatives for
  each position, so one phrase covers every stem variant.

``Gather`` also enforces the time limit (checked every ``CLOCK_EVERY`` documents) and
keeps the top documents by score when ranking by relevance.
"""

from __future__ import annotations

import heapq
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress
from math import log
from operator import itemgetter
from typing import Any

from whoosh import formats, query
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.collectors import Collector
from whoosh.compat import loads
from whoosh.matching import ListMatcher, NullMatcher
from whoosh.matching.binary import IntersectionMatcher, UnionMatcher
from whoosh.matching.wrappers import WrappingMatcher
from whoosh.reading import TermNotFound
from whoosh.searching import TimeLimit
from whoosh.system import _INT_SIZE
from whoosh.util import make_binary_tree
from whoosh.util.numeric import byte_to_length

__all__ = [
    "CLOCK_EVERY",
    "POSTINGS_PER_DOC",
    "Allowed",
    "ColumnCache",
    "Gather",
    "Near",
    "Phrase",
    "Plan",
    "SegmentColumns",
    "expand",
]

#: Documents collected between two looks at the clock.
CLOCK_EVERY = 64
#: Unions of rights (one per set of principals) kept per segment.
UNIONS_KEPT = 64
#: Postings (document number and weight, 8 bytes) of query terms kept per segment, per
#: document of the segment: at most 32 x 8 = 256 bytes a document, 25 MB for 100,000
#: documents; the terms used least recently go first.
POSTINGS_PER_DOC = 32
#: Below this many postings per candidate document, a term's postings are scanned (in C)
#: rather than each candidate looked up in them by binary search (in Python).
SCAN_RATIO = 16
#: Posting blocks with their values (positions) kept per segment for phrases, per
#: document of the segment (some 60 bytes a posting: 50 MB for 100,000 documents;
#: measured at 100,000 documents, 4 gave a mix p95 of 99-100 ms, 8 gave 90 ms).
BLOCK_POSTINGS_PER_DOC = 8
#: Terms of one field of one segment kept in order with their document frequencies
#: (for expanding prefixes by binary search); a field with more is scanned as before.
LEXICON_MAX = 200_000


class SegmentColumns:
    """The facet and date columns of one segment, read once into arrays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facets: dict[str, tuple[array[int], list[Any]]] = {}
        self._numbers: dict[str, array[int]] = {}
        self._postings: dict[tuple[str, str], array[int]] = {}
        self._unions: OrderedDict[tuple[str, ...], array[int]] = OrderedDict()
        self._terms: OrderedDict[tuple[str, str], tuple[array[int], array[float]]] = OrderedDict()
        self._terms_size = 0
        self._lengths: dict[str, array[int]] = {}
        self._dated: dict[str, tuple[array[int], array[int]]] = {}
        self._lexicons: dict[str, tuple[list[bytes], array[int]] | None] = {}
        self._blocks: OrderedDict[int, tuple[Any, Any, Any]] = OrderedDict()
        self._blocks_size = 0

    def block(self, m: Any, count: int) -> None:
        """Load the current block of the postings matcher ``m`` (documents, weights,
        values), from the blocks read most recently if there, ``BLOCK_POSTINGS_PER_DOC``
        postings per document of the segment (``count`` documents) kept in all."""
        key = m._dataoffset
        with self._lock:
            found = self._blocks.get(key)
            if found is not None:
                self._blocks.move_to_end(key)
        if found is None:
            if m._data is None:
                m._read_data()
            raw = m._data[0]
            m._ids = raw if m._byteids else array("I", accumulate(raw))
            m._read_weights()
            m._read_values()
            found = (m._ids, m._weights, m._values)
            budget = BLOCK_POSTINGS_PER_DOC * max(count, 1)
            with self._lock:
                if key not in self._blocks:
                    self._blocks[key] = found
                    self._blocks_size += len(found[0])
                    while self._blocks_size > budget and len(self._blocks) > 1:
                        _, (ids, _, _) = self._blocks.popitem(last=False)
                        self._blocks_size -= len(ids)
        m._ids, m._weights, m._values = found

    def lexicon(self, reader: Any, fieldname: str) -> tuple[list[bytes], array[int]] | None:
        """``(texts, frequencies)``: the terms of ``fieldname`` in order and their
        document frequencies, or None if the field has more than ``LEXICON_MAX`` terms."""
        if fieldname in self._lexicons:
            return self._lexicons[fieldname]
        texts: list[bytes] = []
        frequencies: array[int] = array("q")
        found: tuple[list[bytes], array[int]] | None = (texts, frequencies)
        for text, info in reader.iter_field(fieldname):
            if len(texts) >= LEXICON_MAX:
                found = None
                break
            texts.append(text)
            frequencies.append(info.doc_frequency())
        with self._lock:
            self._lexicons.setdefault(fieldname, found)
        return found

    def term(self, reader: Any, fieldname: str, text: str) -> tuple[array[int], array[float]]:
        """``(documents, weights)`` of a term in order (deleted documents included);
        the terms used most recently are kept, ``POSTINGS_PER_DOC`` postings per
        document of the segment in all."""
        key = (fieldname, text)
        with self._lock:
            found = self._terms.get(key)
            if found is not None:
                self._terms.move_to_end(key)
                return found
        found = _read_postings(reader, fieldname, text)
        budget = POSTINGS_PER_DOC * max(reader.doc_count_all(), 1)
        with self._lock:
            if key not in self._terms:
                self._terms[key] = found
                self._terms_size += len(found[0])
                while self._terms_size > budget and len(self._terms) > 1:
                    _, (ids, _) = self._terms.popitem(last=False)
                    self._terms_size -= len(ids)
        return found

    def lengths(self, reader: Any, fieldname: str) -> array[int]:
        """The length of field ``fieldname`` in each document (as Whoosh scores it)."""
        found = self._lengths.get(fieldname)
        if found is None:
            with self._lock:
                found = self._lengths.get(fieldname)
                if found is None:
                    found = self._lengths[fieldname] = _read_lengths(reader, fieldname)
        return found

    def dated(self, reader: Any, fieldname: str) -> tuple[array[int], array[int]]:
        """``(values, documents)``: the documents ordered by the numeric column
        ``fieldname``, and their values in that order (for ranges by binary search)."""
        found = self._dated.get(fieldname)
        if found is None:
            values = self.numbers(reader, fieldname)
            order = sorted(range(len(values)), key=values.__getitem__)
            made = (array("q", map(values.__getitem__, order)), array("I", order))
            with self._lock:
                found = self._dated.setdefault(fieldname, made)
        return found

    def postings(self, reader: Any, fieldname: str, text: str) -> array[int]:
        """The documents of a term (deleted ones included), in order."""
        key = (fieldname, text)
        found = self._postings.get(key)
        if found is None:
            ids: array[int] = array("I")
            if (fieldname, text) in reader:
                # Straight from the segment's postings: deleted documents are left in
                # (the set of deletions changes while the segment does not).
                raw = reader._text_to_bytes(fieldname, text)
                matcher = reader._terms.matcher(fieldname, raw, reader.schema[fieldname].format)
                ids.extend(matcher.all_ids())
            with self._lock:
                found = self._postings.setdefault(key, ids)
        return found

    def union(self, reader: Any, fieldname: str, texts: Sequence[str]) -> array[int]:
        """The documents holding any of ``texts`` (deleted ones included), in order;
        the unions asked for most recently are kept."""
        key = (fieldname, *sorted(set(texts)))
        with self._lock:
            found = self._unions.get(key)
            if found is not None:
                self._unions.move_to_end(key)
                return found
        lists = [self.postings(reader, fieldname, t) for t in key[1:]]
        found = lists[0] if len(lists) == 1 else array("I", sorted(set().union(*lists)))
        with self._lock:
            self._unions[key] = found
            while len(self._unions) > UNIONS_KEPT:
                self._unions.popitem(last=False)
        return found

    def facet(self, reader: Any, fieldname: str) -> tuple[array[int], list[Any]]:
        """``(codes, values)``: document ``d`` has the value ``values[codes[d]]``."""
        found = self._facets.get(fieldname)
        if found is None:
            with self._lock:
                found = self._facets.get(fieldname)
                if found is None:
                    table: dict[Any, int] = {}
                    codes = array(
                        "I",
                        [
                            table.setdefault(v, len(table))
                            for v in reader.column_reader(fieldname, translate=True)
                        ],
                    )
                    found = self._facets[fieldname] = (codes, list(table))
        return found

    def numbers(self, reader: Any, fieldname: str) -> array[int]:
        """The values of a numeric column, one per document."""
        found = self._numbers.get(fieldname)
        if found is None:
            with self._lock:
                found = self._numbers.get(fieldname)
                if found is None:
                    column = reader.column_reader(fieldname, translate=True)
                    found = self._numbers[fieldname] = array("q", (int(v or 0) for v in column))
        return found


class ColumnCache:
    """``SegmentColumns`` by segment id, for the segments searched most recently.

    Shared by the threads of one backend; a segment merged away drops out once
    ``limit`` newer segments have been used (an index has a few dozen at most)."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._segments: OrderedDict[str, SegmentColumns] = OrderedDict()

    def get(self, reader: Any) -> SegmentColumns:
        segment = reader.segment()
        if segment is None:  # an empty index
            return SegmentColumns()
        key = segment.segment_id()
        with self._lock:
            found = self._segments.get(key)
            if found is None:
                found = self._segments[key] = SegmentColumns()
                while len(self._segments) > self.limit:
                    self._segments.popitem(last=False)
            else:
                self._segments.move_to_end(key)
            return found

    def clear(self) -> None:
        with self._lock:
            self._segments.clear()


def expand(
    cache: ColumnCache, reader: Any, fieldname: str, prefix: str, scan: int, keep: int
) -> list[str] | None:
    """The ``keep`` most frequent of the first ``scan`` terms of ``fieldname`` starting
    with ``prefix`` (as ``reader.iter_prefix`` lists them, the document frequencies
    summed over the segments), from each segment's cached term list; None where a
    segment has no such list (then the caller scans ``reader`` itself)."""
    raw = reader._text_to_bytes(fieldname, prefix)
    totals: dict[bytes, int] = {}
    for leaf, _ in reader.leaf_readers():
        if not hasattr(leaf, "segment") or leaf.segment() is None:
            return None
        lexicon = cache.get(leaf).lexicon(leaf, fieldname)
        if lexicon is None:
            return None
        texts, frequencies = lexicon
        i = bisect_left(texts, raw)
        end = min(i + scan, len(texts))
        get = totals.get
        while i < end:
            text = texts[i]
            if not text.startswith(raw):
                break
            totals[text] = get(text, 0) + frequencies[i]
            i += 1
    first = sorted(totals)[:scan]
    best = heapq.nlargest(keep, [(totals[t], t) for t in first])
    return [t.decode("utf-8") for _, t in best]


def _idf(cache: ColumnCache, searcher: Any, fieldname: str, text: str) -> float:
    """``searcher.idf`` as ``WeightingModel.idf`` works it out (BM25F's), the document
    frequencies taken from the segments' cached term lists where they have them."""
    parent = searcher.get_parent()
    reader = parent.reader()
    raw = reader._text_to_bytes(fieldname, text)
    n = 0
    for leaf, _ in reader.leaf_readers():
        if not hasattr(leaf, "segment") or leaf.segment() is None:
            return float(searcher.idf(fieldname, text))
        lexicon = cache.get(leaf).lexicon(leaf, fieldname)
        if lexicon is None:
            return float(searcher.idf(fieldname, text))
        texts, frequencies = lexicon
        i = bisect_left(texts, raw)
        if i < len(texts) and texts[i] == raw:
            n += frequencies[i]
    return log(parent.doc_count_all() / (n + 1)) + 1


def _read_postings(reader: Any, fieldname: str, text: str) -> tuple[array[int], array[float]]:
    """A term's documents and weights, straight from the segment's postings (deleted
    documents left in: the set of deletions changes while the segment does not)."""
    ids: array[int] = array("I")
    weights: array[float] = array("f")
    raw = reader._text_to_bytes(fieldname, text)
    try:
        m = reader._terms.matcher(fieldname, raw, reader.schema[fieldname].format)
    except TermNotFound:
        return ids, weights
    if isinstance(m, W3LeafMatcher):
        # A block at a time, decoded as ``_read_ids``/``_read_weights`` do but in C
        # (Whoosh's all_ids() is a generator stepping every posting).
        while m.is_active():
            if m._data is None:
                m._read_data()
            block_ids, block_weights = m._data[0], m._data[1]
            if m._byteids:
                ids.extend(iter(block_ids))
            else:
                ids.extend(accumulate(block_ids))
            if block_weights is None:
                weights.extend(array("f", [1.0]) * m._blocklength)
            elif isinstance(block_weights, float):
                weights.extend(array("f", [block_weights]) * m._blocklength)
            else:
                weights.extend(block_weights if _same(block_weights, "f") else iter(block_weights))
            m._next_block()
    else:  # pragma: no cover - another codec
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
    return ids, weights


def _same(values: Any, typecode: str) -> bool:
    return isinstance(values, array) and values.typecode == typecode


def _read_lengths(reader: Any, fieldname: str) -> array[int]:
    count = reader.doc_count_all()
    column = None
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is not None and hasattr(column, "_dbfile") and column._fixedlen == 1:
        size = min(column._count, count)
        raw = column._dbfile.get(column._basepos, size) + bytes(count - size)
        return array("I", map(byte_to_length, raw))
    return array(  # pragma: no cover - another codec
        "I", (reader.doc_field_length(d, fieldname, 0) or 0 for d in range(count))
    )


@dataclass(frozen=True)
class Phrase:
    """Words at consecutive positions of any one of ``fields`` (as ``Near`` in each
    field, joined by OR): ``positions[i]`` holds the alternatives (stems) for the i-th
    word."""

    fields: tuple[str, ...]
    positions: tuple[tuple[str, ...], ...]


#: One option of a group: the terms ``(field, text)`` of a word or prefix clause (any of
#: them matches), or a phrase.
Option = tuple[tuple[str, str], ...] | Phrase


@dataclass(frozen=True)
class Plan:
    """A query that ``Gather.run_plan`` answers from cached postings, without Whoosh's
    matchers. The same query as the Whoosh one built from it, scored alike (BM25F as
    ``weighting``, the filters adding their weight, the date range 1):

    - ``groups``: all must match; a group's options are alternatives; an option is the
      terms ``(field, text)`` of one clause (any of them matches), or a ``Phrase``.
    - ``filters``: terms every match holds (ID fields).
    - ``dates``: ``(start, end)`` inclusive on the numeric column ``date_field``.
    - ``principals``: the documents of any of them (field ``principals``), or all.
    - ``excluded``: terms no match holds."""

    groups: tuple[tuple[Option, ...], ...]
    filters: tuple[tuple[str, str], ...] = ()
    dates: tuple[int | None, int | None] | None = None
    date_field: str = "registered_on"
    principals: tuple[str, ...] | None = None
    excluded: tuple[tuple[str, str], ...] = ()


def _common(docs: set[int], ids: array[int]) -> Iterable[int]:
    """The members of ``docs`` that are in the sorted ``ids``."""
    if len(docs) * SCAN_RATIO < len(ids):
        found = []
        n = len(ids)
        for d in docs:
            i = bisect_left(ids, d)
            if i < n and ids[i] == d:
                found.append(d)
        return found
    return docs.intersection(ids)


def _pairs(docs: set[int], ids: array[int], weights: array[float]) -> Iterable[tuple[int, float]]:
    """``(document, weight)`` of the postings whose document is in ``docs``."""
    if len(docs) * SCAN_RATIO < len(ids):
        found = []
        n = len(ids)
        for d in docs:
            i = bisect_left(ids, d)
            if i < n and ids[i] == d:
                found.append((d, weights[i]))
        return found
    keep = list(map(docs.__contains__, ids))
    return zip(compress(ids, keep), compress(weights, keep), strict=False)


#: Where each phrase option was found, with the weights of its terms there:
#: ``(group, option, field)`` -> ``[(text, {document: weight})]``.
_Verified = dict[tuple[int, int, str], list[tuple[str, dict[int, float]]]]


#: Below this many postings of a term per document still in question, each of those
#: documents is looked for in the term's blocks (skipping the blocks holding none of them
#: on their header); otherwise every block of the term is read.
SEEK_RATIO = 4


def _postings_in(
    columns: SegmentColumns, reader: Any, fieldname: str, text: str, docs: set[int]
) -> dict[int, tuple[float, Any]]:
    """``document -> (weight, encoded value)`` of a term's postings in ``docs``, read
    straight from the segment's blocks (each block read once at most)."""
    found: dict[int, tuple[float, Any]] = {}
    if not docs or (fieldname, text) not in reader:
        return found
    raw = reader._text_to_bytes(fieldname, text)
    m = reader._terms.matcher(fieldname, raw, reader.schema[fieldname].format)
    if not isinstance(m, W3LeafMatcher):  # pragma: no cover - another codec
        while m.is_active():
            if m.id() in docs:
                found[m.id()] = (m.weight(), m.value())
            m.next()
        return found
    count = reader.doc_count_all()
    if len(docs) * SEEK_RATIO < reader.doc_frequency(fieldname, text):
        for d in sorted(docs):
            if d > m.block_max_id():
                # Blocks holding none of ``docs`` skipped on their header.
                while m.is_active() and d > m.block_max_id():
                    m._next_block()
                if not m.is_active():
                    break
            if m._ids is None:
                columns.block(m, count)
            ids = m._ids
            j = bisect_left(ids, d, m._i)
            m._i = j  # j < len(ids): d <= the block's last document
            if ids[j] == d:
                found[d] = (m.weight(), m.value())
        return found
    while m.is_active():
        columns.block(m, count)
        ids = m._ids
        keep = list(map(docs.__contains__, ids))
        found.update(
            zip(
                compress(ids, keep),
                zip(compress(m._weights, keep), compress(m._values, keep), strict=True),
                strict=True,
            )
        )
        m._next_block()
    return found


def _phrase_in(
    columns: SegmentColumns, reader: Any, fieldname: str, phrase: Phrase, docs: set[int]
) -> tuple[set[int], list[tuple[str, dict[int, float]]]]:
    """The members of ``docs`` where the words of ``phrase`` follow one another in
    ``fieldname``, and the weights of its terms there (``(text, {document: weight})``,
    a term once per position it fills, for scoring as ``Near`` does)."""
    positions = phrase.positions
    if not positions or not docs:
        return set(), []
    # The rarest position first: the others are read only where it is.
    order = sorted(
        range(len(positions)),
        key=lambda i: sum(reader.doc_frequency(fieldname, t) for t in positions[i]),
    )
    read: dict[int, list[tuple[str, dict[int, tuple[float, Any]]]]] = {}
    alive = docs
    for i in order:
        at: list[tuple[str, dict[int, tuple[float, Any]]]] = []
        holding: set[int] = set()
        for text in positions[i]:
            found = _postings_in(columns, reader, fieldname, text, alive)
            if found:
                at.append((text, found))
                holding.update(found)
        read[i] = at
        alive = holding
        if not alive:
            return set(), []
    # Every document left holds every position's word: now the positions.
    fmt = reader.schema[fieldname].format
    decode = _positions if type(fmt) is formats.Positions else fmt.decoder("positions")
    hits: set[int] = set()
    for d in alive:
        starts: set[int] | None = None
        for i in order:
            shifted: set[int] = set()
            for _, found in read[i]:
                posting = found.get(d)
                if posting is not None:
                    shifted.update(map(i.__rsub__, decode(posting[1])) if i else decode(posting[1]))
            starts = shifted if starts is None else starts & shifted
            if not starts:
                break
        if starts:
            hits.add(d)
    weights = [
        (text, {d: found[d][0] for d in hits if d in found})
        for i in range(len(positions))
        for text, found in read[i]
    ]
    return hits, weights


def _positions(value: bytes) -> Iterable[int]:
    """``formats.Positions.decode_positions``, the deltas added up in C."""
    if not value.endswith(b"."):
        value += b"."
    return accumulate(loads(value[_INT_SIZE:]))


def _has_phrase(group: Sequence[Option]) -> bool:
    return any(isinstance(option, Phrase) for option in group)


def _terms_of(option: Option) -> tuple[tuple[str, str], ...]:
    return () if isinstance(option, Phrase) else option


class _Part:
    """The matches of one segment."""

    __slots__ = ("columns", "docs", "offset", "reader", "terms")

    def __init__(self, columns: SegmentColumns, reader: Any, offset: int) -> None:
        self.columns = columns
        self.reader = reader
        self.offset = offset
        self.docs: list[int] = []
        # The postings this query has used, kept until it ends (a prefix may use more
        # than the cache keeps: each is read once all the same).
        self.terms: dict[tuple[str, str], tuple[array[int], array[float]]] = {}

    def term(self, fieldname: str, text: str) -> tuple[array[int], array[float]]:
        found = self.terms.get((fieldname, text))
        if found is None:
            found = self.terms[fieldname, text] = self.columns.term(self.reader, fieldname, text)
        return found


class Gather(Collector):
    """Collects every match: the total, the facet counts, and either the ``limit`` best
    scores (``scored``) or, for date sorting, the document numbers to sort afterwards.

    Raises ``TimeLimit`` once the clock passes ``deadline``; what was gathered so far
    stays usable."""

    def __init__(self, cache: ColumnCache, *, limit: int, scored: bool, deadline: float) -> None:
        super().__init__()
        self.cache = cache
        self.limit = limit
        self.scored = scored
        self.deadline = deadline
        self.parts: list[_Part] = []
        self.top: list[tuple[float, int]] = []  # heap of (score, -global docnum)
        self.total = 0

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.parts = []
        self.top = []
        self.total = 0

    def set_subsearcher(self, subsearcher: Any, offset: int) -> None:
        super().set_subsearcher(subsearcher, offset)
        reader = subsearcher.reader()
        self.parts.append(_Part(self.cache.get(reader), reader, offset))

    def collect_matches(self) -> None:
        matcher = self.matcher
        part = self.parts[-1]
        docs = part.docs
        deadline = self.deadline
        clock = time.monotonic
        n = 0
        if not self.scored:
            for docnum in matcher.all_ids():
                docs.append(docnum)
                n += 1
                if n % CLOCK_EVERY == 0 and clock() > deadline:
                    self.total += n
                    raise TimeLimit
            self.total += n
            return
        top = self.top
        limit = self.limit
        offset = part.offset
        push, pushpop = heapq.heappush, heapq.heappushpop
        try:
            while matcher.is_active():
                docnum = matcher.id()
                docs.append(docnum)
                n += 1
                if limit:
                    item = (matcher.score(), -(offset + docnum))
                    if len(top) < limit:
                        push(top, item)
                    elif item > top[0]:
                        pushpop(top, item)
                if n % CLOCK_EVERY == 0 and clock() > deadline:
                    raise TimeLimit
                matcher.next()
        finally:
            self.total += n

    def collect(self, sub_docnum: int) -> None:  # pragma: no cover - collect_matches does it
        raise NotImplementedError

    # Matching on cached postings ---------------------------------------------------

    def run_plan(self, searcher: Any, plan: Plan) -> None:
        """Answer ``plan`` from cached postings with set operations (in C), then score
        only the matches: what ``search_with_collector`` would gather for the same query,
        without stepping Whoosh's matchers through every document. Raises ``TimeLimit``
        past the deadline, keeping the segments finished so far."""
        self.parts = []
        self.top = []
        self.total = 0
        weighting = searcher.weighting
        stats: dict[tuple[str, str], tuple[float, float]] = {}
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            if reader.doc_count_all() == 0:
                continue
            if time.monotonic() > self.deadline:
                raise TimeLimit
            part = _Part(self.cache.get(reader), reader, offset)
            matched, verified = self._match(part, plan)
            scored: list[tuple[float, int]] = []
            if self.scored and self.limit and matched:
                scores = self._score(searcher, weighting, part, plan, matched, verified, stats)
                scored = heapq.nlargest(
                    self.limit, zip(scores.values(), [-(offset + d) for d in scores], strict=True)
                )
            part.docs = sorted(matched)
            self.parts.append(part)
            self.total += len(matched)
            if scored:
                self.top = heapq.nlargest(self.limit, self.top + scored)

    def _check_clock(self) -> None:
        if time.monotonic() > self.deadline:
            raise TimeLimit

    def _match(self, part: _Part, plan: Plan) -> tuple[set[int], _Verified]:
        """The documents of one segment matching ``plan``, and where each phrase option
        of the groups was found: ``(group, option, field)`` -> documents."""
        reader, columns = part.reader, part.columns
        deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
        within: set[int] | None = None  # None: every document
        if plan.principals is not None:
            within = set(columns.union(reader, "principals", plan.principals))
        for fieldname, text in plan.filters:
            ids = part.term(fieldname, text)[0]
            within = set(ids) if within is None else set(_common(within, ids))
        if plan.dates is not None:
            values, docs = columns.dated(reader, plan.date_field)
            start, end = plan.dates
            lo = bisect_left(values, 1 if start is None else start)
            hi = len(values) if end is None else bisect_right(values, end)
            in_range = docs[lo:hi]
            within = set(in_range) if within is None else within.intersection(in_range)
        if within is not None and deleted:
            within.difference_update(deleted)
        # The group with the fewest postings first: the others are looked up in it.
        # Groups holding a phrase come last, once everything else has narrowed the
        # documents down: only there are the phrase's postings and positions read.
        words = [g for g, group in enumerate(plan.groups) if not _has_phrase(group)]
        words.sort(
            key=lambda g: sum(
                len(part.term(f, t)[0]) for option in plan.groups[g] for f, t in _terms_of(option)
            )
        )
        for g in words:
            found: set[int] = set()
            for option in plan.groups[g]:
                for fieldname, text in _terms_of(option):
                    ids = part.term(fieldname, text)[0]
                    if within is None:
                        found.update(ids)
                    else:
                        found.update(_common(within, ids))
            within = found
            self._check_clock()
        if within is None:
            within = set(range(reader.doc_count_all()))
        if deleted:
            within.difference_update(deleted)
        for fieldname, text in plan.excluded:
            if not within:
                break
            ids = part.term(fieldname, text)[0]
            within.difference_update(list(_common(within, ids)))
        verified: _Verified = {}
        for g, group in enumerate(plan.groups):
            if not within or not _has_phrase(group):
                continue
            ok: set[int] = set()
            for o, option in enumerate(group):
                if isinstance(option, Phrase):
                    for fieldname in option.fields:
                        hits, weights = _phrase_in(columns, reader, fieldname, option, within)
                        if hits:
                            verified[g, o, fieldname] = weights
                            ok.update(hits)
                        self._check_clock()
                    continue
                for fieldname, text in option:
                    ok.update(_common(within, part.term(fieldname, text)[0]))
            within = ok
        return within, verified

    def _score(
        self,
        searcher: Any,
        weighting: Any,
        part: _Part,
        plan: Plan,
        matched: set[int],
        verified: _Verified,
        stats: dict[tuple[str, str], tuple[float, float]],
    ) -> dict[int, float]:
        """The score of each match, as Whoosh's matchers add it up: BM25F of each term
        of the groups found in the document (one term in several clauses counts each
        time; a phrase's words count in each field where the phrase is found, once per
        position), the weight of each filter term, 1 for the date range."""
        reader, columns = part.reader, part.columns
        scores = dict.fromkeys(matched, 0.0)
        schema = searcher.schema
        K1 = weighting.K1
        k1_plus_1 = K1 + 1

        def add(fieldname: str, text: str, docs: set[int]) -> None:
            ids, weights = part.term(fieldname, text)
            if ids and docs:
                add_weights(fieldname, text, _pairs(docs, ids, weights))

        def add_weights(fieldname: str, text: str, pairs: Iterable[tuple[int, float]]) -> None:
            if not schema[fieldname].scorable:
                for d, w in pairs:
                    scores[d] += w
                return
            found = stats.get((fieldname, text))
            if found is None:
                found = stats[fieldname, text] = (
                    _idf(self.cache, searcher, fieldname, text),
                    searcher.avg_field_length(fieldname) or 1,
                )
            idf, avgfl = found
            B = weighting._field_B.get(fieldname, weighting.B)
            one_minus_b = 1 - B
            lengths = columns.lengths(reader, fieldname)
            # whoosh.scoring.bm25, term for term (the same floating-point result).
            for d, w in pairs:
                scores[d] += idf * (
                    (w * k1_plus_1) / (w + K1 * (one_minus_b + B * lengths[d] / avgfl))
                )
            self._check_clock()

        for g, group in enumerate(plan.groups):
            for o, option in enumerate(group):
                if isinstance(option, Phrase):
                    for fieldname in option.fields:
                        for text, weights in verified.get((g, o, fieldname), ()):
                            add_weights(
                                fieldname, text, [(d, w) for d, w in weights.items() if d in scores]
                            )
                    continue
                for fieldname, text in option:
                    add(fieldname, text, matched)
        for fieldname, text in plan.filters:
            add(fieldname, text, matched)
        if plan.dates is not None:
            for d in scores:
                scores[d] += 1.0
        return scores

    # Results ------------------------------------------------------------------------

    def facets(self, names: Sequence[str]) -> dict[str, dict[str, int]]:
        """Counts per value of each facet field over every match (empty values left out)."""
        counts: dict[str, Counter[str]] = {name: Counter() for name in names}
        for part in self.parts:
            if not part.docs:
                continue
            for name in names:
                codes, values = part.columns.facet(part.reader, name)
                into = counts[name]
                for code, n in Counter(map(codes.__getitem__, part.docs)).items():
                    value = values[code]
                    if value not in (None, "", b""):
                        into[str(value)] += n
        return {name: dict(c) for name, c in counts.items()}

    def best(self) -> list[tuple[float, int]]:
        """``(score, global docnum)``, best first (ties: lower docnum first)."""
        return [(score, -neg) for score, neg in sorted(self.top, reverse=True)]

    def by_number(self, fieldname: str, *, limit: int, reverse: bool, keys: Any) -> list[int]:
        """The first ``limit`` global docnums ordered by the numeric column ``fieldname``
        (descending if ``reverse``), ties broken in the same direction by
        ``keys(segment reader, docnums)`` (one key per document). Only the documents
        that make the cut, and every document tied at it, are asked for their key."""
        if limit <= 0:
            return []
        pick = heapq.nlargest if reverse else heapq.nsmallest
        ranked: list[tuple[int, int, int]] = []  # (value, part index, segment docnum)
        tables: list[tuple[int, array[int]]] = []
        for i, part in enumerate(self.parts):
            if not part.docs:
                continue
            values = part.columns.numbers(part.reader, fieldname)
            tables.append((i, values))
            ranked.extend((values[d], i, d) for d in pick(limit, part.docs, key=values.__getitem__))
        if not ranked:
            return []
        ranked.sort(key=itemgetter(0), reverse=reverse)
        cut = ranked[min(limit, len(ranked)) - 1][0]
        # Everything before the cut is in (fewer than ``limit`` documents, so every
        # segment's share is among its own first ``limit``); at the cut, every tied
        # document of every segment competes on its key.
        chosen = [c for c in ranked if (c[0] > cut if reverse else c[0] < cut)]
        for i, values in tables:
            chosen.extend((cut, i, d) for d in self.parts[i].docs if values[d] == cut)
        asked: dict[int, list[int]] = {}
        for _, i, d in chosen:
            asked.setdefault(i, []).append(d)
        key: dict[tuple[int, int], Any] = {}
        for i, docs in asked.items():
            for d, k in zip(docs, keys(self.parts[i].reader, docs), strict=True):
                key[i, d] = k
        chosen.sort(key=lambda c: (c[0], key[c[1], c[2]]), reverse=reverse)
        return [self.parts[i].offset + d for _, i, d in chosen[:limit]]


class Allowed(query.Query):
    """Documents any of ``principals`` may see (field ``principals``), with no score.

    Whoosh's own ``ConstantScoreQuery(Or([Term...]))`` reads every matching posting of
    every principal on every search; here each segment's list is read once (kept in
    ``cache``) and skipping through it is a binary search."""

    def __init__(self, principals: Sequence[str], cache: ColumnCache) -> None:
        self.principals = tuple(principals)
        self.cache = cache
        self.boost = 1.0

    def __repr__(self) -> str:
        return f"Allowed({len(self.principals)} principals)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Allowed) and other.principals == self.principals

    def __hash__(self) -> int:
        return hash(self.principals)

    def is_leaf(self) -> bool:
        return True

    def estimate_size(self, ixreader: Any) -> int:
        return sum(ixreader.doc_frequency("principals", p) for p in self.principals)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        if reader.segment() is None:
            return NullMatcher()
        ids = self.cache.get(reader).union(reader, "principals", self.principals)
        deleted = reader.deleted_docs_set if reader.has_deletions() else None
        if deleted:
            ids = array("I", [d for d in ids if d not in deleted])
        if not ids:
            return NullMatcher()
        return _IdsMatcher(ids)


class _IdsMatcher(ListMatcher):
    """A sorted list of document numbers, score 0, skipping by binary search."""

    def __init__(self, ids: array[int]) -> None:
        super().__init__(ids)
        self._i: int = 0
        self._ids: array[int] = ids

    def skip_to(self, id: int) -> None:
        if self._i < len(self._ids) and id > self._ids[self._i]:
            self._i = bisect_left(self._ids, id, self._i)

    def score(self) -> float:
        return 0.0

    def weight(self) -> float:
        return 0.0

    def supports_block_quality(self) -> bool:
        return False

    def copy(self) -> _IdsMatcher:
        copied = _IdsMatcher(self._ids)
        copied._i = self._i
        return copied


class Near(query.Query):
    """Terms at consecutive positions of one field: ``positions[i]`` holds the
    alternatives (stems) for the i-th word. Positions are read only in documents that
    also match ``gate`` (the permission query), if given."""

    def __init__(
        self, fieldname: str, positions: Sequence[Sequence[str]], gate: Any | None = None
    ) -> None:
        self.fieldname = fieldname
        self.positions = [tuple(dict.fromkeys(p)) for p in positions]
        self.gate = gate
        self.boost = 1.0

    def __repr__(self) -> str:
        return f"Near({self.fieldname!r}, {self.positions!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Near)
            and other.fieldname == self.fieldname
            and other.positions == self.positions
            and other.gate == self.gate
        )

    def __hash__(self) -> int:
        return hash((self.fieldname, tuple(self.positions)))

    def is_leaf(self) -> bool:
        return False

    def estimate_size(self, ixreader: Any) -> int:
        return min(
            sum(ixreader.doc_frequency(self.fieldname, t) for t in alts) for alts in self.positions
        )

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        leaves: list[list[Any]] = []
        for alternatives in self.positions:
            present = [t for t in alternatives if (self.fieldname, t) in reader]
            if not present:
                return NullMatcher()
            leaves.append(
                [query.Term(self.fieldname, t).matcher(searcher, context) for t in present]
            )
        if not leaves:
            return NullMatcher()
        children = [
            make_binary_tree(UnionMatcher, alts) if len(alts) > 1 else alts[0] for alts in leaves
        ]
        if self.gate is not None:
            gate = self.gate.matcher(searcher, context)
            if not gate.is_active():
                return NullMatcher()
            children.append(gate)
        isect = (
            make_binary_tree(IntersectionMatcher, children) if len(children) > 1 else children[0]
        )
        return _NearMatcher(isect, leaves)


class _NearMatcher(WrappingMatcher):
    """Steps its child (the intersection) to documents where the words are adjacent."""

    def __init__(self, child: Any, leaves: list[list[Any]]) -> None:
        super().__init__(child)
        self._leaves = leaves
        self._advance()

    def _positions(self, i: int, doc: int) -> set[int]:
        found: set[int] = set()
        for m in self._leaves[i]:
            if m.is_active() and m.id() == doc:
                found.update(m.value_as("positions"))
        return found

    def _here(self) -> bool:
        doc = self.child.id()
        starts = self._positions(0, doc)
        for i in range(1, len(self._leaves)):
            if not starts:
                return False
            at = self._positions(i, doc)
            starts = {p for p in starts if p + i in at}
        return bool(starts)

    def _advance(self) -> None:
        child = self.child
        while child.is_active() and not self._here():
            child.next()

    def copy(self) -> _NearMatcher:  # pragma: no cover - whoosh copies only for highlighting
        raise NotImplementedError

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else NullMatcher()

    def supports_block_quality(self) -> bool:
        return False

    def next(self) -> None:
        self.child.next()
        self._advance()

    def skip_to(self, id: int) -> None:
        self.child.skip_to(id)
        self._advance()

    def all_ids(self) -> Any:
        while self.is_active():
            yield self.id()
            self.next()
