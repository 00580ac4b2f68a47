"""Row changes, as the handlers return them, applied to one generation of the views.

A batch is applied in three steps, inside the caller's transaction:

1. The rows the batch's handlers will read are fetched in one round trip (one query per
   table read, for every record of the batch that needs it) into memory.
2. Each event goes through every projection's handler in log order. Its changes to a
   table that is read are applied to the rows in memory too, so the next event's handler
   sees them; every change is queued as data.
3. Each projection's queue becomes statements (statements.py): the changes are put in
   levels, per table, so that a row appears once per level, and a level's changes of one
   shape are one statement over arrays (`unnest`), whatever their kind.

Projections write only their own tables and read no other's, so their statements
commute. This is the only place that turns changes into SQL: a faster applier (COPY and
one merge per table) replaces this module, never the handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from psycopg import Cursor

from careledger.consumers.folding import folded, keyed
from careledger.consumers.statements import runs, send
from careledger.projections import all_projections
from careledger.projections.envelope import Envelope
from careledger.projections.memory import MemoryTables, reads_of, typed
from careledger.projections.model import (
    Change,
    Handling,
    Insert,
    Projection,
    Read,
    Upsert,
)

log = logging.getLogger(__name__)

#: The unknown kinds this process has named in its log (once each).
_LOGGED: set[str] = set()


@dataclass
class Unknown:
    """Events of one kind no projection could place, in one batch."""

    events: int = 0
    first_position: int = 0
    last_position: int = 0


@dataclass
class Applied:
    statements: int = 0
    unknown: dict[str, Unknown] = field(default_factory=dict)

    def merge(self, other: Applied) -> None:
        self.statements += other.statements
        for kind, u in other.unknown.items():
            mine = self.unknown.setdefault(kind, Unknown(first_position=u.first_position))
            mine.events += u.events
            mine.first_position = min(mine.first_position, u.first_position)
            mine.last_position = max(mine.last_position, u.last_position)


class ViewApplier:
    """Applies the projections' changes for batches of envelopes to one schema."""

    def __init__(self, schema: str, projections: Sequence[Projection] | None = None) -> None:
        self.schema = schema
        self.projections = tuple(projections if projections is not None
                                 else all_projections())
        self._reads = reads_of(self.projections)
        self._read_tables = frozenset(r.table.name for r in self._reads)
        # Per stored topic, the projections that handle it (in order) and how: one look-up
        # per event, not one per projection.
        self._dispatch: dict[str, list[tuple[int, Handling]]] = {}
        for index, projection in enumerate(self.projections):
            for event in projection.handled:
                handling = projection.handling_of(event)
                self._dispatch.setdefault(event.TOPIC, []).append((index, handling))
        self._known = frozenset.intersection(*(
            frozenset(e.TOPIC for e in p.handled | p.ignored) for p in self.projections))

    def apply(self, cur: Cursor[Any], envelopes: Sequence[Envelope], *,
              reading: Reading | None = None,
              around: Callable[[Envelope], AbstractContextManager[Any]] | None = None
              ) -> Applied:
        """Apply the envelopes, in order; raise if a handler or a statement fails.

        `reading`: step 1, started earlier (`read`) for these envelopes or more, so that
        its queries share a round trip with the caller's. `around` wraps each event's
        handlers (the consumer's span per message)."""
        applied = Applied()
        memory, tracked = (reading or self.read(cur, envelopes)).rows()
        queues = self.plan(envelopes, memory, applied, tracked=tracked, around=around)
        for queue in queues:
            applied.statements += self.write(cur, queue)
        return applied

    def plan(self, envelopes: Sequence[Envelope], memory: MemoryTables, applied: Applied, *,
             tracked: Tracked | None = None,
             around: Callable[[Envelope], AbstractContextManager[Any]] | None = None
             ) -> list[list[Change]]:
        """Step 2: every projection's changes, in order, given the rows read.

        `tracked`: the rows in memory, by table (the read column and its values); a change
        to another row of a read table is left out of memory, since no handler of this
        batch will read it. None keeps every change to a read table in memory.
        """
        queues: list[list[Change]] = [[] for _ in self.projections]
        for envelope in envelopes:
            if around is None:
                self._handle(envelope, memory, queues, applied, tracked)
            else:
                with around(envelope):
                    self._handle(envelope, memory, queues, applied, tracked)
        return queues

    def memory(self) -> MemoryTables:
        """Empty tables for the rows the handlers read."""
        return MemoryTables([r.table for r in self._reads], self._reads)

    def _handle(self, envelope: Envelope, memory: MemoryTables, queues: list[list[Change]],
                applied: Applied, tracked: Tracked | None) -> None:
        if envelope.type not in self._known:
            self._unknown(applied, envelope)
        for index, handling in self._dispatch.get(envelope.type, ()):
            rows = [memory.read(r, envelope.aggregate_id) for r in handling.reads]
            queue = queues[index]
            for change in handling.handler(envelope, *rows):
                if change.table.name in self._read_tables and _kept(change, tracked):
                    memory.apply(change)
                queue.append(change)

    # ------------------------------------------------------------------ step 1: reads

    def wanted(self, envelopes: Sequence[Envelope]) -> dict[Read, set[Any]]:
        """The rows the batch's handlers will read: per read, the record ids."""
        wanted: dict[Read, set[Any]] = {}
        for envelope in envelopes:
            for _index, handling in self._dispatch.get(envelope.type, ()):
                for read in handling.reads:
                    wanted.setdefault(read, set()).add(envelope.aggregate_id)
        return wanted

    def read(self, cur: Cursor[Any], envelopes: Sequence[Envelope]) -> Reading:
        """Step 1, started: the queries are sent, their rows fetched by `Reading.rows`.

        In a pipeline nothing waits until then, so a caller can queue its own queries
        beside these and pay one round trip for all."""
        wanted = self.wanted(envelopes)
        tracked: Tracked = {read.table.name: (read.column, ids) for read, ids in wanted.items()}
        pending = []
        for read, ids in wanted.items():
            reader = cur.connection.cursor()
            if len(ids) == 1:  # no array to bind for one record (one event per transaction)
                reader.execute(_select_one(self.schema, read.table.name, read.column), (*ids,))
            else:
                reader.execute(_select(self.schema, read.table.name, read.column), ([*ids],))
            pending.append((read, reader))
        return Reading(self.memory(), tracked, pending)

    # ------------------------------------------------------------------ unknown kinds

    def _unknown(self, applied: Applied, envelope: Envelope) -> None:
        seen = applied.unknown.get(envelope.kind)
        if seen is not None and seen.last_position == envelope.position:
            return  # counted once per event, whichever projection found it
        if seen is None:
            seen = applied.unknown[envelope.kind] = Unknown(first_position=envelope.position)
        seen.events += 1
        seen.last_position = envelope.position
        if envelope.kind not in _LOGGED:
            _LOGGED.add(envelope.kind)
            log.warning("views: %s (first at position %d) is a kind of event this version "
                        "does not know; counted in `careledger status`, not applied",
                        envelope.kind, envelope.position)

    # ------------------------------------------------------------------ step 3: SQL

    def write(self, cur: Cursor[Any], changes: list[Change]) -> int:
        """A projection's changes as statements: one per level and shape (statements.py)."""
        batched = runs(folded(keyed(changes)))
        for run in batched:
            send(cur, self.schema, run)
        return len(batched)


#: The rows a batch holds in memory: per read table, the column read by and its values.
Tracked = dict[str, tuple[str, set[Any]]]


@dataclass
class Reading:
    """The reads of step 1, sent; `rows` waits for them (once) and loads them in memory."""

    memory: MemoryTables
    tracked: Tracked
    pending: list[tuple[Read, Cursor[Any]]]

    def rows(self) -> tuple[MemoryTables, Tracked]:
        for read, reader in self.pending:  # the first fetch sends every query at once
            rows = reader.fetchall()  # in a pipeline, the columns are known only after it
            names = [d.name for d in reader.description or ()]
            self.memory.load(read.table, (dict(zip(names, row, strict=True)) for row in rows))
            reader.close()
        self.pending = []
        return self.memory, self.tracked


def _kept(change: Change, tracked: Tracked | None) -> bool:
    """Whether a change to a read table concerns a row this batch's handlers will read."""
    if tracked is None:
        return True
    found = tracked.get(change.table.name)
    if found is None:
        return False  # no handler of this batch reads this table
    column, ids = found
    where = change.row if isinstance(change, Insert | Upsert) else change.key
    if column not in where:
        return True  # cannot tell: keep it
    return typed(change.table, column, where[column]) in ids


@cache
def _select(schema: str, table: str, column: str) -> str:
    return f'SELECT * FROM "{schema}".{table} WHERE {column} = ANY(%s)'


@cache
def _select_one(schema: str, table: str, column: str) -> str:
    return f'SELECT * FROM "{schema}".{table} WHERE {column} = %s'


def unknown_kinds_statement(schema: str) -> str:
    """Adds a batch's counts of events no projection could place to the table
    `careledger status` reads (in the batch's own transaction)."""
    return (f'INSERT INTO "{schema}".unknown_kinds (consumer, kind, events, first_position,'
            " last_position) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (consumer, kind)"
            f' DO UPDATE SET events = "{schema}".unknown_kinds.events + EXCLUDED.events,'
            f' last_position = greatest("{schema}".unknown_kinds.last_position,'
            " EXCLUDED.last_position), last_seen = now()")


def record_unknown(cur: Cursor[Any], schema: str, consumer: str, applied: Applied) -> None:
    if applied.unknown:
        cur.executemany(unknown_kinds_statement(schema), [
            (consumer, kind, u.events, u.first_position, u.last_position)
            for kind, u in applied.unknown.items()])
