"""How the platform is doing, from what it records: the figures an operator watches.

Everything here is read, never kept: the log's head, the relay's saved position, each
consumer's tracking rows in the live views, the dead letters. `careledger status`
prints them, `/health/ready` and `careledger status --ready` answer whether a part
can work (PostgreSQL reachable; for the relay and the consumers, the broker too), and
the OpenTelemetry metrics export the same figures (`careledger/infra/telemetry.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg import sql

from careledger.projections import VIEWS_VERSION, live_generation, views_version


@dataclass(frozen=True)
class PartitionLag:
    consumer: str
    topic: str
    partition: int
    position: int
    kafka_offset: int
    #: Messages on the partition not yet applied (needs the broker; None without it).
    behind: int | None
    #: From the commit of the last applied event to its batch's commit, in ms.
    freshness_ms: float | None


@dataclass(frozen=True)
class ConsumerLag:
    """How far one consumer's views are behind what the relay published, counted from
    the log positions the views applied (never from Kafka offsets, which start again at
    0 when a broker restarts empty)."""

    consumer: str
    applied_position: int
    #: Published events after the newest the views applied: 0 only when caught up, a
    #: lower bound while partitions move at different paces, growing when none moves.
    behind: int
    #: Since the views last applied a batch (None: never).
    seconds_since_applied: float | None
    #: Since the oldest of the `behind` events was recorded (None: nothing behind).
    oldest_waiting_s: float | None


@dataclass(frozen=True)
class UnknownKind:
    """Events of a kind this version's views cannot place (a newer writer's): counted,
    not applied, until consumers that know the kind replay them."""

    consumer: str
    kind: str
    events: int
    first_position: int
    last_position: int


@dataclass(frozen=True)
class Status:
    head: int
    head_recorded_at: datetime | None
    relay_position: int
    relay_behind: int
    #: How long the oldest event not yet published has waited, in seconds.
    relay_lag_s: float
    views: str
    partitions: list[PartitionLag] = field(default_factory=list)
    dead_letters: int = 0
    unknown_kinds: list[UnknownKind] = field(default_factory=list)
    consumers: list[ConsumerLag] = field(default_factory=list)
    #: Which release's handlers built the live generation (projections.VIEWS_VERSION).
    views_version: int = VIEWS_VERSION

    @property
    def views_outdated(self) -> bool:
        return self.views_version < VIEWS_VERSION

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def read_status(conn: Any, *, relay_name: str = "relay",
                high_watermarks: dict[tuple[str, int], int] | None = None) -> Status:
    """One consistent reading (one snapshot) of the figures, from PostgreSQL."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        head, head_at = conn.execute(
            "SELECT coalesce(max(notification_id), 0), max(recorded_at)"
            " FROM careledger.careledger_events").fetchone()
        row = conn.execute("SELECT position FROM careledger.relay_positions WHERE name = %s",
                           (relay_name,)).fetchone()
        relay = int(row[0]) if row else 0
        (waiting,) = conn.execute(
            "SELECT extract(epoch FROM now() - min(recorded_at))"
            " FROM careledger.careledger_events WHERE notification_id > %s",
            (relay,)).fetchone()
        views, _ = live_generation(conn)
        built = views_version(conn)
        tracked = conn.execute(sql.SQL(
            "SELECT t.consumer, t.topic, t.partition, t.position, t.kafka_offset,"
            " extract(epoch FROM t.updated_at - e.recorded_at) * 1000"
            " FROM {v}.tracking t LEFT JOIN careledger.careledger_events e"
            " ON e.notification_id = t.position ORDER BY 1, 2, 3"
        ).format(v=sql.Identifier(views))).fetchall()
        (dead,) = conn.execute(sql.SQL("SELECT count(*) FROM {v}.dead_letters").format(
            v=sql.Identifier(views))).fetchone()
        unknown = conn.execute(sql.SQL(
            "SELECT consumer, kind, events, first_position, last_position"
            " FROM {v}.unknown_kinds ORDER BY kind, consumer").format(
            v=sql.Identifier(views))).fetchall()
        consumers = consumer_lags(conn, views, relay)
    marks = high_watermarks or {}
    return Status(
        head=int(head), head_recorded_at=head_at, relay_position=relay,
        relay_behind=max(0, int(head) - relay),
        relay_lag_s=float(waiting or 0.0), views=views,
        partitions=[PartitionLag(
            consumer=c, topic=t, partition=p, position=pos, kafka_offset=off,
            behind=max(0, marks[(t, p)] - off - 1) if (t, p) in marks else None,
            freshness_ms=float(ms) if ms is not None else None)
            for c, t, p, pos, off, ms in tracked],
        dead_letters=int(dead),
        unknown_kinds=[UnknownKind(*row) for row in unknown],
        consumers=consumers,
        views_version=built,
    )


def consumer_lags(conn: Any, views: str, relay: int, consumer: str | None = None
                  ) -> list[ConsumerLag]:
    """Each consumer's lag behind what the relay published up to `relay` (or one's)."""
    rows = conn.execute(sql.SQL(CONSUMER_LAG).format(v=sql.Identifier(views)),
                        {"relay": relay, "consumer": consumer}).fetchall()
    return [ConsumerLag(consumer=c, applied_position=int(at), behind=int(behind),
                        seconds_since_applied=_seconds(since), oldest_waiting_s=_seconds(waiting))
            for c, at, since, behind, waiting in rows]


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


#: Per consumer: the newest position its views applied, and the published events after it.
CONSUMER_LAG = """
WITH applied AS (
  SELECT consumer, max(position) AS position, max(updated_at) AS at
    FROM {v}.tracking WHERE %(consumer)s::text IS NULL OR consumer = %(consumer)s
   GROUP BY consumer)
SELECT a.consumer, a.position, extract(epoch FROM now() - a.at), w.events, w.seconds
  FROM applied a, LATERAL (
    SELECT count(*) AS events, extract(epoch FROM now() - min(e.recorded_at)) AS seconds
      FROM careledger.careledger_events e
     WHERE e.notification_id > a.position AND e.notification_id <= %(relay)s) w
 ORDER BY a.consumer
"""

#: A member not heard from for this long holds nothing (the members and status agree).
MEMBER_GONE_S = 15.0
#: Published events waiting, and nothing applied, for this long: the consumer is stuck.
STALLED_S = 30.0

LIVE_PARTITIONS = (
    "SELECT DISTINCT unnest(partitions) FROM careledger.consumer_members"
    " WHERE group_name = %s AND topic = %s"
    " AND seen_at > now() - make_interval(secs => %s)"
)


def held_by_live_members(conn: Any, group: str, topic: str) -> set[int]:
    """The partitions some member of the group noted holding within MEMBER_GONE_S."""
    return {row[0] for row in conn.execute(LIVE_PARTITIONS, (group, topic, MEMBER_GONE_S))}


def consumer_trouble(conn: Any, *, consumer: str, group: str, topic: str, partitions: int,
                     relay_name: str = "relay", stalled_s: float = STALLED_S) -> str | None:
    """Why a consumer group cannot keep its views fresh now, in one line; None if it can.

    A member that is merely idle is fine. Not fine: a topic the broker does not have,
    a partition no live member holds, published events waiting while nothing is applied.
    """
    if partitions == 0:
        return (f"the broker has no topic {topic} (the relay creates it when it starts): "
                "start the relay")
    orphaned = set(range(partitions)) - held_by_live_members(conn, group, topic)
    if orphaned:
        return (f"{len(orphaned)} of {partitions} partitions of {topic} have no live member "
                f"of {group}: start `careledger consume`, or restart it if it runs")
    row = conn.execute("SELECT position FROM careledger.relay_positions WHERE name = %s",
                       (relay_name,)).fetchone()
    views, _ = live_generation(conn)
    lag = next(iter(consumer_lags(conn, views, int(row[0]) if row else 0, consumer)), None)
    if lag is None or lag.behind == 0 or (lag.oldest_waiting_s or 0) < stalled_s:
        return None
    if lag.seconds_since_applied is not None and lag.seconds_since_applied < stalled_s:
        return None
    return (f"{lag.behind} published events have waited {lag.oldest_waiting_s:.0f} s and "
            f"{consumer} applied nothing for {stalled_s:.0f} s: see the consumer's log, "
            "then restart it")


def topic_partitions(bootstrap: str, topic: str, timeout: float = 3.0,
                     client: Mapping[str, str] | None = None) -> int | None:
    """How many partitions the topic has (0: none such); None if the broker does not
    answer. One metadata request: what a healthcheck can afford every few seconds."""
    from confluent_kafka.admin import AdminClient

    from careledger.infra.embedded_broker import quiet

    try:  # every topic: a metadata request naming one may create it on the broker
        found = AdminClient(quiet({"bootstrap.servers": bootstrap, **(client or {})})
                            ).list_topics(timeout=timeout).topics.get(topic)
    except Exception:
        return None
    return 0 if found is None or found.error is not None else len(found.partitions)


def high_watermarks(bootstrap: str, topic: str, timeout: float = 3.0,
                    client: Mapping[str, str] | None = None) -> dict[tuple[str, int], int]:
    """Each partition's next offset; raises if the broker does not answer in time."""
    from confluent_kafka import Consumer, TopicPartition

    from careledger.infra.embedded_broker import quiet

    consumer = Consumer(quiet({"bootstrap.servers": bootstrap, "group.id": "careledger-status",
                               "enable.auto.commit": False,
                               "socket.timeout.ms": int(timeout * 1000), **(client or {})}))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout)
        partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
        marks: dict[tuple[str, int], int] = {}
        for partition in partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                        timeout=timeout)
            marks[(topic, partition)] = high
        return marks
    finally:
        consumer.close()


def caught_up(conn: Any, bootstrap: str, topic: str,
              client: Mapping[str, str] | None = None) -> bool:
    """The relay has published the whole log and the consumers applied all it published.

    Partitions are compared by Kafka offset: every partition holding messages has a
    tracking row at its last message. The embedded broker restarts empty, and tracking
    rows from before hold higher offsets than its new log: what the relay publishes
    after such a restart may count as applied a moment early.
    """
    marks = high_watermarks(bootstrap, topic, client=client)
    figures = read_status(conn, high_watermarks=marks)
    behind = {(p.topic, p.partition): p.behind for p in figures.partitions}
    return figures.relay_behind == 0 and all(
        high == 0 or behind.get(partition) == 0 for partition, high in marks.items())
