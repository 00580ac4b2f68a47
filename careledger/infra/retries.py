"""Reads that give up in time: an API request is answered within 2 s while PostgreSQL is
away (docs/reliability.md, "PostgreSQL away").

The eventsourcing library retries a failed read ten times, 0.2 s apart, each waiting
for a pooled connection: 2 s of sleeping, and ten pool timeouts, before the request can
even be answered 503. Here a read is tried twice at most and only if the first failure
was a connection PostgreSQL had closed (it restarted: the next pooled one may be alive);
a pool that cannot connect within its timeout is the answer itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg_pool import PoolTimeout

#: The library's read, without its decorator's retries (functools.wraps keeps it).
_select_events = PostgresAggregateRecorder.select_events.__wrapped__


class BoundedReads:
    """Mixed into a recorder: `select_events` as the library's, retried once at most."""

    def select_events(self, originator_id: UUID | str, **kwargs: Any) -> Sequence[StoredEvent]:
        try:
            events: Sequence[StoredEvent] = _select_events(self, originator_id, **kwargs)
        except (InterfaceError, OperationalError) as e:
            if isinstance(e.__cause__, PoolTimeout):
                raise
            events = _select_events(self, originator_id, **kwargs)
        return events


class SnapshotRecorder(BoundedReads, PostgresAggregateRecorder):
    """The snapshots' recorder: the library's, with reads that give up in time."""
