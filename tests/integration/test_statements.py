"""A batch's changes, sent as few statements, leave the rows that one statement per
change, in order, would: on the real PostgreSQL, and in memory.

Random sequences over a handful of rows make what a replay makes often and a test of
handlers rarely: one row changed many times in a batch, upserts over rows written
earlier or later, counters, first-time values, changes naming only part of a key (which
may touch any row), keys given as text beside the same keys as UUIDs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg.rows import dict_row

from careledger.consumers.applier import ViewApplier
from careledger.consumers.statements import params, shape_of, single
from careledger.main import bootstrap
from careledger.projections.memory import MemoryTables
from careledger.projections.model import (
    Add,
    Change,
    Column,
    Delete,
    IfUnset,
    Insert,
    Projection,
    Table,
    Update,
    Upsert,
)

TRIAL = Table("trial_rows", (
    Column("owner", "uuid", "NOT NULL"),
    Column("item", "text", "NOT NULL"),
    Column("note", "text"),
    Column("visits", "integer", "NOT NULL DEFAULT 0", default=0),
    Column("first_seen", "timestamptz"),
    Column("detail", "jsonb"),
    Column("score", "double precision"),
    Column("position", "bigint", "NOT NULL"),
), key=("owner", "item"))

TRIAL_VIEW = Projection("trial", [TRIAL])
OWNERS = [uuid4() for _ in range(3)]
ITEMS = ["a", "b", "c"]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Script:
    """Random changes in log order. An Insert only ever names a row no change named
    before it, as in the views, where an Insert makes the row of a new record."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.position = 0
        self.named: set[tuple[UUID, str]] = set()

    def key(self) -> tuple[UUID, str]:
        return self.rng.choice(OWNERS), self.rng.choice(ITEMS)

    def owner(self, owner: UUID) -> UUID | str:
        return str(owner) if self.rng.random() < 0.3 else owner

    def change(self) -> Change:
        rng = self.rng
        self.position += rng.randint(1, 3)
        owner, item = self.key()
        self.named.add((owner, item))
        given = {"owner": self.owner(owner), "item": item}
        roll = rng.random()
        if roll < 0.2:
            fresh = [(o, i) for o in OWNERS for i in ITEMS if (o, i) not in self.named]
            if fresh:
                owner, item = rng.choice(fresh)
                self.named.add((owner, item))
                return Insert(TRIAL, {"owner": self.owner(owner), "item": item,
                                      "note": f"made at {self.position}",
                                      "detail": {"n": self.position},
                                      "position": self.position})
        if roll < 0.4:
            return Upsert(TRIAL, {**given, "note": f"upserted at {self.position}",
                                  "score": rng.choice([1, 2.5, None]),
                                  "position": self.position - rng.randint(0, 4)},
                          update=("note", "score", "position"))
        if roll < 0.85:
            values: dict[str, Any] = {}
            if rng.random() < 0.6:
                values["visits"] = Add(rng.randint(1, 2))
            if rng.random() < 0.4:
                values["first_seen"] = IfUnset(START + timedelta(minutes=self.position))
            if rng.random() < 0.4 or not values:
                values["note"] = f"updated at {self.position}"
            if rng.random() < 0.2:
                values["detail"] = {"at": self.position, "items": [item]}
            if rng.random() < 0.15:  # part of the key only: any of the owner's rows
                return Update(TRIAL, {"owner": given["owner"]}, values, None)
            guarded = rng.random() < 0.7
            return Update(TRIAL, given, values,
                          self.position - rng.randint(0, 4) if guarded else None)
        return Delete(TRIAL, given)


@pytest.fixture(scope="module")
def conn(db: bootstrap.Database) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db.admin_url) as connection:
        yield connection


def rows(cur: psycopg.Cursor[Any], schema: str) -> list[dict[str, Any]]:
    cur.execute(f'SELECT * FROM "{schema}".trial_rows ORDER BY owner, item')
    return list(cur.fetchall())


def one_by_one(cur: psycopg.Cursor[Any], schema: str, changes: list[Change]) -> None:
    """The plain meaning: each change, alone, in order."""
    for change in changes:
        shape = shape_of(change)
        cur.execute(single(schema, shape), params(shape, change))


@pytest.mark.parametrize("seed", range(60))
def test_a_batch_as_few_statements_leaves_the_rows_one_statement_each_would(
        conn: psycopg.Connection[Any], seed: int) -> None:
    script = Script(seed)
    batches = [[script.change() for _ in range(script.rng.randint(1, 40))]
               for _ in range(4)]
    memory = MemoryTables([TRIAL])
    with conn.transaction(force_rollback=True), conn.cursor(row_factory=dict_row) as cur:
        for schema in ("trial_batched", "trial_plain"):
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
            cur.execute(TRIAL_VIEW.ddl(f'"{schema}"'))
        applier = ViewApplier("trial_batched", [TRIAL_VIEW])
        sent = 0
        whole_keys = True  # memory, like the handlers, knows rows only by their key
        for batch in batches:
            sent += applier.write(cur, batch)
            one_by_one(cur, "trial_plain", batch)
            for change in batch:
                if isinstance(change, Update) and "item" not in change.key:
                    whole_keys = False
                elif whole_keys:
                    memory.apply(change)
            assert rows(cur, "trial_batched") == rows(cur, "trial_plain")
        if whole_keys:
            in_memory = sorted(memory.rows["trial_rows"].values(),
                               key=lambda r: (r["owner"], r["item"]))
            assert rows(cur, "trial_batched") == in_memory
        assert sent <= sum(len(b) for b in batches)


def test_five_hundred_visits_to_a_few_goals_are_a_few_statements(
        conn: psycopg.Connection[Any]) -> None:
    """What the levels are for: one row changed by each of many events in a batch."""
    owner = uuid4()
    made = [Upsert(TRIAL, {"owner": owner, "item": item, "note": "planned", "position": 1},
                   update=("note", "position")) for item in ITEMS]
    visits: list[Change] = [
        Update(TRIAL, {"owner": owner, "item": ITEMS[n % 3]},
               {"visits": Add(1), "note": f"visit {n}"}, 2 + n) for n in range(500)]
    with conn.transaction(force_rollback=True), conn.cursor(row_factory=dict_row) as cur:
        cur.execute('DROP SCHEMA IF EXISTS "trial_many" CASCADE; CREATE SCHEMA "trial_many"')
        cur.execute(TRIAL_VIEW.ddl('"trial_many"'))
        sent = ViewApplier("trial_many", [TRIAL_VIEW]).write(cur, made + visits)
        assert sent == 1 + 500 // 3 + 1  # the upserts, then one statement per level
        assert [(r["item"], r["visits"], r["note"]) for r in rows(cur, "trial_many")] == [
            ("a", 167, "visit 498"), ("b", 167, "visit 499"), ("c", 166, "visit 497")]
