"""`careledger projections rebuild` while commands, the relay and a consumer keep running."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import psycopg
from confluent_kafka import Producer

from careledger.consumers.member import ProjectionConsumer
from careledger.consumers.projector import Projector
from careledger.consumers.rebuild import rebuild
from careledger.consumers.relay import Relay
from careledger.consumers.replay import checksums, replay
from careledger.domain.application import CareLedger
from careledger.domain.clinical import SessionLocation
from careledger.domain.referral import Referral
from careledger.domain.treatment import ScheduleSession
from careledger.infra.embedded_broker import ensure_topics
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE
from careledger.main import bootstrap
from careledger.projections import live_generation
from tests.helpers.network import NOW, Network, open_episode


def test_a_rebuild_under_live_traffic_switches_to_views_equal_to_the_log(
    app: CareLedger, db: bootstrap.Database, network: Network, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    topic = f"careledger.events.rebuild{tag}"
    ensure_topics(kafka_bootstrap, {topic: 3, topic + ".dlq": 1})
    relay = Relay(app, bootstrap=kafka_bootstrap, topic=topic, name=f"relay-{tag}")
    consumer = ProjectionConsumer(
        Projector(db.app_url, consumer=f"views-{tag}",
                  dead_letters=Producer({"bootstrap.servers": kafka_bootstrap,
                                         "logger": logging.getLogger("kafka")}),
                  dead_letter_topic=topic + ".dlq"),
        bootstrap=kafka_bootstrap, topic=topic, group=f"views-{tag}",
    )
    stop, commands_stop = threading.Event(), threading.Event()
    issued = [0]

    def clinicians() -> None:
        while not commands_stop.is_set():
            rid = open_episode(app, network, accept=True, authorized_visits=3)
            app.handle(ScheduleSession(referral_id=rid, practitioner_id=network.therapist,
                                       scheduled_for=NOW,
                                       location=SessionLocation.CLINIC, occurred_at=NOW, actor="t"))
            issued[0] += 3

    workers = [threading.Thread(target=relay.run, args=(stop,)),
               threading.Thread(target=consumer.run, args=(stop,)),
               threading.Thread(target=clinicians)]
    for w in workers:
        w.start()
    try:
        with psycopg.connect(db.admin_url) as conn:
            old, _ = live_generation(conn)
        time.sleep(1.0)
        result = rebuild(app, db, close_enough=50)
        time.sleep(0.5)  # commands keep arriving after the switch, too
        commands_stop.set()
        workers[2].join()
        assert issued[0] > 0
        head = app.recorder.horizon()  # type: ignore[attr-defined]
        expected_schema = f"expected_{tag}"
        with psycopg.connect(db.admin_url, autocommit=True) as admin:
            create_views(admin, app_role=APP_ROLE, schema=expected_schema)
        replay(app, db.app_url, expected_schema)
        expected = checksums(db.app_url, expected_schema)
        live = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if relay.position() >= head:
                live = checksums(db.app_url, result.new_schema)
                if live == expected:
                    break
            time.sleep(0.5)
        assert live == expected
    finally:
        commands_stop.set()
        stop.set()
        for w in workers:
            w.join()
        consumer.close()
        relay.close()
    assert result.old_schema == old and result.new_schema != old
    with psycopg.connect(db.admin_url) as conn:
        assert live_generation(conn)[0] == result.new_schema
        assert conn.execute("SELECT count(*) FROM information_schema.schemata"
                            " WHERE schema_name = %s", (old,)).fetchone() == (0,)


def test_no_reader_is_left_on_the_generation_a_rebuild_dropped(
    app: CareLedger, db: bootstrap.Database, client: Any, network: Network
) -> None:
    """API processes keep the live generation's name for a second: a read whose process
    looked it up just before the switch must still find its views after the rebuild."""
    from careledger.access.tokens import Role
    from careledger.graphql.context import GENERATIONS
    from tests.helpers.graphql import TIMELINE, ask, sync_views

    open_episode(app, network, accept=True)
    sync_views(app, db)
    token = network.token(Role.PHYSICIAN, network.physician)

    def looked_up_just_now(_n: int, _position: int, _head: int) -> None:
        GENERATIONS.forget()
        with psycopg.connect(db.app_url) as conn:
            GENERATIONS.schema(conn)  # as a read arriving right before the switch would

    with psycopg.connect(db.admin_url) as conn:
        old, _ = live_generation(conn)
    result = rebuild(app, db, progress=looked_up_just_now, close_enough=0)
    assert result.old_schema == old
    body = ask(client, token, TIMELINE, id=str(network.patient))
    assert "errors" not in body, body
    assert [e["kind"] for e in body["data"]["patient"]["timeline"]["events"]][-1] \
        == Referral.Accepted.KIND
    with psycopg.connect(db.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.schemata"
                            " WHERE schema_name = %s", (old,)).fetchone() == (0,)


def test_a_reader_looks_the_live_generation_up_at_most_once_a_second(
    db: bootstrap.Database
) -> None:
    from careledger.projections import GENERATION_TTL_S, LiveGenerations

    now = [100.0]
    generations = LiveGenerations(clock=lambda: now[0])
    with psycopg.connect(db.admin_url) as conn:  # one transaction, rolled back below
        live = generations.schema(conn)
        conn.execute("UPDATE careledger.view_generations SET schema = 'careledger_views_next'"
                     " WHERE name = 'live'")
        now[0] += GENERATION_TTL_S * 0.9
        assert generations.schema(conn) == live  # not asked again yet
        now[0] += GENERATION_TTL_S * 0.1
        assert generations.schema(conn) == "careledger_views_next"
        conn.rollback()
