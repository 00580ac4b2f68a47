"""`/graphql`, served by the same process as the command API, for the same callers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import ConnectionPool
from strawberry.django.views import GraphQLView

from careledger.graphql.context import Context

MIN_POSITION_HEADER = "CareLedger-Min-Position"
#: A log position is a PostgreSQL bigint: at most 19 digits.
MAX_POSITION_DIGITS = 18


class CareLedgerGraphQLView(GraphQLView):
    """The tenant scope comes only from who is calling (their token, or the page's
    session, as the gate found them), never from the query.

    `pool` is given by the composition root (`as_view(pool=...)`); the caller, by the gate.
    """

    pool: ConnectionPool | None = None

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Any:
        assert self.pool is not None, "wired by careledger.main"
        # Found by the gate (gateways/callers.py): the bearer token or the page's session.
        principal = getattr(request, "principal", None)
        raw = request.headers.get(MIN_POSITION_HEADER)
        # str.isdigit() is true of "²" and "١٢" too, which int() refuses (a 500, found by
        # fuzzing): only ASCII digits that fit a bigint are a position.
        valid = raw is None or (raw.isascii() and raw.isdigit()
                                and len(raw) <= MAX_POSITION_DIGITS)
        return Context(principal=principal, pool=self.pool,
                       min_position=int(raw) if raw is not None and valid else None,
                       bad_min_position=not valid, response=response)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Strawberry refuses a request with no query as text/plain: answer GraphQL's JSON."""
        response = super().dispatch(request, *args, **kwargs)
        if (isinstance(response, HttpResponse) and response.status_code == 400
                and response.get("Content-Type", "").startswith("text/plain")):
            return JsonResponse({"data": None, "errors": [{
                "message": response.content.decode(errors="replace")[:200],
                "extensions": {"code": "BAD_REQUEST"}}]}, status=400)
        return response
