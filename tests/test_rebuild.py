"""`careledger projections rebuild` while commands, the relay and a consumer keep running."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import psycopg
from confluent_kafka import Producer

from careledger.consumers.projector import ProjectionConsumer, Projector
from careledger.consumers.rebuild import rebuild
from careledger.consumers.relay import Relay
from careledger.consumers.replay import checksums, replay
from careledger.domain.application import CareLedger
from careledger.domain.clinical import SessionLocation
from careledger.infra import bootstrap
from careledger.infra.embedded_broker import ensure_topics
from careledger.infra.schema import create_views
from careledger.infra.settings import APP_ROLE
from careledger.projections import all_projections, live_generation
from tests.conftest import NOW, Network, open_episode


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
            app.schedule_session(rid, practitioner_id=network.therapist, scheduled_for=NOW,
                                 location=SessionLocation.CLINIC, occurred_at=NOW, actor="t")
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
        replay(app, db.app_url, all_projections(expected_schema))
        expected = checksums(db.app_url, all_projections(expected_schema))
        live = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if relay.position() >= head:
                live = checksums(db.app_url, all_projections(result.new_schema))
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
