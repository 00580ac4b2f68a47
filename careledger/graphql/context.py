"""What every resolver shares: the caller (from the token only), the pool, the errors."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeAlias

from graphql import GraphQLError
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from strawberry.types import Info as StrawberryInfo

from careledger.access.tokens import Principal
from careledger.domain.catalogue import record_of
from careledger.domain.network import Clinic
from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.projections import LiveGenerations


@dataclass
class Context:
    principal: Principal | None
    pool: ConnectionPool
    #: From the `CareLedger-Min-Position` header: read your own writes.
    min_position: int | None = None
    #: The live generation's schema, read once: a request reads one generation.
    views: str | None = None
    #: The header was sent but is not a log position.
    bad_min_position: bool = False
    #: The HTTP response being made (its status and headers are the answer's).
    response: Any = None


#: What every resolver is given: Strawberry's Info over our context.
Info: TypeAlias = StrawberryInfo[Context, None]


class PublicError(GraphQLError):
    """An error whose message is safe to show: it names no patient data."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def principal_of(info: Info) -> Principal:
    if info.context.principal is None:
        raise PublicError("a valid bearer token is required", "UNAUTHENTICATED")
    return info.context.principal


#: This process's view of which generation is live (one per API worker process).
GENERATIONS = LiveGenerations()


def read_views(info: Info, query: str, params: Any) -> list[dict[str, Any]]:
    """Rows of a query over the live views (`{v}` names their schema), as dicts: the
    reads that need no access check of their own (the caller made it, or names no
    patient)."""
    with info.context.pool.connection() as conn:
        return conn.cursor(row_factory=dict_row).execute(
            sql.SQL(query).format(v=sql.Identifier(live_views(info, conn))), params
        ).fetchall()


def live_views(info: Info, conn: Any) -> str:
    """The schema of the live generation of the views (a rebuild may switch it); one
    request reads one generation."""
    if info.context.views is None:
        info.context.views = GENERATIONS.schema(conn)
    return info.context.views


#: The longest a query waits for the views to reach a position.
CATCH_UP_TIMEOUT_S = 5.0


def caught_up(info: Info, position: int | None = None) -> None:
    """Wait until the views have applied a log position (a command's answer), or refuse.

    Applied means: the event's own row is in the view its record feeds (the timeline for
    patient events, the directory for clinics and practitioners), written in the same
    transaction as every other view's rows for it.
    """
    if info.context.bad_min_position:
        raise PublicError("CareLedger-Min-Position is a log position, e.g. 1234", "BAD_INPUT")
    wanted = max(p for p in (position, info.context.min_position, 0) if p is not None)
    if wanted <= 0:
        return
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    with info.context.pool.connection() as conn:
        while True:
            # Asked again each time: a rebuild's switch may have moved the views on.
            info.context.views = GENERATIONS.schema(conn)
            if _applied(conn, sql.Identifier(info.context.views), wanted):
                return
            if time.monotonic() > deadline:
                raise PublicError(f"the views have not reached position {wanted} yet; retry "
                                  "in a moment", "NOT_CAUGHT_UP")
            time.sleep(0.02)


def _applied(conn: Any, views: sql.Identifier, position: int) -> bool:
    row = conn.execute(
        "SELECT originator_id, topic FROM careledger.careledger_events"
        " WHERE notification_id = %s", (position,)).fetchone()
    if row is None:
        return False  # not committed yet (or a gap that never will be)
    record_id, topic = row
    record = record_of(topic)
    if record in (Patient, Referral):
        check = sql.SQL("SELECT 1 FROM {v}.timeline WHERE position = %s").format(v=views)
        return conn.execute(check, (position,)).fetchone() is not None
    table, key = (("clinics", "clinic_id") if record is Clinic
                  else ("practitioners", "practitioner_id"))
    check = sql.SQL("SELECT 1 FROM {v}.{t} WHERE {k} = %s AND position >= %s").format(
        v=views, t=sql.Identifier(table), k=sql.Identifier(key))
    return conn.execute(check, (record_id, position)).fetchone() is not None
