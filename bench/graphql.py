"""`python -m bench.graphql`: the read API against hand-written SQL served the same way.

Both sides run under the same gunicorn configuration (2 workers x 8 threads) on the
same data, and 8 clients ask as fast as they can:

  * a patient's timeline page (50 of 1,000 events): GraphQL (token check, care-team
    authorization, an access-log append, the page query) against a bare WSGI app that
    runs the same page query with psycopg and answers it with json.dumps;
  * a physician's worklist (their referrals), likewise.

The ratio is requests/s of the bare app over GraphQL's: the cost of everything the API
adds. Each side is warmed up first (pools filled, caches made), then the two are measured
back to back, ROUNDS times (BENCH_SECONDS each, default 3 s and 5 rounds): each round's
ratio compares two windows taken under the same conditions, and the median of those
ratios is the figure. On a shared 2-core machine one window can be off by a third.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from bench.__main__ import _wait_for_port, rate
from bench.setup import BUDGETS, bench_database
from careledger.access.tokens import Role, TokenService
from careledger.consumers.replay import replay
from careledger.domain.clinical import Discipline, SessionLocation, Urgency
from careledger.domain.intake import AcceptReferral
from careledger.domain.referral import MakeReferral
from careledger.domain.treatment import ScheduleSession
from careledger.graphql.patient.queries import TIMELINE_COLUMNS
from careledger.infra.embedded_pg import free_port
from careledger.main import bootstrap
from careledger.projections import VIEWS_SCHEMA
from tests.helpers.network import NOW, build_network

SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CLIENTS = 8

PAGE_SQL = (
    f"SELECT {TIMELINE_COLUMNS} FROM {VIEWS_SCHEMA}.timeline"
    " WHERE patient_id = %s ORDER BY occurred_at, position LIMIT 51"
)
WORKLIST_SQL = (
    f"SELECT referral_id, patient_id, status, plan_status, visits_used, visits_authorized,"
    f" certified_until FROM {VIEWS_SCHEMA}.referrals WHERE physician_id = %s"
    " ORDER BY made_at DESC, referral_id DESC LIMIT 51"
)
TIMELINE_QUERY = """query ($id: UUID!) { patient(id: $id) { timeline(first: 50) {
  events { position kind occurredAt recordedAt actor clinicId practitionerId referralId
           recordId amendsRecordId data } endCursor hasNextPage } } }"""
WORKLIST_QUERY = """query ($id: UUID!) { physician(id: $id) { referrals { entries {
  referralId patientId status planStatus visitsUsed visitsAuthorized certifiedUntil }
  endCursor hasNextPage } } }"""


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The baseline: the same query, psycopg, json.dumps; nothing else."""
    pool = _bare_pool()
    kind, _, key = environ["PATH_INFO"].strip("/").partition("/")
    with pool.connection() as conn:
        rows = conn.execute(PAGE_SQL if kind == "timeline" else WORKLIST_SQL,
                            (uuid.UUID(key),)).fetchall()
    body = json.dumps(rows, default=str).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


_pool: Any = None
_pool_lock = threading.Lock()


def _bare_pool() -> Any:
    """One pool per worker process, made once even when its threads start together."""
    global _pool  # noqa: PLW0603 - one pool per worker process
    with _pool_lock:
        if _pool is None:
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool

            _pool = ConnectionPool(os.environ["BENCH_APP_URL"], min_size=2, max_size=8,
                                   kwargs={"autocommit": True, "row_factory": dict_row})
    return _pool


def measure(url: str, make_request: Callable[[httpx.Client], httpx.Response],
            seconds: float | None = None) -> tuple[float, float, float]:
    """Requests/s with CLIENTS clients (bench's own timing loop), and p50/p99 in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    clients: list[httpx.Client] = []

    def client(_i: int) -> Callable[[], None]:
        http = httpx.Client(base_url=url, timeout=30)
        clients.append(http)

        def request() -> None:
            started = time.perf_counter()
            response = make_request(http)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or b'"errors"' in response.content[:200]:
                raise RuntimeError(f"bad answer: {response.status_code} "
                                   f"{response.content[:200]!r}")
            with lock:
                latencies.append(elapsed)
        return request

    try:
        per_second = rate(CLIENTS, client, seconds)
    finally:
        for http in clients:
            http.close()
    if len(latencies) != per_second.operations:
        raise RuntimeError(f"{per_second.operations} requests counted, {len(latencies)} timed")
    q = statistics.quantiles(latencies, n=100)
    return per_second, q[49] * 1000, q[98] * 1000


def warm_up(url: str, make_request: Callable[[httpx.Client], httpx.Response]) -> None:
    """Fill every worker's pool and caches before anything is timed."""
    with httpx.Client(base_url=url, timeout=30) as http:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            make_request(http)
    measure(url, make_request, seconds=1.0)


def _median(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs))


def main() -> None:
    bench = bench_database("graphql", pool_size=8)
    work, url, settings, db = bench.work, bench.url, bench.settings, bench.db
    app = bootstrap.application(db, settings)
    tokens = TokenService(settings.token_secret)
    net = build_network(app, tokens)
    for _ in range(5):  # five episodes of ~200 events: 1,000 on one patient's timeline
        rid = app.handle(MakeReferral(
            physician_id=net.physician, patient_id=net.patient, clinic_id=net.clinic,
            discipline=Discipline.MEDICAL_MASSAGE, diagnosis_codes=["M54.50"], precautions=[],
            contraindications=[], urgency=Urgency.ROUTINE, authorized_visits=200, reason="",
            occurred_at=NOW, actor="bench")).aggregate_id
        app.handle(AcceptReferral(referral_id=rid, practitioner_id=net.therapist, occurred_at=NOW,
                                  actor="bench"))
        for _ in range(196):
            app.handle(ScheduleSession(referral_id=rid, practitioner_id=net.therapist,
                                       scheduled_for=NOW,
                                       location=SessionLocation.CLINIC, occurred_at=NOW,
                                       actor="bench"))
    replay(app, db.app_url, VIEWS_SCHEMA)
    app.close()

    env = {**os.environ, "CARELEDGER_DATABASE_URL": url,
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret, "CARELEDGER_DATA_DIR": str(work),
           "BENCH_APP_URL": db.app_url, **BUDGETS}
    api_port, bare_port = free_port(), free_port()
    servers = [
        subprocess.Popen([sys.executable, "-m", "careledger.main.cli", "serve", "--workers",
                          "2", "--threads", "8"],
                         env={**env, "CARELEDGER_HTTP_PORT": str(api_port)}),
        subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "8",
                          "--worker-class", "gthread", "--bind", f"127.0.0.1:{bare_port}",
                          "--log-level", "warning", "bench.graphql:bare_app"], env=env),
    ]
    try:
        _wait_for_port(api_port)
        _wait_for_port(bare_port)
        token = tokens.issue(subject=net.physician, role=Role.PHYSICIAN)
        auth = {"Authorization": f"Bearer {token}"}
        api, bare = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
        print(f"CareLedger read benchmarks ({ROUNDS} rounds of {SECONDS:.0f} s per figure, "
              f"{CLIENTS} clients; medians, the overhead of each round's pair)\n")
        for name, query, path in (("timeline page (50 of 1,000)", TIMELINE_QUERY,
                                   f"/timeline/{net.patient}"),
                                  ("physician worklist", WORKLIST_QUERY,
                                   f"/worklist/{net.physician}")):
            subject = net.patient if "timeline" in path else net.physician
            sides = {
                "graphql": (api, lambda http, q=query, s=subject: http.post(
                    "/graphql", json={"query": q, "variables": {"id": str(s)}}, headers=auth)),
                "bare": (bare, lambda http, p=path: http.get(p)),
            }
            for base, request in sides.values():
                warm_up(base, request)
            runs: dict[str, list[tuple[float, float, float]]] = {side: [] for side in sides}
            for _ in range(ROUNDS):
                for side, (base, request) in sides.items():
                    runs[side].append(measure(base, request))
            ours, raw = (_median(runs["graphql"]), _median(runs["bare"]))
            ratios = [b[0] / g[0] for g, b in zip(runs["graphql"], runs["bare"], strict=True)]
            print(f"{name:28s} GraphQL {ours[0]:6.0f}/s (p50 {ours[1]:5.1f} ms, p99 "
                  f"{ours[2]:5.1f} ms) | psycopg + json.dumps {raw[0]:6.0f}/s (p50 "
                  f"{raw[1]:5.1f} ms, p99 {raw[2]:5.1f} ms) = overhead "
                  f"{statistics.median(ratios):.2f}x  [each round: "
                  + " ".join(f"{r:.2f}" for r in ratios) + "]")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)
        bench.stop()


if __name__ == "__main__":
    main()
