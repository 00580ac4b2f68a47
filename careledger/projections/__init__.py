"""Read models, one module each: their tables and their handlers, keyed by event class.

A projection turns envelopes into row changes (`model.py`): it never decides anything,
never reads the event store, and never touches a database itself. The consumer hands
it events in log order per patient and applies what it returns inside the transaction
that also records how far it got, so a handler need not be idempotent on its own; most
are anyway (inserts keyed by log position or record id, updates guarded by position).

Tables live in one schema per generation (`careledger_views` is the live one), so a
rebuild can fill a fresh schema while the live one keeps serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from careledger.projections.model import Projection

VIEWS_SCHEMA = "careledger_views"
#: Advisory lock held shared by each consumer batch, exclusively by a rebuild's switch.
VIEWS_LOCK = 0x0CA30
#: How long a reader may go on using the generation it last looked up. A rebuild waits
#: longer than this after its switch before it returns or drops the generation it
#: replaced, so no reader is left pointing at one that is gone.
GENERATION_TTL_S = 1.0
#: What the handlers make of the log. Raised when a handler makes something else of
#: events already stored (2: amendments change the values the views hold), so that a
#: generation built by an earlier release is known to want a rebuild. A new table or
#: column filled by a backfill (infra/backfills.py) does not raise it. (3: a billing line
#: the 8-minute rule gives no units is kept, with its minutes.)
VIEWS_VERSION = 3


def views_version(conn: Any) -> int:
    """The version of the handlers that built the live generation."""
    row = conn.execute(
        "SELECT views_version FROM careledger.view_generations WHERE name = 'live'").fetchone()
    return int(row[0]) if row else VIEWS_VERSION


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


def all_projections() -> tuple[Projection, ...]:
    """Every read model, in the order their statements are sent."""
    from careledger.projections.billing import billing
    from careledger.projections.care_team import care_team
    from careledger.projections.caseload import caseload
    from careledger.projections.directory import directory
    from careledger.projections.goals import goals
    from careledger.projections.timeline import timeline
    from careledger.projections.worklist import worklist

    return (timeline, care_team, caseload, worklist, goals, directory, billing)
