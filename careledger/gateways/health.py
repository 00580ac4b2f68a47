"""Liveness, readiness and the operator's figures over HTTP (for orchestrators and people).

`/health/live` answers as long as the process serves requests; `/health/ready` only
while PostgreSQL answers too (a load balancer stops sending commands that could not be
stored); `/health/status` gives the figures `careledger status` prints: positions,
lags and counts, never patient data.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import ConnectionPool

from careledger.gateways.problems import problem
from careledger.infra.health import read_status

#: How long readiness waits for a pooled connection before saying "not ready" (within
#: the 2 s every request is answered in while PostgreSQL is away).
READY_TIMEOUT_S = 1.0


def live(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "live"})


def ready(request: HttpRequest, *, pool: ConnectionPool, instance: str) -> HttpResponse:
    """Ready, and which instance says so: `careledger up` waits for its own."""
    try:
        with pool.connection(timeout=READY_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return _unavailable()
    return JsonResponse({"status": "ready", "instance": instance})


def status(request: HttpRequest, *, pool: ConnectionPool) -> HttpResponse:
    try:
        with pool.connection(timeout=READY_TIMEOUT_S) as conn:
            figures = read_status(conn)
    except Exception:
        return _unavailable()
    return JsonResponse(figures.as_json())


def _unavailable() -> HttpResponse:
    return problem(503, "PostgreSQL is unreachable; retry shortly", code="not_ready",
                   headers={"Retry-After": "5"})
