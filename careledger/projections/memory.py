"""The views in memory: the same row changes applied to dictionaries, as PostgreSQL would.

Two uses. Tests run a seeded episode's events through every handler with no database and
compare the rows with the live views'. And the PostgreSQL applier keeps the rows a batch's
handlers read here: loaded once per batch, then changed by each event in turn, so a
handler sees what the events before it in the batch did, with no round trip.

Values are held as PostgreSQL hands them back (a UUID, a datetime, a date, a float), so
a handler reads the same types from either, and rows compare equal across the two.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

from careledger.projections.envelope import Envelope
from careledger.projections.model import (
    Add,
    Change,
    Delete,
    IfUnset,
    Insert,
    Projection,
    Read,
    Row,
    Table,
    Update,
    Upsert,
)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        raise TypeError("a date column was given a moment")
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


NORMALIZE: dict[str, Callable[[Any], Any]] = {
    "uuid": _uuid, "bigint": int, "integer": int, "double precision": float, "text": str,
    "boolean": bool, "date": _day, "timestamptz": _moment, "jsonb": _json,
    "text[]": lambda v: [str(x) for x in v], "uuid[]": lambda v: [_uuid(x) for x in v],
}


#: Values already of their column's type, as Python holds it (exact types: a datetime is
#: not a date, a bool not an integer): returned as they are, without a call per value.
_ALREADY: dict[str, type] = {"uuid": UUID, "bigint": int, "integer": int, "text": str,
                             "boolean": bool, "double precision": float, "date": date,
                             "timestamptz": datetime}


def typed(table: Table, column: str, value: Any) -> Any:
    """A value as PostgreSQL stores that column's type (None stays NULL)."""
    if value is None:
        return None
    kind = table.types[column]
    if type(value) is _ALREADY.get(kind):
        return value
    return NORMALIZE[kind](value)


#: A row of the views: its table's name and its (typed) key.
RowKey = tuple[str, tuple[Any, ...]]


def row_key(change: Change) -> RowKey | None:
    """The table and the (typed) key of the row a change is to, if it names all of it."""
    table = change.table
    where = change.row if isinstance(change, Insert | Upsert) else change.key
    if any(k not in where for k in table.key):
        return None
    return table.name, tuple(typed(table, k, where[k]) for k in table.key)


class MemoryTables:
    """Rows by table and key, with an index per column the handlers read by."""

    def __init__(self, tables: Iterable[Table], indexed: Iterable[Read] = ()) -> None:
        self.rows: dict[str, dict[tuple[Any, ...], Row]] = {t.name: {} for t in tables}
        # Keys by the value of each column read by, in the order the rows arrived.
        self._index: dict[tuple[str, str], defaultdict[Any, dict[tuple[Any, ...], None]]] = {
            (r.table.name, r.column): defaultdict(dict) for r in indexed}

    # ------------------------------------------------------------------ reading

    def read(self, read: Read, value: Any) -> list[Row]:
        """The rows a handler asked for, in the order they arrived (copies: a handler
        may not change them)."""
        index = self._index[(read.table.name, read.column)]
        table = self.rows[read.table.name]
        return [dict(table[k]) for k in index.get(typed(read.table, read.column, value), ())]

    def load(self, table: Table, rows: Iterable[Row]) -> None:
        """Rows as PostgreSQL returned them (already typed)."""
        for row in rows:
            self._put(table, table.key_of(row), dict(row))

    # ------------------------------------------------------------------ changing

    def apply(self, change: Change) -> None:
        table = change.table
        if isinstance(change, Insert | Upsert):
            row = self._full(table, change.row)
            key = table.key_of(row)
            existing = self.rows[table.name].get(key)
            if existing is None:
                self._put(table, key, row)
            elif isinstance(change, Upsert) and existing["position"] < row["position"]:
                for column in change.update:
                    existing[column] = row[column]
        elif isinstance(change, Update):
            key = tuple(typed(table, k, change.key[k]) for k in table.key)
            existing = self.rows[table.name].get(key)
            if existing is None:
                return
            if change.position is not None:
                if existing["position"] >= change.position:
                    return
                existing["position"] = change.position
            for column, value in change.values.items():
                if isinstance(value, Add):
                    if existing[column] is not None:
                        existing[column] = existing[column] + value.amount
                elif isinstance(value, IfUnset):
                    if existing[column] is None:
                        existing[column] = typed(table, column, value.value)
                else:
                    existing[column] = typed(table, column, value)
        elif isinstance(change, Delete):
            key = tuple(typed(table, k, change.key[k]) for k in table.key)
            removed = self.rows[table.name].pop(key, None)
            if removed is not None:
                for (name, column), index in self._index.items():
                    if name == table.name:
                        index[removed[column]].pop(key, None)

    def _full(self, table: Table, given: Mapping[str, Any]) -> Row:
        if not given.keys() <= table.types.keys():
            unknown = set(given) - set(table.types)
            raise KeyError(f"{table.name} has no column {sorted(unknown)}")
        row: Row = {}
        for name, already, normalize, default in _columns(table):  # `typed`, inlined
            if name in given:
                value = given[name]
                row[name] = (value if value is None or type(value) is already
                             else normalize(value))
            else:
                row[name] = list(default) if type(default) is list else default
        return row

    def _put(self, table: Table, key: tuple[Any, ...], row: Row) -> None:
        self.rows[table.name][key] = row
        for (name, column), index in self._index.items():
            if name == table.name:
                index[row[column]][key] = None


@cache
def _columns(table: Table) -> tuple[tuple[str, type | None, Callable[[Any], Any], Any], ...]:
    """Per column of a table: its name, the type its values already have, how to make one
    of another type so, and its default: what `typed` looks up per value, looked up once
    (a full row is made for every insert the batch keeps in memory)."""
    return tuple((c.name, _ALREADY.get(c.type), NORMALIZE[c.type], c.default)
                 for c in table.columns)


def changes_of(projection: Projection, envelope: Envelope,
               read: Callable[[Read, Any], list[Row]]) -> Iterable[Change]:
    """What one projection makes of one event, given how to read its rows."""
    handling = projection.handling(envelope)
    if handling is None:
        return ()
    rows = [read(r, envelope.aggregate_id) for r in handling.reads]
    return handling.handler(envelope, *rows)


class MemoryViews:
    """Every table of some projections in memory, fed envelopes in log order."""

    def __init__(self, projections: Sequence[Projection]) -> None:
        self.projections = list(projections)
        self.tables = MemoryTables([t for p in self.projections for t in p.tables],
                                   reads_of(self.projections))

    def apply(self, envelopes: Iterable[Envelope]) -> None:
        for envelope in envelopes:
            for projection in self.projections:
                for change in changes_of(projection, envelope, self.tables.read):
                    self.tables.apply(change)

    def rows(self, table: str) -> list[Row]:
        return list(self.tables.rows[table].values())


def reads_of(projections: Iterable[Projection]) -> list[Read]:
    """Every read any handler of these projections makes."""
    return sorted({r for p in projections for r in p.reads()},
                  key=lambda r: (r.table.name, r.column))
