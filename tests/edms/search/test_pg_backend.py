"""What only the PostgreSQL backend has: its tsquery builder, the statement timeout,
the GIN index, the field weights and PostgreSQL's size limits. (What every backend
must do is in test_contract.py.)"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from edms.errors import ConfigError
from edms.search import analysis
from edms.search.backend import Entry, IndexUnavailable, Query, QueryError, Results
from edms.search.pg_backend import (
    MAX_TERM_CHARS,
    TIMEOUT_NOTE,
    PostgresBackend,
    build_tsquery,
)

PG_URL = os.environ.get("EDMS_TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="needs EDMS_TEST_DATABASE_URL pointing at PostgreSQL",
)

# Characters that mean something to tsquery, SQL or the query syntax.
HOSTILE = [
    *"'\"\\&|!()<>:*-_ ,.;%$@#\x00\n\t",
    *["<->", "<2>", ":*", "''", "«", "»", "ʻ", "’", " OR ", " NOT ", " AND "],
]
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(list("abcxyzабвўқғ0123456789")),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=40,
).map("".join)


def no_text(ids: Sequence[str]) -> Mapping[str, str]:
    return {}


def entry(n: int, title: str = "", body: str = "", **changes: Any) -> Entry:
    values: dict[str, Any] = {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "title": title,
        "body": body,
        "registration_number": f"R-{n}",
        "type": "letter",
        "journal": "incoming",
        "direction": "incoming",
        "department": "finance",
        "status": "registered",
        "correspondent": "",
        "registered_on": date(2024, 1, 1 + n % 28),
        "updated_at": datetime(2024, 2, 1, tzinfo=UTC),
        "language": "en",
        "principals": ("dept:1",),
    }
    values.update(changes)
    return Entry(**values)


def search(backend: PostgresBackend, text: str = "", **fields: Any) -> Results:
    fields.setdefault("principals", None)
    return backend.search(Query(text=text, **fields), no_text)


@pytest.fixture
def backend() -> Iterator[PostgresBackend]:
    made = PostgresBackend.for_tests(PG_URL)
    yield made
    made.drop()


@pytest.fixture(scope="module")
def shared_backend() -> Iterator[PostgresBackend]:
    """A few entries for the property tests (hypothesis reruns a test, not its fixtures)."""
    if not PG_URL.startswith("postgresql"):
        pytest.skip("needs EDMS_TEST_DATABASE_URL pointing at PostgreSQL")
    made = PostgresBackend.for_tests(PG_URL)
    made.upsert(
        [
            entry(1, "Budget report", "quarterly figures for the ministry"),
            entry(2, "O'zbekiston", "Ўзбекистон Республикаси"),
            entry(3, "a&b|c", "x:*y (z) <-> 'quoted' \\ back"),
        ]
    )
    yield made
    made.drop()


# --- the query builder (no database) -----------------------------------------------


def tsquery(text: str) -> str | None:
    return build_tsquery(analysis.parse_query(text))


def alternatives(word: str) -> str:
    return "(" + " | ".join(lexeme(t) for t in analysis.query_terms(word)) + ")"


def lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def test_groups_are_anded_and_alternatives_ored() -> None:
    budget = alternatives("budget")
    assert tsquery("budget") == budget
    assert tsquery("budget ministry") == f"{budget} & {alternatives('ministry')}"
    assert tsquery("budget OR decree") == f"({budget} | {alternatives('decree')})"
    assert tsquery("budget -decree") == f"{budget} & !{alternatives('decree')}"
    assert tsquery("") == ""


def test_phrases_and_prefixes() -> None:
    assert tsquery('"budget 2024"') == "('budget' <-> '2024')"
    assert tsquery("01-12/345") == "('01' <-> '12' <-> '345')"
    assert tsquery("budg*") == "('budg':*)"
    assert tsquery("o'zbek*") == "('o''zbek':*)"


def test_quotes_and_backslashes_in_terms_are_escaped() -> None:
    parsed = analysis.ParsedQuery(
        groups=((analysis.Clause("word", (("a'b\\c",), ("x y",))),),),
    )
    assert build_tsquery(parsed) == "('a''b\\\\c' | 'x y')"


def test_terms_too_long_to_index_match_nothing() -> None:
    long = "x" * (MAX_TERM_CHARS + 1)
    assert tsquery(long) is None
    assert tsquery(f"budget OR {long}") == alternatives("budget")
    assert tsquery(f"budget -{long}") == alternatives("budget")


def test_other_databases_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ConfigError, match="search_backend"):
        PostgresBackend(sa.create_engine("sqlite://"))


# --- hostile input ----------------------------------------------------------------


@needs_postgres
@settings(max_examples=300, deadline=None)
@given(text=hostile_text)
def test_the_builder_never_makes_invalid_tsquery(
    shared_backend: PostgresBackend, text: str
) -> None:
    try:
        literal = tsquery(text)
    except QueryError:
        return
    if literal:
        with shared_backend._engine.connect() as conn:
            conn.execute(sa.select(sa.cast(sa.literal(literal), postgresql.TSQUERY)))


@needs_postgres
@settings(max_examples=150, deadline=None)
@given(text=hostile_text, principals=st.lists(hostile_text, max_size=3))
def test_any_search_returns_results_or_a_query_error(
    shared_backend: PostgresBackend, text: str, principals: list[str]
) -> None:
    try:
        results = shared_backend.search(
            Query(text=text, principals=tuple(principals)), lambda ids: dict.fromkeys(ids, text)
        )
    except QueryError:
        return
    assert not results.partial
    assert results.total == len(results.hits)


# --- PostgreSQL specifics -------------------------------------------------------------


@needs_postgres
def test_terms_are_lexemes_as_analysed(backend: PostgresBackend) -> None:
    """PostgreSQL's own parser would split "o'zbekiston" at the apostrophe; ours does not."""
    backend.upsert([entry(1, "O'zbekiston Respublikasi"), entry(2, "a&b 'x' back\\slash")])
    assert [h.id for h in search(backend, "Oʻzbekiston").hits] == [entry(1).id]
    assert search(backend, "zbekiston").total == 0
    assert search(backend, "o'zbek*").total == 1
    assert search(backend, "back\\slash").total == 1


@needs_postgres
def test_title_outranks_number_and_correspondent_outrank_body(backend: PostgresBackend) -> None:
    backend.upsert(
        [
            entry(1, "other", "the word quarantine in the body"),
            entry(2, "quarantine order", "nothing"),
            entry(3, "other", "nothing", correspondent="Quarantine Agency"),
        ]
    )
    hits = search(backend, "quarantine").hits
    assert [h.id for h in hits] == [entry(2).id, entry(3).id, entry(1).id]
    assert hits[0].score > hits[1].score > hits[2].score


@needs_postgres
def test_phrases_do_not_match_across_fields(backend: PostgresBackend) -> None:
    backend.upsert([entry(1, "annual budget", "report of the year")])
    assert search(backend, '"budget report"').total == 0
    assert search(backend, '"annual budget"').total == 1


@needs_postgres
def test_access_lexemes_take_principals_as_they_are(backend: PostgresBackend) -> None:
    backend.upsert(
        [
            entry(1, "memo", principals=("dept:1", "user:5")),
            entry(2, "memo", principals=("dept:12",)),
            entry(3, "memo", principals=("user:5' | 'dept:12",)),
        ]
    )
    assert {h.id for h in search(backend, "memo", principals=("user:5",)).hits} == {entry(1).id}
    assert search(backend, "memo", principals=("dept:1",)).facets["department"] == {"finance": 1}
    assert search(backend, "memo", principals=("user:5' | 'dept:12",)).total == 1
    assert search(backend, "memo", principals=()).total == 0
    assert search(backend, "memo", principals=("",)).total == 0


@needs_postgres
def test_a_slow_search_is_cut_short_with_a_note(backend: PostgresBackend) -> None:
    backend.upsert([entry(n, "memo") for n in range(1, 30)])
    results = search(backend, "memo", time_limit=0.000001)
    assert results.partial
    assert results.note == TIMEOUT_NOTE
    assert results.facets == {}


@needs_postgres
def test_the_statement_timeout_cancels_a_running_query(backend: PostgresBackend) -> None:
    backend.upsert([entry(1, "memo")])

    def stall(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ts_rank_cd" in statement:
            cursor.execute("SELECT pg_sleep(10)")

    sa.event.listen(backend._engine, "before_cursor_execute", stall)
    started = time.monotonic()
    results = search(backend, "memo", time_limit=0.2)
    assert time.monotonic() - started < 5
    assert results.partial
    assert results.note == TIMEOUT_NOTE
    assert (results.total, results.hits, results.facets) == (0, [], {})
    # the pooled connection is usable again: the timeout was local to that transaction
    sa.event.remove(backend._engine, "before_cursor_execute", stall)
    assert not search(backend, "memo").partial


@needs_postgres
def test_the_gin_index_serves_text_and_access(backend: PostgresBackend) -> None:
    backend.upsert(
        [
            entry(n, f"memo number{n}", "routine text " * 20, principals=(f"dept:{n % 50}",))
            for n in range(1, 3001)
        ]
    )
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "ts_rank_cd" in statement:
            captured.append((statement, parameters))

    sa.event.listen(backend._engine, "before_cursor_execute", capture)
    assert search(backend, "number1234", principals=("dept:34",)).total == 1
    sa.event.remove(backend._engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    with backend._engine.begin() as conn:
        conn.exec_driver_sql(f"ANALYZE {backend._table.fullname}")
        # small tables tempt the planner to scan; the point is that it *can* use the index
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "Bitmap Index Scan on ix_search_entries_tsv" in plan or (
        "Bitmap Index Scan on ix_search_entries_access" in plan
    ), plan


@needs_postgres
def test_an_endless_body_stays_within_tsvector_limits(backend: PostgresBackend) -> None:
    # 6000 distinct 190-digit numbers: 1.2 MB of lexemes, more than a tsvector holds
    # (numbers, because analysis need not stem them: the test stays fast)
    numbers = [f"{n:0190d}" for n in range(6000)]
    backend.upsert(
        [
            entry(1, "huge", " ".join(numbers)),
            entry(2, "repeat", "same " * 20_000 + "last"),  # > 256 positions, > 16383
        ]
    )
    assert backend.count() == 2
    assert search(backend, numbers[0]).total == 1
    assert search(backend, numbers[-1]).total == 0  # past the limit: not indexed
    assert search(backend, "same").total == 1
    assert search(backend, "last").total == 1  # at the last position PostgreSQL has
    assert search(backend, "huge").total == 1


@needs_postgres
def test_upsert_replaces_and_takes_the_last_of_duplicates(backend: PostgresBackend) -> None:
    backend.upsert([entry(1, "first"), entry(1, "second"), entry(2, "other")])
    backend.upsert([entry(2, "third", status="archived")])
    assert backend.count() == 2
    assert search(backend, "first").total == 0
    assert search(backend, "second").total == 1
    assert search(backend, "third").facets["status"] == {"archived": 1}
    backend.delete([entry(1).id, "unknown"])
    assert backend.count() == 1
    backend.clear()
    assert backend.count() == 0


@needs_postgres
def test_facets_total_sort_and_pages_share_one_where(backend: PostgresBackend) -> None:
    backend.upsert(
        [
            entry(1, "memo", registered_on=date(2023, 5, 1), type="order"),
            entry(2, "memo", registered_on=date(2024, 5, 1)),
            entry(3, "memo", registered_on=date(2024, 6, 1), department="legal"),
            entry(4, "other", registered_on=date(2024, 7, 1)),
        ]
    )
    results = search(backend, "memo", sort="-date", per_page=2)
    assert results.total == 3
    assert [h.id for h in results.hits] == [entry(3).id, entry(2).id]
    assert results.facets == {
        "type": {"order": 1, "letter": 2},
        "department": {"finance": 2, "legal": 1},
        "year": {"2023": 1, "2024": 2},
        "status": {"registered": 3},
    }
    assert [h.id for h in search(backend, "memo", sort="-date", per_page=2, page=2).hits] == [
        entry(1).id
    ]
    dated = search(backend, "", date_from=date(2024, 1, 1), filters={"department": "finance"})
    assert [h.id for h in dated.hits] == [entry(4).id, entry(2).id]
    with pytest.raises(QueryError):
        search(backend, "memo", filters={"tsv": "x"})
    with pytest.raises(QueryError):
        search(backend, "memo", sort="title")


@needs_postgres
def test_snippets_are_made_for_the_page_only(backend: PostgresBackend) -> None:
    backend.upsert([entry(n, "memo") for n in range(1, 6)])
    asked: list[list[str]] = []

    def text_for(ids: Sequence[str]) -> Mapping[str, str]:
        asked.append(list(ids))
        return dict.fromkeys(ids, "a <b>memo</b> here")

    results = backend.search(Query(text="memo", per_page=2, principals=None), text_for)
    assert len(asked) == 1
    assert len(asked[0]) == 2
    assert all("<mark>" in h.snippet and "<b>" not in h.snippet for h in results.hits)
    # Nothing to mark (no words asked for): the beginning of the text, escaped.
    browsing = backend.search(Query(text="", principals=None), text_for)
    assert browsing.hits[0].snippet == "a &lt;b&gt;memo&lt;/b&gt; here"


@needs_postgres
def test_a_missing_table_makes_the_index_unavailable(backend: PostgresBackend) -> None:
    with backend._engine.begin() as conn:
        conn.execute(sa.schema.DropTable(backend._table))
    with pytest.raises(IndexUnavailable):
        search(backend, "memo")
