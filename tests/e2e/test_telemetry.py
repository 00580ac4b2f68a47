"""One trace follows a command from HTTP through the store, Kafka and the views to a read.

Uses the real API (in-process Django with the OpenTelemetry instrumentation), the real
PostgreSQL and the real broker; spans go to an in-memory exporter.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from careledger.access.tokens import Role
from careledger.consumers.projector import Projector
from careledger.consumers.relay import Relay
from careledger.domain.application import CareLedger
from careledger.domain.referral import Referral
from careledger.infra import telemetry
from careledger.infra.embedded_broker import ensure_topics
from careledger.main import bootstrap
from tests.helpers.network import Network

#: What no span may ever say: the test patient's name, address and the referral's reason.
PHI = ("Maria", "Okafor", "Elm St", "knee pain after a fall", "1972-05-04")


@pytest.fixture()
def spans(wsgi: Any) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert telemetry.configure("test", span_exporter=exporter, instrument_django=True)
    try:
        yield exporter
    finally:
        telemetry.disable()


def consume(bootstrap_servers: str, topic: str, count: int) -> list[Message]:
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in (0, 1)])  # no group
    messages: list[Message] = []
    deadline = time.monotonic() + 30
    while len(messages) < count and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(100, 0.5) if m.error() is None]
    consumer.close()
    return messages


def one(spans: list[ReadableSpan], name: str, *, parent: ReadableSpan | None = None,
        position: int | None = None) -> ReadableSpan:
    """The one span of that name (under that parent, or about that log position)."""
    (span,) = [s for s in spans if s.name == name
               and (parent is None or (s.parent and s.parent.span_id == parent.context.span_id))
               and (position is None
                    or (s.attributes or {}).get("careledger.log.position") == position)]
    return span


def test_one_command_is_one_trace_from_http_to_the_views_and_the_read_that_sees_it(
    spans: InMemorySpanExporter, app: CareLedger, db: bootstrap.Database, network: Network,
    kafka_bootstrap: str,
) -> None:
    from django.test import Client  # a new client builds the instrumented middleware chain

    client = Client()
    topic = f"careledger.events.trace{uuid.uuid4().hex[:6]}"
    ensure_topics(kafka_bootstrap, {topic: 2})
    relay = Relay(app, bootstrap=kafka_bootstrap, topic=topic, name=f"trace-{topic}")
    with psycopg.connect(db.admin_url) as conn:  # from the network's first event on
        ((first,),) = conn.execute("SELECT min(notification_id) FROM careledger.careledger_events"
                                   " WHERE originator_id = %s", (network.clinic,)).fetchall()
    relay.save_position(first - 1)

    made = client.post("/api/v1/referrals", data=json.dumps({
        "patient_id": str(network.patient), "clinic_id": str(network.clinic),
        "discipline": "medical_massage", "diagnoses": ["M54.50"], "contraindications": [],
        "precautions": [], "authorized_visits": 6, "reason": "knee pain after a fall",
        "occurred_at": "2026-03-02T09:00:00+00:00"}), content_type="application/json",
        **network.physician_auth)
    assert made.status_code == 201, made.content
    position = made.json()["position"]
    published = 0
    while n := relay.step():
        published += n
    relay.close()
    projector = Projector(db.app_url, consumer=f"trace-{topic}")  # the live views
    try:
        outcome = projector.apply(consume(kafka_bootstrap, topic, published))
    finally:
        projector.close()
    assert outcome.applied == published

    http = next(s for s in spans.get_finished_spans()
                if s.kind is SpanKind.SERVER and "POST" in s.name)
    trace_id, traceparent = http.context.trace_id, (
        f"00-{http.context.trace_id:032x}-{http.context.span_id:016x}-01")
    token = network.token(Role.PHYSICIAN, network.physician)
    read = client.post("/graphql", data=json.dumps({
        "query": "query Timeline($id: UUID!, $at: Int, $kinds: [String!])"
                 " { patient(id: $id, minPosition: $at)"
                 " { timeline(kinds: $kinds) { events { position } } } }",
        "operationName": "Timeline",
        "variables": {"id": str(network.patient), "at": position,
                      "kinds": [Referral.Made.KIND]}}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_TRACEPARENT=traceparent)
    assert read.json().get("data"), read.json()
    assert position in [e["position"] for e in
                        read.json()["data"]["patient"]["timeline"]["events"]]

    finished = list(spans.get_finished_spans())
    command = one(finished, "command make_referral")
    append = one(finished, "append_events", parent=command)
    publish = one(finished, f"publish {topic}", position=position)
    process = one(finished, f"process {topic}", position=position)
    project = one(finished, "project", parent=process)
    graphql = one(finished, "graphql Timeline")
    reader = next(s for s in finished if s.kind is SpanKind.SERVER and s is not http
                  and s.context.trace_id == trace_id)
    # One trace, each span the child of the one before it.
    chain = [(command, http), (append, command), (publish, append), (process, publish),
             (project, process), (reader, http)]
    for child, parent in chain:
        assert child.context.trace_id == trace_id, child.name
        assert child.parent is not None and child.parent.span_id == parent.context.span_id, (
            child.name, parent.name)
    assert graphql.context.trace_id == trace_id
    assert publish.kind is SpanKind.PRODUCER and process.kind is SpanKind.CONSUMER
    assert publish.attributes and publish.attributes["careledger.log.position"] == position
    assert append.attributes and Referral.Made.TOPIC in (
        append.attributes["careledger.event.types"] or ())
    # Ids and event types, never patient data: not in any attribute or name of any span.
    for span in finished:
        text = span.name + json.dumps({k: str(v) for k, v in (span.attributes or {}).items()})
        assert not any(p in text for p in PHI), span.name


def test_without_an_exporter_nothing_is_configured() -> None:
    assert not telemetry.configure("test")
