"""A row made in a batch is written once, as the batch leaves it (consumers/applier.py)."""

from __future__ import annotations

from careledger.projections.memory import MemoryTables, RowKey, row_key
from careledger.projections.model import Change, Delete, Insert

#: A change and the key of the row it is to (None: it does not name its whole key).
Keyed = tuple[Change, RowKey | None]


def keyed(changes: list[Change]) -> list[Keyed]:
    return [(c, row_key(c)) for c in changes]


def folded(changes: list[Keyed]) -> list[Keyed]:
    """A row inserted in this batch is written once, as the batch leaves it.

    An Insert creates its row (its key is its record's own id): were the key taken, the
    event would have been applied before, which the tracking rules out within a batch.
    So the changes that follow it to the same row (updates, upserts) are applied to it
    in memory, with the very rules PostgreSQL's statements follow (memory.py), and the
    Insert carries the result: in a replay, most rows are made and changed in one
    batch. A delete of such a row ends its folding, and a change that does not name its
    whole key (it may touch any row) ends the folding of its table: each is sent as it
    came, after the Inserts carrying what came before it.
    """
    inserting = {c.table.name for c, _ in changes if isinstance(c, Insert)}
    changed = {key for c, key in changes if key is not None and key[0] in inserting
               and not isinstance(c, Insert)}
    if not changed:
        return changes
    tables = {name for name, _ in changed}
    scratch = MemoryTables({c.table for c, _ in changes if c.table.name in tables})
    born: dict[RowKey, int] = {}
    out: list[Keyed] = []
    for change, key in changes:
        table = change.table
        if table.name not in tables:
            out.append((change, key))
            continue
        if isinstance(change, Insert):
            if (key is not None and key in changed and key not in born
                    and key[1] not in scratch.rows[table.name]):
                scratch.apply(change)
                born[key] = len(out)
            out.append((change, key))
            continue
        if key is None:  # may touch any row of the table: what is folded so far is sent
            for row in [k for k in born if k[0] == table.name]:
                at = born.pop(row)
                out[at] = (Insert(table, dict(scratch.rows[row[0]][row[1]])), row)
        elif key in born:
            if not isinstance(change, Delete):
                scratch.apply(change)
                continue
            at = born.pop(key)
            out[at] = (Insert(table, dict(scratch.rows[table.name][key[1]])), key)
        out.append((change, key))
    for key, at in born.items():
        out[at] = (Insert(out[at][0].table, dict(scratch.rows[key[0]][key[1]])), key)
    return out
