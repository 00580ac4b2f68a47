"""How often one caller may ask: budgets per principal and per client address, per
minute, counted in PostgreSQL so that every API process draws on the same budget.

One statement per request counts both buckets (the address's and the principal's) in
the current minute's window and answers both counts; a caller over either budget gets
429 with Retry-After (the seconds left in the window), and nothing it asked is done.
Windows are fixed minutes: a caller may spend up to twice a budget across a minute's
edge, which bounds abuse as well and costs one row per bucket.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from django.http import HttpRequest
from psycopg_pool import ConnectionPool

from careledger.access.tokens import Principal


class Area(StrEnum):
    COMMANDS = "commands"
    READS = "reads"
    EXPORTS = "exports"
    STREAMS = "streams"


#: GETs that hand out a whole record, many, or a file: FHIR bundles, claims, printed
#: documents, a document's or a certificate's bytes.
EXPORT_SUFFIXES = ("/fhir", "/claims", "/claim")
EXPORT_PARTS = ("/printouts/", "/documents/", "/certificates/")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: How often a process clears the windows that are over.
SWEEP_EVERY_S = 60.0


def area_of(request: HttpRequest) -> Area:
    path = request.path
    if path.endswith("/stream"):
        return Area.STREAMS
    if path.startswith("/api/") and request.method in UNSAFE:
        return Area.COMMANDS
    if request.method == "GET" and (path.endswith(EXPORT_SUFFIXES)
                                   or any(p in path for p in EXPORT_PARTS)):
        return Area.EXPORTS
    return Area.READS


@dataclass(frozen=True)
class Budgets:
    """Requests per minute; 0 is no limit."""

    commands: int = 600
    reads: int = 1200
    exports: int = 60
    streams: int = 30
    per_address: int = 3000

    def of(self, area: Area) -> int:
        return int(getattr(self, area.value))


@dataclass(frozen=True)
class Refusal:
    retry_after_s: int
    #: `address` or `principal`: which budget ran out (said, not who).
    budget: str


_COUNT = """
INSERT INTO careledger.rate_windows AS w (bucket, window_start, hits)
SELECT b, date_trunc('minute', now()), 1 FROM unnest(%s::text[]) AS b
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
RETURNING bucket, hits,
          extract(epoch FROM w.window_start + interval '1 minute' - now())::float8
"""


class RateLimits:
    def __init__(self, pool: ConnectionPool, budgets: Budgets) -> None:
        self.pool = pool
        self.budgets = budgets
        self._swept = time.monotonic()
        self._lock = threading.Lock()

    def charge(self, *, address: str, principal: Principal | None,
               area: Area) -> Refusal | None:
        """Count this request; a Refusal if it is over a budget."""
        limits: dict[str, tuple[int, str]] = {}
        if self.budgets.per_address:
            limits[f"address:{address}"] = (self.budgets.per_address, "address")
        if principal is not None and self.budgets.of(area):
            limits[f"{area.value}:{principal.role.value}:{principal.subject}"] = (
                self.budgets.of(area), "principal")
        if not limits:
            return None
        with self.pool.connection() as conn:
            self._sweep(conn)
            rows = conn.execute(_COUNT, (list(limits),)).fetchall()
        over = [(left, limits[bucket][1]) for bucket, hits, left in rows
                if hits > limits[bucket][0]]
        if not over:
            return None
        left, budget = max(over)
        return Refusal(retry_after_s=max(1, math.ceil(left)), budget=budget)

    def _sweep(self, conn: psycopg.Connection[Any]) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._swept < SWEEP_EVERY_S:
                return
            self._swept = now
        conn.execute("DELETE FROM careledger.rate_windows "
                     "WHERE window_start < now() - interval '2 minutes'")
