"""A consumer group that applies events to projections, exactly once in effect.

Each batch is one PostgreSQL transaction: the projections' rows and the tracking rows
(topic, partition, Kafka offset, and the event store's log position) commit together.
An event whose log position is not past its partition's tracked position was applied
already (a redelivery, a relay that published again, a broker that restarted empty
and numbers offsets from 0 again) and changes nothing. Kafka offsets are committed
only after PostgreSQL, as a hint for where to resume.

A message that cannot be decoded or applied is retried a bounded number of times in a
savepoint, then goes to the dead-letter topic with the error and its origin in headers;
the partition keeps flowing. A lost database connection is not the message's fault:
the batch is rolled back and read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import KafkaError, Message, Producer
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, use_span
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from careledger.consumers.applier import Applied, ViewApplier, record_unknown
from careledger.infra import changes, telemetry
from careledger.projections import VIEWS_LOCK, VIEWS_SCHEMA, live_generation
from careledger.projections.envelope import Envelope
from careledger.projections.model import Projection

log = logging.getLogger(__name__)


#: Most a dead-letter header says about an error: enough to act on, not a data dump.
ERROR_HEADER_CHARS = 300


def where(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a message that came from a partition."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset


@dataclass
class Outcome:
    applied: int = 0
    skipped: int = 0
    dead: int = 0
    positions: dict[int, int] = field(default_factory=dict)
    #: Events of kinds this version cannot place, by kind (counted in the views too).
    unknown: dict[str, int] = field(default_factory=dict)


class _HandlerFailed(Exception):
    """A handler failed somewhere in a fast-path batch: apply it again with savepoints."""


@dataclass
class _Tracked:
    offset: int
    position: int


class Projector:
    """Applies batches of Kafka messages to projections with tracking, in one transaction."""

    def __init__(
        self,
        conninfo: str,
        *,
        consumer: str,
        schema: str | None = None,
        projections: Sequence[Projection] | None = None,
        max_attempts: int = 3,
        dead_letters: Producer | None = None,
        dead_letter_topic: str | None = None,
    ) -> None:
        """`schema` None follows the live generation, switching when a rebuild does."""
        self.conninfo = conninfo
        self.consumer = consumer
        self.follows_live = schema is None
        self.schema = schema or VIEWS_SCHEMA
        self.applier = ViewApplier(self.schema, projections)
        self.floor = 0
        self.max_attempts = max_attempts
        self.dead_letters = dead_letters
        self.dead_letter_topic = dead_letter_topic
        self._conn: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.conninfo)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def apply(self, messages: Sequence[Message]) -> Outcome:
        """One transaction for the batch; raises (and stores nothing) if PostgreSQL fails.

        The batch is first applied in one pipeline, without a savepoint per message: a
        single round trip's worth of waiting. Only if a handler fails is the batch
        rolled back and applied again message by message, each in a savepoint with
        bounded retries, so the failing one can go to the dead-letter topic.
        """
        try:
            return self._apply(messages, careful=False)
        except _HandlerFailed:
            return self._apply(messages, careful=True)
        except psycopg.OperationalError:
            self.close()
            raise

    def _apply(self, messages: Sequence[Message], *, careful: bool) -> Outcome:
        outcome = Outcome()
        conn = self.connection()
        try:
            # One transaction in one pipeline, two round trips: the tracking lock with the
            # handlers' reads, then the writes with the COMMIT (queued as a statement: a
            # `transaction()` block in a pipeline syncs twice more, and `commit()` once).
            with _rolled_back_on_error(conn), conn.pipeline(), conn.cursor() as cur:
                if self.follows_live:
                    self._follow_live(cur)
                decoded: list[tuple[Message, Envelope | None, ValueError | None]] = []
                for message in messages:
                    try:
                        decoded.append((message, Envelope.from_json(message.value() or b""),
                                        None))
                    except ValueError as e:
                        decoded.append((message, None, e))
                locked = self._lock_tracking(cur, messages)
                # Reads for envelopes found below later are wasted, never wrong.
                reading = None if careful else self.applier.read(
                    cur, [e for _, e, _ in decoded if e is not None])
                tracked = locked()
                dead: list[tuple[Message, Envelope | None, BaseException, int]] = []
                recorded: list[datetime] = []
                fresh: list[tuple[Message, Envelope]] = []
                changed: list[Envelope] = []
                applied = Applied()
                for message, envelope, undecodable in decoded:
                    topic, partition, offset = where(message)
                    mark = tracked.setdefault((topic, partition),
                                              _Tracked(offset=-1, position=self.floor))
                    mark.offset = max(mark.offset, offset)
                    if envelope is None:
                        assert undecodable is not None
                        dead.append((message, None, undecodable, 1))
                        continue
                    if envelope.position <= mark.position:
                        outcome.skipped += 1
                        continue
                    mark.position = envelope.position
                    if not careful:
                        fresh.append((message, envelope))
                        continue
                    with self._traced(message, envelope):
                        error, attempts = self._apply_one(cur, envelope, applied)
                    if error is None:
                        outcome.applied += 1
                        recorded.append(envelope.recorded_at)
                        changed.append(envelope)
                    else:
                        dead.append((message, envelope, error, attempts))
                if fresh:
                    traced = {id(e): m for m, e in fresh}
                    try:
                        applied = self.applier.apply(
                            cur, [e for _, e in fresh], reading=reading,
                            around=lambda e: self._traced(traced[id(e)], e))
                    except psycopg.OperationalError:
                        raise
                    except Exception as e:
                        raise _HandlerFailed from e
                    outcome.applied += len(fresh)
                    recorded += [e.recorded_at for _, e in fresh]
                    changed += [e for _, e in fresh]
                record_unknown(cur, self.schema, self.consumer, applied)
                self._save_tracking(cur, tracked)
                for message, dead_envelope, error, attempts in dead:
                    self._record_dead(cur, message, dead_envelope, error, attempts)
                self._send_dead(dead)  # before commit: a crash here sends them again
                outcome.dead = len(dead)
                if self.follows_live:  # last: the feed's lock is held only to the commit
                    record_changes(cur, changed)
                cur.execute("COMMIT")
        except psycopg.OperationalError:
            raise
        except psycopg.Error as e:
            if careful:
                raise
            raise _HandlerFailed from e  # a statement failed at the pipeline's sync
        outcome.positions = {p: t.position for (_, p), t in tracked.items()}
        outcome.unknown = {kind: u.events for kind, u in applied.unknown.items()}
        if telemetry.enabled():
            self._measure(recorded, tracked, len(dead))
        return outcome

    def _traced(self, message: Message, envelope: Envelope) -> AbstractContextManager[Any]:
        """A consumer span, child of the relay's producer span, around the projections."""
        if not telemetry.enabled():
            return nullcontext()
        headers: list[tuple[str, bytes | None]] = list(message.headers() or [])  # type: ignore[arg-type]
        carrier = {k: v.decode() for k, v in headers if v is not None}
        span = telemetry.tracer.start_span(
            f"process {message.topic()}", context=propagate.extract(carrier),
            kind=SpanKind.CONSUMER, attributes={
                "messaging.system": "kafka", "messaging.operation.type": "process",
                "messaging.destination.name": message.topic() or "",
                "messaging.destination.partition.id": str(message.partition()),
                "careledger.log.position": envelope.position,
                "careledger.event.type": envelope.kind,
                "careledger.views": self.schema})
        return _projecting(span, [p.name for p in self.applier.projections])

    def _measure(self, recorded: list[datetime], tracked: dict[tuple[str, int], _Tracked],
                 dead: int) -> None:
        now = datetime.now(UTC)
        for at in recorded:
            telemetry.freshness_ms.record((now - at).total_seconds() * 1000,
                                          {"consumer": self.consumer})
        for (topic, partition), mark in tracked.items():
            telemetry.applied_position.set(mark.position, {
                "consumer": self.consumer, "topic": topic, "partition": partition})
        if dead:
            telemetry.dead_letters.add(dead, {"consumer": self.consumer})

    def _follow_live(self, cur: psycopg.Cursor[Any]) -> None:
        """Wait out a switch in progress, then write to whichever generation is live."""
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (VIEWS_LOCK,))
        schema, self.floor = live_generation(cur)
        if schema != self.schema:
            log.info("consumer: the views switched to %s", schema)
            self.schema = schema
            self.applier = ViewApplier(schema, self.applier.projections)

    def _apply_one(self, cur: psycopg.Cursor[Any], envelope: Envelope, applied: Applied
                   ) -> tuple[BaseException | None, int]:
        error: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                with cur.connection.transaction():  # a savepoint per attempt
                    one = self.applier.apply(cur, [envelope])
                applied.merge(one)
                return None, attempt
            except psycopg.OperationalError:
                raise
            except Exception as e:
                error = e
        assert error is not None
        return error, self.max_attempts

    def _lock_tracking(self, cur: psycopg.Cursor[Any], messages: Sequence[Message]
                       ) -> Callable[[], dict[tuple[str, int], _Tracked]]:
        """Sends the lock on the batch's tracking rows; the function returned waits for it."""
        keys = sorted({where(m)[:2] for m in messages})
        if not keys:
            return dict
        if len(keys) == 1:  # one partition (one event per transaction): no arrays to bind
            cur.execute(self._sql(
                "SELECT topic, partition, kafka_offset, position FROM {v}.tracking"
                " WHERE consumer = %s AND topic = %s AND partition = %s FOR UPDATE"
            ), (self.consumer, *keys[0]))
        else:
            cur.execute(self._sql(
                "SELECT topic, partition, kafka_offset, position FROM {v}.tracking"
                " WHERE consumer = %s AND (topic, partition) IN (SELECT * FROM unnest(%s::text[],"
                " %s::int[])) ORDER BY topic, partition FOR UPDATE"
            ), (self.consumer, [k[0] for k in keys], [k[1] for k in keys]))
        return lambda: {(row[0], row[1]): _Tracked(offset=row[2], position=row[3])
                        for row in cur.fetchall()}

    def _save_tracking(self, cur: psycopg.Cursor[Any],
                       tracked: dict[tuple[str, int], _Tracked]) -> None:
        statement = self._sql(
            "INSERT INTO {v}.tracking (consumer, topic, partition, kafka_offset, position)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (consumer, topic, partition) DO UPDATE"
            " SET kafka_offset = EXCLUDED.kafka_offset, position = EXCLUDED.position,"
            " updated_at = now()"
        )
        for (t, p), mark in tracked.items():  # queued: executemany would sync the pipeline
            if mark.offset >= 0:
                cur.execute(statement, (self.consumer, t, p, mark.offset, mark.position))

    def _record_dead(self, cur: psycopg.Cursor[Any], message: Message,
                     envelope: Envelope | None, error: BaseException, attempts: int) -> None:
        log.error("dead letter: %s/%s@%s after %d attempt(s): %s", message.topic(),
                  message.partition(), message.offset(), attempts, type(error).__name__)
        cur.execute(self._sql(
            "INSERT INTO {v}.dead_letters (consumer, topic, partition, kafka_offset, position,"
            " error_type, attempts) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING"
        ), (self.consumer, message.topic(), message.partition(), message.offset(),
            envelope.position if envelope else None, type(error).__name__, attempts))

    def _send_dead(self, dead: list[tuple[Message, Envelope | None, BaseException, int]]
                   ) -> None:
        if not dead or self.dead_letters is None or self.dead_letter_topic is None:
            return
        failures: list[KafkaError] = []
        for message, _envelope, error, attempts in dead:
            headers = [*(message.headers() or []),
                       ("careledger-dlq-error",
                        f"{type(error).__name__}: {error}"[:ERROR_HEADER_CHARS].encode()),
                       ("careledger-dlq-origin",
                        f"{message.topic()}/{message.partition()}/{message.offset()}".encode()),
                       ("careledger-dlq-consumer", self.consumer.encode()),
                       ("careledger-dlq-attempts", str(attempts).encode())]
            self.dead_letters.produce(
                self.dead_letter_topic, key=message.key(), value=message.value(),
                headers=headers,
                on_delivery=lambda err, _m: failures.append(err) if err else None,
            )
        remaining = self.dead_letters.flush(30)
        if remaining or failures:
            raise RuntimeError("the dead-letter topic did not confirm; the batch will be retried")

    def _sql(self, text: str) -> str:
        return text.replace("{v}", self.schema)


def record_changes(cur: psycopg.Cursor[Any], envelopes: Sequence[Envelope]) -> None:
    """The batch's changes to patients' care, for the live streams (infra/changes.py):
    numbered in this transaction, under the feed's lock, and notified at its commit."""
    care = [e for e in envelopes if e.patient_id is not None]
    if not care:
        return
    cur.execute(changes.TAKE_TURN)
    cur.execute(changes.RECORD, (
        [e.position for e in care], [e.kind for e in care], [e.aggregate_id for e in care],
        [e.patient_id for e in care],
        [Jsonb([str(c) for c in e.clinic_ids]) for e in care]))
    cur.execute(changes.NOTIFY)


@contextmanager
def _rolled_back_on_error(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """What a `transaction()` block would do on an error, outside the pipeline."""
    try:
        yield
    except BaseException:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()
        raise


@contextmanager
def _projecting(span: Any, names: list[str]) -> Iterator[None]:
    with use_span(span, end_on_exit=True), telemetry.tracer.start_as_current_span(
            "project", attributes={"careledger.projections": names}):
        yield
