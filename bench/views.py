"""`python -m bench.views`: the relay and the views against their raw baselines, in one run.

  (a) projection catch-up: events/s applied by the consumer's batches vs raw COPY rows/s
      of the same rows into the same tables, and beside it the consumer's own ceiling:
      decoding the envelopes and running the handlers with no database at all;
  (b) the same events applied one per transaction with its tracking row (the unit of
      work of the library's ProjectionRunner) vs our batches;
  (c) freshness at a steady command rate: milliseconds from a command's commit to its
      row in the timeline, with the relay and the consumer running as their own
      processes, as `careledger up` runs them;
  (d) relay publish rate vs raw confluent-kafka produce of the same payloads.

BENCH_PATIENTS (default 200) sizes the log; BENCH_RATE (200/s) and BENCH_FRESHNESS_SECONDS
(60) the freshness run.
"""

from __future__ import annotations

import io
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import psycopg
from confluent_kafka import Consumer, Message, Producer

from bench.checks import Failures
from bench.setup import bench_database
from careledger.consumers.collector import set_for_batches
from careledger.consumers.envelopes import Streams, envelope_of
from careledger.consumers.projector import Projector
from careledger.consumers.relay import Relay
from careledger.domain.clinical import SessionLocation
from careledger.domain.treatment import ScheduleSession
from careledger.infra.embedded_broker import EmbeddedBroker, ensure_topics
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE, Settings
from careledger.main import bootstrap
from careledger.main.seed import seed_network
from careledger.projections import all_projections

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "200"))
RATE = float(os.environ.get("BENCH_RATE", "200"))
FRESHNESS_SECONDS = float(os.environ.get("BENCH_FRESHNESS_SECONDS", "60"))
QUIET = logging.getLogger("bench.kafka")


def fetch_all(bootstrap: str, topic: str, count: int) -> list[Message]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000, "logger": QUIET})
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + 120
    while len(messages) < count and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(1000, 0.5) if m.error() is None]
    consumer.close()
    return messages


def fresh_schema(db: bootstrap.Database, name: str) -> str:
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        create_views(admin, app_role=APP_ROLE, schema=name)
    return name


def apply_rate(db: bootstrap.Database, messages: list[Message], batch: int, name: str,
               failures: Failures) -> float:
    schema = fresh_schema(db, name)
    projector = Projector(db.app_url, consumer=name, schema=schema)
    started, applied = time.perf_counter(), 0
    for i in range(0, len(messages), batch):
        outcome = projector.apply(messages[i:i + batch])
        applied += outcome.applied
        failures.require(not outcome.dead, f"{name}: {outcome.dead} events dead-lettered")
    elapsed = time.perf_counter() - started
    projector.close()
    failures.require_counts(len(messages), applied, f"{name}: events applied")
    return len(messages) / elapsed


def python_ceiling(messages: list[Message]) -> float:
    """Events/s of decoding and handling alone, no database: no consumer can beat it."""
    from careledger.consumers.applier import Applied, ViewApplier
    from careledger.projections.envelope import Envelope

    applier = ViewApplier("ceiling")
    started = time.perf_counter()
    for i in range(0, len(messages), 500):
        envelopes = [Envelope.from_json(m.value() or b"") for m in messages[i:i + 500]]
        tracked = {r.table.name: (r.column, ids) for r, ids in applier.wanted(envelopes).items()}
        applier.plan(envelopes, applier.memory(), Applied(), tracked=tracked)
    return len(messages) / (time.perf_counter() - started)


def copy_rate(db: bootstrap.Database, source: str) -> tuple[float, int]:
    """Raw COPY of the rows `source` holds into an empty twin of its tables."""
    twin = fresh_schema(db, source + "_copy")
    tables = [t.name for p in all_projections() for t in p.tables]
    dumps: dict[str, bytes] = {}
    with psycopg.connect(db.admin_url) as conn:
        for table in tables:
            buffer = io.BytesIO()
            with conn.cursor().copy(f"COPY {source}.{table} TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            dumps[table] = buffer.getvalue()
        rows = sum(conn.execute(f"SELECT count(*) FROM {source}.{t}").fetchone()[0]  # type: ignore[index]
                   for t in tables)
        started = time.perf_counter()
        with conn.transaction():
            for table in tables:
                with conn.cursor().copy(f"COPY {twin}.{table} FROM STDIN (FORMAT binary)") as copy:
                    copy.write(dumps[table])
        elapsed = time.perf_counter() - started
    return rows / elapsed, rows


def raw_produce_rate(bootstrap: str, payloads: list[tuple[bytes, bytes]]) -> float:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    ensure_topics(bootstrap, {topic: 6})
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 2, "compression.type": "lz4",
                         "partitioner": "murmur2_random", "logger": QUIET})
    started = time.perf_counter()
    for key, value in payloads:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    return len(payloads) / (time.perf_counter() - started)


def freshness(settings: Settings, db: bootstrap.Database, bootstrap_servers: str,
              net: Any, failures: Failures) -> tuple[list[float], int]:
    """Commands at a steady rate; the time each one's row takes to reach the timeline."""
    from bench.__main__ import commands_episode

    app = bootstrap.application(db, settings)
    env = {**os.environ, "CARELEDGER_DATABASE_URL": settings.database_url or "",
           "CARELEDGER_APP_DB_PASSWORD": settings.app_db_password,
           "CARELEDGER_TOKEN_SECRET": settings.token_secret,
           "CARELEDGER_DATA_DIR": str(settings.data_dir),
           "CARELEDGER_KAFKA_BOOTSTRAP": bootstrap_servers,
           "CARELEDGER_EVENTS_TOPIC": "bench.fresh." + uuid.uuid4().hex[:6]}
    # Start the live views where the log is now: only the commands below are measured.
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        head = app.recorder.horizon()  # type: ignore[attr-defined]
        admin.execute("INSERT INTO careledger.relay_positions (name, position) VALUES"
                      " ('relay', %s) ON CONFLICT (name) DO UPDATE SET position = %s",
                      (head, head))
        admin.execute("UPDATE careledger.view_generations SET floor_position = %s"
                      " WHERE name = 'live'", (head,))
    workers = [subprocess.Popen([sys.executable, "-m", "careledger.main.cli", command],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for command in ("relay", "consume")]
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    guard = threading.Lock()  # committed grows in this thread while the watcher reads it
    stop = threading.Event()

    def watch() -> None:
        """Rows appear out of position order (partitions apply apart): ask from below the
        lowest command not yet seen."""
        with psycopg.connect(db.app_url, autocommit=True) as conn:
            since = head
            while not stop.is_set():
                for (position,) in conn.execute(
                        "SELECT position FROM careledger_views.timeline WHERE position > %s",
                        (since,)).fetchall():
                    seen.setdefault(position, time.perf_counter())
                with guard:
                    waiting = [p for p in committed if p not in seen]
                    since = min(waiting) - 1 if waiting else max(seen, default=head)
                time.sleep(0.005)

    with failures.threads():
        watcher = threading.Thread(target=watch, name="freshness watcher")
        watcher.start()
        time.sleep(8)  # the consumer joins its group
        episode, used = commands_episode(app, net), 0
        interval, started = 1 / RATE, time.perf_counter()
        next_at, end = started, started + FRESHNESS_SECONDS
        while time.perf_counter() < end:
            if used >= 190:
                episode, used = commands_episode(app, net), 0
            used += 1
            recorded = app.handle(ScheduleSession(
                referral_id=episode, practitioner_id=net.therapist, scheduled_for=net_now(),
                location=SessionLocation.CLINIC, occurred_at=net_now(), actor="bench"))
            assert recorded.position is not None
            with guard:
                committed[recorded.position] = time.perf_counter()
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        sent_for = time.perf_counter() - started
        deadline = time.perf_counter() + 30
        while (time.perf_counter() < deadline and watcher.is_alive()
               and any(p not in seen for p in list(committed))):
            time.sleep(0.05)
        stop.set()
        watcher.join()
    for w in workers:
        w.terminate()
        w.wait(timeout=30)
    app.close()
    failures.require_rate(len(committed) / sent_for, RATE, "freshness: commands sent")
    lags = [(seen[p] - t) * 1000 for p, t in committed.items() if p in seen]
    failures.require_counts(len(committed), len(lags), "freshness: commands seen in the views")
    return lags, len(committed) - len(lags)


def net_now() -> Any:
    from tests.helpers.network import NOW

    return NOW


def main() -> None:
    from careledger.access.tokens import TokenService
    from tests.helpers.network import build_network

    failures = Failures("bench.views")
    bench = bench_database("views", pool_size=8)
    work, settings, db = bench.work, bench.settings, bench.db
    app = bootstrap.application(db, settings)
    broker = None
    servers = os.environ.get("CARELEDGER_KAFKA_BOOTSTRAP")
    if not servers:
        broker = EmbeddedBroker(work / "broker")
        servers = broker.start()
    try:
        seed_network(app, patients=PATIENTS)
        net = build_network(app, TokenService(settings.token_secret))
        with psycopg.connect(db.app_url) as conn:  # positions may have gaps: count them
            events = int(conn.execute(
                "SELECT count(*) FROM careledger.careledger_events").fetchone()[0])  # type: ignore[index]
        print(f"CareLedger views benchmarks ({events} events from {PATIENTS} patients)\n")

        # (d) relay vs raw produce of the same payloads
        topic = f"bench.events.{uuid.uuid4().hex[:6]}"
        ensure_topics(servers, {topic: 6, topic + ".dlq": 1})
        relay = Relay(app, bootstrap=servers, topic=topic, name="bench", batch_size=1000)
        started, published = time.perf_counter(), 0
        while n := relay.step():
            published += n
        relay_rate = published / (time.perf_counter() - started)
        failures.require_counts(events, published, "[d] events the relay published")
        streams = Streams(app)
        payloads = [(e.key, e.to_json()) for e in (
            envelope_of(app, streams, entry)
            for entry in app.recorder.read_log(0, events))]  # type: ignore[attr-defined]
        raw = raw_produce_rate(servers, payloads)
        print(f"[d] relay publish {relay_rate:8.0f} events/s vs raw confluent-kafka produce "
              f"{raw:8.0f} msgs/s = {relay_rate / raw:.2f}")

        # (a) and (b): the same messages, applied in batches and one per transaction
        messages = fetch_all(servers, topic, events)
        failures.require_counts(events, len(messages), "[a] messages read back from the topic")
        set_for_batches()  # as every command that applies batches sets it (collector.py)
        batched = apply_rate(db, messages, 500, "bench_batched", failures)
        copy, rows = copy_rate(db, "bench_batched")
        print(f"[a] catch-up {batched:8.0f} events/s vs raw COPY {copy:8.0f} rows/s "
              f"({rows} rows) = {batched / copy:.2f}")
        ceiling = python_ceiling(messages)
        print(f"    decoding and handlers alone, no database: {ceiling:8.0f} events/s "
              f"= {ceiling / copy:.2f} of COPY (the most any Python consumer could reach)")
        single = apply_rate(db, messages, 1, "bench_single", failures)
        print(f"[b] batches of 500 {batched:8.0f} events/s vs one event per transaction "
              f"{single:8.0f} events/s = {batched / single:.1f}x")

        # (c) freshness at a steady rate
        lags, missing = freshness(settings, db, servers, net, failures)
        q = statistics.quantiles(lags, n=100) if len(lags) > 1 else [0.0] * 99
        print(f"[c] freshness at {RATE:.0f} commands/s for {FRESHNESS_SECONDS:.0f} s: "
              f"p50 {q[49]:.0f} ms, p99 {q[98]:.0f} ms, max {max(lags):.0f} ms "
              f"({len(lags)} commands, {missing} not seen)")
    finally:
        app.close()
        if broker is not None:
            broker.stop()
        bench.stop()
    failures.exit_if_any()


if __name__ == "__main__":
    main()
