"""Read models, one module each: their tables and their event handlers.

A projection turns envelopes into rows. It never decides anything and never reads
the event store: the consumer hands it events in log order per patient, inside the
transaction that also records how far it got, so a handler need not be idempotent on
its own; most are anyway (inserts keyed by log position or record id).

Tables live in one schema per generation (`careledger_views` is the live one), so a
rebuild can fill a fresh schema while the live one keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from psycopg import Cursor

from careledger.projections.envelope import Envelope

VIEWS_SCHEMA = "careledger_views"
#: Advisory lock held shared by each consumer batch, exclusively by a rebuild's switch.
VIEWS_LOCK = 0x0CA30

Handler = Callable[[Any, Envelope, Cursor[Any]], None]


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

    def apply(self, event: Envelope, cur: Cursor[Any]) -> None:
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(self, event, cur)

    def flush(self, cur: Cursor[Any]) -> None:
        """Write what handlers held back to write as one set; called before each commit.

        Only rows that no handler reads and whose order does not matter (keyed inserts)
        may wait here: everything else is written by the handler itself, in log order.
        """

    def discard(self) -> None:
        """Forget what was held back: its transaction is being rolled back."""


def apply_all(projections: Sequence[Projection], events: Iterable[Envelope],
              cur: Cursor[Any]) -> None:
    """Apply events in order to every projection, then write their held-back sets."""
    for projection in projections:
        projection.discard()
    for event in events:
        for projection in projections:
            projection.apply(event, cur)
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
