"""The log as the audit reads it: in position order, batch by batch, up to the horizon.

One server-side cursor over one snapshot: a million events never sit in memory at
once, and a batch is fetched by a helper thread while the previous one is hashed, so
PostgreSQL and Python work side by side. Rows come in binary, with the stream id and
the recorded time already in the bytes the chain hashes (`uuid_send`, and microseconds
by the very expression `append_events` uses), so nothing is re-encoded in Python.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, cast

import psycopg

from careledger.infra.eventstore import log_horizon
from careledger.infra.schema import SCHEMA

#: Rows per fetch: large enough that a round trip is noise, small enough to stream.
BATCH = 5000


#: One event as the chain and the Merkle leaves need it: position, stream id (16 bytes),
#: version, recorded time (µs since the epoch), name, content (None when skipped),
#: previous hash, event hash. A plain tuple, as the driver returns it: at a million rows,
#: wrapping each in an object costs more than hashing it.
LogRow = tuple[int, bytes, int, int, str, bytes | None, bytes, bytes]


_ROWS = f"""
SELECT notification_id, uuid_send(originator_id), originator_version,
       (extract(epoch FROM recorded_at) * 1000000)::bigint, topic,
       CASE WHEN notification_id > %(content_after)s THEN state END,
       previous_hash, event_hash
  FROM {SCHEMA}.careledger_events
 WHERE notification_id <= %(upto)s
 ORDER BY notification_id
"""


def horizon(conn: psycopg.Connection[Any]) -> int:
    """The highest position below which no append can still commit (see the event store)."""
    return log_horizon(conn, SCHEMA)


def read(conn: psycopg.Connection[Any], *, upto: int, content_after: int = 0,
         batch: int = BATCH) -> Iterator[list[LogRow]]:
    """Batches of rows at positions up to `upto`, in position order.

    Rows at or below `content_after` come without their content (`state` is None):
    reading and hashing the content is most of the work, and an incremental check
    does not redo it for a prefix a checkpoint already vouches for.

    `conn` is in autocommit mode, like every connection of the audit; the rows are
    read in one read-only transaction of their own, so they are one snapshot.
    """
    results: queue.Queue[list[LogRow] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                cur = conn.cursor(name="careledger_audit", binary=True)
                cur.execute(_ROWS, {"upto": upto, "content_after": content_after})
                while not stop.is_set():
                    rows = cur.fetchmany(batch)
                    if not rows:
                        break
                    results.put(cast(list[LogRow], rows))
                cur.close()
            results.put(None)
        except BaseException as e:
            results.put(e)

    fetcher = threading.Thread(target=fetch, name="audit-log-reader", daemon=True)
    fetcher.start()
    try:
        while True:
            item = results.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while fetcher.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                results.get(timeout=0.05)
        fetcher.join()
