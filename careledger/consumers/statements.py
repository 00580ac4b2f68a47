"""A projection's row changes for one batch as few statements as keep their meaning.

Changes to different rows commute: no view table refers to another, none has a trigger
or a unique index beside its key. Only the order of the changes to one row matters. So a
batch's changes are put in *levels*, per table: a change goes one level above the last
change to its row, as low as that allows. Within a level each row appears once, so every
change of one shape there is one statement over arrays (`unnest`):

- inserts: `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`;
- upserts: the same with `ON CONFLICT (key) DO UPDATE ... WHERE position < EXCLUDED.position`
  (PostgreSQL refuses to change one row twice in one statement, which levels rule out);
- updates: `UPDATE ... FROM unnest(...) WHERE key = ...`;
- deletes: `DELETE ... USING unnest(...)`.

Five hundred sessions measuring the same few goals are a handful of statements, not
thousands of pipelined ones. A change that does not name its whole key (it may touch any
row of its table) is a wall: it gets a level of its own, after everything before it. A
shape with an array column (which `unnest` would flatten), and any change alone in its
level and shape, go as plain statements, one per change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from careledger.consumers.folding import Keyed
from careledger.projections.model import (
    Add,
    Change,
    Delete,
    IfUnset,
    Insert,
    Table,
    Update,
    Upsert,
)

#: What makes two changes one statement: their kind, table and columns.
Shape = tuple[Any, ...]


@dataclass
class Run:
    """Changes of one shape that one statement can carry."""

    shape: Shape
    changes: list[Change] = field(default_factory=list)


@dataclass
class _Levels:
    """Where the next change of one table may go."""

    index: int
    last: dict[tuple[Any, ...], int] = field(default_factory=dict)
    floor: int = 0
    top: int = -1


def runs(changes: Iterable[Keyed]) -> list[Run]:
    """The changes in levels, per table (tables in the order they first appear)."""
    tables: dict[str, _Levels] = {}
    grouped: dict[tuple[int, int, Shape], Run] = {}
    for change, key in changes:
        levels = tables.setdefault(change.table.name, _Levels(index=len(tables)))
        if key is None:  # may touch any row: after all before it, before all after it
            level = levels.top + 1
            levels.floor = level + 1
        else:
            level = max(levels.floor, levels.last.get(key[1], -1) + 1)
            levels.last[key[1]] = level
        levels.top = max(levels.top, level)
        shape = shape_of(change)
        run = grouped.get((levels.index, level, shape))
        if run is None:
            run = grouped[(levels.index, level, shape)] = Run(shape)
        run.changes.append(change)
    return [grouped[k] for k in sorted(grouped, key=lambda k: (k[0], k[1]))]


def shape_of(change: Change) -> Shape:
    if isinstance(change, Insert):
        return ("insert", change.table, tuple(change.row))
    if isinstance(change, Upsert):
        return ("upsert", change.table, tuple(change.row), change.update)
    if isinstance(change, Update):
        return ("update", change.table, tuple(change.key),
                tuple((k, _how(v)) for k, v in change.values.items()),
                change.position is not None)
    return ("delete", change.table, tuple(change.key))


def _how(value: Any) -> str:
    return "add" if isinstance(value, Add) else "unset" if isinstance(value, IfUnset) else "set"


def _plain(value: Any) -> Any:
    return value.amount if isinstance(value, Add) else (
        value.value if isinstance(value, IfUnset) else value)


def _columns_of(shape: Shape) -> tuple[str, ...]:
    """Every column a shape's statement takes a value for, in parameter order."""
    named: tuple[str, ...] = shape[2]
    if shape[0] in ("insert", "upsert", "delete"):
        return named
    return (*named, *(c for c, _ in shape[3]))


def bulk(shape: Shape) -> bool:
    """Whether a run of this shape can go as one statement over arrays."""
    types = shape[1].types
    return not any(types[c].endswith("[]") for c in _columns_of(shape))


def send(cur: Cursor[Any], schema: str, run: Run) -> None:
    """A run as one statement over arrays where it can go so, else one per change.

    A change alone in its level and shape goes plain: binding one-element arrays costs
    the driver several times what binding the values does (a consumer applying one
    event per transaction sends little else)."""
    shape = run.shape
    if bulk(shape) and len(run.changes) > 1:
        cur.execute(many(schema, shape), arrays(shape, run.changes))
    else:
        # Each queued in the caller's pipeline: `executemany` opens a pipeline of its own,
        # and a nested pipeline syncs when it ends, a round trip per run.
        statement = single(schema, shape)
        for change in run.changes:
            cur.execute(statement, params(shape, change))


def _newer_wins(target: str, shape: Shape) -> str:
    """An upsert's conflict clause: its columns taken over a row written earlier only."""
    taken = ", ".join(f"{c} = EXCLUDED.{c}" for c in shape[3])
    return (f" ON CONFLICT ({', '.join(shape[1].key)}) DO UPDATE SET {taken}"
            f" WHERE {target}.position < EXCLUDED.position")


# ---------------------------------------------------------------------- one per change


def _value(table: Table, column: str, value: Any) -> Any:
    if value is None:
        return None
    kind = table.types[column]
    if kind == "jsonb":
        return Jsonb(value)
    if kind == "uuid[]":
        return [str(v) for v in value]
    return value


def params(shape: Shape, change: Change) -> list[Any]:
    """One change's parameters for `single(shape)`."""
    table = change.table
    if isinstance(change, Insert | Upsert):
        return [_value(table, c, change.row[c]) for c in shape[2]]
    if isinstance(change, Update):
        values = [_value(table, k, _plain(v)) for k, v in change.values.items()]
        if change.position is not None:
            values.append(change.position)
        values += [change.key[k] for k in shape[2]]
        if change.position is not None:
            values.append(change.position)
        return values
    assert isinstance(change, Delete)
    return [change.key[k] for k in shape[2]]


@cache
def single(schema: str, shape: Shape) -> str:
    """The statement for one change of a shape (run once per change)."""
    kind, table = shape[0], shape[1]
    target = f'"{schema}".{table.name}'
    types = table.types
    if kind in ("insert", "upsert"):
        columns: tuple[str, ...] = shape[2]
        names = ", ".join(columns)
        row = ", ".join(f"%s::{types[c]}" for c in columns)
        if kind == "insert":
            return f"INSERT INTO {target} ({names}) VALUES ({row}) ON CONFLICT DO NOTHING"
        return f"INSERT INTO {target} ({names}) VALUES ({row}){_newer_wins(target, shape)}"
    key: tuple[str, ...] = shape[2]
    where = [f"{k} = %s::{types[k]}" for k in key]
    if kind == "delete":
        return f"DELETE FROM {target} WHERE {' AND '.join(where)}"
    sets = [f"{c} = {c} + %s" if how == "add"
            else f"{c} = coalesce({c}, %s::{types[c]})" if how == "unset"
            else f"{c} = %s::{types[c]}" for c, how in shape[3]]
    if shape[4]:  # guarded by log position
        sets.append("position = %s")
        where.append("position < %s")
    return f"UPDATE {target} SET {', '.join(sets)} WHERE {' AND '.join(where)}"


# ---------------------------------------------------------------------- one per run


def arrays(shape: Shape, run: Sequence[Change]) -> list[list[Any]]:
    """A run's values as one array per column of `many(shape)`, in its order."""
    table: Table = shape[1]
    kind = shape[0]
    columns: list[list[Any]] = []
    if kind in ("insert", "upsert"):
        rows = [c.row for c in run if isinstance(c, Insert | Upsert)]
        columns = [_array(table, name, [r[name] for r in rows]) for name in shape[2]]
    elif kind == "delete":
        keys = [c.key for c in run if isinstance(c, Delete)]
        columns = [_array(table, name, [k[name] for k in keys]) for name in shape[2]]
    else:
        updates = [c for c in run if isinstance(c, Update)]
        columns = [_array(table, name, [u.key[name] for u in updates]) for name in shape[2]]
        columns += [_array(table, name, [_plain(u.values[name]) for u in updates])
                    for name, _ in shape[3]]
        if shape[4]:
            columns.append([u.position for u in updates])
    return columns


def _array(table: Table, column: str, values: list[Any]) -> list[Any]:
    if table.types[column] == "jsonb":
        return [None if v is None else Jsonb(v) for v in values]
    # Sent as they are when all are of one type (or NULL); a list mixing types (a UUID
    # and its text, a date and its ISO form, 1 and 1.5) goes as text, which the server
    # casts to the column's type.
    first = None
    for v in values:
        if v is not None:
            if first is None:
                first = type(v)
            elif type(v) is not first:
                return [None if x is None else str(x) for x in values]
    return values


@cache
def many(schema: str, shape: Shape) -> str:
    """The statement for a whole run of a shape, its values in arrays (`arrays`)."""
    kind, table = shape[0], shape[1]
    target = f'"{schema}".{table.name}'
    types = table.types
    columns = _columns_of(shape)
    typed = [f"%b::{types[c]}[]" for c in columns]
    if kind in ("insert", "upsert"):
        names = ", ".join(columns)
        head = f"INSERT INTO {target} ({names}) SELECT * FROM unnest({', '.join(typed)})"
        if kind == "insert":
            return f"{head} ON CONFLICT DO NOTHING"
        return head + _newer_wins(target, shape)
    key: tuple[str, ...] = shape[2]
    given = [f"_{i}" for i in range(len(columns))]
    where = [f"t.{k} = v.{given[i]}" for i, k in enumerate(key)]
    if kind == "delete":
        return (f"DELETE FROM {target} AS t USING unnest({', '.join(typed)})"
                f" AS v({', '.join(given)}) WHERE {' AND '.join(where)}")
    sets = []
    for i, (c, how) in enumerate(shape[3], start=len(key)):
        sets.append(f"{c} = t.{c} + v.{given[i]}" if how == "add"
                    else f"{c} = coalesce(t.{c}, v.{given[i]})" if how == "unset"
                    else f"{c} = v.{given[i]}")
    if shape[4]:  # guarded by log position
        typed.append("%b::bigint[]")
        given.append("_position")
        sets.append("position = v._position")
        where.append("t.position < v._position")
    return (f"UPDATE {target} AS t SET {', '.join(sets)} FROM unnest({', '.join(typed)})"
            f" AS v({', '.join(given)}) WHERE {' AND '.join(where)}")
