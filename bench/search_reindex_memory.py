"""Memory of a Whoosh rebuild as `edms search reindex` does it: ``rebuild_into_new_generation``
fed chunks of 500 entries (here from bench/search.py's synthetic corpus, not from the
database). Prints the peak resident set size, and the anonymous and file-backed parts,
every 10,000 documents and after the swap.

    .venv/bin/python bench/search_reindex_memory.py [DOCS [DIR]]   (default 100000, a temporary directory)
"""

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import search as B  # the benchmark's corpus

from edms.search.whoosh_backend import WhooshBackend


def status() -> str:
    with open("/proc/self/status") as f:
        st = {line.split(":")[0]: line.split(":")[1].strip() for line in f}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"peak RSS {peak:.0f} MB, RssAnon {st.get('RssAnon')}, RssFile {st.get('RssFile')}"


def main() -> None:
    docs = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    keep = len(sys.argv) > 2
    target = sys.argv[2] if keep else tempfile.mkdtemp(prefix="edms-bench-reindex-")
    corpus = B.Corpus(1, docs)
    backend = WhooshBackend(target)
    started = time.time()

    def feed(write):  # type: ignore[no-untyped-def]
        for n, chunk in enumerate(corpus.chunks(500)):
            write(chunk)
            if n % 20 == 19:
                print(
                    f"{(n + 1) * 500} docs, {time.time() - started:.0f} s, {status()}", flush=True
                )

    backend.rebuild_into_new_generation(feed)
    print(f"swapped in: {backend.count()} entries, {time.time() - started:.0f} s, {status()}")
    backend.close()
    if not keep:
        shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()
