"""What every search backend does (run against each backend of the ``backend`` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from edms.search.backend import Backend, Entry, Query, QueryError, Results

MakeEntry = Callable[..., Entry]


class Texts:
    """A TextSource over the bodies of the entries a test indexed."""

    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}
        self.asked: list[list[str]] = []

    def __call__(self, ids: Sequence[str]) -> Mapping[str, str]:
        self.asked.append(list(ids))
        return {i: self.bodies[i] for i in ids if i in self.bodies}


@pytest.fixture
def texts() -> Texts:
    return Texts()


@pytest.fixture
def index(backend: Backend, texts: Texts) -> Callable[..., None]:
    def add(*entries: Entry) -> None:
        texts.bodies.update({e.id: e.body for e in entries})
        backend.upsert(list(entries))

    return add


def find(backend: Backend, texts: Texts, text: str = "", **kwargs: Any) -> Results:
    kwargs.setdefault("principals", None)
    return backend.search(Query(text=text, **kwargs), texts)


def ids(results: Results) -> set[str]:
    return {h.id for h in results.hits}


def test_word_phrase_and_prefix(backend, texts, index, make_entry):
    a = make_entry(title="Qaror loyihasi", body="Yillik hisobot va moliyaviy reja")
    b = make_entry(title="Xat", body="Moliyaviy hisobot yillik emas")
    index(a, b)
    assert ids(find(backend, texts, "hisobot")) == {a.id, b.id}
    assert ids(find(backend, texts, "hisobot reja")) == {a.id}  # AND by default
    assert ids(find(backend, texts, '"yillik hisobot"')) == {a.id}
    assert ids(find(backend, texts, "moliya*")) == {a.id, b.id}
    assert ids(find(backend, texts, "loyih*")) == {a.id}  # title is searched too
    assert ids(find(backend, texts, "nothinglikethis")) == set()


@pytest.mark.parametrize(
    "typed",
    [
        "o'zbekiston",
        "Oʻzbekiston",
        "o’zbekiston",
        "o`zbekiston",
        "ўзбекистон",
        "O‘ZBEKISTON",
        "ЎЗБЕКИСТОН",
    ],
)
def test_uzbek_spellings_are_found_alike(backend, texts, index, make_entry, typed):
    doc = make_entry(title="Oʻzbekiston Respublikasi", body="Qonun")
    cyrillic = make_entry(title="Ўзбекистон Республикаси", body="Қонун")
    index(doc, cyrillic, make_entry(title="Boshqa hujjat"))
    assert ids(find(backend, texts, typed)) == {doc.id, cyrillic.id}


def test_uzbek_cyrillic_and_latin_words_meet(backend, texts, index, make_entry):
    latin = make_entry(body="Gʻalla yigʻim-terimi va shartnoma")
    cyrillic = make_entry(body="Ғалла йиғим-терими ва шартнома")
    index(latin, cyrillic)
    assert ids(find(backend, texts, "ғалла")) == {latin.id, cyrillic.id}
    assert ids(find(backend, texts, "g'alla shartnoma")) == {latin.id, cyrillic.id}
    assert ids(find(backend, texts, "Республикаси")) == set()


def test_russian_inflections(backend, texts, index, make_entry):
    doc = make_entry(body="Проект договора поставки оборудования", language="ru")
    index(doc, make_entry(body="Другое письмо"))
    for typed in ("договор", "договоры", "ДОГОВОРОВ", "поставка", "оборудование"):
        assert ids(find(backend, texts, typed)) == {doc.id}, typed


def test_english_stemming(backend, texts, index, make_entry):
    doc = make_entry(body="Quarterly reports of the ministries", language="en")
    index(doc)
    assert ids(find(backend, texts, "report")) == {doc.id}
    assert ids(find(backend, texts, "ministry reporting")) == {doc.id}
    # No English stop list: "the" and "of" are words like any other.
    assert ids(find(backend, texts, '"reports of the"')) == {doc.id}


def test_filters(backend, texts, index, make_entry):
    a = make_entry(body="buyruq", type="order", department="d1", journal="j1")
    b = make_entry(body="buyruq", type="letter", department="d2", journal="j1")
    c = make_entry(body="buyruq", type="order", department="d2", journal="j2", status="draft")
    index(a, b, c)
    assert ids(find(backend, texts, "buyruq", filters={"type": "order"})) == {a.id, c.id}
    assert ids(find(backend, texts, "", filters={"type": "order", "department": "d2"})) == {c.id}
    assert ids(find(backend, texts, "", filters={"status": "draft"})) == {c.id}
    assert ids(find(backend, texts, "", filters={"journal": "j1"})) == {a.id, b.id}


def test_date_range_and_sorting(backend, texts, index, make_entry):
    days = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 6, 15), date(2024, 12, 31)]
    entries = [make_entry(body="farmoyish", registered_on=d) for d in days]
    index(*entries)
    found = find(
        backend, texts, "farmoyish", date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)
    )
    assert ids(found) == {e.id for e in entries[1:]}
    assert ids(find(backend, texts, "", date_from=date(2024, 6, 1))) == {
        entries[2].id,
        entries[3].id,
    }
    assert ids(find(backend, texts, "", date_to=date(2023, 12, 31))) == {entries[0].id}
    ascending = [h.id for h in find(backend, texts, "farmoyish", sort="date").hits]
    descending = [h.id for h in find(backend, texts, "farmoyish", sort="-date").hits]
    assert ascending == [e.id for e in entries]
    assert descending == ascending[::-1]


@pytest.mark.parametrize("sort", ["relevance", "date", "-date"])
def test_pagination(backend, texts, index, make_entry, sort):
    entries = [
        make_entry(body="ariza " * (1 + i % 3), registered_on=date(2024, 1, 1 + i % 5))
        for i in range(23)
    ]
    index(*entries)
    seen: list[str] = []
    for page in (1, 2, 3):
        found = find(backend, texts, "ariza", sort=sort, page=page, per_page=10)
        assert found.total == 23
        seen += [h.id for h in found.hits]
    assert len(seen) == 23
    assert set(seen) == {e.id for e in entries}  # pages are disjoint and complete
    beyond = find(backend, texts, "ariza", sort=sort, page=4, per_page=10)
    assert beyond.total == 23
    assert beyond.hits == []


def test_facets_honour_filters_and_permissions(backend, texts, index, make_entry):
    index(
        make_entry(body="xat", type="letter", department="d1", status="registered"),
        make_entry(body="xat", type="order", department="d1", registered_on=date(2023, 5, 1)),
        make_entry(body="xat", type="order", department="d2", principals=("dept:2",)),
        make_entry(body="boshqa", type="memo", department="d1"),
    )
    found = find(backend, texts, "xat", principals=("dept:1",))
    assert found.total == 2
    assert found.facets["type"] == {"letter": 1, "order": 1}
    assert found.facets["department"] == {"d1": 2}
    assert found.facets["year"] == {"2024": 1, "2023": 1}
    assert found.facets["status"] == {"registered": 2}
    filtered = find(backend, texts, "xat", filters={"type": "order"})
    assert filtered.total == 2
    assert filtered.facets["type"] == {"order": 2}
    assert filtered.facets["department"] == {"d1": 1, "d2": 1}


def test_permission_filter(backend, texts, index, make_entry):
    mine = make_entry(body="maxfiy hujjat", type="order", principals=("dept:2", "user:7"))
    theirs = make_entry(body="maxfiy hujjat", type="letter", principals=("dept:1",))
    index(mine, theirs)
    for principals in [("dept:2",), ("user:7",), ("dept:2", "dept:9")]:
        found = find(backend, texts, "maxfiy", principals=principals)
        assert ids(found) == {mine.id}
        assert found.total == 1
        assert found.facets["type"] == {"order": 1}
        assert ids(find(backend, texts, "", principals=principals)) == {mine.id}
    assert ids(find(backend, texts, "maxfiy", principals=None)) == {mine.id, theirs.id}
    nothing = find(backend, texts, "maxfiy", principals=())
    assert (nothing.total, nothing.hits) == (0, [])
    assert all(not counts for counts in nothing.facets.values())
    assert find(backend, texts, "maxfiy", principals=("dept:3",)).total == 0


def test_upsert_replaces_and_delete_removes(backend, texts, index, make_entry):
    doc = make_entry(body="birinchi matn")
    index(doc, make_entry(body="boshqa"))
    index(replace(doc, body="ikkinchi matn"))
    assert ids(find(backend, texts, "birinchi")) == set()
    assert find(backend, texts, "matn").total == 1
    assert backend.count() == 2
    index(replace(doc, title="A"), replace(doc, title="B"))  # the same id twice in a batch
    assert backend.count() == 2
    backend.delete([doc.id, "no-such-id"])
    assert find(backend, texts, "matn").total == 0
    assert backend.count() == 1
    backend.clear()
    assert backend.count() == 0


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced quote',
        "*",
        "ab*",
        "AND OR",
        "OR",
        "NOT",
        "a" * 10_000,
        "hujjat " * 2000,
        "'; DROP TABLE documents; --",
        "<script>alert(1)</script>",
        "\\",
        "(",
        ")))",
        "title:x",
        "***",
        "-",
        "?~^&|!{}[]",
        "\x00",
    ],
)
def test_malformed_queries_are_friendly(backend, texts, index, make_entry, text):
    index(make_entry(body="hujjat"))
    try:
        found: Results | QueryError = find(backend, texts, text)
    except QueryError as exc:
        found = exc
    if isinstance(found, QueryError):
        assert str(found)  # a message for the user
    else:
        assert found.total >= 0
        assert isinstance(found.hits, list)


def test_short_prefix_is_refused(backend, texts, index, make_entry):
    index(make_entry(body="hujjat"))
    with pytest.raises(QueryError, match="3"):
        find(backend, texts, "hu*")


def test_snippets_are_marked_and_escaped(backend, texts, index, make_entry):
    doc = make_entry(body="Buyruq <b>matni</b> & ilova: shartnomalar roʻyxati")
    index(doc)
    found = find(backend, texts, "matni")
    [hit] = found.hits
    assert "<mark>matni</mark>" in hit.snippet
    assert "&lt;b&gt;" in hit.snippet
    assert "&amp;" in hit.snippet
    assert "<b>" not in hit.snippet
    assert texts.asked[-1] == [doc.id]  # text is fetched for the page's hits only
    [hit] = find(backend, texts, "ro'yxat*").hits
    assert "<mark>roʻyxati</mark>" in hit.snippet


def test_snippet_without_text_is_empty(backend, texts, index, make_entry):
    doc = make_entry(title="Sarlavha")
    index(doc)
    texts.bodies.pop(doc.id)
    [hit] = find(backend, texts, "sarlavha").hits
    assert hit.snippet == ""
