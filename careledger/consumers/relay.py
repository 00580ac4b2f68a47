"""The relay: the event store's log, in order, onto Kafka (docs/architecture.md, "Data flow").

The event store is the outbox. The relay reads the log after its saved position (never
past the horizon, so it cannot skip a late commit), publishes each event with an
idempotent producer, waits until Kafka has confirmed every one, and only then saves
the new position. A crash in between publishes the batch again on restart: consumers
recognise an event they already applied by its log position. While the broker is
unreachable, commands keep landing in the store; the relay keeps retrying the same
batch and catches up when the broker returns.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import KafkaError, Producer
from eventsourcing.persistence import OperationalError
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, set_span_in_context

from careledger.consumers.envelopes import Streams, envelope_of
from careledger.domain.application import CareLedger
from careledger.infra import telemetry
from careledger.infra.eventstore import CareLedgerRecorder, own_connection
from careledger.projections.envelope import Envelope

log = logging.getLogger(__name__)

RELAY_NAME = "relay"
#: The channel append_events notifies while a relay rests (infra/schema.py).
WAKE_CHANNEL = "careledger_log"
#: The longest rest without a notification: a listener whose connection died unnoticed
#: still looks this often, and marks itself resting again (writers stop waking a relay
#: that has not done so for 30 s: one that crashed costs them nothing for long).
REST_MOST_S = 5.0
#: How often a resting relay looks at `stop` (a blocking wait on the socket between).
REST_SLICE_S = 0.25
#: Waits while PostgreSQL is away: short, so the views are fresh soon after it returns.
RETRY_FIRST_S, RETRY_MOST_S = 0.25, 1.0


class BrokerUnavailable(RuntimeError):
    """Kafka did not confirm a batch; it will be published again."""


class Relay:
    """Follows the log from the saved position and publishes it, batch by batch."""

    def __init__(
        self,
        app: CareLedger,
        *,
        bootstrap: str,
        topic: str,
        batch_size: int = 1000,
        delivery_timeout_s: float = 10.0,
        name: str = RELAY_NAME,
        rest: str = "listen",
        client: Mapping[str, str] | None = None,
    ) -> None:
        """`rest` "listen" waits for append_events to notify; "poll" looks every
        `idle_s` instead (the way it was, kept for the bench that compares the two)."""
        self.app = app
        recorder = app.recorder
        assert isinstance(recorder, CareLedgerRecorder), "the relay needs CareLedger's recorder"
        self.recorder = recorder
        self.topic = topic
        self.batch_size = batch_size
        self.delivery_timeout_s = delivery_timeout_s
        self.name = name
        self.streams = Streams(app)
        self._producer_config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "compression.type": "lz4",
            "message.timeout.ms": int(delivery_timeout_s * 1000),
            "partitioner": "murmur2_random",  # the same key lands where Java clients put it
            "logger": log,
            **(client or {}),  # TLS (Settings.kafka_client)
        }
        self.producer = Producer(self._producer_config)
        if rest not in ("listen", "poll"):
            raise ValueError("rest is 'listen' or 'poll'")
        self.rest_by = rest
        self._listener: psycopg.Connection[Any] | None = None
        self._resting = False

    # ------------------------------------------------------------------ position

    def position(self) -> int:
        with self.recorder.datastore.get_connection() as conn:
            row = conn.execute(
                "SELECT position FROM careledger.relay_positions WHERE name = %s", (self.name,)
            ).fetchone()
        return int(row["position"]) if row else 0

    def save_position(self, position: int) -> None:
        with self.recorder.datastore.get_connection() as conn:
            conn.execute(
                "INSERT INTO careledger.relay_positions (name, position) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position,"
                " updated_at = now()",
                (self.name, position),
            )

    def rewind(self, position: int) -> None:
        """Publish again from a position (recovery): duplicates, never losses."""
        self.save_position(position)

    # ------------------------------------------------------------------ the loop

    def step(self) -> int:
        """Publish the next batch after the saved position; answer how many."""
        entries = self.recorder.read_log(self.position(), self.batch_size)
        if not entries:
            return 0
        self.publish([envelope_of(self.app, self.streams, e) for e in entries],
                     [e.trace_context for e in entries])
        self.save_position(entries[-1].position)
        if telemetry.enabled():
            age = (datetime.now(UTC) - entries[0].recorded_at).total_seconds()
            telemetry.relay_lag_seconds.set(max(0.0, age), {"relay": self.name})
            telemetry.relay_behind.set(max(0, self.recorder.horizon() - entries[-1].position),
                                       {"relay": self.name})
        return len(entries)

    def publish(self, envelopes: Sequence[Envelope],
                traces: Sequence[str | None] | None = None) -> None:
        failures: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: object) -> None:
            if err is not None:
                failures.append(err)

        tracing = telemetry.enabled()
        for envelope, trace in zip(envelopes, traces or [None] * len(envelopes), strict=True):
            # The command's own trace continues through Kafka; else the relay's, if any.
            headers: dict[str, str] = json.loads(trace) if trace else {}
            span = None
            if tracing:  # a producer span, child of the command's append
                span = telemetry.tracer.start_span(
                    f"publish {self.topic}", context=propagate.extract(headers),
                    kind=SpanKind.PRODUCER, attributes={
                        "messaging.system": "kafka", "messaging.operation.type": "send",
                        "messaging.destination.name": self.topic,
                        "careledger.log.position": envelope.position,
                        "careledger.event.type": envelope.kind,
                        "careledger.record.id": str(envelope.aggregate_id)})
                headers = {}
                propagate.inject(headers, context=set_span_in_context(span))
            elif not headers:
                propagate.inject(headers)
            headers["careledger-type"] = envelope.type
            headers["careledger-position"] = str(envelope.position)
            while True:
                try:
                    self.producer.produce(self.topic, key=envelope.key, value=envelope.to_json(),
                                          headers=list(headers.items()), on_delivery=delivered)
                    break
                except BufferError:
                    self.producer.poll(0.05)
            if span is not None:
                span.end()
        # Every message ends delivered or failed within message.timeout.ms.
        remaining = self.producer.flush(self.delivery_timeout_s + 5)
        if remaining or failures:
            reason = failures[0].str() if failures else f"{remaining} messages unconfirmed"
            # A fresh producer (new producer id) instead of one whose sequence numbers the
            # broker may no longer accept after timeouts; any duplicate it causes is
            # recognised downstream by its log position.
            self._renew_producer()
            raise BrokerUnavailable(f"Kafka did not confirm the batch ({reason})")

    def _renew_producer(self) -> None:
        self.producer.purge()
        self.producer.flush(1)
        self.producer = Producer(self._producer_config)

    def run(self, stop: threading.Event, *, idle_s: float = 0.02,
            on_batch: Callable[[int, int], None] | None = None) -> None:
        """Until `stop` is set: publish, wait when idle, retry while a server is away.

        PostgreSQL is retried soon and often (at most every RETRY_MOST_S): its pool
        checks each connection before use, so the first try after it returns works.
        Kafka is retried with a longer backoff: a batch in flight takes
        `delivery_timeout_s` to fail anyway.
        """
        broker_backoff, database_backoff = 0.5, RETRY_FIRST_S
        while not stop.is_set():
            try:
                published = self.step()
                broker_backoff, database_backoff = 0.5, RETRY_FIRST_S
                if published and self._resting:
                    self._mark_resting(False)  # busy: writers need not wake it
                # Reported from inside: PostgreSQL may go between the batch and the report.
                if on_batch is not None and published:
                    on_batch(published, self.position())
            except BrokerUnavailable as e:
                log.warning("relay: %s; retrying in %.1f s", e, broker_backoff)
                stop.wait(broker_backoff)
                broker_backoff = min(broker_backoff * 2, 10.0)
                continue
            except (psycopg.OperationalError, OperationalError) as e:
                log.warning("relay: PostgreSQL unreachable (%s: %s); retrying in %.2f s",
                            type(e).__name__, (str(e).splitlines() or [""])[0][:200],
                            database_backoff)
                stop.wait(database_backoff)
                database_backoff = min(database_backoff * 2, RETRY_MOST_S)
                continue
            if not published:
                try:
                    self.rest(stop, idle_s)
                except (psycopg.OperationalError, OperationalError):
                    self._drop_listener()  # the next round finds PostgreSQL or backs off

    # ------------------------------------------------------------------ resting

    def rest(self, stop: threading.Event, idle_s: float = 0.02) -> None:
        """Nothing to publish: sleep until a writer notifies, for REST_MOST_S at most.

        Marked resting first, then one more look at the log horizon: a writer that read
        the mark before it was set had drawn its position already, so the horizon waits
        for it; one that read it after notifies at its commit. No wake-up is lost.
        """
        if self.rest_by == "poll":
            stop.wait(idle_s)
            return
        listener = self._listening()
        for _ in listener.notifies(timeout=0):
            pass  # those that woke the last rest
        self._mark_resting(True)
        if self.recorder.horizon() > self.position():
            return
        deadline = time.monotonic() + REST_MOST_S
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            for _ in listener.notifies(timeout=min(left, REST_SLICE_S), stop_after=1):
                return

    def _listening(self) -> psycopg.Connection[Any]:
        if self._listener is None or self._listener.closed or self._listener.broken:
            self._listener = own_connection(self.recorder.datastore)
            self._listener.execute(f"LISTEN {WAKE_CHANNEL}")
        return self._listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self._listener = None

    def _mark_resting(self, resting: bool) -> None:
        with self.recorder.datastore.get_connection() as conn:
            conn.execute(
                "INSERT INTO careledger.relay_wake (name, resting) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET resting = EXCLUDED.resting, since = now()",
                (self.name, resting))
        self._resting = resting

    def close(self) -> None:
        self.producer.flush(5)
        try:
            if self._resting:
                self._mark_resting(False)
        except (psycopg.OperationalError, OperationalError):
            pass  # writers stop waking it 30 s after its last mark anyway
        self._drop_listener()


def lag(relay: Relay) -> tuple[int, float]:
    """How far the relay is behind: positions, and seconds since the oldest unpublished."""
    with relay.recorder.datastore.get_connection() as conn:
        row = conn.execute(
            "SELECT coalesce(max(e.notification_id), 0) AS head,"
            " coalesce(extract(epoch FROM now() - min(e.recorded_at)), 0) AS seconds"
            " FROM careledger.careledger_events e WHERE e.notification_id > %s",
            (relay.position(),),
        ).fetchone()
    assert row is not None
    head = int(row["head"])
    return max(0, head - relay.position()), float(row["seconds"]) if head else 0.0

