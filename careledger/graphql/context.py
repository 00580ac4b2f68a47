"""What every resolver shares: the caller (from the token only), the pool, the errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from psycopg_pool import ConnectionPool
from strawberry.types import Info

from careledger.gateways.auth import Principal


@dataclass
class Context:
    principal: Principal | None
    pool: ConnectionPool


class PublicError(GraphQLError):
    """An error whose message is safe to show: it names no patient data."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def principal_of(info: Info[Context, None]) -> Principal:
    if info.context.principal is None:
        raise PublicError("a valid bearer token is required", "UNAUTHENTICATED")
    return info.context.principal


def live_views(conn: Any) -> str:
    """The schema of the live generation of the views (a rebuild may switch it)."""
    row = conn.execute(
        "SELECT schema FROM careledger.view_generations WHERE name = 'live'").fetchone()
    return str(row[0])
