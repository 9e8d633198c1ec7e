"""The Whoosh backend's own behaviour: health, rebuilds, freshness, time limit, threads."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from edms.search import whoosh_backend
from edms.search.backend import Entry, IndexUnavailable, Query
from edms.search.whoosh_backend import (
    NEEDS_REBUILD,
    POINTER,
    REBUILDING,
    VERSION_FILE,
    IndexLocked,
    WhooshBackend,
)

MakeEntry = Callable[..., Entry]


def no_text(ids: Sequence[str]) -> dict[str, str]:
    return {}


def find(backend: WhooshBackend, text: str = "", **kwargs) -> set[str]:
    kwargs.setdefault("principals", None)
    return {h.id for h in backend.search(Query(text=text, **kwargs), no_text).hits}


def feeder(entries: list[Entry], chunk: int = 2):
    def feed(write: Callable[[Sequence[Entry]], None]) -> None:
        for i in range(0, len(entries), chunk):
            write(entries[i : i + chunk])

    return feed


class Rebuilder:
    """A ``rebuild`` callback feeding ``entries``, held until ``release()``."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.go = threading.Event()
        self.calls = 0

    def __call__(self, backend: WhooshBackend) -> None:
        self.calls += 1
        assert self.go.wait(10)
        backend.rebuild_into_new_generation(feeder(self.entries))

    def release(self) -> None:
        self.go.set()


def live_generation(directory: Path) -> Path:
    return directory / (directory / POINTER).read_text().strip()


@pytest.fixture
def entries(make_entry: MakeEntry) -> list[Entry]:
    return [make_entry(body=f"hujjat raqami {i}") for i in range(5)]


def test_new_directory_is_created_with_a_version(tmp_path):
    backend = WhooshBackend(tmp_path / "index")
    generation = live_generation(tmp_path / "index")
    assert generation.name == "gen-1"
    assert (generation / VERSION_FILE).read_text().strip() == str(whoosh_backend.SCHEMA_VERSION)
    assert backend.count() == 0
    backend.close()


def test_schema_version_change_rebuilds(tmp_path, entries, monkeypatch):
    directory = tmp_path / "index"
    first = WhooshBackend(directory)
    first.upsert(entries[:2])
    first.close()
    monkeypatch.setattr(whoosh_backend, "SCHEMA_VERSION", whoosh_backend.SCHEMA_VERSION + 1)
    rebuild = Rebuilder(entries)
    backend = WhooshBackend(directory, rebuild=rebuild)
    with pytest.raises(IndexUnavailable, match="rebuilt"):
        backend.search(Query(text="hujjat", principals=None), no_text)
    with pytest.raises(IndexUnavailable):
        backend.count()
    rebuild.release()
    assert backend.wait_for_rebuild(10)
    assert find(backend, "hujjat") == {e.id for e in entries}
    generation = live_generation(directory)
    assert generation.name == "gen-2"
    assert (generation / VERSION_FILE).read_text().strip() == str(whoosh_backend.SCHEMA_VERSION)
    assert sorted(p.name for p in directory.glob("gen-*")) == ["gen-2"]  # the old one is gone
    assert rebuild.calls == 1
    backend.close()


def test_deleted_directory_is_reported_then_rebuilt(tmp_path, entries):
    directory = tmp_path / "index"
    rebuild = Rebuilder(entries)
    backend = WhooshBackend(directory, rebuild=rebuild)
    assert backend.count() == 0  # a first start: empty, no rebuild
    assert rebuild.calls == 0
    backend.upsert(entries)
    shutil.rmtree(directory)
    with pytest.raises(IndexUnavailable) as caught:
        backend.search(Query(text="hujjat", principals=None), no_text)
    assert str(caught.value) == REBUILDING
    rebuild.release()
    assert backend.wait_for_rebuild(10)
    assert find(backend, "hujjat") == {e.id for e in entries}
    assert backend.count() == len(entries)
    backend.close()


@pytest.mark.parametrize("damage", ["truncate", "remove"])
def test_damaged_segment_is_detected_and_rebuilt(tmp_path, entries, damage):
    directory = tmp_path / "index"
    first = WhooshBackend(directory)
    first.upsert(entries)
    first.close()
    segments = list(live_generation(directory).glob("*.seg"))
    assert segments
    for path in segments:
        if damage == "truncate":
            with open(path, "r+b") as f:
                f.truncate(path.stat().st_size // 3)
        else:
            path.unlink()
    rebuild = Rebuilder(entries)
    backend = WhooshBackend(directory, rebuild=rebuild)
    with pytest.raises(IndexUnavailable):
        backend.search(Query(text="hujjat", principals=None), no_text)
    rebuild.release()
    assert backend.wait_for_rebuild(10)
    assert find(backend, "hujjat") == {e.id for e in entries}
    backend.close()


def test_broken_without_callback_needs_reindex(tmp_path, entries, monkeypatch):
    directory = tmp_path / "index"
    WhooshBackend(directory).close()
    (live_generation(directory) / VERSION_FILE).write_text("0\n")
    backend = WhooshBackend(directory)
    with pytest.raises(IndexUnavailable) as caught:
        backend.search(Query(principals=None), no_text)
    assert str(caught.value) == NEEDS_REBUILD
    with pytest.raises(IndexUnavailable):
        backend.upsert(entries[:1])
    backend.rebuild_into_new_generation(feeder(entries))  # what `edms search reindex` does
    assert backend.count() == len(entries)
    backend.close()


def test_clear_heals_a_broken_index(tmp_path):
    directory = tmp_path / "index"
    WhooshBackend(directory).close()
    (live_generation(directory) / VERSION_FILE).write_text("0\n")
    backend = WhooshBackend(directory)
    backend.clear()
    assert backend.count() == 0
    backend.close()


def test_changes_during_a_rebuild_are_kept(tmp_path, entries, make_entry):
    backend = WhooshBackend(tmp_path / "index")
    backend.upsert(entries)
    added = make_entry(body="yangi hujjat")
    changed = replace(entries[0], body="tahrirlangan")

    def feed(write: Callable[[Sequence[Entry]], None]) -> None:
        write(entries[:2])
        # Meanwhile the application changes documents; the feed read them earlier.
        backend.upsert([added, changed])
        backend.delete([entries[1].id])
        assert find(backend, "yangi") == {added.id}  # the live generation sees them too
        write(entries)  # stale copies (read before the changes)

    backend.rebuild_into_new_generation(feed)
    assert find(backend, "yangi") == {added.id}
    assert find(backend, "tahrirlangan") == {entries[0].id}
    assert entries[1].id not in find(backend, "hujjat")
    assert backend.count() == len(entries)
    backend.close()


def test_searcher_sees_new_documents(tmp_path, entries):
    directory = tmp_path / "index"
    backend = WhooshBackend(directory)
    other = WhooshBackend(directory)  # another process on the same index
    assert find(backend, "hujjat") == set()
    assert find(other, "hujjat") == set()
    backend.upsert(entries[:1])
    assert find(backend, "hujjat") == {entries[0].id}
    assert find(other, "hujjat") == {entries[0].id}
    backend.rebuild_into_new_generation(feeder(entries))
    assert find(other, "hujjat") == {e.id for e in entries}  # follows the new pointer
    backend.delete([entries[0].id])
    assert entries[0].id not in find(other, "hujjat")
    other.close()
    backend.close()


def test_time_limit_returns_partial_results(tmp_path, make_entry):
    backend = WhooshBackend(tmp_path / "index")
    backend.upsert([make_entry(body=f"ariza {i}") for i in range(3000)])
    complete = backend.search(Query(text="ariza", principals=None), no_text)
    assert (complete.total, complete.partial, complete.note) == (3000, False, None)
    cut = backend.search(Query(text="ariza", principals=None, time_limit=0.0), no_text)
    assert cut.partial
    assert cut.note
    assert cut.total < 3000
    backend.close()


def test_prefix_expansion_is_capped(tmp_path, make_entry, monkeypatch):
    backend = WhooshBackend(tmp_path / "index")
    common = make_entry(body="karta kartalar kartochka")
    rare = [make_entry(body=f"kart{chr(97 + i)}x") for i in range(10)]
    backend.upsert([common, *rare, make_entry(body="karta")])
    assert len(find(backend, "kart*")) == 12
    monkeypatch.setattr(whoosh_backend, "PREFIX_EXPANSIONS", 1)
    assert find(backend, "kart*") == {common.id, *find(backend, "karta")}  # the most frequent
    backend.close()


def test_lock_held_elsewhere_is_a_clear_error(tmp_path, entries):
    directory = tmp_path / "index"
    backend = WhooshBackend(directory, lock_timeout=0.1)
    lock = backend._check().lock("WRITELOCK")
    assert lock.acquire()
    try:
        with pytest.raises(IndexLocked, match="another process"):
            backend.upsert(entries)
    finally:
        lock.release()
    backend.upsert(entries)
    assert backend.count() == len(entries)
    backend.close()


def test_concurrent_upserts_and_searches(tmp_path, make_entry):
    backend = WhooshBackend(tmp_path / "index")
    batches = [[make_entry(body=f"parallel {t} {i}") for i in range(40)] for t in range(4)]
    errors: list[BaseException] = []

    def write(batch: list[Entry]) -> None:
        try:
            for i in range(0, len(batch), 10):
                backend.upsert(batch[i : i + 10])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(20):
                backend.search(Query(text="parallel", principals=None), no_text)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert backend.count() == 160
    assert backend.search(Query(text="parallel", principals=None), no_text).total == 160
    backend.close()


def test_merge_and_optimize(tmp_path, entries):
    backend = WhooshBackend(tmp_path / "index")
    for entry in entries:
        backend.upsert([entry])
    backend.merge()
    backend.optimize()
    assert len(list(live_generation(tmp_path / "index").glob("*.seg"))) == 1
    assert find(backend, "hujjat") == {e.id for e in entries}
    backend.close()


def test_pointer_is_replaced_atomically(tmp_path, entries):
    directory = tmp_path / "index"
    backend = WhooshBackend(directory)
    before = os.stat(directory / POINTER).st_ino
    backend.rebuild_into_new_generation(feeder(entries))
    assert os.stat(directory / POINTER).st_ino != before
    assert not list(directory.glob("*.tmp"))
    backend.close()


def _all_pages(backend: WhooshBackend, text: str, sort: str, per_page: int) -> list[str]:
    seen: list[str] = []
    page = 1
    while True:
        found = backend.search(
            Query(text=text, principals=None, sort=sort, page=page, per_page=per_page), no_text
        )
        if not found.hits:
            return seen
        seen += [h.id for h in found.hits]
        page += 1


def test_facets_and_date_order_across_segments_and_updates(tmp_path, make_entry):
    """Facet values and dates are read once per segment and kept across searchers:
    counts and orders must follow new segments, updates and deletions."""
    backend = WhooshBackend(tmp_path / "index")
    days = [date(2024, 1, d) for d in (1, 2, 2, 3)]
    entries = [
        make_entry(body="ariza", registered_on=days[i % 4], type=("letter", "order")[i % 2])
        for i in range(200)  # 100 documents share 2 January: more ties than one page
    ]
    for i in range(0, 200, 50):  # four commits, four segments
        backend.upsert(entries[i : i + 50])
    first = backend.search(Query(text="ariza", principals=None), no_text)
    assert first.facets["type"] == {"letter": 100, "order": 100}
    # Updates (a deletion and a new document in a new segment) and a deletion.
    changed = [replace(e, type="decree", registered_on=date(2024, 1, 4)) for e in entries[:10]]
    backend.upsert(changed)
    backend.delete([entries[10].id])
    current = {e.id: e for e in entries}
    current.update({e.id: e for e in changed})
    del current[entries[10].id]
    found = backend.search(Query(text="ariza", principals=None), no_text)
    assert found.total == 199
    assert found.facets["type"] == {
        t: sum(e.type == t for e in current.values()) for t in ("letter", "order", "decree")
    }
    assert found.facets["year"] == {"2024": 199}
    for sort, reverse in (("-date", True), ("date", False)):
        expected = sorted(current.values(), key=lambda e: (e.registered_on, e.id), reverse=reverse)
        assert _all_pages(backend, "ariza", sort, 30) == [e.id for e in expected]
    backend.close()


def test_phrases_need_adjacent_words_and_respect_rights(tmp_path, make_entry):
    backend = WhooshBackend(tmp_path / "index")
    ours = make_entry(body="soliq hisoboti topshirildi", principals=("dept:1",))
    theirs = make_entry(body="soliq hisoboti topshirildi", principals=("dept:2",))
    apart = make_entry(body="soliq yillik hisoboti", principals=("dept:1",))
    reversed_ = make_entry(body="hisoboti soliq", principals=("dept:1",))
    russian = make_entry(body="налоговых отчётов за год", principals=("dept:1",))
    backend.upsert([ours, theirs, apart, reversed_, russian])
    assert find(backend, '"soliq hisoboti"') == {ours.id, theirs.id}
    assert find(backend, '"soliq hisoboti"', principals=("dept:1",)) == {ours.id}
    assert find(backend, '"soliq hisoboti"', principals=("dept:3",)) == set()
    # Each word of a phrase accepts its stems: another inflection finds the document.
    assert find(backend, '"налоговый отчёт"', principals=("dept:1",)) == {russian.id}
    assert find(backend, '"отчётов налоговых"') == set()
    backend.close()


def test_rights_lists_kept_per_segment_follow_updates_and_deletions(tmp_path, make_entry):
    """The documents a set of principals may see are read once per segment and kept:
    deletions and updates (a deletion plus a new document) must still show."""
    backend = WhooshBackend(tmp_path / "index")
    mine = [make_entry(body="xat", principals=("dept:1",)) for _ in range(5)]
    shared = make_entry(body="xat", principals=("dept:2", "user:7"))
    backend.upsert([*mine, shared])
    seen = backend.search(Query(text="", principals=("dept:1", "user:7")), no_text)
    assert seen.total == 6
    backend.delete([mine[0].id])
    backend.upsert([replace(mine[1], principals=("dept:2",)), replace(mine[2], body="boshqa")])
    both = ("dept:1", "user:7")
    assert backend.search(Query(text="", principals=both), no_text).total == 4
    assert find(backend, "xat", principals=both) == {mine[3].id, mine[4].id, shared.id}
    assert find(backend, "", principals=("dept:2",)) == {mine[1].id, shared.id}
    assert find(backend, "", principals=("dept:9",)) == set()
    backend.close()
