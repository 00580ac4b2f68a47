"""The records a process keeps in memory between commands, and the reads a command relies on.

Loading a referral from the store costs round trips and CPU on every command; keeping it
in memory costs nothing, as long as a stale copy can never produce a wrong decision. Two
checks in the append statement make sure of that: the written record's primary key
(version n + 1 already taken means the copy was stale) and the read set (the version of
every other record the decision looked at, such as the therapist's credentials). Either
failing evicts the stale copies and the command decides again on fresh ones, so a stale
entry costs at most one retry.

Commands on one record in one process take that record's lock, so they change the cached
object in place, one at a time, instead of deep-copying it on every load. Locks are striped
per record type and taken in one order (the record being changed, then the records it
reads), so two commands never wait on each other in a cycle.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextvars import ContextVar
from uuid import UUID

from eventsourcing.domain import Aggregate

#: Lock stripes per record type: enough that unrelated records rarely share one.
STRIPES = 256

#: The versions of the records read by the command running in this thread.
_reads: ContextVar[dict[UUID, int] | None] = ContextVar("careledger_reads", default=None)


class WorkingSet:
    """A bounded, least-recently-used map of records by id, with per-record locks."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._guard = threading.Lock()
        self._stripes: dict[type, list[threading.RLock]] = {}

    def lock(self, cls: type, aggregate_id: UUID) -> threading.RLock:
        stripes = self._stripes.get(cls)
        if stripes is None:
            with self._guard:
                stripes = self._stripes.setdefault(
                    cls, [threading.RLock() for _ in range(STRIPES)]
                )
        return stripes[hash(aggregate_id) % STRIPES]

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        with self._guard:
            aggregate = self._entries.get(aggregate_id)
            if aggregate is not None:
                self._entries.move_to_end(aggregate_id)
            return aggregate

    def put(self, aggregate: Aggregate) -> None:
        if self.maxsize <= 0:
            return
        with self._guard:
            self._entries[aggregate.id] = aggregate
            self._entries.move_to_end(aggregate.id)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def evict(self, *aggregate_ids: UUID) -> None:
        with self._guard:
            for aggregate_id in aggregate_ids:
                self._entries.pop(aggregate_id, None)


class ReadSet:
    """Collects, for the command running in this thread, the versions it decided on."""

    def __init__(self) -> None:
        self.versions: dict[UUID, int] = {}

    def __enter__(self) -> ReadSet:
        self._token = _reads.set(self.versions)
        return self

    def __exit__(self, *_exc: object) -> None:
        _reads.reset(self._token)

    @staticmethod
    def note(aggregate: Aggregate) -> None:
        versions = _reads.get()
        if versions is not None:
            versions[aggregate.id] = aggregate.version
