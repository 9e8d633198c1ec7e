"""Benchmark: search indexing and query latency, our Whoosh index against raw Whoosh.

In one run, on a deterministic synthetic corpus (``--docs`` documents, default 100,000,
of about 300 words in mixed Uzbek Latin, Uzbek Cyrillic, Russian and English, with the
fields of a registered document):

- indexing, documents per second: ours is ``WhooshBackend.upsert`` in batches of
  ``--batch`` entries (default 500, the chunk of ``edms search reindex``; the queue
  drain uses ``search_batch`` = 200); raw is a plain Whoosh index built by this script
  with the same fields and Whoosh's defaults (``StandardAnalyzer`` on the text fields,
  only the id stored, ``ix.writer()`` with default settings, ``add_document`` per
  document, one commit per batch of the same size). The two sides take turns batch by
  batch (raw, ours, ours, raw, ...), so a busy moment of the machine falls on both.
- query latency, p50/p95/p99/max, overall and per kind, over a fixed mix of
  ``--queries`` queries (default 300): one word, two words, a "phrase", a prefix
  (``abc*``, 3 or 4 letters), a word filtered on type and department, and a word
  sorted by date (half of them within one year), all with the permission filter of a
  clerk of one department (``dept:3``, ``user:17``), first page of 20. Ours is
  ``WhooshBackend.search`` (which also counts the facets ``FACETS`` over every match
  and the exact total, and stops at ``--time-limit``, 1 s as ``search_time_limit``);
  raw is ``searcher.search(q, filter=..., limit=20)`` (``sortedby`` for the date
  query) on ``MultifieldParser`` queries over the same four text fields, with Whoosh's
  own prefix expansion and no facets, no time limit. Raw and ours take turns one query
  at a time. Snippets are not the index's cost: the measured pass gives ours no text
  (``text_for`` returns ``{}``); a second pass (unless ``--no-snippets``) makes the
  snippets from the bodies, regenerated per id, the regeneration time left out.
- PostgreSQL (``PostgresBackend`` in a schema of its own made by ``for_tests``, dropped
  at the end) on the same corpus and queries, when ``--postgres URL`` or
  ``EDMS_BENCH_POSTGRES_URL`` is set; skipped with a message otherwise or when the
  server does not answer. After loading, ``VACUUM ANALYZE`` (what autovacuum does soon
  after a bulk load).

Targets (at 100,000 documents): ours p95 < 100 ms, no query over 1 s (a query cut
short by the time limit counts as over), and ours indexes at least as fast as raw.
This is a benchmark, not a test: it exits 0 whatever the figures, non-zero only when
it could not measure.

Usage: ``.venv/bin/python bench/search.py [--docs 100000] [--batch 500] [--queries 300]
[--seed 1] [--time-limit 1.0] [--postgres URL] [--no-snippets]``
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from whoosh import fields, index
from whoosh import query as wq
from whoosh.qparser import MultifieldParser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edms.search import whoosh_backend  # noqa: E402
from edms.search.analysis import MIN_PREFIX, fold  # noqa: E402
from edms.search.backend import FACETS, Entry, Query, Results  # noqa: E402
from edms.search.whoosh_backend import WhooshBackend  # noqa: E402

TARGET_P95 = 0.100
TARGET_MAX = 1.0
PRINCIPALS = ("dept:3", "user:17")  #: a clerk of department 3
CLERK_DEPARTMENT = "D03"
TEXT_FIELDS = ["title", "body", "registration_number", "correspondent"]
KINDS = ("term", "two terms", "phrase", "prefix", "filtered", "date-sorted")
PER_PAGE = 20

# --- vocabulary ------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


UZ_FUNCTION = _words(
    "va bilan uchun bo'yicha ham emas bu shu u yoki lekin haqida asosida to'g'risida "
    "hamda esa ekan kerak mumkin barcha har qaysi"
)
UZ_STEMS = _words(
    "hujjat buyruq qaror xat ariza shartnoma hisobot bayonnoma ma'lumot tashkilot "
    "vazirlik bo'lim boshqarma rahbar xodim fuqaro murojaat ijro nazorat muddat loyiha "
    "dastur reja moliya byudjet soliq to'lov mablag' g'azna yig'ilish kengash qo'mita "
    "o'zbekiston respublika viloyat tuman shahar mahalla ta'lim sog'liq qishloq xo'jalik "
    "sanoat savdo tadbirkor investitsiya eksport import bojxona transport yo'l qurilish "
    "uy yer suv energiya gaz elektr aloqa axborot texnologiya tizim xizmat davlat "
    "hokimiyat hokim vazir prezident farmon qonun nizom tartib talab taklif javob so'rov "
    "natija tahlil o'rganish tekshiruv ko'rik ruxsat litsenziya guvohnoma sertifikat "
    "imzo muhr nusxa ilova sana raqam yil oy kun mutaxassis bo'linma hudud korxona "
    "g'alla paxta bog' ombor uskuna ta'mir"
)
UZ_SUFFIXES = ("", "lar", "ni", "ning", "ga", "da", "dan", "i", "lari", "larni", "larga")
EN_FUNCTION = _words("the of and to in for on with by is be this that as at from are")
EN_WORDS = _words(
    "document order report request contract letter decree department ministry approve "
    "review sign signature deadline budget tax payment invoice project plan meeting "
    "committee council citizen employee manager director inspection licence permit "
    "certificate copy annex date number year month registration archive record file "
    "notice response proposal analysis result audit control execution transfer "
    "delivery supplier customer agreement amendment schedule policy regulation law "
    "procedure requirement application complaint appeal statement minute protocol "
    "region district city village school hospital road bridge water energy power gas "
    "network system service support update change issue account balance fund grant "
    "loan credit export import customs transport building repair equipment warehouse "
    "cotton grain harvest market price cost salary staff training"
)
EN_SUFFIXES = ("", "s", "ed", "ing")
RU_FUNCTION = _words("в на по с и о для от к не что за из до при об")
RU_MASCULINE = _words(
    "документ приказ договор отчёт закон указ проект запрос ответ контроль срок план "
    "бюджет налог платёж сотрудник руководитель отдел департамент акт протокол "
    "регламент комитет совет район город результат анализ аудит перевод счёт кредит "
    "экспорт импорт транспорт ремонт склад рынок"
)
RU_MASC_ENDINGS = ("", "а", "у", "ом", "е", "ы", "ов", "ам", "ами", "ах")
RU_FEMININE = _words(
    "справка заявка служба программа система жалоба выписка копия печать подпись "
    "дата цена стоимость зарплата поставка таможня школа больница дорога вода"
)
RU_FEM_ENDINGS = ("а", "ы", "е", "у", "ой", "ам", "ами", "ах")
RU_IA = _words("информация организация комиссия лицензия инспекция регистрация экспертиза")
RU_IA_ENDINGS = ("ия", "ии", "ию", "ией", "ий", "иям", "иями", "иях")
RU_IE = _words(
    "решение поручение положение заключение обращение исполнение управление "
    "распоряжение соглашение приложение уведомление"
)
RU_IE_ENDINGS = ("ие", "ия", "ию", "ием", "ии", "ий", "иям", "иями", "иях")
RU_ADJECTIVES = _words(
    "государственный финансовый налоговый новый важный срочный районный "
    "хозяйственный исполнительный"
)
RU_ADJ_ENDINGS = ("ый", "ого", "ому", "ым", "ом", "ая", "ой", "ую", "ое", "ые", "ых", "ыми")
RU_VERBS = _words(
    "рассмотреть рассмотрен рассмотрено направить направлен направлено исполнить "
    "исполнено утвердить утверждён утверждено согласовать согласовано подписать "
    "подписано представить представлено обеспечить принять принято"
)

_UZ_CYRILLIC = (
    ("o'", "ў"), ("g'", "ғ"), ("sh", "ш"), ("ch", "ч"), ("yo", "ё"), ("yu", "ю"),
    ("ya", "я"), ("ts", "ц"), ("'", "ъ"), ("a", "а"), ("b", "б"), ("d", "д"),
    ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "ҳ"), ("i", "и"), ("j", "ж"), ("k", "к"),
    ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("q", "қ"), ("r", "р"),
    ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"), ("x", "х"), ("y", "й"), ("z", "з"),
)  # fmt: skip
#: How an apostrophe of Uzbek Latin is typed, with its share: ASCII, turned comma
#: (the official oʻ), left and right quotation marks.
APOSTROPHE_VARIANTS = (("'", 0.4), ("ʻ", 0.25), ("‘", 0.2), ("’", 0.15))


def to_cyrillic(word: str) -> str:
    """Uzbek Latin to Uzbek Cyrillic (enough for generated words)."""
    out = []
    i = 0
    if word.startswith("ye"):
        out.append("е")
        i = 2
    elif word.startswith("e"):
        out.append("э")
        i = 1
    while i < len(word):
        for latin, cyrillic in _UZ_CYRILLIC:
            if word.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def _english(word: str, suffix: str) -> str:
    if suffix == "s" and word.endswith(("s", "x", "sh", "ch")):
        return word + "es"
    if suffix == "s" and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if suffix in ("ed", "ing") and word.endswith("e"):
        return word[:-1] + suffix
    return word + suffix


def _uz_forms() -> list[str]:
    forms = []
    for stem in UZ_STEMS:
        for suffix in UZ_SUFFIXES:
            if suffix == "i" and stem[-1] in "aeiou":
                suffix = "si"
            forms.append(stem + suffix)
    return forms


@dataclass
class Language:
    code: str
    forms: list[str]  #: most frequent first (function words, then content words)
    content: list[str]  #: the words a user would search for
    cum_weights: list[float] = field(default_factory=list)


def vocabulary(seed: int) -> list[Language]:
    """Four languages, each a Zipf-distributed list of word forms (rank r: weight 1/r)."""
    rng = random.Random(f"vocabulary:{seed}")
    uz = _uz_forms()
    uz_latin: list[str] = []
    for form in uz:  # apostrophe variants are separate forms, as typed
        if "'" in form:
            uz_latin += [form.replace("'", mark) for mark, _ in APOSTROPHE_VARIANTS]
        else:
            uz_latin.append(form)
    ru: list[str] = []
    for stems, cut, endings in (  # cut: letters of the dictionary form before the ending
        (RU_MASCULINE, 0, RU_MASC_ENDINGS),
        (RU_FEMININE, 1, RU_FEM_ENDINGS),
        (RU_IA, 2, RU_IA_ENDINGS),
        (RU_IE, 2, RU_IE_ENDINGS),
        (RU_ADJECTIVES, 2, RU_ADJ_ENDINGS),
    ):
        for stem in stems:
            base = stem[: len(stem) - cut]
            ru += [base + ending for ending in endings]
    ru += RU_VERBS
    en = [_english(w, suffix) for w in EN_WORDS for suffix in EN_SUFFIXES]
    languages = []
    for code, function, content in (
        (
            "uz",
            [w.replace("'", "ʻ") if "'" in w and rng.random() < 0.4 else w for w in UZ_FUNCTION],
            uz_latin,
        ),
        ("uz-Cyrl", [to_cyrillic(w) for w in UZ_FUNCTION], [to_cyrillic(w) for w in uz]),
        ("ru", RU_FUNCTION, ru),
        ("en", EN_FUNCTION, en),
    ):
        content = list(dict.fromkeys(content))
        rng.shuffle(content)
        forms = list(function) + content
        total = 0.0
        cum = []
        for rank in range(1, len(forms) + 1):
            total += 1.0 / rank
            cum.append(total)
        languages.append(Language(code, forms, content, cum))
    return languages


# --- corpus ----------------------------------------------------------------------------

TYPES = ("ORDER", "LETTER", "DECREE", "CONTRACT", "REPORT", "MEMO", "APPLICATION", "PROTOCOL")
JOURNALS = {"incoming": "IN", "outgoing": "OUT", "internal": "INT"}
STATUSES = ("registered", "in_progress", "executed", "archived", "cancelled")
STATUS_WEIGHTS = (20, 25, 35, 18, 2)
LANGUAGE_SHARE = (0.4, 0.2, 0.25, 0.15)  #: uz, uz-Cyrl, ru, en
CORRESPONDENTS = (
    "Moliya vazirligi",
    "Toshkent shahar hokimligi",
    "Oʻzbekiston temir yoʻllari",
    "Soliq qoʻmitasi",
    "Samarqand viloyati hokimligi",
    "Ўзбекистон Республикаси Адлия вазирлиги",
    "Навоий кон-металлургия комбинати",
    "Министерство финансов",
    "АО «Узбектелеком»",
    "ООО «Ташкент Строй Сервис»",
    "Ministry of Economy and Finance",
    "Asian Development Bank",
    "UNDP Uzbekistan",
    "",
)
START = date(2021, 1, 1)
DAYS = 5 * 365
DEPARTMENTS = 10
ID_TAG = 0xEDB5  #: high bits of the generated ids, so an id gives back its number


def doc_id(seed: int, n: int) -> str:
    return str(uuid.UUID(int=(ID_TAG << 112) | ((seed & 0xFFFF) << 64) | n))


def doc_number(value: str) -> int:
    return uuid.UUID(value).int & 0xFFFF_FFFF_FFFF_FFFF


class Corpus:
    """Document ``n`` is generated from its own ``random.Random``: any document can be
    made again from its id, in any order, so nothing is kept in memory."""

    def __init__(self, seed: int, docs: int) -> None:
        self.seed = seed
        self.docs = docs
        self.languages = vocabulary(seed)

    def _rng(self, n: int) -> random.Random:
        return random.Random(self.seed * 1_000_000_007 + n)

    def _sentences(self, rng: random.Random, primary: Language) -> list[list[str]]:
        target = rng.randint(250, 350)
        sentences: list[list[str]] = []
        count = 0
        while count < target:
            language = primary if rng.random() < 0.85 else rng.choice(self.languages)
            length = min(rng.randint(6, 16), target - count)
            words = rng.choices(language.forms, cum_weights=language.cum_weights, k=length)
            if rng.random() < 0.2:  # a number (a date, an amount, a reference)
                words[rng.randrange(length)] = str(rng.randrange(1, 2030))
            sentences.append(words)
            count += length
        return sentences

    def generate(self, n: int) -> tuple[Entry, list[list[str]]]:
        rng = self._rng(n)
        lang_index = rng.choices(range(4), weights=LANGUAGE_SHARE)[0]
        primary = self.languages[lang_index]
        department = rng.randint(1, DEPARTMENTS)
        type_index = rng.randrange(len(TYPES))
        direction = rng.choice(tuple(JOURNALS))
        registered_on = START + timedelta(days=rng.randrange(DAYS))
        updated_at = datetime(
            registered_on.year, registered_on.month, registered_on.day, tzinfo=UTC
        ) + timedelta(seconds=rng.randrange(30 * 86400))
        principals = [f"dept:{department}"]
        if department != 1:
            principals.append("dept:1")  # the head office sees its departments' documents
        if rng.random() < 0.1:
            principals += [f"user:{rng.randint(1, 300)}" for _ in range(rng.randint(1, 2))]
        title_words = rng.choices(primary.content, k=rng.randint(4, 9))
        sentences = self._sentences(rng, primary)
        entry = Entry(
            id=doc_id(self.seed, n),
            title=" ".join(title_words).capitalize(),
            body=" ".join(" ".join(s).capitalize() + "." for s in sentences),
            registration_number=f"{department:02d}-{type_index + 1:02d}/{n % 9973 + 1}",
            type=TYPES[type_index],
            journal=JOURNALS[direction],
            direction=direction,
            department=f"D{department:02d}",
            status=rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0],
            correspondent=rng.choice(CORRESPONDENTS),
            registered_on=registered_on,
            updated_at=updated_at,
            language=primary.code,
            principals=tuple(dict.fromkeys(principals)),
        )
        return entry, sentences

    def entry(self, n: int) -> Entry:
        return self.generate(n)[0]

    def chunks(self, size: int) -> Iterator[list[Entry]]:
        for start in range(0, self.docs, size):
            yield [self.entry(n) for n in range(start, min(start + size, self.docs))]


# --- raw Whoosh ------------------------------------------------------------------------


def raw_schema() -> fields.Schema:
    """The same fields as ours, Whoosh's defaults: ``TEXT()`` is the StandardAnalyzer;
    only the id is stored; the date is sortable (it is sorted on)."""
    return fields.Schema(
        id=fields.ID(unique=True, stored=True),
        title=fields.TEXT(),
        body=fields.TEXT(),
        registration_number=fields.TEXT(),
        correspondent=fields.TEXT(),
        type=fields.ID(),
        journal=fields.ID(),
        direction=fields.ID(),
        department=fields.ID(),
        status=fields.ID(),
        language=fields.ID(),
        year=fields.ID(),
        registered_on=fields.NUMERIC(int, bits=32, sortable=True),
        updated_at=fields.NUMERIC(int, bits=64),
        principals=fields.KEYWORD(commas=True),
    )


def yyyymmdd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def raw_document(entry: Entry) -> dict[str, Any]:
    """The same fields as ours (``whoosh_backend.document``), for the raw schema."""
    return whoosh_backend.document(entry)


def raw_add(ix: Any, entries: Sequence[Entry]) -> None:
    writer = ix.writer()
    for entry in entries:
        writer.add_document(**raw_document(entry))
    writer.commit()


# --- queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    kind: str
    text: str
    filters: Mapping[str, str] = field(default_factory=dict)
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "relevance"

    def ours(self, time_limit: float) -> Query:
        return Query(
            text=self.text,
            filters=dict(self.filters),
            date_from=self.date_from,
            date_to=self.date_to,
            sort=self.sort,
            per_page=PER_PAGE,
            principals=PRINCIPALS,
            time_limit=time_limit,
        )

    def raw(self, parser: MultifieldParser) -> tuple[Any, dict[str, Any]]:
        text = self.text.lower() if self.kind == "prefix" else self.text
        parts = [parser.parse(text)]
        parts += [wq.Term(name, value) for name, value in self.filters.items()]
        if self.date_from or self.date_to:
            parts.append(
                wq.NumericRange(
                    "registered_on",
                    yyyymmdd(self.date_from) if self.date_from else None,
                    yyyymmdd(self.date_to) if self.date_to else None,
                )
            )
        q = parts[0] if len(parts) == 1 else wq.And(parts)
        options: dict[str, Any] = {}
        if self.sort != "relevance":
            options = {"sortedby": "registered_on", "reverse": self.sort == "-date"}
        return q, options


def _searchable(word: str) -> bool:
    return any(ch.isalpha() for ch in word)


def query_mix(corpus: Corpus, count: int, seed: int) -> list[Spec]:
    """``count`` queries, the kinds in turn. Words come from generated documents (what
    people look for is in the documents, so common words come up often), and for half
    of the one-word queries from the whole vocabulary (rarer words)."""
    rng = random.Random(f"queries:{seed}")
    function_words = {w for language in corpus.languages for w in language.forms[:30]}

    def content_words(n: int) -> list[list[str]]:
        _, sentences = corpus.generate(n)
        return [[w for w in s if _searchable(w) and w not in function_words] for s in sentences]

    def some_word() -> str:
        if rng.random() < 0.5:
            return rng.choice(rng.choice(corpus.languages).content)
        while True:
            words = [w for s in content_words(rng.randrange(corpus.docs)) for w in s]
            if words:
                return rng.choice(words)

    specs: list[Spec] = []
    while len(specs) < count:
        kind = KINDS[len(specs) % len(KINDS)]
        if kind == "term":
            specs.append(Spec(kind, some_word()))
        elif kind == "two terms":
            words = [w for s in content_words(rng.randrange(corpus.docs)) for w in s]
            specs.append(Spec(kind, " ".join(rng.sample(words, 2))))
        elif kind == "phrase":
            _, sentences = corpus.generate(rng.randrange(corpus.docs))
            sentence = rng.choice([s for s in sentences if len(s) >= 2])
            at = rng.randrange(len(sentence) - 1)
            specs.append(Spec(kind, f'"{sentence[at]} {sentence[at + 1]}"'))
        elif kind == "prefix":
            while True:
                word = some_word()
                head = word[: rng.choice((3, 4))]
                # letters only, and three of them once folded as ours reads them
                # ("подъ" folds to "pod'", "объ" to "ob": too short for a prefix)
                if head.isalpha() and len(fold(head).replace("'", "")) >= MIN_PREFIX:
                    break
            specs.append(Spec(kind, head + "*"))
        elif kind == "filtered":
            specs.append(
                Spec(
                    kind,
                    some_word(),
                    filters={"type": rng.choice(TYPES), "department": CLERK_DEPARTMENT},
                )
            )
        else:
            spec = Spec(kind, some_word(), sort="-date")
            if rng.random() < 0.5:
                year = rng.randint(START.year, START.year + 4)
                spec = Spec(
                    kind,
                    spec.text,
                    date_from=date(year, 1, 1),
                    date_to=date(year, 12, 31),
                    sort="-date",
                )
            specs.append(spec)
    return specs


# --- measuring -------------------------------------------------------------------------


@dataclass
class Timings:
    by_kind: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    partial: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    hits: int = 0

    def add(self, kind: str, seconds: float, partial: bool = False) -> None:
        self.by_kind[kind].append(seconds)
        self.partial[kind] += partial

    def all(self) -> list[float]:
        return [t for times in self.by_kind.values() for t in times]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(values: Sequence[float]) -> tuple[float, float, float, float]:
    return (
        percentile(values, 0.5),
        percentile(values, 0.95),
        percentile(values, 0.99),
        max(values),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def peak_mb() -> float:
    """Peak RSS of this process so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def index_whoosh(
    corpus: Corpus, batch: int, ours: WhooshBackend, raw_ix: Any
) -> tuple[float, float]:
    """Seconds spent indexing by ours and raw, batch by batch, taking turns."""
    spent = {"ours": 0.0, "raw": 0.0}
    steps: dict[str, Callable[[list[Entry]], None]] = {
        "ours": ours.upsert,
        "raw": lambda entries: raw_add(raw_ix, entries),
    }
    done = 0
    began = time.monotonic()
    for number, entries in enumerate(corpus.chunks(batch)):
        order = ("raw", "ours") if number % 2 == 0 else ("ours", "raw")
        for side in order:
            start = time.perf_counter()
            steps[side](entries)
            spent[side] += time.perf_counter() - start
        done += len(entries)
        if (
            done % max(batch, corpus.docs // 10 // batch * batch or batch) == 0
            or done == corpus.docs
        ):
            progress(
                f"  indexed {done}/{corpus.docs} (ours {done / spent['ours']:.0f}/s, "
                f"raw {done / spent['raw']:.0f}/s, {time.monotonic() - began:.0f} s)"
            )
    return spent["ours"], spent["raw"]


def no_text(ids: Sequence[str]) -> Mapping[str, str]:
    return {}


class Bodies:
    """``text_for`` for snippets: the bodies regenerated from the ids; the time spent
    regenerating is kept apart so that it can be left out."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.spent = 0.0

    def __call__(self, ids: Sequence[str]) -> Mapping[str, str]:
        start = time.perf_counter()
        found = {value: self.corpus.entry(doc_number(value)).body for value in ids}
        self.spent += time.perf_counter() - start
        return found


def run_ours(backend: Any, spec: Spec, time_limit: float, text_for: Any = no_text) -> Results:
    return backend.search(spec.ours(time_limit), text_for)  # type: ignore[no-any-return]


def run_raw(searcher: Any, parser: MultifieldParser, spec: Spec, allow: Any) -> list[str]:
    q, options = spec.raw(parser)
    results = searcher.search(q, filter=allow, limit=PER_PAGE, **options)
    return [hit["id"] for hit in results]


def query_whoosh(
    specs: Sequence[Spec],
    warmup: Sequence[Spec],
    ours: WhooshBackend,
    raw_ix: Any,
    time_limit: float,
) -> tuple[Timings, Timings, Results | None]:
    searcher = raw_ix.searcher()
    parser = MultifieldParser(TEXT_FIELDS, raw_ix.schema)
    allow = wq.Or([wq.Term("principals", p) for p in PRINCIPALS])
    for spec in warmup:
        run_raw(searcher, parser, spec, allow)
        run_ours(ours, spec, time_limit)
    raw_t, ours_t = Timings(), Timings()
    sample: Results | None = None
    gc.collect()
    for number, spec in enumerate(specs):
        for side in ("raw", "ours") if number % 2 == 0 else ("ours", "raw"):
            start = time.perf_counter()
            if side == "raw":
                raw_t.hits += len(run_raw(searcher, parser, spec, allow))
                raw_t.add(spec.kind, time.perf_counter() - start)
            else:
                found = run_ours(ours, spec, time_limit)
                ours_t.add(spec.kind, time.perf_counter() - start, found.partial)
                ours_t.hits += len(found.hits)
                if sample is None and found.total:
                    sample = found
        if (number + 1) % 50 == 0:
            progress(f"  queries {number + 1}/{len(specs)}")
    searcher.close()
    return ours_t, raw_t, sample


def query_backend(
    backend: Any,
    specs: Sequence[Spec],
    warmup: Sequence[Spec],
    time_limit: float,
    text_for: Any = None,
) -> Timings:
    """Latencies of one backend alone; with ``text_for`` (a ``Bodies``), snippets made,
    the time spent regenerating bodies left out."""
    for spec in warmup:
        run_ours(backend, spec, time_limit)
    timings = Timings()
    gc.collect()
    for spec in specs:
        before = text_for.spent if text_for is not None else 0.0
        start = time.perf_counter()
        found = run_ours(backend, spec, time_limit, text_for or no_text)
        spent = time.perf_counter() - start
        if text_for is not None:
            spent -= text_for.spent - before
        timings.add(spec.kind, spent, found.partial)
        timings.hits += len(found.hits)
    return timings


def print_latencies(rows: Sequence[tuple[str, Timings]]) -> None:
    """One block per side: overall and per kind, p50/p95/p99/max in ms."""
    print(f"{'':<22}{'kind':<13}{'n':>4}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}{'cut':>5}")
    for label, timings in rows:
        for kind in (*KINDS, "all"):
            values = timings.all() if kind == "all" else timings.by_kind[kind]
            if not values:
                continue
            cut = sum(timings.partial.values()) if kind == "all" else timings.partial[kind]
            p50, p95, p99, top = summary(values)
            print(
                f"{label if kind == KINDS[0] else '':<22}{kind:<13}{len(values):>4}"
                f"{ms(p50):>9}{ms(p95):>9}{ms(p99):>9}{ms(top):>9}{cut:>5}"
            )
    print("(milliseconds; cut: answered partially, stopped by the time limit)")


def postgres(
    url: str,
    corpus: Corpus,
    batch: int,
    specs: Sequence[Spec],
    warmup: Sequence[Spec],
    time_limit: float,
) -> tuple[float, Timings] | None:
    import sqlalchemy as sa

    from edms.search.pg_backend import PostgresBackend

    try:
        backend = PostgresBackend.for_tests(url)
    except Exception as exc:  # any failure to connect: skip with a message
        print(
            f"PostgreSQL: skipped, the server at {url} did not answer ({type(exc).__name__}: {exc})"
        )
        return None
    try:
        spent = 0.0
        done = 0
        began = time.monotonic()
        for entries in corpus.chunks(batch):
            start = time.perf_counter()
            backend.upsert(entries)
            spent += time.perf_counter() - start
            done += len(entries)
            if (
                done % max(batch, corpus.docs // 10 // batch * batch or batch) == 0
                or done == corpus.docs
            ):
                progress(
                    f"  PostgreSQL indexed {done}/{corpus.docs} ({done / spent:.0f}/s, "
                    f"{time.monotonic() - began:.0f} s)"
                )
        engine = backend._engine  # a benchmark may look inside
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"VACUUM ANALYZE {backend._table.fullname}"))
            size = conn.scalar(
                sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                {"t": backend._table.fullname},
            )
        print(f"PostgreSQL table with its indexes: {size / 1e6:.0f} MB")
        timings = query_backend(backend, specs, warmup, time_limit)
        return corpus.docs / spent, timings
    finally:
        backend.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents in the corpus")
    parser.add_argument("--batch", type=int, default=500, help="entries per upsert/commit")
    parser.add_argument("--queries", type=int, default=300, help="queries in the mix")
    parser.add_argument("--seed", type=int, default=1, help="corpus and query seed")
    parser.add_argument("--time-limit", type=float, default=1.0, help="ours: Query.time_limit")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("EDMS_BENCH_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL database (default: EDMS_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--no-snippets", action="store_true", help="skip the pass with snippets")
    parser.add_argument("--keep", help="build the indexes in this directory and keep them")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: query the indexes an earlier run built there (same --docs and "
        "--seed) instead of indexing again; the indexing figures are that run's",
    )
    args = parser.parse_args()
    if args.docs < 10 or args.batch < 1 or args.queries < len(KINDS):
        parser.error("need --docs >= 10, --batch >= 1 and --queries >= 6")

    corpus = Corpus(args.seed, args.docs)
    words = sum(len(language.forms) for language in corpus.languages)
    sample_entry = corpus.entry(0)
    print(
        f"corpus: {args.docs} documents, seed {args.seed}, {words} word forms (uz Latin with "
        f"apostrophe variants, uz Cyrillic, ru, en; Zipf), e.g. {len(sample_entry.body.split())} "
        f"words in document 0"
    )
    print(f"indexing: batches of {args.batch}; ours WhooshBackend.upsert, raw Whoosh defaults")
    print(
        f"queries: {args.queries} ({', '.join(KINDS)}), principals {PRINCIPALS}, "
        f"first page of {PER_PAGE}; ours counts facets {', '.join(FACETS)} and the exact "
        "total on every query and has a time limit of "
        f"{args.time_limit:g} s; raw: no facets, no time limit"
    )
    specs = query_mix(corpus, args.queries, args.seed)
    warmup = query_mix(corpus, 2 * len(KINDS), args.seed + 1000)
    print()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="edms-bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        built = work / "built.json"
        if args.reuse:
            if not args.keep or not built.exists():
                parser.error("--reuse needs --keep DIR where an earlier run built the indexes")
            stamp = json.loads(built.read_text())
            if (stamp["docs"], stamp["seed"]) != (args.docs, args.seed):
                parser.error(f"{built} is for --docs {stamp['docs']} --seed {stamp['seed']}")
            ours = WhooshBackend(work / "ours")
            raw_ix = index.open_dir(str(work / "raw"))
            ours_spent, raw_spent = stamp["ours_seconds"], stamp["raw_seconds"]
            print(f"indexes reused from {work}: the indexing figures are those of {stamp['when']}")
        else:
            ours = WhooshBackend(work / "ours")
            (work / "raw").mkdir(exist_ok=True)
            raw_ix = index.create_in(str(work / "raw"), raw_schema())
            progress("indexing ours and raw Whoosh ...")
            ours_spent, raw_spent = index_whoosh(corpus, args.batch, ours, raw_ix)
            built.write_text(
                json.dumps(
                    {
                        "docs": args.docs,
                        "seed": args.seed,
                        "batch": args.batch,
                        "ours_seconds": ours_spent,
                        "raw_seconds": raw_spent,
                        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    }
                )
            )
        assert ours.count() == args.docs, ours.count()
        ours_rate, raw_rate = args.docs / ours_spent, args.docs / raw_spent
        print(f"{'indexing':<22}{'docs/s':>9}{'seconds':>9}{'index MB':>10}{'segments':>10}")
        ours_gen = next((work / "ours").glob("gen-*"))
        for label, rate, spent, path, ix in (
            ("raw Whoosh", raw_rate, raw_spent, work / "raw", raw_ix),
            (
                "ours (WhooshBackend)",
                ours_rate,
                ours_spent,
                ours_gen,
                index.open_dir(str(ours_gen)),
            ),
        ):
            segments = len(ix._segments())
            print(f"{label:<22}{rate:>9.0f}{spent:>9.1f}{dir_mb(path):>10.0f}{segments:>10}")
        print(f"ratio ours/raw: {ours_rate / raw_rate:.2f}")
        phases = [("after indexing", peak_mb())]
        print()

        progress("querying ours and raw Whoosh ...")
        ours_t, raw_t, sample = query_whoosh(specs, warmup, ours, raw_ix, args.time_limit)
        rows = [("raw Whoosh", raw_t), ("ours (WhooshBackend)", ours_t)]
        snippets = None
        if not args.no_snippets:
            progress("querying ours with snippets ...")
            snippets = query_backend(ours, specs, (), args.time_limit, Bodies(corpus))
            rows.append(("ours + snippets", snippets))
        print_latencies(rows)
        raw_all, ours_all = summary(raw_t.all()), summary(ours_t.all())
        print(
            "ratio ours/raw (latency, lower is better): "
            + ", ".join(
                f"{name} {o / r:.2f}"
                for name, o, r in zip(("p50", "p95", "p99", "max"), ours_all, raw_all, strict=True)
            )
        )
        print(f"hits returned: raw {raw_t.hits}, ours {ours_t.hits} (first pages)")
        if sample is not None:
            print(f"e.g. ours' facets on one query (total {sample.total}): {sample.facets}")
        ours.close()
        raw_ix.close()
        phases.append(("after the Whoosh queries", peak_mb()))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    pg = None
    if args.postgres:
        print()
        progress("PostgreSQL ...")
        pg = postgres(args.postgres, corpus, args.batch, specs, warmup, args.time_limit)
        if pg is not None:
            rate, timings = pg
            print(
                f"PostgreSQL indexing: {rate:.0f} docs/s (ratio to raw Whoosh {rate / raw_rate:.2f})"
            )
            print_latencies([("PostgreSQL", timings)])
    else:
        print()
        print("PostgreSQL: skipped (give --postgres URL or set EDMS_BENCH_POSTGRES_URL)")

    print()
    phases.append(("at the end", peak_mb()))
    print("peak RSS of this process: " + ", ".join(f"{mb:.0f} MB {when}" for when, mb in phases))
    _, p95, _, top = ours_all
    cut = sum(ours_t.partial.values())
    checks = [
        (f"ours p95 < {TARGET_P95 * 1000:.0f} ms", p95 < TARGET_P95, f"{ms(p95)} ms"),
        (
            f"no query over {TARGET_MAX:g} s",
            top < TARGET_MAX and cut == 0,
            f"max {ms(top)} ms, {cut} cut short",
        ),
        ("indexing >= raw", ours_rate >= raw_rate, f"ratio {ours_rate / raw_rate:.2f}"),
    ]
    if pg is not None:
        _, pg_p95, _, pg_top = summary(pg[1].all())
        print(
            f"(PostgreSQL, no target: p95 {ms(pg_p95)} ms, max {ms(pg_top)} ms, "
            f"{sum(pg[1].partial.values())} cut short)"
        )
    for name, ok, detail in checks:
        print(f"target {name}: {'PASS' if ok else 'FAIL'} ({detail})")
    if args.docs < 100_000:
        print(f"(the targets are set for 100,000 documents; this run had {args.docs})")


if __name__ == "__main__":
    main()
