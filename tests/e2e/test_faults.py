"""Faults under load: kill the relay, a consumer and the API, freeze the broker, restart
PostgreSQL, all while commands keep arriving; afterwards nothing is lost or doubled.

Everything is real and separate: an embedded PostgreSQL and broker of this test's own
(PostgreSQL is restarted under it), and the API, relay and consumer as the processes
`careledger up` runs. A client sends commands steadily, each with an Idempotency-Key,
and retries a failed one with the same key, as a well-behaved client does. The faults
come in a seeded random order at seeded random moments.

Afterwards: every view equals a replay of the log; every command the API accepted is in
the log exactly once (retries included); the dead-letter topic holds only the poison
messages the test sent; while PostgreSQL was away the API answered 503 with
Retry-After, never 500; and no request the API accepted went unanswered (a hang), which
a retry would otherwise hide. All of it with a CPU hog on every core beside it: the
machine CI runs on is loaded, and nothing here may rest on its being idle.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench.stack import Stack, own_stack, wait_for
from careledger.access.tokens import Role
from careledger.consumers.replay import checksums, replay
from careledger.domain.referral import Referral
from careledger.infra.embedded_broker import ensure_topics
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE
from careledger.main import bootstrap
from careledger.projections import live_generation
from tests.helpers.network import referrals_in

pytestmark = pytest.mark.slow

SEED = 20261123
TOPIC = "careledger.events"
POISON = [b"{not json", b'{"envelope_version": 99}']


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[Stack]:
    with own_stack(tmp_path) as built:
        yield built


@pytest.fixture()
def cpu_hog() -> Iterator[None]:
    """A process spinning on every core, at the same priority as everything else."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(timeout=10)


@dataclass
class Client:
    """Commands at a steady pace; a failed one is retried with its Idempotency-Key."""

    base: str
    token: str
    referrals: list[uuid.UUID]
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    unavailable_without_retry_after: int = 0
    #: Requests the API took and did not answer within `answer_within_s`.
    hangs: int = 0
    answer_within_s: float = 10.0
    give_up_s: float = 60.0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=self.answer_within_s) as http:
            sent = 0
            while not self.stop.is_set():
                self.command(http, str(uuid.uuid4()), self.referrals[sent % len(self.referrals)])
                sent += 1
                time.sleep(0.03)

    def command(self, http: httpx.Client, key: str, referral: uuid.UUID) -> None:
        body = {"scheduled_for": "2026-03-10T09:00:00+00:00", "location": "clinic"}
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            try:
                response = http.post(f"/api/v1/referrals/{referral}/sessions", json=body,
                                     headers=headers)
            except httpx.ReadTimeout:
                self.hangs += 1  # taken and never answered: a hang, not an API that is down
                continue
            except httpx.HTTPError:
                time.sleep(0.2)  # the API is down: come back with the same key
                continue
            self.statuses[response.status_code] += 1
            if response.status_code == 201:
                self.accepted[key] = response.json()
                return
            if response.status_code == 503:
                if "Retry-After" not in response.headers:
                    self.unavailable_without_retry_after += 1
                time.sleep(0.2)
                continue
            raise AssertionError(f"{response.status_code}: {response.text[:300]}")
        raise AssertionError(f"a command found no working API for {self.give_up_s:.0f} s")


def dead_letters(bootstrap_servers: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC + ".dlq", 0, OFFSET_BEGINNING)])
    found: list[bytes] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found += [m.value() or b"" for m in consumer.consume(100, 0.5) if m.error() is None]
    consumer.close()
    return found


def test_commands_under_faults_are_kept_exactly_once_and_the_views_equal_the_log(
    stack: Stack, cpu_hog: None,
) -> None:
    rng = random.Random(SEED)
    # 200 visits at most per referral: enough referrals for every command to fit.
    network, referrals, tokens = referrals_in(stack.settings, 12)
    db = bootstrap.database(stack.settings)
    ensure_topics(stack.broker.bootstrap, {TOPIC: 3, TOPIC + ".dlq": 1})
    stack.start("api", "serve", "--workers", "1", "--threads", "4")
    stack.start("relay")
    stack.start("consumer")
    base = stack.base
    stack.wait_until_ready()
    client = Client(base=base, token=tokens.issue(subject=network.therapist,
                                                  role=Role.THERAPIST, clinics=[network.clinic]),
                    referrals=referrals)
    load = threading.Thread(target=client.run)
    load.start()

    def crash(name: str) -> Callable[[], None]:
        def fault() -> None:
            stack.kill(name)
            time.sleep(rng.uniform(0.5, 2.0))
            stack.start(name)
        return fault

    def freeze_broker() -> None:
        stack.broker.pause()
        time.sleep(rng.uniform(2.0, 4.0))
        stack.broker.resume()

    outage: dict[str, Counter[int]] = {}

    def restart_postgres() -> None:
        before = Counter(client.statuses)
        stack.restart_postgres(outage_s=rng.uniform(2.0, 3.0))
        time.sleep(1.0)
        outage["statuses"] = client.statuses - before

    def poison() -> None:
        producer = Producer({"bootstrap.servers": stack.broker.bootstrap})
        for value in POISON:
            producer.produce(TOPIC, key=str(uuid.uuid4()).encode(), value=value)
        assert producer.flush(10) == 0

    faults = [crash("relay"), crash("consumer"), crash("api"), freeze_broker,
              restart_postgres, poison, crash("relay"), crash("consumer")]
    rng.shuffle(faults)
    try:
        time.sleep(2.0)
        for fault in faults:
            fault()
            time.sleep(rng.uniform(1.0, 2.5))
            assert not stack.unexpected_exits(), (
                f"{stack.unexpected_exits()} stopped on their own; see {stack.logs}")
        time.sleep(2.0)
    finally:
        client.stop.set()
        load.join(timeout=90)
    assert not load.is_alive()

    # No 500 ever; while PostgreSQL was away, 503 with Retry-After.
    assert set(client.statuses) <= {201, 503}, client.statuses
    assert outage["statuses"][503] > 0, outage
    assert client.unavailable_without_retry_after == 0
    assert client.hangs == 0, f"{client.hangs} requests were taken and never answered"
    accepted = len(client.accepted)
    assert accepted > 100, client.statuses

    app = bootstrap.application(db, stack.settings)
    try:
        with psycopg.connect(db.admin_url) as conn:
            streams = conn.execute(
                "SELECT originator_id, array_agg(originator_version ORDER BY originator_version),"
                " count(*) FILTER (WHERE topic = %s)"
                " FROM careledger.careledger_events WHERE originator_id = ANY(%s)"
                " GROUP BY originator_id", (Referral.SessionScheduled.TOPIC, referrals)
            ).fetchall()
            keys = conn.execute("SELECT count(*), count(DISTINCT key) FROM careledger.idempotency"
                                ).fetchone()
            positions = {p for (p,) in conn.execute(
                "SELECT notification_id FROM careledger.careledger_events"
                " WHERE originator_id = ANY(%s)", (referrals,))}
        # Exactly once: one event per accepted key, versions without gaps or repeats.
        assert sum(scheduled for _, _, scheduled in streams) == accepted
        assert keys == (accepted, accepted)
        for _, versions, _ in streams:
            assert versions == list(range(1, len(versions) + 1))
        assert {a["position"] for a in client.accepted.values()} <= positions

        head = app.recorder.horizon()  # type: ignore[attr-defined]
        expected = f"expected_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(db.admin_url, autocommit=True) as admin:
            create_views(admin, app_role=APP_ROLE, schema=expected)
            live, _ = live_generation(admin)
        replay(app, db.app_url, expected)
        rebuilt = checksums(db.app_url, expected)

        def caught_up() -> bool:
            with psycopg.connect(db.admin_url) as conn:
                row = conn.execute("SELECT position FROM careledger.relay_positions"
                                   " WHERE name = 'relay'").fetchone()
            return (row is not None and row[0] >= head
                    and checksums(db.app_url, live) == rebuilt)

        wait_for(caught_up, 90, "the views to equal a replay of the log")
        with psycopg.connect(db.admin_url) as conn:
            dead = conn.execute(f"SELECT count(*) FROM {live}.dead_letters").fetchone()
        assert dead == (len(POISON),)
    finally:
        app.close()
    assert set(dead_letters(stack.broker.bootstrap)) == set(POISON)
    assert not stack.unexpected_exits()
    print(f"\nfaults survived: {len(faults)} (relay and consumer killed twice each, API "
          f"killed, broker frozen, PostgreSQL restarted, {len(POISON)} poison messages); "
          f"commands accepted {accepted}, answers {dict(client.statuses)}, during the "
          f"PostgreSQL outage {dict(outage['statuses'])}; lost or doubled: none")


def test_a_request_the_api_takes_and_never_answers_is_a_hang_not_a_retry() -> None:
    """The harness itself: an API that accepts and then hangs fails the test above."""
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = Client(base=f"http://127.0.0.1:{silent.getsockname()[1]}", token="t",
                        referrals=[uuid.uuid4()], answer_within_s=0.5, give_up_s=2.0)
        with httpx.Client(base_url=client.base, timeout=client.answer_within_s) as http, \
                pytest.raises(AssertionError, match="no working API"):
            client.command(http, str(uuid.uuid4()), client.referrals[0])
    assert client.hangs >= 1
