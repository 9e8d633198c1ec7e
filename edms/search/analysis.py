"""Text analysis shared by both backends: one set of rules for Uzbek (Latin and
Cyrillic), Russian and English, so a word is found however it was spelled.

Plain Python (no Flask, no Whoosh needed by callers). The public functions:

``fold(word)``
    Unicode NFC, case folding, every apostrophe variant (ʻ ʼ ’ ‘ ` ´ ') turned into
    ASCII ``'``, and Cyrillic transliterated to Uzbek Latin (table ``CYRILLIC_TO_LATIN``).
    ``Oʻzbekiston``, ``O'ZBEKISTON``, ``o‘zbekiston`` and ``Ўзбекистон`` all fold to
    ``o'zbekiston``.
``terms(text)`` / ``term(word)``
    Index terms: the folded word, stemmed. Words written in Cyrillic are stemmed with
    the Russian Snowball stemmer, words in Latin script with the English one (Porter2).
    No stop list, for any language.
``query_terms(word)``
    The terms a *query* word must be matched against (one or two): its folded form
    stemmed as Russian *and* as English. A backend ORs them.
``parse_query(text)``
    The user's query text as ``ParsedQuery`` (words, "phrases", prefix*, OR, -not),
    or ``QueryError`` with a message for the user.
``highlight(text, matched_terms, max_len=300, prefixes=())``
    An HTML-escaped snippet of ``text`` with ``<mark>`` around the words whose index
    term is in ``matched_terms`` (or starts with one of ``prefixes``).

Why the stemmer depends on the script, and why queries use two terms: Russian is
written in Cyrillic and English in Latin, so the script picks the right stemmer for
them. Uzbek is written in both, and a script-dependent stemmer could give
``Республикаси`` (Russian stemmer: ``respublikas``) and ``Respublikasi`` (English
stemmer: ``respublikasi``) different terms. Both stemmers work on the *folded* form
(the Russian one through a fixed Latin→Cyrillic mapping, cutting the Latin form where
the Cyrillic stem ends), so a word has exactly two candidate terms whatever its
spelling; the index keeps one (by script), a query asks for both. Hence every spelling
of a word finds every other, Russian inflections meet (``договора`` → ``dogovor`` ←
``договор``) and English ones too (``reports`` → ``report``). The price is a little
extra recall across scripts (a Latin query word also matches Cyrillic words sharing
its Russian stem). Phrases are matched with all words read one way or all the other.

Transliteration choices (Uzbek Cyrillic → Latin, the 1995 alphabet, extended for
Russian): ў→o' ғ→g' қ→q ҳ→h х→x ш→sh ч→ch ж→j й→y ц→ts щ→sh ё→yo ю→yu я→ya
э→e ы→i ъ→' ь→(dropped) і→i; е→ye at the start of a word or after a vowel, ъ or ь,
otherwise e (so ``Европа`` and ``Yevropa`` meet). The apostrophe is kept inside words
(``so'z`` and ``soz`` are different Uzbek words) and stripped at their ends (quotes).
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from whoosh.lang.porter2 import stem as _english_stem
from whoosh.lang.snowball.russian import RussianStemmer

from edms.search.backend import QueryError

__all__ = [
    "CYRILLIC_TO_LATIN",
    "MIN_PREFIX",
    "SNIPPET_LENGTH",
    "SNIPPET_SCAN",
    "Clause",
    "ParsedQuery",
    "fold",
    "highlight",
    "parse_query",
    "query_terms",
    "snippets",
    "stems",
    "term",
    "terms",
    "word_spans",
    "words",
]

#: Every character that is read as an apostrophe (the Uzbek tutuq belgisi / oʻ, gʻ).
APOSTROPHES = "ʻʼ’‘`´'ʹ′"
_APOSTROPHE_MAP = str.maketrans(dict.fromkeys(APOSTROPHES, "'"))
_WORD = re.compile(r"[\w" + re.escape(APOSTROPHES) + r"]+", re.UNICODE)

#: Cyrillic (Uzbek and Russian) → Uzbek Latin; ``е`` is handled by position (see above).
CYRILLIC_TO_LATIN: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "'", "ы": "i", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "ў": "o'", "қ": "q", "ғ": "g'", "ҳ": "h", "і": "i",
}  # fmt: skip
_CYRILLIC_VOWELS = set("аеёиоуыэюяўі")

# Latin chunk → one Cyrillic letter, for running the Russian stemmer on a folded word.
# Longest chunks first. Letters absent from Uzbek Latin get their nearest sound.
_LATIN_CHUNKS: tuple[tuple[str, str], ...] = (
    ("sh", "ш"), ("ch", "ч"), ("yo", "ё"), ("yu", "ю"), ("ya", "я"), ("ye", "е"),
    ("ts", "ц"), ("o'", "ў"), ("g'", "ғ"), ("'", "ъ"),
    ("a", "а"), ("b", "б"), ("c", "ц"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"),
    ("h", "ҳ"), ("i", "и"), ("j", "ж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("q", "қ"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("v", "в"), ("w", "в"), ("x", "х"), ("y", "й"), ("z", "з"),
)  # fmt: skip
_LATIN_CHUNK_RE = re.compile("|".join(re.escape(latin) for latin, _ in _LATIN_CHUNKS) + "|.", re.S)
_CHUNK_TO_CYRILLIC = dict(_LATIN_CHUNKS)

_russian = RussianStemmer()

#: A prefix query needs at least this many letters before the ``*``.
MIN_PREFIX = 3
#: A prefix shortened to its stem must keep at least this many letters.
_MIN_STEMMED_PREFIX = 5
#: Longest query text accepted, in characters, and most clauses.
MAX_QUERY_LENGTH = 1000
MAX_CLAUSES = 32


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


@lru_cache(maxsize=100_000)
def fold(word: str) -> str:
    """Case-fold one word, unify apostrophe variants and transliterate Cyrillic to Latin
    (without stemming)."""
    word = unicodedata.normalize("NFC", word).translate(_APOSTROPHE_MAP).casefold()
    if any(_is_cyrillic(ch) for ch in word):
        out: list[str] = []
        prev = ""
        for ch in word:
            if ch == "е" and (not prev or prev in _CYRILLIC_VOWELS or prev in "ъь'"):
                out.append("ye")
            else:
                out.append(CYRILLIC_TO_LATIN.get(ch, ch))
            prev = ch
        word = "".join(out)
    return word.strip("'")


def _russian_stem(folded: str) -> str:
    """The Russian stem of a folded (Latin) word, as a prefix of that word."""
    chunks = _LATIN_CHUNK_RE.findall(folded)
    cyrillic = "".join(_CHUNK_TO_CYRILLIC.get(c, c) for c in chunks)
    stemmed = _russian.stem(cyrillic).replace("ё", "е")
    cyrillic = cyrillic.replace("ё", "е")
    kept = 0
    for a, b in zip(cyrillic, stemmed, strict=False):
        if a != b:
            break
        kept += 1
    # One Cyrillic letter per chunk, so the stem keeps the first ``kept`` chunks.
    return "".join(chunks[:kept]).rstrip("'") or folded


def _english_stem_of(folded: str) -> str:
    return _english_stem(folded).strip("'") or folded


@lru_cache(maxsize=200_000)
def stems(word: str) -> tuple[str, str]:
    """``(russian, english)``: the two candidate terms of a word (folded, then stemmed
    each way). Words without letters (numbers) are not stemmed."""
    folded = fold(word)
    if not any(ch.isalpha() for ch in folded):
        return folded, folded
    return _russian_stem(folded), _english_stem_of(folded)


@lru_cache(maxsize=200_000)
def term(word: str) -> str:
    """The index term of one word: Russian stem if it is written in Cyrillic, English
    stem otherwise ("" for a word without letters or digits).

    Queries should match ``query_terms(word)`` instead, which also covers the other
    spellings of the word."""
    found = _WORD.findall(word)
    if not found:
        return ""
    word = found[0]
    if not fold(word):
        return ""
    russian, english = stems(word)
    return russian if any(_is_cyrillic(ch) for ch in word) else english


def query_terms(word: str) -> tuple[str, ...]:
    """The terms a query word matches: its Russian and English stems (one if equal)."""
    found = _WORD.findall(word)
    if not found or not fold(found[0]):
        return ()
    russian, english = stems(found[0])
    return (russian,) if russian == english else (russian, english)


def word_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, word)`` for each word of ``text`` (as ``terms`` splits it)."""
    for m in _WORD.finditer(text):
        yield m.start(), m.end(), m.group()


def words(text: str) -> list[str]:
    """The words of ``text`` as written (runs of letters, digits and apostrophes)."""
    return [w for w in _WORD.findall(text) if fold(w)]


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (duplicates kept: positions matter)."""
    return [t for t in (term(w) for w in _WORD.findall(text)) if t]


# Queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One thing a document must contain.

    ``variants`` are alternatives (any one matches): for a ``word`` each is a 1-tuple
    term; for a ``phrase`` each is the sequence of terms in order; for a ``prefix``
    each is a 1-tuple with the folded prefix that index terms must start with."""

    kind: Literal["word", "phrase", "prefix"]
    variants: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ParsedQuery:
    """``groups`` must all match (AND); the clauses of one group are alternatives
    (OR); a document matching any clause of ``excluded`` is left out. No groups: every
    document (subject to the filters)."""

    groups: tuple[tuple[Clause, ...], ...] = ()
    excluded: tuple[Clause, ...] = ()
    #: Terms and prefixes to highlight in snippets.
    marked: frozenset[str] = field(default_factory=frozenset)
    marked_prefixes: tuple[str, ...] = ()


_QUOTES = str.maketrans({"«": '"', "»": '"', "“": '"', "”": '"', "„": '"'})
_TOKEN = re.compile(r'"[^"]*"|"|\S+')


def _word_clause(word: str) -> Clause | None:
    alternatives = query_terms(word)
    if not alternatives:
        return None
    return Clause("word", tuple((t,) for t in alternatives))


def _phrase_clause(raw_words: Sequence[str]) -> Clause | None:
    if len(raw_words) == 1:
        return _word_clause(raw_words[0])
    if not raw_words:
        return None
    pairs = [stems(w) for w in raw_words]
    russian = tuple(p[0] for p in pairs)
    english = tuple(p[1] for p in pairs)
    variants = (russian,) if russian == english else (russian, english)
    return Clause("phrase", variants)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def _prefix_clause(raw: str) -> Clause:
    folded = fold(raw)
    letters = folded.replace("'", "")
    if len(letters) < MIN_PREFIX:
        raise QueryError(
            f"Type at least {MIN_PREFIX} letters before * (for example: hujj* or докум*)."
        )
    # Index terms are stems, and a stem may be shorter than what was typed
    # ("reporting*" must find "report", "договора*" "dogovor"): also look for the
    # stemmed beginning, unless it is so short that it would match unrelated words
    # ("moliya" has the Russian stem "mol").
    candidates = {folded}
    if any(ch.isalpha() for ch in folded):
        for stemmed in stems(raw):
            common = _common_prefix(folded, stemmed)
            if len(common.replace("'", "")) >= max(MIN_PREFIX, _MIN_STEMMED_PREFIX):
                candidates.add(common)
    # Drop candidates covered by a shorter one.
    kept = sorted(candidates, key=len)
    minimal = [p for i, p in enumerate(kept) if not any(p.startswith(q) for q in kept[:i])]
    return Clause("prefix", tuple((p,) for p in minimal))


def parse_query(text: str) -> ParsedQuery:
    """Parse what a user typed.

    Words must all be present (AND); ``"several words"`` is a phrase; ``word*`` is a
    prefix (at least ``MIN_PREFIX`` letters); ``a OR b`` accepts either; ``-word`` or
    ``NOT word`` excludes; ``AND`` is accepted and ignored. A token with several words
    in it (``01-02/345``) is a phrase. Raises ``QueryError`` with a message for the user.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"The query is too long: at most {MAX_QUERY_LENGTH} characters.")
    text = text.translate(_QUOTES)
    groups: list[list[Clause]] = []
    excluded: list[Clause] = []
    marked: set[str] = set()
    marked_prefixes: list[str] = []
    pending_or = False
    negate_next = False
    count = 0

    for part in _TOKEN.findall(text):
        if part == '"':
            raise QueryError("A quotation mark is not closed.")
        if part == "AND":
            continue
        if part == "OR":
            if not groups or pending_or or negate_next:
                raise QueryError("OR needs a word on each side (for example: order OR decree).")
            pending_or = True
            continue
        if part == "NOT":
            negate_next = True
            continue
        negate = negate_next
        negate_next = False
        if part.startswith('"'):
            clause = _phrase_clause(words(part[1:-1]))
        else:
            if part.startswith("-") and len(part) > 1:
                negate = True
                part = part[1:]
            if part.endswith("*"):
                parts = words(part)
                if not parts or not part.rstrip("*").endswith(parts[-1]):
                    raise QueryError(
                        f"Type at least {MIN_PREFIX} letters before * (for example: hujj*)."
                    )
                clause = _prefix_clause(parts[-1])
                if len(parts) > 1:
                    # "01-02*": the words before the last must be there too.
                    head = _phrase_clause(parts[:-1])
                    if head is not None and not negate:
                        groups.append([head])
                        marked.update(t for v in head.variants for t in v)
            elif "*" in part and not words(part):
                raise QueryError(
                    f"Type at least {MIN_PREFIX} letters before * (for example: hujj*)."
                )
            else:
                clause = _phrase_clause(words(part))
        if clause is None:
            if pending_or:
                raise QueryError("OR needs a word on each side (for example: order OR decree).")
            continue
        count += 1
        if count > MAX_CLAUSES:
            raise QueryError(f"The query has too many words: at most {MAX_CLAUSES}.")
        if negate:
            if pending_or:
                raise QueryError("OR cannot be followed by an excluded word.")
            excluded.append(clause)
            continue
        if clause.kind == "prefix":
            marked_prefixes.extend(v[0] for v in clause.variants)
        else:
            marked.update(t for v in clause.variants for t in v)
        if pending_or:
            groups[-1].append(clause)
            pending_or = False
        else:
            groups.append([clause])

    if pending_or:
        raise QueryError("OR needs a word on each side (for example: order OR decree).")
    if negate_next:
        raise QueryError("NOT needs a word after it.")
    if text.strip() and not groups and not excluded:
        raise QueryError("Type at least one word or number to search for.")
    return ParsedQuery(
        groups=tuple(tuple(g) for g in groups),
        excluded=tuple(excluded),
        marked=frozenset(marked),
        marked_prefixes=tuple(marked_prefixes),
    )


# Snippets --------------------------------------------------------------------------


def _is_marked(word: str, matched_terms: Collection[str], prefixes: Sequence[str]) -> bool:
    t = term(word)
    if t in matched_terms:
        return True
    if prefixes:
        folded = fold(word)
        return any(folded.startswith(p) or t.startswith(p) for p in prefixes)
    return False


#: Characters of a text searched for the first marked word (a snippet of a longer text
#: whose words appear only further on shows its beginning).
SNIPPET_SCAN = 200_000
SNIPPET_LENGTH = 300
#: Characters read around a snippet's window so that no word is cut at its edge.
_MARGIN = 200


def highlight(
    text: str,
    matched_terms: Iterable[str],
    max_len: int = SNIPPET_LENGTH,
    prefixes: Sequence[str] = (),
) -> str:
    """An HTML-safe snippet of ``text`` (at most about ``max_len`` characters of it)
    around the first marked word, with ``<mark>…</mark>`` around every marked word in
    it: a word is marked if its index term (``term``) is in ``matched_terms`` or its
    folded form or term starts with one of ``prefixes``. Everything else is escaped with
    ``html.escape``. "" for empty text; the beginning of the text if nothing matches in
    its first ``SNIPPET_SCAN`` characters. The work is bounded by ``SNIPPET_SCAN``, not
    by the length of the text."""
    if not text:
        return ""
    wanted = matched_terms if isinstance(matched_terms, Collection) else set(matched_terms)
    first = None
    if wanted or prefixes:
        for m in _WORD.finditer(text, 0, SNIPPET_SCAN):
            if _is_marked(m.group(), wanted, prefixes):
                first = m.start()
                break
    start = 0
    if first is not None:
        # Some context before the first match, starting at a word boundary.
        start = max(0, first - max_len // 4)
        if start:
            space = text.rfind(" ", 0, start + 1)
            start = space + 1 if space >= 0 and first - space < max_len // 2 else start
    end = min(len(text), start + max_len)
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start + max_len // 2:
            end = space
    spans = []
    if first is not None:
        spans = [
            (m.start(), m.end())
            for m in _WORD.finditer(text, max(0, start - _MARGIN), end + _MARGIN)
            if m.start() >= start and m.end() <= end and _is_marked(m.group(), wanted, prefixes)
        ]
    out: list[str] = ["…"] if start else []
    pos = start
    for s, e in spans:
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out).strip()


def snippets(
    ids: Iterable[str], texts: Mapping[str, str], parsed: ParsedQuery, deadline: float
) -> dict[str, str]:
    """``highlight`` for each id with text; once the clock passes ``deadline`` (the
    search's time limit) the remaining texts give their beginning, unmarked."""
    out: dict[str, str] = {}
    for doc_id in ids:
        text = texts.get(doc_id) or ""
        if not text:
            continue
        if time.monotonic() > deadline:
            out[doc_id] = highlight(text, ())
        else:
            out[doc_id] = highlight(text, parsed.marked, prefixes=parsed.marked_prefixes)
    return out
