"""Read models, one module each: their tables and their event handlers.

A projection turns envelopes into rows. It never decides anything and never reads
the event store: the consumer hands it events in log order per patient, inside the
transaction that also records how far it got, so a handler need not be idempotent on
its own; most are anyway (inserts keyed by log position or record id).

Tables live in one schema per generation (`careledger_views` is the live one), so a
rebuild can fill a fresh schema while the live one keeps serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from psycopg import Cursor

from careledger.projections.envelope import Envelope

VIEWS_SCHEMA = "careledger_views"
#: Advisory lock held shared by each consumer batch, exclusively by a rebuild's switch.
VIEWS_LOCK = 0x0CA30
#: How long a reader may go on using the generation it last looked up. A rebuild waits
#: longer than this after its switch before it returns or drops the generation it
#: replaced, so no reader is left pointing at one that is gone.
GENERATION_TTL_S = 1.0



class Writes:
    """One projection's statements for a batch, kept in order and sent at its end.

    Each projection writes only its own tables and reads no other's, so the statements
    of different projections commute and each projection's may wait for the end of the
    batch. Within one projection the order is kept; a run of the same statement goes as
    one `executemany`, which psycopg sends in a single pipeline without re-preparing.
    """

    def __init__(self) -> None:
        self.statements: list[tuple[str, Sequence[Any]]] = []

    def execute(self, query: str, params: Sequence[Any]) -> None:
        self.statements.append((query, params))

    def send(self, cur: Cursor[Any]) -> None:
        statements, self.statements = self.statements, []
        start = 0
        while start < len(statements):
            query = statements[start][0]
            end = start + 1
            while end < len(statements) and statements[end][0] is query:
                end += 1
            if end - start == 1:
                cur.execute(query, statements[start][1])
            else:
                cur.executemany(query, [params for _, params in statements[start:end]])
            start = end


Handler = Callable[[Any, Envelope, Writes], None]


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of some event kinds (`Referral.Made`)."""

    def mark(method: Handler) -> Handler:
        method.__dict__.setdefault("_kinds", []).extend(kinds)
        return method

    return mark


class Projection:
    """One read model: `DDL` (with `{v}` for its schema) and `@handles` methods."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    DDL: ClassVar[str]
    _handlers: ClassVar[dict[str, Handler]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._handlers = {}
        for value in vars(cls).values():
            for kind in getattr(value, "_kinds", ()):
                cls._handlers[kind] = value

    def __init__(self, schema: str = VIEWS_SCHEMA) -> None:
        self.schema = schema
        self._sql: dict[str, str] = {}
        self.writes = Writes()

    def sql(self, text: str) -> str:
        """The statement with `{v}` naming this generation's schema (formatted once)."""
        cached = self._sql.get(text)
        if cached is None:
            cached = self._sql[text] = text.replace("{v}", self.schema)
        return cached

    def ddl(self) -> str:
        return self.DDL.replace("{v}", self.schema)

    def wants(self, kind: str) -> bool:
        return kind in self._handlers

    def apply(self, event: Envelope) -> None:
        """Hold the event's statements; `flush` sends them."""
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(self, event, self.writes)

    def flush(self, cur: Cursor[Any]) -> None:
        """Send the held statements, in the transaction that records how far it got."""
        self.writes.send(cur)

    def discard(self) -> None:
        """Forget what was held: its transaction is being rolled back."""
        self.writes.statements.clear()


def apply_all(projections: Sequence[Projection], events: Iterable[Envelope],
              cur: Cursor[Any]) -> None:
    """Apply events in order to every projection, then write their held-back sets."""
    for projection in projections:
        projection.discard()
    for event in events:
        for projection in projections:
            projection.apply(event)
    for projection in projections:
        projection.flush(cur)


def live_generation(conn: Any) -> tuple[str, int]:
    """The live generation's schema, and the log position its replay stopped at."""
    row = conn.execute(
        "SELECT schema, floor_position FROM careledger.view_generations WHERE name = 'live'"
    ).fetchone()
    if row is None:
        raise RuntimeError("no live generation of the views: run `careledger migrate` first")
    return str(row[0]), int(row[1])


class LiveGenerations:
    """The live generation's schema as a reader sees it: looked up once a second.

    Every read used to ask PostgreSQL first (a round trip and a statement per request,
    for a name that changes only when an operator rebuilds). Now a process asks at most
    once per GENERATION_TTL_S; after a switch its reads come from the replaced
    generation, complete up to the switch, for at most that long. A reader that waits
    for a position (read your own writes) asks again while it waits.
    """

    def __init__(self, ttl_s: float = GENERATION_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: tuple[str, float] | None = None  # (schema, when it was looked up)

    def schema(self, conn: Any) -> str:
        known, now = self._known, self._clock()
        if known is not None and now - known[1] < self._ttl_s:
            return known[0]
        schema = live_generation(conn)[0]
        self._known = (schema, now)  # one assignment: threads see the old or the new
        return schema

    def forget(self) -> None:
        self._known = None


def all_projections(schema: str = VIEWS_SCHEMA) -> list[Projection]:
    from careledger.projections.billing import Billing
    from careledger.projections.care_team import CareTeam
    from careledger.projections.caseload import Caseload
    from careledger.projections.directory import Directory
    from careledger.projections.goals import Goals
    from careledger.projections.timeline import Timeline
    from careledger.projections.worklist import Worklist

    return [Timeline(schema), CareTeam(schema), Caseload(schema), Worklist(schema),
            Goals(schema), Directory(schema), Billing(schema)]
