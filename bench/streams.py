"""`python -m bench.streams`: open live streams on one host, and how long a change takes
to reach them at a steady rate of commands.

A stack of its own (embedded PostgreSQL and broker; the relay, the live views' consumer
and the streams as the processes `careledger up` runs): BENCH_STREAMS patients, each with
its physician's chart open on a stream (`?patient=`), then BENCH_RATE commands a second
for BENCH_SECONDS, each a note on one patient's referral, round robin. Delivery time is
from the command's commit (its answer) to the event arriving at the client, matched by
log position; every command must arrive at its stream exactly once.
"""

from __future__ import annotations

import os
import queue
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.checks import Failures
from bench.sse import Stream
from bench.stack import own_stack, wait_for
from careledger.access.tokens import Role, TokenService
from careledger.domain.intake import AcceptReferral
from careledger.domain.messaging import MessageKind, MessageUrgency, Party, SendMessage
from careledger.domain.referral import Referral
from careledger.infra.embedded_broker import ensure_topics
from careledger.main import bootstrap
from tests.helpers.network import NOW, build_network, referral_to_a_new_patient

STREAMS = int(os.environ.get("BENCH_STREAMS", "200"))
RATE = float(os.environ.get("BENCH_RATE", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
#: The issue's line: p99 delivery under this, at that rate and that many streams.
TARGET_P99_S = 1.0


def main() -> None:
    failures = Failures("bench.streams")
    with own_stack(Path(tempfile.mkdtemp(prefix="careledger-streams-")), pool_size=8) as stack, \
            failures.threads():
        ensure_topics(stack.broker.bootstrap, {"careledger.events": 6,
                                               "careledger.events.dlq": 1})
        db = bootstrap.database(stack.settings)
        bootstrap.run_migrations(db)
        app = bootstrap.application(db, stack.settings)
        tokens = TokenService(stack.settings.token_secret)
        network = build_network(app, tokens)
        referrals = [referral_to_a_new_patient(app, network) for _ in range(STREAMS)]
        for referral in referrals:  # a note goes to the clinic's practitioner
            app.handle(AcceptReferral(referral_id=referral, practitioner_id=network.therapist,
                                      occurred_at=NOW, actor=f"therapist:{network.therapist}"))
        for part in ("relay", "consumer", "streams"):
            stack.start(part)
        base = f"http://127.0.0.1:{stack.stream_port}"
        wait_for(lambda: httpx.get(f"{base}/health/live").status_code == 200, 60,
                 "the streams process")
        # The streams authorize from the views: wait until they hold every acceptance.
        with psycopg.connect(db.app_url, autocommit=True) as conn:
            wait_for(lambda: conn.execute(
                "SELECT count(*) FROM careledger.view_changes WHERE kind = %s",
                (Referral.Accepted.KIND,)).fetchone() == (STREAMS,), 120, "the views")
        token = tokens.issue(subject=network.physician, role=Role.PHYSICIAN)
        streams = [Stream(f"{base}/api/v1/stream?patient={app.load(Referral, r).patient_id}",
                          token=token) for r in referrals]
        opened = [s.opened(timeout=60) for s in streams]
        failures.require(set(opened) == {200}, f"streams opened with {sorted(set(opened))}")
        committed: dict[int, float] = {}
        arrived: dict[int, list[float]] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def collect(stream: Stream) -> None:
            while not stop.is_set():
                try:
                    event = stream.next(timeout=0.5)
                except queue.Empty:
                    continue
                with lock:
                    arrived.setdefault(int(event.data["position"]), []).append(
                        time.monotonic())

        readers = [threading.Thread(target=collect, args=(s,), name=f"stream-{i}",
                                    daemon=True) for i, s in enumerate(streams)]
        for reader in readers:
            reader.start()
        sent, started = 0, time.monotonic()
        while time.monotonic() - started < SECONDS:
            due = started + sent / RATE
            if time.monotonic() < due:
                time.sleep(due - time.monotonic())
            recorded = app.handle(SendMessage(
                referral_id=referrals[sent % len(referrals)], sender=Party.PHYSICIAN,
                sender_id=network.physician, kind=MessageKind.NOTE,
                urgency=MessageUrgency.ROUTINE, body="bench note",
                occurred_at=datetime.now(UTC), actor=f"physician:{network.physician}"))
            assert recorded.position is not None
            committed[recorded.position] = time.monotonic()
            sent += 1
        achieved = sent / (time.monotonic() - started)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(committed) <= set(arrived):
            time.sleep(0.2)
        stop.set()
        for stream in streams:
            stream.close()
        app.close()
    delays = sorted(arrived[p][0] - t for p, t in committed.items() if p in arrived)
    twice = sum(1 for p in committed if len(arrived.get(p, [])) > 1)
    failures.require_counts(len(committed), len(delays), "changes delivered")
    failures.require_counts(0, twice, "changes delivered twice")
    failures.require_rate(achieved, RATE, "commands")
    if delays:
        p50 = statistics.median(delays)
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        print(f"[streams] {STREAMS} open streams on one host, {achieved:.0f} commands/s for "
              f"{SECONDS:.0f} s: {len(delays)} of {len(committed)} delivered, {twice} twice; "
              f"delivery p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
              f"{delays[-1] * 1000:.0f} ms (target: p99 under {TARGET_P99_S:.0f} s)")
        failures.require_timing(p99 < TARGET_P99_S,
                                f"p99 delivery {p99:.2f} s, over {TARGET_P99_S:.0f} s")
    failures.exit_if_any()


if __name__ == "__main__":
    main()
