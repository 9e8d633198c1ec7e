"""The Whoosh backend's matching on cached postings (``Gather.run_plan``) answers as
Whoosh's own matchers do: same matches, totals, facets and scores."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from edms.search import whoosh_backend
from edms.search.backend import Entry, Query, Results
from edms.search.whoosh_backend import WhooshBackend
from tests.edms.search.conftest import new_entry

_counter = itertools.count(1)

WORDS = [
    *("hujjat", "ariza", "shartnoma", "buyruq", "xat", "hisobot", "moliya", "bank"),
    *("kredit", "soliq", "договор", "письмо", "приказ", "отчёт", "report", "letter"),
    *("contract", "payment"),
]
PRINCIPALS = ("dept:1", "dept:2", "dept:3", "user:7")


def no_text(ids: Sequence[str]) -> dict[str, str]:
    return {}


def _write(backend: WhooshBackend, entries: Sequence[Entry], deleted: Sequence[str] = ()) -> None:
    """One new segment (no merging, so segments and their deletions stay)."""
    writer = backend._check().writer()
    for entry in entries:
        writer.update_document(**whoosh_backend.document(entry))
    for doc_id in deleted:
        writer.delete_by_term("id", doc_id)
    writer.commit(merge=False)


def make_entry(**overrides: Any) -> Entry:
    """``new_entry`` with short ids in creation order (ties break by id)."""
    return new_entry(**{"id": f"e{next(_counter):05d}", **overrides})


def _entries(rng: random.Random, n: int) -> list[Entry]:
    made = []
    for _ in range(n):
        body = " ".join(rng.choices(WORDS, k=rng.randint(3, 30)))
        made.append(
            make_entry(
                title=" ".join(rng.choices(WORDS, k=rng.randint(1, 4))),
                body=body,
                type=rng.choice(["letter", "order", "contract"]),
                department=rng.choice(["d1", "d2", "d3"]),
                status=rng.choice(["registered", "done"]),
                registered_on=date(2023, 1, 1) + timedelta(days=rng.randint(0, 500)),
                principals=tuple(rng.sample(PRINCIPALS, rng.randint(1, 2))),
            )
        )
    return made


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    rng = random.Random(7)  # noqa: S311 - test data
    b = WhooshBackend(Path(tmp_path_factory.mktemp("fast")) / "index")
    first = _entries(rng, 80)
    _write(b, first)
    second = _entries(rng, 60)
    _write(b, second)
    # Updates (the old version stays in its segment, deleted) and deletions.
    changed = [replace(e, body=e.body + " yangi qo'shimcha") for e in first[:10]]
    _write(b, [*changed, *_entries(rng, 40)], deleted=[e.id for e in second[:8]])
    # Identical documents: equal scores, ties in document order.
    twins = [make_entry(title="egizak", body="egizak hujjat", principals=("dept:2",)) for _ in "ab"]
    _write(b, twins)
    searcher = b._searcher()
    assert len(searcher.leaf_searchers()) >= 4
    assert any(s.reader().has_deletions() for s, _ in searcher.leaf_searchers())
    yield b
    b.close()


def _both(
    backend: WhooshBackend, q: Query, monkeypatch: pytest.MonkeyPatch
) -> tuple[Results, Results]:
    monkeypatch.setattr(whoosh_backend, "FAST_PATH", True)
    fast = backend.search(q, no_text)
    monkeypatch.setattr(whoosh_backend, "FAST_PATH", False)
    slow = backend.search(q, no_text)
    return fast, slow


def _same(fast: Results, slow: Results) -> None:
    assert fast.total == slow.total
    assert fast.facets == slow.facets
    assert [h.id for h in fast.hits] == [h.id for h in slow.hits]
    for a, b in zip(fast.hits, slow.hits, strict=True):
        assert math.isclose(a.score, b.score, rel_tol=1e-9, abs_tol=1e-12)
    assert not fast.partial
    assert not slow.partial


TEXTS = [
    "",
    "hujjat",
    "ariza hujjat",
    "договор",
    "договора",
    "reports",
    "shartnoma OR buyruq",
    "xat xat",
    "hujj*",
    "kred* soliq",
    "pay* OR letter",
    "qo'shimcha",
    "egizak",
    "yoʻq",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("principals", [None, ("dept:2",), ("dept:3", "user:7")])
@pytest.mark.parametrize("sort", ["relevance", "-date", "date"])
def test_same_answers_as_whoosh_matchers(backend, monkeypatch, text, principals, sort):
    q = Query(text=text, principals=principals, sort=sort, per_page=15)
    _same(*_both(backend, q, monkeypatch))


@pytest.mark.parametrize(
    ("filters", "date_from", "date_to"),
    [
        ({"type": "letter"}, None, None),
        ({"type": "order", "department": "d2"}, None, None),
        ({}, date(2023, 3, 1), None),
        ({}, None, date(2023, 9, 30)),
        ({"status": "done"}, date(2023, 3, 1), date(2023, 12, 31)),
        ({"department": "nowhere"}, None, None),
    ],
)
@pytest.mark.parametrize("text", ["", "hujjat", "ariza OR xat", "kred*"])
@pytest.mark.parametrize("principals", [None, ("dept:1", "user:7")])
def test_filters_and_dates_as_whoosh(
    backend, monkeypatch, filters, date_from, date_to, text, principals
):
    q = Query(
        text=text,
        principals=principals,
        filters=filters,
        date_from=date_from,
        date_to=date_to,
        per_page=7,
        page=2,
    )
    _same(*_both(backend, q, monkeypatch))


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("hisobot -moliya", "hisobot", "moliya"),
        ("-bank", "", "bank"),
        ("kred* -soliq", "kred*", "soliq"),
    ],
)
@pytest.mark.parametrize("principals", [None, ("dept:2",)])
def test_exclusions(backend, monkeypatch, text, positive, negative, principals):
    # Compared with the positive part less the excluded word's matches, not with
    # Whoosh's AndNot, which lets some documents holding the excluded word through when
    # the index has several segments with deletions.
    monkeypatch.setattr(whoosh_backend, "FAST_PATH", True)

    def search(t: str) -> Results:
        return backend.search(Query(text=t, principals=principals, per_page=1000), no_text)

    excluded = {h.id for h in search(negative).hits}
    expected = [h for h in search(positive).hits if h.id not in excluded]
    found = search(text)
    assert found.total == len(expected)
    assert [h.id for h in found.hits] == [h.id for h in expected]
    for a, b in zip(found.hits, expected, strict=True):
        assert math.isclose(a.score, b.score, rel_tol=1e-9, abs_tol=1e-12)


def test_fast_path_is_used_for_phrases_too(backend, monkeypatch):
    used: list[str] = []
    search_with_collector = type(backend._searcher()).search_with_collector

    def spy(self: Any, q: Any, collector: Any) -> Any:
        used.append(repr(q))
        return search_with_collector(self, q, collector)

    monkeypatch.setattr(type(backend._searcher()), "search_with_collector", spy)
    backend.search(Query(text="hujjat ariz*", principals=("dept:2",)), no_text)
    backend.search(Query(text='"ariza hujjat"', principals=("dept:2",)), no_text)
    assert used == []


PHRASES = [
    '"ariza hujjat"',
    '"hujjat ariza"',
    '"xat xat"',
    '"договор письмо"',
    '"reports letter"',
    '"bank kredit soliq"',
    '"Document 12"',
    '"moliya bank" hujjat',
    '"moliya bank" OR xat',
    '"shartnoma buyruq" OR "buyruq shartnoma"',
    '"hisobot moliya" kred*',
    '"egizak hujjat"',
    '"yangi qo\'shimcha"',
    '"nowhere phrase"',
]


@pytest.mark.parametrize("text", PHRASES)
@pytest.mark.parametrize("principals", [None, ("dept:2",), ("dept:3", "user:7")])
@pytest.mark.parametrize("sort", ["relevance", "-date"])
def test_phrases_as_whoosh_matchers(backend, monkeypatch, text, principals, sort):
    q = Query(text=text, principals=principals, sort=sort, per_page=15)
    fast, slow = _both(backend, q, monkeypatch)
    _same(fast, slow)


def test_phrase_with_exclusion(backend, monkeypatch):
    # As test_exclusions: against the phrase's matches less the excluded word's.
    monkeypatch.setattr(whoosh_backend, "FAST_PATH", True)

    def search(t: str) -> Results:
        return backend.search(Query(text=t, principals=None, per_page=1000), no_text)

    excluded = {h.id for h in search("moliya").hits}
    expected = [h for h in search('"ariza hujjat"').hits if h.id not in excluded]
    found = search('"ariza hujjat" -moliya')
    assert found.total == len(expected) > 0
    assert [h.id for h in found.hits] == [h.id for h in expected]


@pytest.mark.parametrize("text", ['"moliya bank"', '"ariza hujjat" xat', '"bank kredit" OR soliq'])
def test_phrases_with_filters_and_dates_as_whoosh(backend, monkeypatch, text):
    q = Query(
        text=text,
        principals=("dept:1", "user:7"),
        filters={"type": "letter"},
        date_from=date(2023, 3, 1),
        per_page=5,
    )
    _same(*_both(backend, q, monkeypatch))


def test_phrases_match_somewhere(backend, monkeypatch):
    monkeypatch.setattr(whoosh_backend, "FAST_PATH", True)
    for text in ('"ariza hujjat"', '"moliya bank"', '"egizak hujjat"'):
        assert backend.search(Query(text=text, principals=None), no_text).total > 0


def test_ties_and_deletions(backend, monkeypatch):
    fast, slow = _both(backend, Query(text="egizak", principals=("dept:2",)), monkeypatch)
    _same(fast, slow)
    assert fast.total == 2
    assert fast.hits[0].score == fast.hits[1].score
    # Updated entries count once; deleted ones are gone.
    fast, slow = _both(backend, Query(text="yangi", principals=None), monkeypatch)
    _same(fast, slow)
    assert fast.total == 10


def test_time_limit_stops_the_fast_path(tmp_path):
    b = WhooshBackend(tmp_path / "index")
    b.upsert([make_entry(body=f"ariza {i}") for i in range(300)])
    cut = b.search(Query(text="ariza", principals=None, time_limit=0.0), no_text)
    assert cut.partial
    assert cut.note
    assert cut.total < 300
    b.close()


def test_postings_cache_is_bounded(tmp_path, monkeypatch):
    from edms.search import whoosh_collect

    monkeypatch.setattr(whoosh_collect, "POSTINGS_PER_DOC", 2)
    b = WhooshBackend(tmp_path / "index")
    b.upsert([make_entry(body=" ".join(WORDS)) for _ in range(10)])
    for word in WORDS:
        assert len(find_ids(b, word)) == 10
    reader = b._searcher().reader()
    columns = b._columns.get(reader)
    assert columns._terms_size <= 2 * 10
    assert 0 < len(columns._terms) < len(WORDS)
    b.close()


def find_ids(b: WhooshBackend, text: str) -> set[str]:
    return {h.id for h in b.search(Query(text=text, principals=None), no_text).hits}


def _scanned(reader: Any, fieldname: str, prefix: str) -> list[str]:
    """Prefix expansion by scanning the merged term list (without the cached lists)."""
    return whoosh_backend._expand(reader, fieldname, prefix)


@pytest.mark.parametrize(("scan", "keep"), [(5000, 64), (3, 2), (1, 1)])
def test_prefixes_expand_from_term_lists_as_by_scanning(backend, monkeypatch, scan, keep):
    from edms.search.whoosh_collect import expand

    monkeypatch.setattr(whoosh_backend, "PREFIX_SCAN", scan)
    monkeypatch.setattr(whoosh_backend, "PREFIX_EXPANSIONS", keep)
    reader = backend._searcher().reader()
    prefixes = {w[:n] for w in [*WORDS, "qo'shimcha", "egizak"] for n in (1, 2, 3)} | {"zzz", ""}
    for fieldname in whoosh_backend._TEXT_FIELDS:
        for prefix in sorted(prefixes):
            found = expand(backend._columns, reader, fieldname, prefix, scan, keep)
            assert found == _scanned(reader, fieldname, prefix), (fieldname, prefix)
            assert found == whoosh_backend._expand(reader, fieldname, prefix, backend._columns)


def test_prefixes_scan_when_a_term_list_is_too_long(tmp_path, monkeypatch):
    from edms.search import whoosh_collect

    monkeypatch.setattr(whoosh_collect, "LEXICON_MAX", 2)
    b = WhooshBackend(tmp_path / "index")
    b.upsert([make_entry(body=" ".join(WORDS)) for _ in range(3)])
    reader = b._searcher().reader()
    assert whoosh_collect.expand(b._columns, reader, "body", "", 5000, 64) is None
    assert whoosh_backend._expand(reader, "body", "", b._columns) == _scanned(reader, "body", "")
    assert find_ids(b, "kred*") == find_ids(b, "kredit")
    b.close()


@pytest.mark.parametrize("text", PHRASES)
def test_phrase_blocks_cache_is_bounded(backend, monkeypatch, text):
    from edms.search import whoosh_collect

    monkeypatch.setattr(whoosh_collect, "BLOCK_POSTINGS_PER_DOC", 1)
    backend._columns.clear()
    for _ in range(2):  # the second time from the kept blocks
        q = Query(text=text, principals=None, per_page=15)
        _same(*_both(backend, q, monkeypatch))
    for sub, _ in backend._searcher().leaf_searchers():
        columns = backend._columns.get(sub.reader())
        assert columns._blocks_size <= max(sub.reader().doc_count_all(), 1) or (
            len(columns._blocks) == 1
        )
    backend._columns.clear()
