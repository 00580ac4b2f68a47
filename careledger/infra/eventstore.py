"""The eventsourcing library's PostgreSQL recorder, writing through `append_events`.

One round trip per command: the events, their hash chain, the idempotency record and
the check of the versions the decision read go in one statement. Readers of the
notification log (the library's own `select_notifications`, and the relay) stop at the
log horizon, so concurrent writers that commit out of position order never make a
follower skip an event.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from opentelemetry import propagate
from opentelemetry.trace import SpanKind
from psycopg.rows import dict_row, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from careledger.domain.application import Idempotency
from careledger.domain.errors import DuplicateRequest, InvalidInput, StaleRead
from careledger.domain.referral import Referral
from careledger.infra import telemetry
from careledger.infra.retries import BoundedReads


@dataclass(frozen=True)
class LogEntry:
    """One stored event as the log holds it: its position and the store's own stamps."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    recorded_at: datetime
    previous_hash: bytes
    event_hash: bytes
    #: The W3C trace context (JSON: traceparent, tracestate) of the appending command.
    trace_context: str | None = None

    def stored_event(self) -> StoredEvent:
        return StoredEvent(originator_id=self.originator_id,
                           originator_version=self.originator_version,
                           topic=self.topic, state=self.state)


class CareLedgerRecorder(BoundedReads, PostgresApplicationRecorder):
    """Appends in one statement without a table lock; reads stop at the horizon."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # `careledger migrate` owns the schema: never let the library create tables.
        self.sql_create_statements = []
        self.writers = WriterConnections(datastore)
        schema = Identifier(self.datastore.schema)
        self.append_statement = SQL(
            "SELECT {schema}.append_events(%b, %b, %b, %b, %b::uuid[], %b::bigint[],"
            " %s, %s, %s, %s, %s) AS positions"
        ).format(schema=schema)
        self.read_log_statement = SQL(
            "SELECT notification_id AS position, originator_id, originator_version, topic,"
            " state, recorded_at, previous_hash, event_hash, trace_context"
            " FROM {schema}.{table}"
            " WHERE notification_id > %s AND notification_id <= %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(schema=schema, table=Identifier(events_table_name))
        self.position_as_of_statement = SQL(
            "SELECT coalesce(max(notification_id), 0) AS position FROM {schema}.{table}"
            " WHERE recorded_at <= %s"
        ).format(schema=schema, table=Identifier(events_table_name))

    def close(self) -> None:
        self.writers.close()

    def create_table(self) -> None:
        """The schema is migrated by `careledger migrate`, as the owner, not by the app."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        if any(NUL.search(e.state) for e in stored_events):
            raise InvalidInput("text may not contain U+0000 (NUL)", field=None)
        if not telemetry.enabled():  # the hot path pays nothing when nothing is traced
            return self._append(stored_events, **kwargs)
        with telemetry.tracer.start_as_current_span(
            "append_events", kind=SpanKind.CLIENT,
            attributes=telemetry.event_attributes([e.topic for e in stored_events],
                                                  [e.originator_id for e in stored_events]),
        ):
            return self._append(stored_events, **kwargs)

    def _append(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        idempotency: Idempotency | None = kwargs.get("idempotency")
        reads: dict[UUID, int] = kwargs.get("reads") or {}
        params = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
            list(reads) or None,
            list(reads.values()) or None,
            idempotency.principal if idempotency else None,
            idempotency.key if idempotency else None,
            idempotency.request_hash if idempotency else None,
            idempotency.command if idempotency else None,
            _trace_context(),
        )
        # Not retried on a lost connection: the append may have committed, and only the
        # Idempotency-Key (looked up by the caller) can tell a retry from a new command.
        conn = self.writers.connection()
        with conn.cursor() as curs:
            try:
                curs.execute(self.append_statement, params, prepare=True)
            except psycopg.errors.SerializationFailure:
                raise StaleRead("a record this command read has changed") from None
            except psycopg.errors.UniqueViolation as e:
                if e.diag.constraint_name == "idempotency_pkey":
                    raise DuplicateRequest(
                        "this Idempotency-Key was already used for another request"
                    ) from None
                raise IntegrityError(str(e)) from e
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    self.writers.discard(conn)  # the next command connects afresh
                raise
            row = curs.fetchone()
            assert row is not None
            positions: list[int] = row["positions"]
            return positions

    def read_log(self, after: int, limit: int) -> list[LogEntry]:
        """The next entries of the log after a position, in order, never past the horizon.

        Unlike the library's notifications, an entry carries what the store itself
        recorded: when (`recorded_at`) and the hash chain.
        """
        horizon = self.horizon()
        if horizon <= after:
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.read_log_statement, (after, horizon, limit), prepare=True)
            return [LogEntry(**row) for row in curs.fetchall()]

    def position_as_of(self, moment: datetime) -> int:
        """The last position recorded at or before a moment (0 before the first).

        Transaction time is the store's `recorded_at`. Two appends racing within a few
        microseconds may take positions in the other order, so readers as of a moment
        also filter entries by `recorded_at`, not by position alone.
        """
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.position_as_of_statement, (moment,))
            row = curs.fetchone()
            assert row is not None
            return int(row["position"])

    def horizon(self, poll_interval: float = 0.0005, timeout: float = 30.0) -> int:
        """The highest position below which nothing can still commit."""
        with self.datastore.get_connection() as conn:
            return log_horizon(conn, self.datastore.schema, poll_interval=poll_interval,
                               timeout=timeout)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        horizon = self.horizon()
        stop = horizon if stop is None else min(stop, horizon)
        notifications: Sequence[Notification] = super().select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
        return notifications

    def max_notification_id(self) -> int | None:
        return self.horizon() or None


def log_horizon(conn: psycopg.Connection[Any], schema: str, *, poll_interval: float = 0.0005,
                timeout: float = 30.0) -> int:
    """The highest position below which nothing can still commit.

    Waits for the appends open at the moment of asking (usually none, at most a
    commit's worth of time), never for the ones that start after. Followers of the log
    read up to it; audit checkpoints sign up to it, since a position below it can no
    longer appear.
    """
    horizon_statement, writers_open_statement = _horizon_statements(schema)
    deadline = time.monotonic() + timeout
    with conn.cursor(row_factory=tuple_row) as curs:
        curs.execute(horizon_statement, prepare=True)
        row = curs.fetchone()
        assert row is not None
        last_position: int = row[0]
        writers: list[str] = row[1]
        while writers:
            curs.execute(writers_open_statement, (writers,), prepare=True)
            still = curs.fetchone()
            if still is None or not still[0]:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("an append has stayed open too long; is a writer stuck?")
            time.sleep(poll_interval)
    return last_position


@functools.cache
def _horizon_statements(schema: str) -> tuple[Composed, Composed]:
    return (SQL("SELECT last_position, writers FROM {schema}.log_horizon()").format(
                schema=Identifier(schema)),
            SQL("SELECT {schema}.writers_open(%s)").format(schema=Identifier(schema)))


class WriterConnections:
    """One connection per writing thread, kept for the thread's life.

    A pool hands out its connections first in, first out, so consecutive appends from
    one thread land on different server processes, each woken cold: measured, that
    costs a third of an append. A thread that always writes through its own connection
    finds that server process, its plans and its caches warm. Reads still use the pool.
    """

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore
        self._local = threading.local()
        self._open: set[psycopg.Connection[Any]] = set()
        self._guard = threading.Lock()

    def connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        conn = own_connection(self._datastore)
        self._local.conn = conn
        with self._guard:
            self._open.add(conn)
        # Close it when its thread is gone (threads of a request pool come and go).
        weakref.finalize(threading.current_thread(), self.discard, conn)
        return conn

    def discard(self, conn: psycopg.Connection[Any]) -> None:
        with self._guard:
            self._open.discard(conn)
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def close(self) -> None:
        with self._guard:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()


def own_connection(datastore: PostgresDatastore) -> psycopg.Connection[Any]:
    """A connection of its own (autocommit, dict rows) to where the pool connects."""
    pool = datastore.pool
    conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
    kwargs: dict[str, Any] = (
        pool.kwargs if isinstance(pool.kwargs, dict) else (pool.kwargs or dict)()
    )
    # A server that does not answer is given psycopg's least wait, not its default 130 s.
    return psycopg.Connection.connect(conninfo, **{**kwargs, "autocommit": True,
                                                   "connect_timeout": 2})


#: U+0000 as JSON writes it (an escape not itself escaped). PostgreSQL's text and jsonb
#: cannot hold it: an event with one would be stored, and then no view could apply it.
NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


#: Every event of a patient's own stream and of every referral made for them, in log
#: order, optionally as recorded by a moment. The referrals are found by the index on
#: the made-referral event's patient (`careledger.referral_patient`, schema.py).
PATIENT_LOG = """
SELECT notification_id AS position, originator_id, originator_version, topic, state,
       recorded_at, previous_hash, event_hash, trace_context
  FROM careledger.careledger_events
 WHERE originator_id = ANY(%(patient)s::uuid || ARRAY(
         SELECT originator_id FROM careledger.careledger_events
          WHERE topic = '{made}'
            AND careledger.referral_patient(state) = %(key)s))
   AND (%(as_of)s::timestamptz IS NULL OR recorded_at <= %(as_of)s)
 ORDER BY notification_id
""".replace("{made}", Referral.Made.TOPIC)  # a literal, so the partial index applies


def read_patient_log(conn: Any, patient_id: UUID, *,
                     as_of: datetime | None = None) -> list[LogEntry]:
    """A patient's entries of the log, in order, as one consistent snapshot: the FHIR
    export's source, and a diff's."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(PATIENT_LOG, {"patient": patient_id, "key": patient_id.hex,
                                  "as_of": as_of})
        return [LogEntry(**row) for row in cur.fetchall()]


def _trace_context() -> str | None:
    """The current W3C trace context, so the relay can continue the command's trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":")) if carrier else None
