"""The analysis rules both backends share."""

from __future__ import annotations

import pytest

from edms.search.analysis import (
    CYRILLIC_TO_LATIN,
    SNIPPET_SCAN,
    fold,
    highlight,
    parse_query,
    query_terms,
    snippets,
    term,
    terms,
)
from edms.search.backend import QueryError


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("ўзбекистон", "o'zbekiston"),
        ("ғалла", "g'alla"),
        ("шаҳар", "shahar"),
        ("чой", "choy"),
        ("ёз", "yoz"),
        ("юрт", "yurt"),
        ("ярим", "yarim"),
        ("цирк", "tsirk"),
        ("қарор", "qaror"),
        ("хат", "xat"),
        ("жавоб", "javob"),
        ("маъно", "ma'no"),
        ("мультфильм", "multfilm"),
        ("электр", "elektr"),
        ("европа", "yevropa"),
        ("поезд", "poyezd"),
        ("щи", "shi"),
        ("вы", "vi"),
    ],
)
def test_transliteration(cyrillic, latin):
    assert fold(cyrillic) == latin
    assert fold(cyrillic.upper()) == latin


def test_table_covers_uzbek_and_russian_alphabets():
    assert set("абвгдеёжзийклмнопрстуфхцчшщъыьэюяўқғҳ") <= set(CYRILLIC_TO_LATIN)


@pytest.mark.parametrize(
    "word",
    [
        "Oʻzbekiston",
        "O'zbekiston",
        "O‘zbekiston",
        "O’zbekiston",
        "O`zbekiston",
        "Oʼzbekiston",
        "O´zbekiston",
        "Ўзбекистон",
        "O‘ZBEKISTON",
    ],
)
def test_apostrophe_variants_and_scripts_fold_alike(word):
    assert fold(word) == "o'zbekiston"
    assert term("o'zbekiston") in query_terms(word)
    assert term(word) in query_terms("o'zbekiston")


def test_quotes_around_words_are_not_apostrophes():
    assert terms("‘hisobot’ va 'reja'") == ["hisobot", "va", "reja"]


def test_every_spelling_finds_every_other():
    spellings = ["Respublikasi", "Республикаси", "RESPUBLIKASI", "республикаси"]
    for indexed in spellings:
        for typed in spellings:
            assert term(indexed) in query_terms(typed), (indexed, typed)


def test_russian_inflections_meet():
    base = term("договор")
    for form in ["договора", "договору", "договоры", "договоров", "договорами", "ДОГОВОРЕ"]:
        assert term(form) == base, form


def test_english_stemming():
    assert term("reports") == term("report") == term("reporting")
    assert term("services") == term("service")


def test_no_stop_words_and_numbers_kept():
    assert terms("the of и в 2024 01-02/345") == ["the", "of", "i", "v", "2024", "01", "02", "345"]


def test_parse_words_phrases_prefixes():
    parsed = parse_query('buyruq "yillik hisobot" moliya* OR reja -loyiha')
    kinds = [[c.kind for c in group] for group in parsed.groups]
    assert kinds == [["word"], ["phrase"], ["prefix", "word"]]
    assert [c.kind for c in parsed.excluded] == ["word"]
    assert "buyruq" in parsed.marked
    assert parsed.marked_prefixes == ("moliya",)


def test_prefix_also_tries_the_stem():
    [[clause]] = parse_query("reporting*").groups
    assert ("report",) in clause.variants


@pytest.mark.parametrize(
    "text", ['"open', "*", "ab*", "OR", "x OR", "AND OR", "NOT", "a" * 1001, "w " * 40, "!!!"]
)
def test_malformed_queries(text):
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert str(caught.value)


def test_empty_query_is_everything():
    assert parse_query("   ").groups == ()


def test_highlight_marks_and_escapes():
    snippet = highlight("<b>Shartnoma</b> & договора поставки", {term("договор")})
    assert snippet == "&lt;b&gt;Shartnoma&lt;/b&gt; &amp; <mark>договора</mark> поставки"


def test_highlight_prefix_and_other_spelling():
    text = "Ўзбекистон Республикаси ҳукумати"
    assert highlight(text, set(query_terms("o'zbekiston"))).startswith("<mark>Ўзбекистон</mark>")
    assert "<mark>ҳукумати</mark>" in highlight(text, set(), prefixes=("hukum",))


def test_highlight_window_around_the_match():
    text = "boshlanish " * 100 + "muhim " + "oxiri " * 100
    snippet = highlight(text, {"muhim"}, max_len=120)
    assert "<mark>muhim</mark>" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert len(snippet) < 160


def test_highlight_without_match_or_text():
    assert highlight("", {"x"}) == ""
    assert highlight("a < b", {"zzz"}) == "a &lt; b"


def test_highlight_marks_every_match_in_the_window_only():
    text = "muhim " + "so'z " * 20 + "muhim " + "boshqa " * 400 + "muhim oxiri"
    snippet = highlight(text, {"muhim"}, max_len=200)
    assert snippet.count("<mark>muhim</mark>") == 2
    assert snippet.endswith("…")


def test_highlight_looks_for_the_first_match_within_the_scan_limit():
    near = "so'z " * ((SNIPPET_SCAN - 1000) // 5) + "muhim qaror"
    assert "<mark>muhim</mark>" in highlight(near, {"muhim"})
    far = "so'z " * (SNIPPET_SCAN // 5 + 10) + "muhim qaror"
    beginning = highlight(far, {"muhim"})
    assert beginning.startswith("so&#x27;z so&#x27;z")
    assert "<mark>" not in beginning


def test_snippets_after_the_deadline_show_the_beginning_unmarked():
    parsed = parse_query("muhim")
    texts = {"a": "kirish muhim qaror", "b": "", "c": "muhim"}
    marked = snippets(["a", "b", "c"], texts, parsed, deadline=float("inf"))
    assert marked == {"a": "kirish <mark>muhim</mark> qaror", "c": "<mark>muhim</mark>"}
    late = snippets(["a", "c"], texts, parsed, deadline=0.0)
    assert late == {"a": "kirish muhim qaror", "c": "muhim"}
