"""`python -m bench` (or `make bench`): the command path against raw PostgreSQL.

Measures, on one PostgreSQL server in one run:
  1. commands/s through the Application (one command, one transaction) vs raw psycopg
     single-row INSERT + COMMIT into an equivalent table, with 1 and 8 writers; and the
     library's default write path (table lock) on the same commands, for reference;
  2. commands/s on a referral already holding 500 events vs on a fresh one;
  3. HTTP commands/s against the served API (p50/p99) vs the in-process rate.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import psycopg
from eventsourcing.application import AggregateNotFoundError, Application, Repository

from bench.checks import Failures
from bench.setup import BUDGETS, bench_database
from careledger.access.tokens import Role, TokenService
from careledger.domain.amendments import Amend
from careledger.domain.application import A, CareLedger
from careledger.domain.clinical import Discipline, SessionLocation, Urgency
from careledger.domain.errors import NotFound
from careledger.domain.intake import AcceptReferral
from careledger.domain.referral import MakeReferral, Referral
from careledger.domain.treatment import ScheduleSession
from careledger.domain.working_set import WorkingSet
from careledger.infra.embedded_pg import free_port
from careledger.main import bootstrap
from tests.helpers.network import NOW, build_network

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
#: Alternating rounds per figure of [1]; each figure is the median of its rounds.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
#: Events on the long referral of [2] (at least 100 for it to load from a snapshot).
LONG = int(os.environ.get("BENCH_LONG_EVENTS", "500"))
#: Sessions per bench episode before a writer opens a new one.
AUTHORIZED = 190


class Measured(float):
    """Operations per second, and how many operations that was (to check against what
    the store holds)."""

    operations: int

    def __new__(cls, per_second: float, operations: int) -> Measured:
        measured = super().__new__(cls, per_second)
        measured.operations = operations
        return measured


class WorkerDied(RuntimeError):
    """A worker's operation failed: the rate of those left would not be the rate asked for."""


def rate(workers: int, op_factory: Callable[[int], Callable[[], None]],
         seconds: float | None = None) -> Measured:
    """Operations per second with `workers` threads, each running its own op in a loop,
    for `seconds` (BENCH_SECONDS unless given). A worker whose op fails stops them all."""
    counts = [0] * workers
    failed: list[BaseException] = []
    stop = threading.Event()
    ops = [op_factory(i) for i in range(workers)]

    def loop(i: int) -> None:
        op = ops[i]
        try:
            while not stop.is_set():
                op()
                counts[i] += 1
        except BaseException as e:
            failed.append(e)
            stop.set()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(SECONDS if seconds is None else seconds)
    stop.set()
    for t in threads:
        t.join()
    if failed:
        raise WorkerDied(f"{len(failed)} of {workers} workers died, the first with "
                         f"{type(failed[0]).__name__}: {failed[0]}") from failed[0]
    return Measured(sum(counts) / (time.perf_counter() - started), sum(counts))


def raw_insert(url: str) -> Callable[[int], Callable[[], None]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.bench_raw (originator_id uuid NOT NULL,"
                     " originator_version bigint NOT NULL, topic text, state bytea,"
                     " notification_id bigserial UNIQUE,"
                     " PRIMARY KEY (originator_id, originator_version))")
    state = b'{"session_id":"s01","scheduled_for":"2026-04-01T09:00:00+00:00"}' * 3

    def factory(_i: int) -> Callable[[], None]:
        conn = psycopg.connect(url)
        version = [0]
        stream = uuid.uuid4()

        def op() -> None:
            version[0] += 1
            conn.execute("INSERT INTO public.bench_raw (originator_id, originator_version, topic,"
                         " state) VALUES (%s, %s, %s, %s)",
                         (stream, version[0], "bench:Raw", state), prepare=True)
            conn.commit()
        return op
    return factory


Factory = Callable[[int], Callable[[], None]]


def commands(make_app: Callable[[], CareLedger], net) -> Factory:  # type: ignore[no-untyped-def]
    """Each writer schedules sessions on its own episode, opening a new one when full."""

    def factory(_i: int) -> Callable[[], None]:
        app = make_app()
        episode = [commands_episode(app, net), 0]

        def op() -> None:
            if episode[1] >= AUTHORIZED:
                episode[0], episode[1] = commands_episode(app, net), 0
            episode[1] += 1  # type: ignore[operator]
            app.handle(ScheduleSession(referral_id=episode[0],  # type: ignore[arg-type]
                                       practitioner_id=net.therapist,
                                       scheduled_for=NOW, location=SessionLocation.CLINIC,
                                       occurred_at=NOW, actor="bench"))
        return op
    return factory


def rate_in_processes(workers: int, op_factory: Callable[[int], Callable[[], None]]
                      ) -> Measured:
    """Operations per second with `workers` processes, as API workers run: no shared GIL.
    Each process runs one operation before the clock starts (not counted)."""
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    ready = ctx.Barrier(workers + 1)

    def child(i: int) -> None:
        try:
            op = op_factory(i)
            op()
            ready.wait()
            done, stop = 0, time.perf_counter() + SECONDS
            while time.perf_counter() < stop:
                op()
                done += 1
            results.put(("done", done))
        except BaseException as e:
            results.put(("died", f"{type(e).__name__}: {e}"))
            ready.abort()
        results.close()
        results.join_thread()
        os._exit(0)  # skip finalizers of the connections inherited from the parent

    children = [ctx.Process(target=child, args=(i,)) for i in range(workers)]
    for c in children:
        c.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()  # broken if a child died before the start: its report says why
    reports = [results.get(timeout=SECONDS * 10 + 120) for _ in children]
    for c in children:
        c.join()
    died = [what for kind, what in reports if kind == "died"]
    if died:
        raise WorkerDied(f"{len(died)} of {workers} worker processes died, the first with "
                         f"{died[0]}")
    total = sum(done for _kind, done in reports)
    return Measured(total / SECONDS, total)


def scheduled_sessions(url: str) -> int:
    """Sessions on the bench's schedule, as the store holds them."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM careledger.careledger_events WHERE topic = %s",
                           (Referral.SessionScheduled.TOPIC,)).fetchone()
    return int(row[0]) if row else 0


class LibraryPath(CareLedger):
    """CareLedger's commands on the library's own repository, for comparison."""

    def construct_repository(self) -> Repository[uuid.UUID]:
        self.working_set = WorkingSet(0)
        return Application.construct_repository(self)

    def _held(self, cls: type[A], aggregate_id: uuid.UUID, *, current: bool) -> A:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound("no such record") from None
        assert isinstance(aggregate, cls)
        return aggregate


def main() -> None:
    failures = Failures("bench")
    bench = bench_database("commands", pool_size=16)
    work, url, settings, db = bench.work, bench.url, bench.settings, bench.db
    app = bootstrap.application(db, settings)
    tokens = TokenService(settings.token_secret)
    net = build_network(app, tokens)

    # The library's default path on the same commands: its repository (cache fast-forwarded
    # from the store and deep-copied on every load) and its recorder (LOCK TABLE, NOTIFY).
    default_env = {**bootstrap.application_env(db, settings),
                   "POSTGRES_SCHEMA": "library_default", "CREATE_TABLE": "y",
                   "POSTGRES_USER": urlsplit(url).username or "postgres",
                   "POSTGRES_PASSWORD": urlsplit(url).password or ""}
    default_env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS library_default")
    library = LibraryPath(env=default_env)
    library_net = build_network(library, tokens)

    print(f"CareLedger benchmarks ({SECONDS:.0f} s per measurement, medians of {ROUNDS} "
          "alternating rounds in [1], PostgreSQL "
          f"{'embedded' if 'CARELEDGER_DATABASE_URL' not in os.environ else 'external'})\n")
    rows = []
    in_process = lambda _app: (lambda: _app)  # noqa: E731
    for writers, processes in ((1, False), (8, False), (8, True)):
        measure = rate_in_processes if processes else rate
        # Alternating rounds, medians: the machine's speed drifts between figures.
        raws, ourss, libs = [], [], []
        for _round in range(ROUNDS):
            raws.append(measure(writers, raw_insert(url)))
            before = scheduled_sessions(url)
            ours = measure(writers, commands(
                (lambda: bootstrap.application(bootstrap.database(settings), settings))
                if processes else in_process(app), net))
            failures.require_counts(ours.operations + (writers if processes else 0),
                                    scheduled_sessions(url) - before,
                                    f"sessions scheduled by {writers} writers")
            ourss.append(ours)
            libs.append(measure(writers, commands(
                (lambda: LibraryPath(env={**default_env, "CREATE_TABLE": "n"}))
                if processes else in_process(library),
                library_net)))
        raw, ours, lib = (statistics.median(x) for x in (raws, ourss, libs))
        rows.append((writers, raw, ours, lib))
        how = f"{writers} processes" if processes else f"{writers} thread{'s' * (writers > 1)}"
        print(f"[1] {how:11s}: raw INSERT+COMMIT {raw:7.0f}/s | CareLedger {ours:6.0f}/s = "
              f"{ours / raw:.2f} of raw | library default path {lib:6.0f}/s = {lib / raw:.2f}")

    # [2] a referral holding 500 events vs a fresh one (amendments never run out).
    fresh = rate(1, amend_on_app(app, net, 1))
    long = rate(1, amend_on_app(app, net, LONG))
    print(f"[2] referral with {LONG} events {long:7.0f}/s vs fresh {fresh:7.0f}/s = "
          f"{long / fresh:.2f} (snapshots every 100 events + aggregate cache)")
    cold_app = CareLedger(env={**bootstrap.application_env(db, settings),
                               "AGGREGATE_CACHE_MAXSIZE": ""})
    long_cold = rate(1, amend_on_app(cold_app, net, LONG))
    fresh_cold = rate(1, amend_on_app(cold_app, net, 1))
    print(f"    without the cache (each command reloads): {LONG} events {long_cold:6.0f}/s vs "
          f"fresh {fresh_cold:6.0f}/s = {long_cold / fresh_cold:.2f}")

    # [3] HTTP against the served API, same commands, 8 clients.
    port = free_port()
    env = {**os.environ, "CARELEDGER_DATABASE_URL": url,
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret, "CARELEDGER_DATA_DIR": str(work),
           "CARELEDGER_HTTP_PORT": str(port), "CARELEDGER_DB_POOL_SIZE": "16", **BUDGETS}
    server = subprocess.Popen([sys.executable, "-m", "careledger.main.cli", "serve",
                               "--workers", "2", "--threads", "8"], env=env)
    try:
        _wait_for_port(port)
        token = tokens.issue(subject=net.therapist, role=Role.THERAPIST, clinics=[net.clinic])
        latencies: list[float] = []
        lock = threading.Lock()

        def http_factory(_i: int) -> Callable[[], None]:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30)
            state = {"rid": None, "n": 200}

            def op() -> None:
                if state["n"] >= 190:
                    state["rid"] = commands_episode(app, net)
                    state["n"] = 0
                state["n"] += 1  # type: ignore[operator]
                when = (datetime(2026, 4, 1, tzinfo=UTC) + timedelta(hours=1)).isoformat()
                t0 = time.perf_counter()
                response = client.post(f"/api/v1/referrals/{state['rid']}/sessions",
                                       json={"scheduled_for": when})
                elapsed = time.perf_counter() - t0
                if response.status_code != 201:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                with lock:
                    latencies.append(elapsed)
            return op

        http = rate(8, http_factory)
        in_process = max(row[2] for row in rows)
        q = statistics.quantiles(latencies, n=100)
        print(f"[3] HTTP commands {http:7.0f}/s (8 clients; p50 {q[49] * 1000:.1f} ms, "
              f"p99 {q[98] * 1000:.1f} ms) vs in-process {in_process:7.0f}/s = "
              f"{http / in_process:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=20)
        app.close()
        library.close()
        cold_app.close()
        bench.stop()
    failures.exit_if_any()


def amend_on_app(app: CareLedger, net, events: int) -> Factory:  # type: ignore[no-untyped-def]
    def factory(_i: int) -> Callable[[], None]:
        rid = app.handle(MakeReferral(
            physician_id=net.physician, patient_id=net.patient, clinic_id=net.clinic,
            discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
            contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=10, reason="",
            occurred_at=NOW, actor="bench")).aggregate_id
        for _ in range(events - 1):
            app.handle(Amend(referral_id=rid, record_id=str(rid), reason="bench",
                             changes={"reason": "bench"},
                             occurred_at=NOW, actor="bench"))

        def op() -> None:
            app.handle(Amend(referral_id=rid, record_id=str(rid), reason="bench",
                             changes={"reason": "bench"},
                             occurred_at=NOW, actor="bench"))
        return op
    return factory


def commands_episode(app: CareLedger, net) -> uuid.UUID:  # type: ignore[no-untyped-def]
    rid = app.handle(MakeReferral(
        physician_id=net.physician, patient_id=net.patient, clinic_id=net.clinic,
        discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
        contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=200, reason="",
        occurred_at=NOW, actor="bench")).aggregate_id
    app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.therapist, occurred_at=NOW,
                              actor="bench"))
    return rid


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the API server did not start")


if __name__ == "__main__":
    main()
