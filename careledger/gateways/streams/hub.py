"""One process's side of the live streams: a single listener on the views' change feed
that hands each new change to the streams that may want it.

The views' consumer notifies `careledger_view_changes` at each commit. The hub wakes on
that (or at the latest every `WAKE_S`, should a notification be lost with a connection),
reads the changes after the last it read and up to the feed's horizon (no lower number
can appear after it: infra/changes.py), with the care team of each change's patient,
and puts each on the queue of every stream whose scope it falls in. No stream reads the
database for news; what each may actually see is decided per change, as a read is, by
the stream itself (view.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from asgiref.sync import sync_to_async
from psycopg_pool import ConnectionPool

from careledger.access.tokens import Principal
from careledger.infra import changes

log = logging.getLogger("careledger.streams")

#: The longest a hub sleeps without looking at the feed, notification or not.
WAKE_S = 5.0
#: Changes held for one slow stream before it is told to reconnect (and resume).
QUEUE_SIZE = 1000
#: How often a hub clears changes older than the feed keeps.
SWEEP_S = 3600.0
#: Threads for the streams' authorizations and reads (the loop's executor).
EXECUTOR_THREADS = 32

_CHANGES = """
SELECT c.seq, c.position, c.kind, c.record_id, c.patient_id, c.clinic_ids,
       ARRAY(SELECT t.member_id FROM {v}.care_team t WHERE t.patient_id = c.patient_id)
  FROM careledger.view_changes c
 WHERE c.seq > %s AND c.seq <= %s
 ORDER BY c.seq
 LIMIT %s
"""


@dataclass(frozen=True)
class Change:
    seq: int
    position: int
    kind: str
    record_id: UUID
    patient_id: UUID
    clinic_ids: tuple[UUID, ...]
    #: The patient's care team (physicians and clinics) when the hub read it.
    team: frozenset[UUID]

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Change:
        return cls(seq=int(row[0]), position=int(row[1]), kind=str(row[2]), record_id=row[3],
                   patient_id=row[4], clinic_ids=tuple(row[5] or ()),
                   team=frozenset(row[6] or ()))


@dataclass(eq=False)
class Listener:
    """One open stream: who, which patient (or all of theirs), and what waits for it."""

    principal: Principal
    patient: UUID | None
    queue: asyncio.Queue[Change | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def may_want(self, change: Change) -> bool:
        """In scope (the care-team pre-filter); the stream still authorizes each one."""
        if self.patient is not None:
            return change.patient_id == self.patient
        me = {self.principal.subject, *self.principal.clinics}
        return bool(me & (change.team | set(change.clinic_ids)))


class Full(Exception):
    """This process holds as many streams as it may."""


class Hub:
    def __init__(self, conninfo: str, pool: ConnectionPool, views: Any, *, limit: int) -> None:
        self.conninfo = conninfo
        self.pool = pool
        self.views = views  # the live generation's schema, looked up (projections)
        self.limit = limit
        self.listeners: set[Listener] = set()
        #: The highest number handed to the listeners (or to start after, at first).
        self.last = -1
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._executor_set = False
        self._swept = float("-inf")

    @property
    def full(self) -> bool:
        return len(self.listeners) >= self.limit

    async def join(self, listener: Listener) -> int:
        """Add a stream; answers the number from which the hub hands it changes (those
        after it come on its queue; up to it, the stream reads them itself)."""
        if self.full:
            raise Full
        async with self._starting:  # one listener task, started once, whoever asks first
            if self._task is None or self._task.done():
                if not self.listeners:  # nobody is owed anything below the head
                    self.last = await sync_to_async(self._head, thread_sensitive=False)()
                loop = asyncio.get_running_loop()
                if not self._executor_set:
                    # Authorizations and reads run in threads: more than the default few,
                    # so that many streams at once do not queue behind each other.
                    loop.set_default_executor(ThreadPoolExecutor(EXECUTOR_THREADS))
                    self._executor_set = True
                self._task = loop.create_task(self._run())
        self.listeners.add(listener)
        return self.last

    def leave(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    # --- reading the feed -----------------------------------------------------------------

    def _head(self) -> int:
        with self.pool.connection() as conn:
            return changes.horizon(conn)

    def read(self, after: int, upto: int, limit: int = 500) -> list[Change]:
        """The changes numbered after `after`, up to `upto` (a horizon), in order."""
        with self.pool.connection() as conn:
            schema = self.views.schema(conn)
            rows = conn.execute(_CHANGES.replace("{v}", f'"{schema}"'),
                                (after, upto, limit)).fetchall()
        return [Change.of(row) for row in rows]

    def _news(self) -> list[Change]:
        with self.pool.connection() as conn:
            upto = changes.horizon(conn)
            if time.monotonic() - self._swept > SWEEP_S:  # the feed keeps KEPT_DAYS
                self._swept = time.monotonic()
                conn.execute("DELETE FROM careledger.view_changes WHERE applied_at < "
                             "now() - make_interval(days => %s)", (changes.KEPT_DAYS,))
        found: list[Change] = []
        after = self.last
        while after < upto:
            batch = self.read(after, upto)
            if not batch:
                break
            found += batch
            after = batch[-1].seq
        return found

    async def _run(self) -> None:
        try:
            while self.listeners:
                try:
                    async with await psycopg.AsyncConnection.connect(
                            self.conninfo, autocommit=True) as conn:
                        await conn.execute(f"LISTEN {changes.CHANNEL}")
                        while self.listeners:
                            self._hand_out(await sync_to_async(self._news,
                                                               thread_sensitive=False)())
                            async for _ in conn.notifies(timeout=WAKE_S, stop_after=1):
                                pass
                except (psycopg.Error, OSError, TimeoutError) as e:
                    log.warning("the change feed's listener lost PostgreSQL: %s",
                                type(e).__name__)
                    await asyncio.sleep(1)
        finally:
            # However it ends (an error nobody foresaw included), no stream is left
            # waiting on a listener that is gone: each ends, and its client resumes.
            for listener in list(self.listeners):
                self._end(listener)

    def _hand_out(self, found: Iterable[Change]) -> None:
        for change in found:
            self.last = max(self.last, change.seq)
            for listener in list(self.listeners):
                if not listener.may_want(change):
                    continue
                try:
                    listener.queue.put_nowait(change)
                except asyncio.QueueFull:
                    # Too slow to keep up: ended, so it reconnects and resumes from the
                    # last id it sent (what is dropped here is read again then).
                    self._end(listener)

    def _end(self, listener: Listener) -> None:
        self.leave(listener)
        while not listener.queue.empty():
            listener.queue.get_nowait()
        listener.queue.put_nowait(None)
