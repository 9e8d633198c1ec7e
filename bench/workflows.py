"""Benchmark: workflow decisions per second, pure engine against the API, and the inbox's queries.

In one run:

1. The baseline: engine decisions per second in pure Python, measured by ``run`` of
   ``bench/workflows_engine.py`` (outgoing letters driven to the end, the median of
   ``--engine-rounds`` rounds), without and with the JSON round trip of the state.
2. Decisions per second through the HTTP API, on SQLite (a throw-away data directory)
   and on PostgreSQL (a throw-away database on the server of ``--postgres``). gunicorn
   serves EDMS with 1 worker and 4 threads on a free loopback port. The demo clerk
   registers ``--routes`` documents (``POST /api/v1/documents``) and starts a licence
   request route on each (``POST /api/v1/documents/{id}/workflow``); the legal and the
   licensing approvers approve the parallel review (two of three carry it, so the
   statistician's task closes unanswered), then the head of the chancellery finds the
   final decisions in ``GET /api/v1/tasks`` and approves them: three
   ``POST /api/v1/tasks/{id}/decision`` per route, sent by ``--clients`` client threads.
   Reports decisions/s and the ratio to the engine-only figure. No target: the issue
   asks for the figure.
3. The SQL statements of one request of the inbox page (``/inbox``) and of
   ``GET /api/v1/tasks``, made with the Flask test client in this process and counted
   by a ``before_cursor_execute`` listener on the engine, with 10, 1,000 and 10,000
   open tasks for one user (the statistician: statistical report routes started
   through ``edms.routing.services.start`` in batches, on documents inserted in bulk),
   and their response times (median of 20 requests). The test client, not gunicorn,
   because the listener must sit on the engine that serves the request. Target: the
   count does not grow with the number of tasks (``--show-statements`` prints them).

With the defaults a run takes about 7 minutes on 2 cores, most of it starting the
10,000 routes of the inbox on each database.

Your ``EDMS_*`` settings are ignored, so the bench never touches real data; the
PostgreSQL server is named by ``--postgres``, else ``EDMS_BENCH_DATABASE_URL``, else a
``postgresql`` ``EDMS_DATABASE_URL``. Only the server is used: the bench creates a
database of its own beside the named one and drops it at the end, and skips PostgreSQL
with a message when no server is named or it does not answer.

This is a benchmark, not a test: it exits 0 whatever the figures, and non-zero only when
it cannot measure (the server did not start, a request was refused, a route did not end).

Usage: ``.venv/bin/python bench/workflows.py [--routes 300] [--clients 4]
[--inbox-sizes 10,1000,10000] [--postgres URL | --no-postgres] [--show-statements]``
or ``make bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Settings of the developer's shell must not reach the applications made here, but the
# PostgreSQL server to measure on may be named there.
_ENV_DATABASE_URL = os.environ.get("EDMS_DATABASE_URL", "")
_ENV_BENCH_DATABASE_URL = os.environ.get("EDMS_BENCH_DATABASE_URL", "")
for _name in list(os.environ):
    if _name.startswith("EDMS_"):
        del os.environ[_name]

from bench.upload import BenchError, Server  # noqa: E402
from bench.workflows_engine import run as engine_run  # noqa: E402
from workflows import load_definition  # noqa: E402

GUNICORN_THREADS = 4
REQUEST_TIMEOUT = 120.0
ROUTE = "licence_request"  # three decisions per route: two reviewers of three, then the head
REVIEWERS = ("approver", "licensor")  # LEGAL and LICENSING; STATS ("statistician") is left
HEAD = "head"  # head of CHANCERY, the owner of the documents: the route's final decision
INBOX_ROUTE = "statistical_report"  # one stage: the statistics department's approver
INBOX_USER = "statistician"
START_BATCH = 500  # routes started per transaction while filling the inbox
TIMING_REPEATS = 20
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# Engine baseline ---------------------------------------------------------------------


@dataclass
class EngineFigures:
    instances: int
    rounds: int
    decisions: int
    engine_only: float  # decisions/s
    with_json: float


def engine_baseline(instances: int, rounds: int) -> EngineFigures:
    """The figures of ``bench/workflows_engine.py``, by calling its ``run``."""
    path = ROOT / "config" / "workflows" / "outgoing_letter.yaml"
    definition = load_definition(path.read_text(encoding="utf-8"), path.name)
    medians: list[float] = []
    decisions = 0
    for persist in (False, True):
        rates = []
        for _ in range(rounds):
            decisions, seconds = engine_run(definition, instances, persist)
            rates.append(decisions / seconds)
        medians.append(statistics.median(rates))
    return EngineFigures(instances, rounds, decisions, medians[0], medians[1])


# Databases -----------------------------------------------------------------------------


class PostgresUnavailable(Exception):
    """The PostgreSQL server does not answer, or gives us no database of our own."""


def masked(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def postgres_server(args: argparse.Namespace) -> tuple[str | None, str]:
    """The PostgreSQL server URL to measure on and where it came from (or why there is none)."""
    if args.no_postgres:
        return None, "--no-postgres"
    for url, source in (
        (args.postgres, "--postgres"),
        (_ENV_BENCH_DATABASE_URL, "EDMS_BENCH_DATABASE_URL"),
        (_ENV_DATABASE_URL, "EDMS_DATABASE_URL"),
    ):
        if url and url.startswith("postgresql"):
            return url, source
    return None, "no server named (--postgres, EDMS_BENCH_DATABASE_URL or EDMS_DATABASE_URL)"


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server, dropped afterwards; its URL.

    ``PostgresUnavailable`` when the server cannot be reached or the database not made.
    """
    url = sa.engine.make_url(server_url)
    name = f"edms_bench_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        raise PostgresUnavailable(str(exc).splitlines()[0]) from exc
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except sa.exc.SQLAlchemyError as exc:
            print(f"warning: could not drop the database {name}: {exc}", file=sys.stderr)
        admin.dispose()


# The application in this process -----------------------------------------------------------


def settings(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The EDMS_* settings of the bench (gunicorn's environment and this process's app)."""
    values = {
        "EDMS_DATA_DIR": str(data_dir),
        "EDMS_DEMO": "true",
        "EDMS_LOG_LEVEL": "WARNING",
        # Deadline checks and delegation moves are not part of a decision; without the
        # scheduler thread nothing else touches the database while it is measured.
        "EDMS_SCHEDULER": "off",
    }
    if database_url:
        values["EDMS_DATABASE_URL"] = database_url
    return values


def make_app(values: Mapping[str, str]) -> Any:
    from edms import create_app

    overrides: dict[str, Any] = {k[len("EDMS_") :].lower(): v for k, v in values.items()}
    overrides["demo"] = True
    return create_app(overrides)


def prepare(app: Any) -> dict[str, str]:
    """Migrate, load the demo data; API tokens of the people of the routes, by user name."""
    from edms import migrate
    from edms.auth import services as auth
    from edms.db import db
    from edms.demo import load_demo

    migrate.upgrade(app.config["DATABASE_URL"], "head")
    tokens: dict[str, str] = {}
    with app.app_context():
        load_demo()
        db.session.commit()
        for name in ("clerk", *REVIEWERS, HEAD, INBOX_USER):
            _, tokens[name] = auth.create_token(auth.get_user(name), "bench")
        db.session.commit()
    return tokens


def dispose(app: Any) -> None:
    app.extensions["edms.db"]["engine"].dispose()


# The server ----------------------------------------------------------------------------------


# HTTP clients -----------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    token: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    expect: int = 200


@dataclass
class Batch:
    replies: list[Any]
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.replies) / self.seconds

    def latency(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Clients:
    """``n`` client threads, each with its own keep-alive connection."""

    def __init__(self, base_url: str, n: int) -> None:
        self.base_url = base_url + "/api/v1"
        self.pool = ThreadPoolExecutor(n, thread_name_prefix="bench-client")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def one(self, call: Call) -> tuple[Any, float]:
        headers = {"Authorization": f"Bearer {call.token}", "Accept": "application/json"}
        began = time.perf_counter()
        reply = self._session().request(
            call.method,
            self.base_url + call.path,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            **call.kwargs,
        )
        elapsed = time.perf_counter() - began
        if reply.status_code != call.expect:
            raise BenchError(
                f"{call.method} {call.path} answered {reply.status_code}, not {call.expect}: "
                f"{reply.text[:1000]}"
            )
        return reply.json(), elapsed

    def run(self, calls: Sequence[Call]) -> Batch:
        """Send every call, ``n`` at a time; the replies in order, wall time and latencies."""
        began = time.perf_counter()
        results = list(self.pool.map(self.one, calls))
        seconds = time.perf_counter() - began
        return Batch([r for r, _ in results], seconds, [t for _, t in results])

    def close(self) -> None:
        self.pool.shutdown()


# Part 2: decisions through the API ----------------------------------------------------------


@dataclass
class ApiFigures:
    routes: int
    registered: Batch
    started: Batch
    listing_seconds: float
    decisions: Batch  # all decisions; seconds is the sum of both decision phases


def through_the_api(
    app: Any, env: Mapping[str, str], tokens: Mapping[str, str], tmp: Path, routes: int, n: int
) -> ApiFigures:
    server = Server(env, tmp / "gunicorn.log", threads=GUNICORN_THREADS)
    try:
        server.wait_ready()
        clients = Clients(server.url, n)
        try:
            figures = _decide_routes(clients, tokens, routes)
        finally:
            clients.close()
    except BaseException:
        print(f"--- gunicorn log (last lines) ---\n{server.log()}", file=sys.stderr)
        raise
    finally:
        server.stop()
    _check_finished(app, routes)
    return figures


def _decide_routes(clients: Clients, tokens: Mapping[str, str], routes: int) -> ApiFigures:
    clerk = tokens["clerk"]
    stamp = uuid.uuid4().hex[:8]
    registered = clients.run(
        [
            Call(
                "POST",
                "/documents",
                clerk,
                {
                    "data": {
                        "title": f"Licence application {stamp}-{i}",
                        "journal": "IN",
                        "document_type": "licence",
                        "correspondent_kind": "organisation",
                        "correspondent_name": f"Applicant {i} LLC",
                        "language": "en",
                    },
                    "files": {"file": (f"licence-{i}.pdf", PDF + f"%{stamp}-{i}\n".encode())},
                },
                201,
            )
            for i in range(routes)
        ]
    )
    started = clients.run(
        [
            Call(
                "POST",
                f"/documents/{doc['id']}/workflow",
                clerk,
                {"json": {"definition": ROUTE}},
                201,
            )
            for doc in registered.replies
        ]
    )
    reviews: list[Call] = []
    for route in started.replies:
        by_user = {t["assignee"]: t for t in route["tasks"] if t["status"] == "open"}
        for name in REVIEWERS:
            if name not in by_user:
                raise BenchError(f"route {route['id']} opened no task for {name}: {route['tasks']}")
            reviews.append(_approve(by_user[name]["id"], tokens[name]))
    # The two reviews of a route sit next to each other, so concurrent clients often
    # decide on the same route at once (the instance row lock orders them).
    first = clients.run(reviews)

    began = time.perf_counter()
    finals: list[int] = []
    page = 1
    while True:
        reply, _ = clients.one(
            Call(
                "GET",
                "/tasks",
                tokens[HEAD],
                {"params": {"stage": "decision", "per_page": 200, "page": page}},
            )
        )
        finals.extend(item["id"] for item in reply["items"])
        if page >= reply["pages"]:
            break
        page += 1
    listing = time.perf_counter() - began
    if len(finals) != routes:
        raise BenchError(f"the head holds {len(finals)} final decisions, not {routes}")
    second = clients.run([_approve(task_id, tokens[HEAD]) for task_id in finals])

    left, _ = clients.one(Call("GET", "/tasks", tokens[HEAD]))
    if left["total"]:
        raise BenchError(f"the head still holds {left['total']} open tasks")
    decisions = Batch(
        first.replies + second.replies,
        first.seconds + second.seconds,
        first.latencies + second.latencies,
    )
    return ApiFigures(routes, registered, started, listing, decisions)


def _approve(task_id: int, token: str) -> Call:
    return Call("POST", f"/tasks/{task_id}/decision", token, {"json": {"decision": "approve"}})


def _check_finished(app: Any, routes: int) -> None:
    """Every route approved; each reviewer and the head decided once per route."""
    from sqlalchemy import func, select

    from edms.db import db
    from edms.routing.models import Task, WorkflowDefinition, WorkflowInstance

    with app.app_context():
        statuses = dict(
            db.session.execute(
                select(WorkflowInstance.status, func.count())
                .join(WorkflowDefinition)
                .where(WorkflowDefinition.code == ROUTE)
                .group_by(WorkflowInstance.status)
            ).all()
        )
        decided = db.session.scalar(
            select(func.count()).select_from(Task).where(Task.decision.is_not(None))
        )
    if statuses != {"approved": routes} or decided != 3 * routes:
        raise BenchError(
            f"routes did not end as expected: {statuses}, {decided} decisions (expected "
            f"{routes} approved, {3 * routes} decisions)"
        )


# Part 3: the inbox's queries -----------------------------------------------------------------


@dataclass
class InboxFigures:
    tasks: int
    fill_seconds: float  # to reach this many open tasks from the previous size
    page_queries: int
    api_queries: int
    page_ms: float  # median of TIMING_REPEATS requests
    api_ms: float


@contextlib.contextmanager
def count_statements(app: Any) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    engine = app.extensions["edms.db"]["engine"]
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def fill_inbox(app: Any, count: int, progress: Callable[[int], None]) -> None:
    """Give the inbox user ``count`` more open tasks: statistical report routes on new documents.

    The documents are inserted in bulk (their registration cards only, numbered in the
    IN journal's sequence): registering them one by one with a file would take longer
    than the routes, which are what the inbox is about. The routes start through
    ``edms.routing.services.start``, ``START_BATCH`` per transaction.
    """
    from sqlalchemy import insert, select, update

    from edms.auth import services as auth
    from edms.db import db, insert_ignoring_duplicates
    from edms.documents.models import Document
    from edms.documents.services import today
    from edms.registry.models import DocumentType, Journal, JournalSequence
    from edms.routing import services as routing

    with app.app_context():
        clerk = auth.get_user("clerk")
        journal = db.session.scalars(select(Journal).where(Journal.code == "IN")).one()
        doc_type = db.session.scalars(
            select(DocumentType).where(DocumentType.code == "report")
        ).one()
        day = today()
        insert_ignoring_duplicates(
            JournalSequence, journal_id=journal.id, year=day.year, last_value=0
        )
        last = db.session.execute(
            update(JournalSequence)
            .where(JournalSequence.journal_id == journal.id, JournalSequence.year == day.year)
            .values(last_value=JournalSequence.last_value + count)
            .returning(JournalSequence.last_value)
        ).scalar_one()
        ids = [uuid.uuid4() for _ in range(count)]
        numbers = range(int(last) - count + 1, int(last) + 1)
        db.session.execute(
            insert(Document),
            [
                {
                    "id": doc_id,
                    "title": f"Statistical report {number}",
                    "document_type_id": doc_type.id,
                    "journal_id": journal.id,
                    "registration_number": journal.format_number(day.year, number),
                    "registration_date": day,
                    "sequence_year": day.year,
                    "sequence_number": number,
                    "direction": journal.direction,
                    "correspondent_kind": "organisation",
                    "correspondent_name": "Regional statistics office",
                    "summary": "",
                    "language": "en",
                    "confidentiality": "internal",
                    "department_id": journal.department_id,
                    "status": "registered",
                    "created_by_id": clerk.id,
                }
                for doc_id, number in zip(ids, numbers, strict=True)
            ],
        )
        db.session.commit()
    for offset in range(0, count, START_BATCH):
        with app.app_context():
            clerk = auth.get_user("clerk")
            for doc_id in ids[offset : offset + START_BATCH]:
                doc = db.session.get(Document, doc_id)
                assert doc is not None
                routing.start(clerk, doc, INBOX_ROUTE)
            db.session.commit()
        progress(min(offset + START_BATCH, count))


def login(client: Any, username: str) -> None:
    """Log the test client in through the login form, with the demo password."""
    from edms.demo import DEMO_LOGINS

    password = next(p for u, p, _ in DEMO_LOGINS if u == username)
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    if match is None:
        raise BenchError("no CSRF token on /login")
    reply = client.post(
        "/login",
        data={"csrf_token": match.group(1), "username": username, "password": password},
    )
    if reply.status_code != 302:
        raise BenchError(f"logging in as {username} answered {reply.status_code}")


@dataclass
class Request:
    statements: list[str]
    median_ms: float


def measure_request(app: Any, client: Any, url: str, headers: Mapping[str, str]) -> Request:
    """The statements of one request (after a warm-up) and the median time of a few."""
    client.get(url, headers=headers).get_data()  # the first may note the token's last use
    with count_statements(app) as statements:
        reply = client.get(url, headers=headers)
        reply.get_data()
    if reply.status_code != 200:
        raise BenchError(f"GET {url} answered {reply.status_code}")
    times = []
    for _ in range(TIMING_REPEATS):
        began = time.perf_counter()
        client.get(url, headers=headers).get_data()
        times.append((time.perf_counter() - began) * 1000)
    return Request(statements, statistics.median(times))


def inbox_queries(
    app: Any, token: str, sizes: Sequence[int], label: str, show: bool
) -> list[InboxFigures]:
    client = app.test_client()
    login(client, INBOX_USER)
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    figures: list[InboxFigures] = []
    have = 0
    for size in sizes:
        began = time.perf_counter()
        base, more = have, size - have

        def progress(done: int, base: int = base, more: int = more, began: float = began) -> None:
            if more > START_BATCH:  # a line now and then for the long fills
                rate = done / (time.perf_counter() - began)
                print(f"  [{label}] {base + done:>6} open tasks ({rate:,.0f} routes/s)", flush=True)

        fill_inbox(app, more, progress)
        fill = time.perf_counter() - began
        have = size
        total = client.get("/api/v1/tasks", headers=bearer).get_json()["total"]
        if total != size:
            raise BenchError(f"{INBOX_USER} holds {total} open tasks, not {size}")
        page = measure_request(app, client, "/inbox", {})
        api = measure_request(app, client, "/api/v1/tasks", bearer)
        figures.append(
            InboxFigures(
                size, fill, len(page.statements), len(api.statements), page.median_ms, api.median_ms
            )
        )
        print(
            f"  [{label}] {size:>6} open tasks: /inbox {len(page.statements)} statements, "
            f"{page.median_ms:.1f} ms; GET /api/v1/tasks {len(api.statements)} statements, "
            f"{api.median_ms:.1f} ms (filled in {fill:.1f} s)",
            flush=True,
        )
        if show:
            for url, request in (("/inbox", page), ("GET /api/v1/tasks", api)):
                print(f"  [{label}] statements of {url}:")
                for statement in request.statements:
                    print("    " + " ".join(statement.split())[:300])
    return figures


# One backend ----------------------------------------------------------------------------------


@dataclass
class BackendFigures:
    name: str
    api: ApiFigures
    inbox: list[InboxFigures]


def measure_backend(
    name: str, database_url: str | None, args: argparse.Namespace, tmp: Path
) -> BackendFigures:
    workdir = tmp / name.lower()
    values = settings(workdir / "data", database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDMS_")} | values
    app = make_app(values)
    try:
        began = time.perf_counter()
        tokens = prepare(app)
        print(f"[{name}] database migrated, demo data loaded ({time.perf_counter() - began:.1f} s)")
        api = through_the_api(app, env, tokens, workdir, args.routes, args.clients)
        d = api.decisions
        print(
            f"[{name}] {api.routes} documents registered in {api.registered.seconds:.1f} s "
            f"({api.registered.rate:.1f}/s), routes started in {api.started.seconds:.1f} s "
            f"({api.started.rate:.1f}/s); the head's inbox listed in {api.listing_seconds:.2f} s"
        )
        print(
            f"[{name}] {len(d.replies)} decisions in {d.seconds:.1f} s: {d.rate:.1f} decisions/s "
            f"(latency median {d.latency(0.5) * 1000:.0f} ms, p95 {d.latency(0.95) * 1000:.0f} ms)",
            flush=True,
        )
        inbox = inbox_queries(app, tokens[INBOX_USER], args.inbox_sizes, name, args.show_statements)
    finally:
        dispose(app)
    return BackendFigures(name, api, inbox)


# Report -----------------------------------------------------------------------------------------


def sizes_arg(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of numbers") from None
    if len(sizes) < 2 or sizes != sorted(set(sizes)) or sizes[0] < 1:
        raise argparse.ArgumentTypeError("at least two growing numbers, from 1")
    return sizes


def report(engine: EngineFigures, results: list[BackendFigures], skipped: str | None) -> None:
    print()
    print("Summary")
    print()
    print(
        "| Backend    | Decisions | Seconds | Decisions/s | p50 ms | p95 ms | Engine/s | API/engine |"
    )
    print(
        "|------------|----------:|--------:|------------:|-------:|-------:|---------:|-----------:|"
    )
    print(
        f"| {'engine':<10} | {engine.decisions:>9} | {engine.decisions / engine.engine_only:>7.2f} "
        f"| {engine.engine_only:>11,.0f} | {'':>6} | {'':>6} | {engine.engine_only:>8,.0f} "
        f"| {1:>10.4f} |"
    )
    for r in results:
        d = r.api.decisions
        print(
            f"| {r.name:<10} | {len(d.replies):>9} | {d.seconds:>7.1f} | {d.rate:>11,.1f} "
            f"| {d.latency(0.5) * 1000:>6.0f} | {d.latency(0.95) * 1000:>6.0f} "
            f"| {engine.engine_only:>8,.0f} | {d.rate / engine.engine_only:>10.4f} |"
        )
    print()
    print("| Backend    | Open tasks | /inbox statements | /inbox ms | API statements | API ms |")
    print("|------------|-----------:|------------------:|----------:|---------------:|-------:|")
    for r in results:
        for i in r.inbox:
            print(
                f"| {r.name:<10} | {i.tasks:>10,} | {i.page_queries:>17} | {i.page_ms:>9.1f} "
                f"| {i.api_queries:>14} | {i.api_ms:>6.1f} |"
            )
    print()
    for r in results:
        for what, counts in (
            ("the inbox page /inbox", [i.page_queries for i in r.inbox]),
            ("GET /api/v1/tasks", [i.api_queries for i in r.inbox]),
        ):
            verdict = "PASS" if len(set(counts)) == 1 else "FAIL"
            tasks = " / ".join(f"{i.tasks:,}" for i in r.inbox)
            shown = " / ".join(str(c) for c in counts)
            print(
                f"{verdict}: {r.name}: {what}: {shown} statements with {tasks} open tasks "
                "(target: does not grow with the number of tasks)"
            )
    for r in results:
        print(
            f"no target: {r.name}: {r.api.decisions.rate:.1f} decisions/s through the API, "
            f"{r.api.decisions.rate / engine.engine_only:.4f} of the engine's "
            f"{engine.engine_only:,.0f}/s"
        )
    if skipped:
        print(f"SKIPPED: PostgreSQL: {skipped}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--routes",
        type=int,
        default=300,
        help="licence request routes driven through the API per backend (default 300)",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=GUNICORN_THREADS,
        help=f"concurrent client threads (default {GUNICORN_THREADS}, gunicorn's threads)",
    )
    parser.add_argument(
        "--inbox-sizes",
        type=sizes_arg,
        default=[10, 1_000, 10_000],
        help="open tasks at which the inbox is measured (default 10,1000,10000)",
    )
    parser.add_argument(
        "--engine-instances",
        type=int,
        default=5_000,
        help="outgoing letters per engine round (default 5000)",
    )
    parser.add_argument("--engine-rounds", type=int, default=3, help="engine rounds (default 3)")
    parser.add_argument("--postgres", default="", help="PostgreSQL server URL to measure on")
    parser.add_argument("--no-postgres", action="store_true", help="measure on SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="measure on PostgreSQL only")
    parser.add_argument(
        "--show-statements",
        action="store_true",
        help="print the SQL statements of each counted inbox request",
    )
    args = parser.parse_args(argv)
    for name in ("routes", "clients", "engine_instances", "engine_rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    began = time.perf_counter()
    print(
        f"workflow benchmark: {args.routes} {ROUTE} routes per backend through the API with "
        f"{args.clients} clients, inbox at {', '.join(f'{s:,}' for s in args.inbox_sizes)} "
        f"open tasks; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    engine = engine_baseline(args.engine_instances, args.engine_rounds)
    print(
        f"engine (bench/workflows_engine.py: {engine.instances} outgoing letters, "
        f"{engine.decisions} decisions, median of {engine.rounds} rounds): "
        f"{engine.engine_only:,.0f} decisions/s engine only, "
        f"{engine.with_json:,.0f}/s with the JSON state round trip",
        flush=True,
    )
    results: list[BackendFigures] = []
    skipped: str | None = None
    with tempfile.TemporaryDirectory(prefix="edms-bench-") as tmp:
        tmpdir = Path(tmp)
        if not args.no_sqlite:
            results.append(measure_backend("SQLite", None, args, tmpdir))
        server_url, source = postgres_server(args)
        if server_url is None:
            skipped = source
        else:
            try:
                with postgres_database(server_url) as url:
                    print(f"[PostgreSQL] server {masked(server_url)} (from {source}), "
                          f"database {sa.engine.make_url(url).database}")  # fmt: skip
                    results.append(measure_backend("PostgreSQL", url, args, tmpdir))
            except PostgresUnavailable as exc:
                skipped = f"cannot use the server {masked(server_url)} (from {source}): {exc}"
        if skipped:
            print(f"[PostgreSQL] skipped: {skipped}")
    if not results:
        raise BenchError(f"nothing measured through the API: PostgreSQL {skipped}")
    report(engine, results, skipped)
    print(f"\n(run took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench/workflows.py: {exc}", file=sys.stderr)
        sys.exit(1)
