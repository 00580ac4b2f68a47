"""`python -m bench.audit`: verifying the log against hashing its bytes, in one run.

Fills a fresh log with BENCH_AUDIT_EVENTS events (default 1,000,000) through the real
`append_events` (so the store itself computed every hash of the chain) in large
batches, whose contents are the streams of a seeded demo network under fresh ids.
Then measures, on the same log:

  [1] `audit verify`: events/s, reading the log from PostgreSQL, recomputing every
      chain, the Merkle tree and the checkpoint's root and signature;
      vs raw SHA-256 in Python of exactly the bytes the chain hashes (hashlib over the
      same byte strings, already in memory, no database): the floor of any verifier
      written in Python; and, for where the rest goes, the same rows read alone;
  [2] `audit verify --from-checkpoint` with the whole log under a checkpoint;
  [3] signing a checkpoint (every leaf, no content) and one inclusion proof;
  [4] a full replay of the log into fresh views: what `careledger audit replay --as-of`
      and `careledger projections rebuild` do.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.checks import Failures
from bench.setup import bench_database
from careledger.audit import checkpoints, keys, log
from careledger.audit.chain import hashed_bytes
from careledger.audit.proof import prove
from careledger.audit.verify import verify
from careledger.main import bootstrap
from careledger.main.seed import seed_network

EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "1000000"))
#: Patients of the seeded network whose streams the log is filled with.
PATIENTS = int(os.environ.get("BENCH_AUDIT_PATIENTS", "40"))
#: Events per call of append_events: whole streams, so each chains inside the call.
BATCH = int(os.environ.get("BENCH_AUDIT_BATCH", "20000"))

APPEND = ("SELECT careledger.append_events(%b, %b, %b, %b, NULL::uuid[], NULL::bigint[],"
          " NULL, NULL, NULL, NULL, NULL)")


def stream_shapes(app_url: str) -> list[list[tuple[str, bytes]]]:
    """The (name, content) of each seeded stream's events, in version order."""
    streams: dict[Any, list[tuple[str, bytes]]] = defaultdict(list)
    with psycopg.connect(app_url) as conn:
        for stream, topic, state in conn.execute(
                "SELECT originator_id, topic, state FROM careledger.careledger_events"
                " ORDER BY originator_id, originator_version"):
            streams[stream].append((topic, bytes(state)))
    return list(streams.values())


def fill(app_url: str, shapes: list[list[tuple[str, bytes]]], total: int) -> int:
    """Append copies of the seeded streams under fresh ids until the log holds `total`."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        (have,) = conn.execute("SELECT count(*) FROM careledger.careledger_events"
                               ).fetchone() or (0,)
        shape = 0
        while have < total:
            ids: list[uuid.UUID] = []
            versions: list[int] = []
            topics: list[str] = []
            states: list[bytes] = []
            while len(ids) < BATCH and have + len(ids) < total:
                events = shapes[shape % len(shapes)][:total - have - len(ids)]
                stream = uuid.uuid4()
                for version, (topic, state) in enumerate(events, start=1):
                    ids.append(stream)
                    versions.append(version)
                    topics.append(topic)
                    states.append(state)
                shape += 1
            conn.execute(APPEND, (ids, versions, topics, states))
            have += len(ids)
    return have


def raw_sha256_rate(conn: psycopg.Connection[Any], upto: int) -> tuple[float, int]:
    """hashlib over the very bytes the chain hashes, built untimed, hashed timed."""
    sha256 = hashlib.sha256
    hashed, elapsed = 0, 0.0
    for rows in log.read(conn, upto=upto):
        inputs = [hashed_bytes(previous, stream, version, recorded_us, topic, state or b"")
                  for _, stream, version, recorded_us, topic, state, previous, _ in rows]
        started = time.perf_counter()
        for data in inputs:
            sha256(data).digest()
        elapsed += time.perf_counter() - started
        hashed += len(inputs)
    return hashed / elapsed, hashed


def read_rate(conn: psycopg.Connection[Any], upto: int) -> float:
    """The audit's own reader with nothing done to the rows: what the database costs."""
    started, count = time.perf_counter(), 0
    for rows in log.read(conn, upto=upto):
        count += len(rows)
    return count / (time.perf_counter() - started)


def full_replay(bench: Any) -> tuple[float, int]:
    """Every event of the log through the projections, into an empty generation."""
    from careledger.audit.as_of import replay_as_of

    app = bootstrap.application(bench.db, bench.settings)
    try:
        started = time.perf_counter()
        result = replay_as_of(app, bench.db, datetime.now(UTC), schema="bench_replay")
        return time.perf_counter() - started, result.events
    finally:
        app.close()


def main() -> None:
    failures = Failures("bench.audit")
    bench = bench_database("audit", pool_size=4)
    try:
        app = bootstrap.application(bench.db, bench.settings)
        try:
            seed_network(app, patients=PATIENTS)
        finally:
            app.close()
        shapes = stream_shapes(bench.db.app_url)
        sizes = sorted(len(s) for s in shapes)
        started = time.perf_counter()
        events = fill(bench.db.app_url, shapes, EVENTS)
        filled = time.perf_counter() - started
        failures.require_counts(EVENTS, events, "events in the log")
        with psycopg.connect(bench.db.app_url, autocommit=True) as conn:
            ((content_bytes,),) = conn.execute(
                "SELECT sum(octet_length(state)) FROM careledger.careledger_events").fetchall()
        print(f"CareLedger audit benchmark: {events:,} events ({content_bytes / events:.0f} "
              f"bytes of content each on average; streams of {sizes[0]}-{sizes[-1]} events, "
              f"median {sizes[len(sizes) // 2]}), appended through append_events in "
              f"{filled:.0f} s ({events / filled:,.0f} events/s)\n")

        key = keys.load_or_create(bench.work / "audit-key.pem")
        with psycopg.connect(bench.db.app_url, autocommit=True) as conn:
            started = time.perf_counter()
            checkpoint = checkpoints.create(conn, key)
            signing = time.perf_counter() - started

            started = time.perf_counter()
            report = verify(conn, [key.public_key()])
            full = time.perf_counter() - started
            failures.require(report.first is None, f"verify found {report.first}")
            failures.require_counts(events, report.events, "events verify checked")

            raw, hashed = raw_sha256_rate(conn, report.upto)
            failures.require_counts(events, hashed, "events raw SHA-256 hashed")
            print(f"[1] audit verify {events / full:10,.0f} events/s ({full:.1f} s) vs raw "
                  f"SHA-256 of the same bytes {raw:10,.0f} events/s = {events / full / raw:.2f}")
            reading = read_rate(conn, report.upto)
            print(f"    (reading the same rows alone, no hashing: {reading:10,.0f} events/s)")

            started = time.perf_counter()
            report = verify(conn, [key.public_key()], incremental=True)
            incremental = time.perf_counter() - started
            failures.require(report.first is None, f"verify found {report.first}")
            print(f"[2] audit verify --from-checkpoint {events / incremental:10,.0f} events/s "
                  f"({incremental:.1f} s) vs full {events / full:10,.0f} events/s = "
                  f"{full / incremental:.1f}x faster")

            started = time.perf_counter()
            proof = prove(conn, checkpoint.position // 2)
            proving = time.perf_counter() - started
            print(f"[3] audit checkpoint over {checkpoint.leaf_count:,} leaves {signing:.1f} s "
                  f"({checkpoint.leaf_count / signing:,.0f} leaves/s); one inclusion proof "
                  f"{proving:.1f} s ({len(proof['audit_path'])} hashes)")
        replay_time, applied = full_replay(bench)
        failures.require_counts(events, applied, "events the replay applied")
        print(f"[4] full replay into fresh views {replay_time:.0f} s for {applied:,} events "
              f"({applied / replay_time:,.0f} events/s)")
    finally:
        bench.stop()
    failures.exit_if_any()


if __name__ == "__main__":
    main()
