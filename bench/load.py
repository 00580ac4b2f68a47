"""`python -m bench.load`: a mixed workload at 1x, 2x and 4x a stated rate, and a soak.

Runs against a CareLedger of its own on loopback (embedded PostgreSQL and broker; API,
relay and consumer as separate processes, as `careledger up` runs them), with bounded
request counts and durations, and stops by itself. The workload, per second at 1x
(BENCH_LOAD_RATE, default 40 requests/s):

  * 70% clinicians' commands: a therapist schedules a session (with an Idempotency-Key);
  * 20% physicians' reads: a patient's timeline page through GraphQL;
  * 10% auditors' reads: a record's audit trail through GraphQL.

Each stage lasts BENCH_LOAD_SECONDS (default 20). It reports p50/p95/p99 per operation,
throughput, the error rate, the consumer's lag (how long after the stage the views
held its last command) and freshness (command answered → its row in the timeline).

`python -m bench.load --soak 600` instead runs 1x for that many seconds and reports
each process's memory and PostgreSQL's connection count at the start and the end.
`--write docs/reliability.md` puts the table in that file with the command that made it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.checks import Failures
from bench.stack import Stack, own_stack, wait_for
from careledger.access.tokens import Role, TokenService
from careledger.infra.embedded_broker import ensure_topics
from careledger.main import bootstrap
from careledger.projections.placement import NETWORK_EVENTS
from tests.helpers.network import build_network, open_episode

TIMELINE = """query ($id: UUID!) { patient(id: $id) { timeline(first: 50) {
  events { position kind occurredAt recordedAt actor } } } }"""
TRAIL = """query ($id: UUID!) { auditTrail(aggregateId: $id) { position version type hash } }"""
MIX = (("command", 0.7), ("physician read", 0.2), ("auditor read", 0.1))


@dataclass
class Stage:
    name: str
    rate: float
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    committed: dict[int, float] = field(default_factory=dict)
    seen: dict[int, float] = field(default_factory=dict)
    sent: int = 0
    elapsed: float = 0.0
    drain_s: float = 0.0


#: Sessions scheduled per referral before the next one (each authorizes 200 visits).
PER_REFERRAL = 190


class Workload:
    def __init__(self, stack: Stack, *, requests: int, seed: int = 7) -> None:
        self.stack = stack
        self.rng = random.Random(seed)
        db = bootstrap.database(stack.settings)
        bootstrap.run_migrations(db)
        self.db = db
        app = bootstrap.application(db, stack.settings)
        tokens = TokenService(stack.settings.token_secret)
        self.network = build_network(app, tokens)
        # Visits are capped at 200 per referral: enough referrals for every command the
        # run may send (with room to spare), never one scheduled past its cap.
        needed = int(requests * dict(MIX)["command"] * 1.2) // PER_REFERRAL + 2
        self.referrals = [open_episode(app, self.network, accept=True, authorized_visits=200)
                          for _ in range(needed)]
        app.close()
        self.therapist = tokens.issue(subject=self.network.therapist, role=Role.THERAPIST,
                                      clinics=[self.network.clinic])
        self.physician = tokens.issue(subject=self.network.physician, role=Role.PHYSICIAN)
        self.auditor = tokens.issue(subject=uuid.uuid4(), role=Role.AUDITOR)
        self.next_referral = 0
        self.lock = threading.Lock()
        self.http = httpx.Client(base_url=stack.base, timeout=30,
                                 limits=httpx.Limits(max_connections=64))

    def referral(self) -> uuid.UUID:
        with self.lock:
            self.next_referral += 1
            # Past the planned count (never, at a fixed rate) a full referral answers 409,
            # which the run reports as errors rather than hiding.
            return self.referrals[(self.next_referral // PER_REFERRAL) % len(self.referrals)]

    def one(self, stage: Stage, kind: str) -> None:
        started = time.perf_counter()
        try:
            if kind == "command":
                response = self.http.post(
                    f"/api/v1/referrals/{self.referral()}/sessions",
                    json={"scheduled_for": "2026-03-10T09:00:00+00:00", "location": "clinic"},
                    headers={"Authorization": f"Bearer {self.therapist}",
                             "Idempotency-Key": str(uuid.uuid4())})
            elif kind == "physician read":
                response = self.http.post("/graphql", json={
                    "query": TIMELINE, "variables": {"id": str(self.network.patient)}},
                    headers={"Authorization": f"Bearer {self.physician}"})
            else:
                response = self.http.post("/graphql", json={
                    "query": TRAIL, "variables": {"id": str(self.rng.choice(self.referrals))}},
                    headers={"Authorization": f"Bearer {self.auditor}"})
        except httpx.HTTPError:
            stage.errors[kind] += 1
            return
        done = time.perf_counter()
        ok = response.status_code in (200, 201) and b'"errors"' not in response.content[:300]
        if not ok:
            stage.errors[kind] += 1
            return
        stage.latencies[kind].append(done - started)
        if kind == "command":
            stage.committed[response.json()["position"]] = done

    def run(self, stage: Stage, failures: Failures | None = None) -> Stage:
        """Open loop: requests leave on schedule, whether earlier ones have finished or not.
        With `failures`, a watcher that dies or a rate not held fails the benchmark."""
        failures = failures or Failures("bench.load")
        with failures.threads():
            self._run(stage)
        failures.require_rate(stage.sent / max(stage.elapsed, 1e-9), stage.rate,
                              f"{stage.name}: requests")
        return stage

    def _run(self, stage: Stage) -> Stage:
        stop = threading.Event()
        watcher = threading.Thread(target=self.watch, args=(stage, stop), name="views watcher")
        watcher.start()
        interval = 1 / stage.rate
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        started = next_at = time.perf_counter()
        with ThreadPoolExecutor(max_workers=64) as pool:
            while time.perf_counter() - started < stage.seconds:
                pool.submit(self.one, stage, self.rng.choices(kinds, weights)[0])
                stage.sent += 1
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))
        stage.elapsed = time.perf_counter() - started
        drained_from = time.perf_counter()
        deadline = drained_from + 120
        while time.perf_counter() < deadline and watcher.is_alive() and any(
                p not in stage.seen for p in list(stage.committed)):
            time.sleep(0.05)
        stage.drain_s = time.perf_counter() - drained_from
        stop.set()
        watcher.join()
        return stage

    def watch(self, stage: Stage, stop: threading.Event) -> None:
        """When each command's row appears in the timeline."""
        with psycopg.connect(self.db.app_url, autocommit=True) as conn:
            last = 0
            while not stop.is_set():
                rows = conn.execute("SELECT position FROM careledger_views.timeline"
                                    " WHERE position > %s", (last,)).fetchall()
                now = time.perf_counter()
                for (position,) in rows:
                    stage.seen.setdefault(position, now)
                    last = max(last, position)
                time.sleep(0.01)

    def warm_up(self) -> None:
        """Until the views hold the set-up (the consumer has joined its group and caught up)."""
        # The last event the timeline holds a row for (the network's own, a clinic's fee
        # schedule or a course, it leaves aside).
        network = [event.TOPIC for event in NETWORK_EVENTS]
        with psycopg.connect(self.db.app_url, autocommit=True) as conn:
            (head,) = conn.execute("SELECT max(notification_id) FROM"
                                   " careledger.careledger_events WHERE topic <> ALL(%s)",
                                   (network,)).fetchone() or (0,)
            wait_for(lambda: conn.execute(
                "SELECT 1 FROM careledger_views.timeline WHERE position >= %s",
                (head,)).fetchone() is not None, 120, "the views to catch up with the set-up")

    def footprint(self) -> dict[str, Any]:
        """Each process's resident memory (MB) and PostgreSQL's connection count."""
        result: dict[str, Any] = {}
        for name, part in self.stack.parts.items():
            result[f"{name} MB"] = round(_rss_mb(part.pid), 1)
        with psycopg.connect(self.db.admin_url) as conn:
            (count,) = conn.execute("SELECT count(*) FROM pg_stat_activity"
                                    " WHERE backend_type = 'client backend'").fetchone() or (0,)
        result["PostgreSQL connections"] = count
        return result


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn's workers), from /proc."""
    total = 0.0
    for candidate in Path("/proc").iterdir():
        if not candidate.name.isdigit():
            continue
        try:
            status = (candidate / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if candidate.name == str(pid) or fields.get("PPid", "").strip() == str(pid):
            total += int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    return total


def quantiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (values[0] * 1000,) * 3 if values else (0.0, 0.0, 0.0)
    q = statistics.quantiles(values, n=100)
    return q[49] * 1000, q[94] * 1000, q[98] * 1000


def table(stages: list[Stage]) -> list[str]:
    lines = ["| stage | operation | sent/s | p50 ms | p95 ms | p99 ms | errors |",
             "|---|---|---|---|---|---|---|"]
    for stage in stages:
        for kind, _ in MIX:
            done = stage.latencies.get(kind, [])
            p50, p95, p99 = quantiles(done)
            lines.append(f"| {stage.name} | {kind} | {len(done) / stage.elapsed:.1f} | "
                         f"{p50:.1f} | {p95:.1f} | {p99:.1f} | {stage.errors.get(kind, 0)} |")
    lines += ["", "| stage | requests | throughput/s | error rate | freshness p50 / p99 ms |"
              " views drained after the stage |", "|---|---|---|---|---|---|"]
    for stage in stages:
        answered = sum(len(v) for v in stage.latencies.values())
        errors = sum(stage.errors.values())
        fresh = [(stage.seen[p] - t) * 1000 for p, t in stage.committed.items()
                 if p in stage.seen]
        f50, _, f99 = quantiles([f / 1000 for f in fresh])
        lines.append(f"| {stage.name} | {stage.sent} | {answered / stage.elapsed:.1f} | "
                     f"{errors / max(1, stage.sent):.2%} | {f50:.0f} / {f99:.0f} | "
                     f"{stage.drain_s:.1f} s |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="requests/s at 1x")
    parser.add_argument("--seconds", type=float, default=20.0, help="per stage")
    parser.add_argument("--soak", type=float, default=0.0, help="soak at 1x for N seconds")
    parser.add_argument("--write", type=Path, help="put the results table in this file")
    args = parser.parse_args()
    failures = Failures("bench.load")
    with own_stack(Path(tempfile.mkdtemp(prefix="careledger-load-")), pool_size=8) as stack:
        ensure_topics(stack.broker.bootstrap, {"careledger.events": 6,
                                               "careledger.events.dlq": 1})
        # 1x, 2x and 4x for `seconds` each, or 1x for the soak.
        workload = Workload(stack, requests=int(args.rate * (args.soak or args.seconds * 7)))
        for name in ("api", "relay", "consumer"):
            stack.start(name)
        stack.wait_until_ready()
        workload.warm_up()
        if args.soak:
            before = workload.footprint()
            stage = workload.run(Stage("soak 1x", args.rate, args.soak), failures)
            after = workload.footprint()
            lines = [*table([stage]), "", "| at | " + " | ".join(before) + " |",
                     "|---|" + "---|" * len(before),
                     "| start | " + " | ".join(map(str, before.values())) + " |",
                     "| end | " + " | ".join(map(str, after.values())) + " |"]
            command = f"python -m bench.load --rate {args.rate:g} --soak {args.soak:g}"
            ran = [stage]
        else:
            stages = [workload.run(Stage(f"{m}x ({args.rate * m:g}/s)", args.rate * m,
                                         args.seconds), failures) for m in (1, 2, 4)]
            lines = table(stages)
            command = f"python -m bench.load --rate {args.rate:g} --seconds {args.seconds:g}"
            ran = stages
        assert not stack.unexpected_exits(), f"{stack.unexpected_exits()} stopped; see logs"
    print("\n".join(lines))
    if args.write:
        _write(args.write, command, lines)
    failed = sum(sum(s.errors.values()) for s in ran)
    unseen = sum(1 for s in ran for p in s.committed if p not in s.seen)
    failures.require(not failed, f"{failed} requests failed")
    failures.require(not unseen, f"{unseen} accepted commands never reached the views")
    failures.exit_if_any()


def _write(path: Path, command: str, lines: list[str]) -> None:
    """Replace this command's section of the file (or add it)."""
    text = path.read_text() if path.exists() else "# Reliability\n"
    marker = f"<!-- {command} -->"
    section = "\n".join([marker, f"`{command}` ({time.strftime('%Y-%m-%d')}, 2 cores):", "",
                         *lines, f"<!-- end {command} -->"])
    if marker in text:
        start = text.index(marker)
        end = text.index(f"<!-- end {command} -->") + len(f"<!-- end {command} -->")
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
