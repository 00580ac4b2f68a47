"""`python -m bench.rest`: the relay and the consumer at rest, and how fresh the views
stay, with the relay woken by PostgreSQL (LISTEN/NOTIFY) vs polling it every 20 ms.

The relay and the consumer run as `careledger up` runs them, their own processes; the
polling relay is started with the hidden option that keeps the old way (`relay --rest
poll`). The consumer is the same in both (a broker fetch held at most 20 ms: the
embedded broker holds an empty fetch for the whole wait, so a longer one costs
freshness). For each relay, alternately, in rounds:

  [1] CPU at rest: the share of one core each process used over BENCH_REST_SECONDS (10)
      with nothing to do (read from /proc: user and system time of all its threads);
  [2] freshness: commands one at a time at BENCH_REST_RATE (5/s) for
      BENCH_REST_FRESHNESS_SECONDS (10), each timed from its commit to its row in the
      timeline: after a rest, the case waking is for.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.checks import Failures
from bench.setup import BUDGETS, bench_database
from careledger.domain.clinical import SessionLocation
from careledger.domain.treatment import ScheduleSession
from careledger.infra.embedded_broker import EmbeddedBroker, ensure_topics
from careledger.main import bootstrap

REST_SECONDS = float(os.environ.get("BENCH_REST_SECONDS", "10"))
RATE = float(os.environ.get("BENCH_REST_RATE", "5"))
FRESHNESS_SECONDS = float(os.environ.get("BENCH_REST_FRESHNESS_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_REST_ROUNDS", "2"))
#: The most a resting process may use of one core (the issue's bound).
AT_REST = 1.0

WAYS = {"polling": (["relay", "--rest", "poll"], ["consume"]),
        "woken": (["relay"], ["consume"])}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def at_rest(parts: dict[str, subprocess.Popen[bytes]]) -> dict[str, float]:
    """Per cent of one core each part used over REST_SECONDS of nothing to do."""
    before = {name: cpu_seconds(p.pid) for name, p in parts.items()}
    started = time.monotonic()
    time.sleep(REST_SECONDS)
    took = time.monotonic() - started
    return {name: (cpu_seconds(p.pid) - before[name]) / took * 100
            for name, p in parts.items()}


def freshness(app: Any, net: Any, episode: Any, db: bootstrap.Database,
              failures: Failures, count: int = 0) -> list[float]:
    """Commands one at a time; milliseconds from each commit to its timeline row."""
    from tests.helpers.network import NOW

    lags: list[float] = []
    count = count or int(RATE * FRESHNESS_SECONDS)
    with psycopg.connect(db.app_url, autocommit=True) as conn:
        for _ in range(count):
            time.sleep(1 / RATE)
            recorded = app.handle(ScheduleSession(
                referral_id=episode, practitioner_id=net.therapist, scheduled_for=NOW,
                location=SessionLocation.CLINIC, occurred_at=NOW, actor="bench"))
            committed, deadline = time.perf_counter(), time.monotonic() + 60
            while conn.execute("SELECT 1 FROM careledger_views.timeline WHERE position = %s",
                               (recorded.position,)).fetchone() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            else:
                lags.append((time.perf_counter() - committed) * 1000)
    failures.require_counts(count, len(lags), "[2] commands seen in the views")
    return lags


def main() -> None:
    from bench.__main__ import commands_episode
    from careledger.access.tokens import TokenService
    from tests.helpers.network import build_network

    failures = Failures("bench.rest")
    bench = bench_database("rest", pool_size=4)
    settings, db = bench.settings, bench.db
    broker = EmbeddedBroker(bench.work / "broker")
    servers = broker.start()
    ensure_topics(servers, {settings.events_topic: 6, settings.dead_letter_topic: 1})
    env = {**os.environ, "CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir), "CARELEDGER_KAFKA_BOOTSTRAP": servers,
           **BUDGETS}
    app = bootstrap.application(db, settings)
    cpu: dict[str, dict[str, list[float]]] = {way: {"relay": [], "consumer": []}
                                              for way in WAYS}
    lags: dict[str, list[float]] = {way: [] for way in WAYS}
    try:
        net = build_network(app, TokenService(settings.token_secret))
        print(f"CareLedger at rest ({ROUNDS} rounds: {REST_SECONDS:.0f} s of rest, then "
              f"{RATE:.0f} commands/s for {FRESHNESS_SECONDS:.0f} s)\n")
        with failures.threads():
            for _ in range(ROUNDS):
                for way, (relay, consume) in WAYS.items():
                    parts = {name: subprocess.Popen(
                        [sys.executable, "-m", "careledger.main.cli", *args], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for name, args in (("relay", relay), ("consumer", consume))}
                    try:
                        episode = commands_episode(app, net)
                        # One command through first: the consumer has joined its group.
                        freshness(app, net, episode, db, failures, count=1)
                        for name, share in at_rest(parts).items():
                            cpu[way][name].append(share)
                        lags[way] += freshness(app, net, episode, db, failures)
                    finally:
                        for part in parts.values():
                            part.terminate()
                            part.wait(timeout=30)
    finally:
        app.close()
        broker.stop()
        bench.stop()

    def share(way: str, name: str) -> float:
        return statistics.median(cpu[way][name])

    for name in ("relay", "consumer"):
        polling, woken = share("polling", name), share("woken", name)
        print(f"[1] {name:8} at rest: polling {polling:5.2f}% of a core | woken "
              f"{woken:5.2f}% = {woken / polling if polling else 0:.2f} of polling")
        failures.require_timing(woken < AT_REST, f"[1] the {name} at rest used {woken:.2f}% "
                                f"of a core, more than {AT_REST:.0f}%")
    quantiles = {way: statistics.quantiles(found, n=100) if len(found) > 1 else [0.0] * 99
                 for way, found in lags.items()}
    p, w = quantiles["polling"], quantiles["woken"]
    print(f"[2] freshness, commit to timeline: polling p50 {p[49]:.1f} ms p99 {p[98]:.1f} ms "
          f"| woken p50 {w[49]:.1f} ms p99 {w[98]:.1f} ms = p99 {w[98] / p[98]:.2f} of polling "
          f"({len(lags['woken'])} and {len(lags['polling'])} commands)")
    failures.exit_if_any()


if __name__ == "__main__":
    threading.current_thread().name = "bench.rest"
    main()
