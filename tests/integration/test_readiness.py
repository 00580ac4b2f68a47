"""When a consumer group cannot keep its views fresh: what `status --ready consume` reads.

An idle member is ready; a topic the broker lacks, a partition no live member holds, or
published events waiting while nothing is applied is not, each said in one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from careledger.domain.application import CareLedger
from careledger.infra.health import consumer_trouble, read_status
from careledger.main import bootstrap
from careledger.projections import live_generation
from tests.helpers.network import Network, open_episode

TOPIC = "careledger.events.readiness"


@pytest.fixture()
def conn(db: bootstrap.Database) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(db.app_url, autocommit=True) as app_conn:
        yield app_conn


def note(conn: psycopg.Connection[tuple[object, ...]], group: str, partitions: list[int],
         ago_s: float = 0.0) -> None:
    conn.execute(
        "INSERT INTO careledger.consumer_members (group_name, member, topic, partitions,"
        " seen_at) VALUES (%s, %s, %s, %s, now() - make_interval(secs => %s))",
        (group, uuid4().hex, TOPIC, partitions, ago_s))


def test_a_partition_held_by_no_live_member_is_named(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    group = f"careledger-ready-{uuid4().hex[:8]}"

    def trouble() -> str | None:
        return consumer_trouble(conn, consumer=group, group=group, topic=TOPIC, partitions=3)

    assert consumer_trouble(conn, consumer=group, group=group, topic=TOPIC,
                            partitions=0) == (f"the broker has no topic {TOPIC} (the relay "
                                              "creates it when it starts): start the relay")
    assert trouble() is not None and trouble().startswith("3 of 3 partitions")  # type: ignore[union-attr]
    note(conn, group, [0, 1])
    assert trouble() is not None and trouble().startswith("1 of 3 partitions")  # type: ignore[union-attr]
    note(conn, group, [2], ago_s=60)  # a member long silent holds nothing
    assert trouble() is not None and trouble().startswith("1 of 3 partitions")  # type: ignore[union-attr]
    note(conn, group, [2])
    assert trouble() is None  # every partition held; nothing applied, nothing waiting


def test_published_events_waiting_while_nothing_is_applied_is_a_stall_and_idle_is_not(
    conn: psycopg.Connection[tuple[object, ...]], app: CareLedger, network: Network,
    db: bootstrap.Database,
) -> None:
    open_episode(app, network)
    consumer, relay = f"ready-{uuid4().hex[:8]}", f"relay-{uuid4().hex[:8]}"
    group = f"careledger-{consumer}"
    note(conn, group, [0])
    head = app.recorder.horizon()  # type: ignore[attr-defined]
    views, _ = live_generation(conn)
    with psycopg.connect(db.admin_url, autocommit=True) as admin:
        admin.execute("INSERT INTO careledger.relay_positions (name, position) VALUES (%s, %s)",
                      (relay, head))
        # The views applied up to two events before the head, and then nothing for an hour.
        admin.execute(f"INSERT INTO {views}.tracking (consumer, topic, partition, kafka_offset,"
                      " position, updated_at) VALUES (%s, %s, 0, 5, %s, now() - interval '1h')",
                      (consumer, TOPIC, head - 2))

        try:
            def trouble(stalled_s: float) -> str | None:
                return consumer_trouble(conn, consumer=consumer, group=group, topic=TOPIC,
                                        partitions=1, relay_name=relay, stalled_s=stalled_s)

            lag = next(c for c in read_status(conn, relay_name=relay).consumers
                       if c.consumer == consumer)
            assert (lag.applied_position, lag.behind) == (head - 2, 2)
            assert lag.seconds_since_applied is not None and lag.seconds_since_applied > 3000
            stalled = trouble(stalled_s=0.0)
            assert stalled is not None and stalled.startswith("2 published events have waited")
            assert "restart it" in stalled
            # Events not waiting long yet: not a stall.
            assert trouble(stalled_s=3600) is None
            # A batch applied later than the events waited: moving, not stuck (a time
            # ahead of the clock, so that "later" holds however slow this machine is).
            admin.execute(f"UPDATE {views}.tracking SET updated_at = now() + interval '1h'"
                          " WHERE consumer = %s", (consumer,))
            assert trouble(stalled_s=0.0) is None
            # Caught up and idle for an hour: ready.
            admin.execute(f"UPDATE {views}.tracking SET position = %s,"
                          " updated_at = now() - interval '1h' WHERE consumer = %s",
                          (head, consumer))
            assert trouble(stalled_s=0.0) is None
        finally:
            admin.execute(f"DELETE FROM {views}.tracking WHERE consumer = %s", (consumer,))
            admin.execute("DELETE FROM careledger.relay_positions WHERE name = %s", (relay,))
