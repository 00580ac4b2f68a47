"""What a projection is made of: tables, and handlers that return row changes as data.

A handler is a pure function of one event (and of the rows of its own tables it asks to
read, if any) to the changes it makes: rows to insert, rows to insert or update, keyed
updates guarded by log position, deletes. It never touches a database. An applier turns
the changes into statements (`careledger/consumers/applier.py`, for PostgreSQL, in bulk
for a whole batch) or into rows in memory (`memory.py`, for tests and for the reads a
batch needs); both read the same data, so a handler is tested without PostgreSQL and
its rows are the ones the live views hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from careledger.domain.catalogue import EVENTS
from careledger.domain.events import CareEvent
from careledger.projections.envelope import Envelope

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A column: its PostgreSQL type, what else its definition says (NOT NULL, a DEFAULT,
    a CHECK), and the value a row takes when an insert leaves it out (the DEFAULT's)."""

    name: str
    type: str
    constraint: str = ""
    default: Any = field(default=None, compare=False)

    def ddl(self) -> str:
        return f"{self.name} {self.type} {self.constraint}".rstrip()


@dataclass(frozen=True, eq=False)
class Table:
    """A table of the views, in every generation's schema (`{v}` in an index names it).

    Each is declared once, as a module constant: one is equal only to itself."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[str, ...] = ()
    types: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", {c.name: c.type for c in self.columns})
        missing = [k for k in self.key if k not in self.types]
        if missing:
            raise ValueError(f"{self.name}: key columns {missing} are not columns")

    def ddl(self) -> str:
        body = ",\n  ".join([*(c.ddl() for c in self.columns),
                             f"PRIMARY KEY ({', '.join(self.key)})"])
        statements = [f"CREATE TABLE IF NOT EXISTS {{v}}.{self.name} (\n  {body}\n);"]
        statements += [f"{index};" for index in self.indexes]
        return "\n".join(statements)

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.key)


# ---------------------------------------------------------------------- the changes


@dataclass(frozen=True, slots=True)
class Add:
    """A column's value plus this (a counter); the only value computed from the row."""

    amount: int | float


@dataclass(frozen=True, slots=True)
class IfUnset:
    """This value, unless the column already holds one (a first time, kept)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Insert:
    """A new row; if its key is taken, nothing happens (a redelivered event)."""

    table: Table
    row: Row


@dataclass(frozen=True, slots=True)
class Upsert:
    """A new row; if its key is taken, these columns take the row's values, but only over
    a row written at an earlier log position (`position` is one of the row's columns)."""

    table: Table
    row: Row
    update: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Update:
    """The row with this key takes these values. With a `position`, only a row written
    earlier changes, and it is stamped with that position; without, it changes anyway."""

    table: Table
    key: Row
    values: Mapping[str, Any]
    position: int | None


@dataclass(frozen=True, slots=True)
class Delete:
    table: Table
    key: Row


Change = Insert | Upsert | Update | Delete


@dataclass(frozen=True)
class Read:
    """The rows of one of the projection's own tables whose `column` is the event's
    record id (`aggregate_id`): what a handler needs to know of earlier events."""

    table: Table
    column: str


Handler = Callable[..., Iterable[Change]]


@dataclass(frozen=True)
class Handling:
    handler: Handler
    reads: tuple[Read, ...]


class Projection:
    """One read model: its tables, its handlers keyed by event class, and the events it
    declares it has nothing to do with. Each event of the domain is one or the other
    (a test holds every projection to that)."""

    def __init__(self, name: str, tables: Sequence[Table],
                 ignores: Iterable[type[CareEvent]] = ()) -> None:
        self.name = name
        self.tables = tuple(tables)
        self.ignored: frozenset[type[CareEvent]] = frozenset(ignores)
        self._handling: dict[type[CareEvent], Handling] = {}
        self._by_topic: dict[str, Handling] = {}
        self._ignored_topics = frozenset(e.TOPIC for e in self.ignored)

    def handles(self, *events: type[CareEvent], reads: Sequence[Read] = ()
                ) -> Callable[[Handler], Handler]:
        """Register a handler for some events: `handler(envelope, *rows_read)`."""
        for read in reads:
            if read.table not in self.tables:
                raise ValueError(f"{self.name} reads {read.table.name}, a table not its own")

        def register(handler: Handler) -> Handler:
            for event in events:
                if event in self._handling or event in self.ignored:
                    raise ValueError(f"{self.name}: {event.KIND} is declared twice")
                self._handling[event] = self._by_topic[event.TOPIC] = Handling(
                    handler, tuple(reads))
            return handler

        return register

    @property
    def handled(self) -> frozenset[type[CareEvent]]:
        return frozenset(self._handling)

    def reads(self) -> frozenset[Read]:
        """Every read its handlers make."""
        return frozenset(r for h in self._handling.values() for r in h.reads)

    def handling_of(self, event: type[CareEvent]) -> Handling:
        return self._handling[event]

    def handling(self, envelope: Envelope) -> Handling | None:
        return self._by_topic.get(envelope.type)

    def knows(self, envelope: Envelope) -> bool:
        """Handled or declared ignored: anything else is an event this version cannot
        place (a newer writer's), which the projector counts instead of dropping."""
        return envelope.type in self._by_topic or envelope.type in self._ignored_topics

    def unplaced(self) -> list[type[CareEvent]]:
        """The domain's events this projection neither handles nor ignores."""
        return [e for e in EVENTS if e not in self._handling and e not in self.ignored]

    def ddl(self, schema: str) -> str:
        """Its tables, and every column added to a generation built before it was."""
        added = [f"ALTER TABLE {{v}}.{t.name} ADD COLUMN IF NOT EXISTS {c.ddl()};"
                 for t in self.tables for c in t.columns if "NOT NULL" not in c.constraint]
        return "\n".join([*(t.ddl() for t in self.tables), *added]).replace("{v}", schema)
