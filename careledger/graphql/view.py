"""`/graphql`, served by the same process as the command API, with the same tokens."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from strawberry.django.views import GraphQLView

from careledger.gateways import services
from careledger.graphql.context import Context


class CareLedgerGraphQLView(GraphQLView):
    """The tenant scope comes only from the bearer token, never from the query."""

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        installed = services.get()
        principal = installed.tokens.verify(token) if scheme.lower() == "bearer" else None
        raw = request.headers.get("CareLedger-Min-Position", "")
        return Context(principal=principal, pool=installed.idempotency.pool,
                       min_position=int(raw) if raw.isdigit() else None)
