"""A row made in a batch is written once, as the batch leaves it (consumers/applier.py)."""

from __future__ import annotations

from typing import Any

from careledger.projections.memory import MemoryTables, typed
from careledger.projections.model import Change, Delete, Insert, Upsert


def folded(changes: list[Change]) -> list[Change]:
    """A row inserted in this batch is written once, as the batch leaves it.

    An Insert creates its row (its key is its record's own id): were the key taken, the
    event would have been applied before, which the tracking rules out within a batch.
    So the changes that follow it to the same row (updates, upserts) are applied to it
    in memory, with the very rules PostgreSQL's statements follow (memory.py), and the
    Insert carries the result: in a replay, most rows are made and changed in one
    batch. A delete of such a row ends the folding: it is sent as it came.
    """
    inserting = {c.table.name for c in changes if isinstance(c, Insert)}
    changed = {key for c in changes if not isinstance(c, Insert)
               and c.table.name in inserting and (key := _row_key(c)) is not None}
    if not changed:
        return changes
    tables = {name for name, _ in changed}
    scratch = MemoryTables({c.table for c in changes if c.table.name in tables})
    born: dict[tuple[str, tuple[Any, ...]], int] = {}
    out: list[Change] = []
    for change in changes:
        table = change.table
        if table.name not in tables:
            out.append(change)
            continue
        if isinstance(change, Insert):
            key = _row_key(change)
            if (key is not None and key in changed and key not in born
                    and key[1] not in scratch.rows[table.name]):
                scratch.apply(change)
                born[key] = len(out)
            out.append(change)
            continue
        key = _row_key(change)
        if key is not None and key in born:
            if not isinstance(change, Delete):
                scratch.apply(change)
                continue
            at = born.pop(key)
            out[at] = Insert(table, dict(scratch.rows[table.name][key[1]]))
        out.append(change)
    for (name, key), at in born.items():
        out[at] = Insert(out[at].table, dict(scratch.rows[name][key]))
    return out


def _row_key(change: Change) -> tuple[str, tuple[Any, ...]] | None:
    """The table and the (typed) key of the row a change is to, if it names all of it."""
    table = change.table
    where = change.row if isinstance(change, Insert | Upsert) else change.key
    if any(k not in where for k in table.key):
        return None
    return table.name, tuple(typed(table, k, where[k]) for k in table.key)
