"""A consumer group member: batches from Kafka, applied by a Projector, and a member
that notices by itself when it holds nothing it should.

After a broker restarts empty, a member can rejoin its group while the topic does not
exist yet and be assigned no partition; librdkafka would notice the topic only at its
next metadata refresh (five minutes by default) and no rebalance would follow before.
So the metadata is refreshed every few seconds, and a member holding no partition of a
topic that has some, while no live member of its group holds them, leaves and joins
again. Every member notes what it holds in `careledger.consumer_members`
(`careledger status --ready consume` reads it: not every broker answers DescribeGroups).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from careledger.consumers.projector import Outcome, Projector, where
from careledger.infra.health import held_by_live_members

log = logging.getLogger(__name__)

#: How often a member notes what it holds, and looks whether it should hold more.
NOTE_EVERY_S = 2.0
#: Least time between two rejoins: a rebalance takes a few seconds to settle.
REJOIN_EVERY_S = 10.0
#: How often librdkafka asks for the topic's metadata (its default is five minutes).
METADATA_REFRESH_MS = 3000
#: How long the broker may hold a fetch that finds nothing. Kafka answers as soon as a
#: message arrives (fetch.min.bytes 1); the embedded broker holds it for the whole wait
#: (measured: a 100 ms wait made the median freshness 50 ms instead of 10). At 20 ms a
#: resting member uses under 1 % of a core (bench/rest.py); against Kafka it may be raised.
FETCH_WAIT_MS = 20
#: Waits after a failed batch: short, so the views are fresh soon after PostgreSQL returns.
RETRY_FIRST_S, RETRY_MOST_S = 0.25, 2.0

NOTE_MEMBER = (
    "INSERT INTO careledger.consumer_members (group_name, member, topic, partitions, seen_at)"
    " VALUES (%s, %s, %s, %s, now()) ON CONFLICT (group_name, member) DO UPDATE"
    " SET topic = EXCLUDED.topic, partitions = EXCLUDED.partitions, seen_at = now()"
)


class ProjectionConsumer:
    """The Kafka side: a consumer group member feeding batches to a Projector."""

    def __init__(
        self,
        projector: Projector,
        *,
        bootstrap: str,
        topic: str,
        group: str,
        batch_size: int = 500,
        poll_timeout_s: float = 0.2,
        fetch_wait_ms: int = FETCH_WAIT_MS,
        client: Mapping[str, str] | None = None,
    ) -> None:
        self.projector = projector
        self.topic = topic
        self.group = group
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.member = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held: set[int] = set()
        self._noted_at = float("-inf")
        self._rejoined_at = time.monotonic()  # joining now: give it time before another
        self.rejoins = 0
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": fetch_wait_ms,
            "fetch.min.bytes": 1,
            "topic.metadata.refresh.interval.ms": METADATA_REFRESH_MS,
            "logger": log,
            **(client or {}),  # TLS (Settings.kafka_client)
        })
        self._subscribe()

    def _subscribe(self) -> None:
        self.consumer.subscribe([self.topic], on_assign=self._assigned,
                                on_revoke=self._revoked, on_lost=self._revoked)

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.held = {p.partition for p in partitions if p.topic == self.topic}
        self._noted_at = float("-inf")  # say so at once

    def _revoked(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self.held = set()
        self._noted_at = float("-inf")

    def poll_once(self) -> Outcome:
        # Whatever is already fetched, without waiting for a full batch; if nothing is,
        # wait for the first message only, then take what arrived with it.
        received = self.consumer.consume(self.batch_size, 0)
        if not received:
            first = self.consumer.poll(self.poll_timeout_s)
            if first is None:
                return Outcome()
            received = [first, *self.consumer.consume(self.batch_size - 1, 0)]
        messages = [m for m in received if m.error() is None or _report(m)]
        if not messages:
            return Outcome()
        try:
            outcome = self.projector.apply(messages)
        except (psycopg.OperationalError, RuntimeError):
            self._rewind(messages)
            raise
        last: dict[tuple[str, int], int] = {}
        for m in messages:
            topic, partition, offset = where(m)
            last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
        self.consumer.commit(offsets=[TopicPartition(t, p, o + 1)
                                      for (t, p), o in last.items()], asynchronous=True)
        return outcome

    def keep_membership(self) -> None:
        """Note what this member holds; rejoin if it holds nothing nobody else holds."""
        now = time.monotonic()
        if now - self._noted_at < NOTE_EVERY_S:
            return
        self._noted_at = now
        conn = self.projector.connection()
        with conn.transaction():
            conn.execute(NOTE_MEMBER, (self.group, self.member, self.topic, sorted(self.held)))
            if self.held or now - self._rejoined_at < REJOIN_EVERY_S:
                return
            partitions = self._partitions()
            orphaned = set(range(partitions)) - held_by_live_members(conn, self.group,
                                                                     self.topic)
        if orphaned:
            log.warning("consumer: %s has %d partition(s) that no member of %s holds, and "
                        "this member holds none; joining the group again", self.topic,
                        len(orphaned), self.group)
            self._rejoined_at = now
            self.rejoins += 1
            self.consumer.unsubscribe()
            self._subscribe()

    def _partitions(self) -> int:
        """How many partitions the topic has now (0 if it does not exist yet)."""
        try:
            metadata = self.consumer.list_topics(self.topic, timeout=1.0).topics.get(self.topic)
        except KafkaException:
            return 0
        if metadata is None or metadata.error is not None:
            return 0
        return len(metadata.partitions)

    def _rewind(self, messages: Sequence[Message]) -> None:
        """Read the failed batch again: seek each partition back to its first message."""
        first: dict[tuple[str, int], int] = {}
        for m in messages:
            topic, partition, offset = where(m)
            first[(topic, partition)] = min(first.get((topic, partition), offset), offset)
        for (t, p), offset in first.items():
            try:
                self.consumer.seek(TopicPartition(t, p, offset))
            except Exception:
                log.info("partition %s/%s was revoked before it could be rewound", t, p)

    def run(self, stop: threading.Event) -> None:
        backoff = RETRY_FIRST_S
        while not stop.is_set():
            try:
                self.poll_once()
                self.keep_membership()
                backoff = RETRY_FIRST_S
            except (psycopg.OperationalError, RuntimeError) as e:
                log.warning("consumer: batch not applied (%s: %s); retrying in %.2f s",
                            type(e).__name__, _first_line(e), backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, RETRY_MOST_S)

    def close(self) -> None:
        try:
            conn = self.projector.connection()
            with conn.transaction():
                conn.execute("DELETE FROM careledger.consumer_members"
                             " WHERE group_name = %s AND member = %s", (self.group, self.member))
        except psycopg.Error:
            pass  # it is forgotten MEMBER_GONE_S after its last note anyway
        self.consumer.close()
        self.projector.close()


def _first_line(error: BaseException) -> str:
    """What went wrong, as the driver says it: the server's address and its refusal,
    never a statement's parameters."""
    return (str(error).splitlines() or [""])[0][:200]


def _report(message: Message) -> bool:
    error = message.error()
    if error is not None and error.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer: %s", error.str())
    return False
