"""The read API over the views (Strawberry): patients, worklists, the directory, audit.

Each feature is a folder with its types apart from its queries (patient/, worklists/,
directory/, audit/); this module joins their queries into one `Query` and adds what
every request shares: limits on a query's size, caches, a span per operation, and errors
that carry a code in `extensions` (NOT_FOUND, UNAUTHENTICATED, BAD_INPUT, UNAVAILABLE). Anything
unexpected is masked, so no error ever echoes patient data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from careledger.graphql.audit.queries import AuditQuery, ReviewQuery
from careledger.graphql.context import PublicError
from careledger.graphql.directory.queries import DirectoryQuery, ViewerQuery
from careledger.graphql.execution import PlainLeafExecutor
from careledger.graphql.patient.queries import PatientQuery
from careledger.graphql.worklists.queries import WorklistQuery
from careledger.infra import telemetry

log = logging.getLogger(__name__)

#: Bounds on one query's size: a few aliases are handy, hundreds are a scraping attempt.
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_DEPTH = 8
#: Distinct query texts whose parse and validation are kept: clients send a few
#: dozen; a bound keeps made-up ones from growing memory.
CACHED_QUERIES = 256
#: Seconds a client waits before asking again while PostgreSQL is away.
RETRY_AFTER_S = 2


@strawberry.type
class Query(PatientQuery, AuditQuery, ReviewQuery, WorklistQuery, DirectoryQuery, ViewerQuery):
    """The read API."""


class Schema(strawberry.Schema):
    """Errors are logged by their code and path only: a query's text may hold patient data."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None:
                log.info("graphql: an invalid query was refused")  # its text may quote data
            elif isinstance(original, PublicError):
                log.info("graphql: %s at %s", (original.extensions or {}).get("code"),
                         error.path)
            else:
                log.error("graphql: unexpected %s at %s", type(original).__name__, error.path)


#: Made once, so that a query's validation is cached under the same rules every time
#: (Strawberry's limiter extensions make new rule classes per request: never a hit).
LIMITS: list[type[ASTValidationRule]] = [depth_rule(MAX_DEPTH, None),
                                          aliases_rule(MAX_ALIASES)]


class Observed(SchemaExtension):
    """A span and a latency figure per operation, named by the operation (never its text)."""

    def on_operation(self) -> Iterator[None]:
        if not telemetry.enabled():
            yield
            return
        started = time.perf_counter()
        with telemetry.tracer.start_as_current_span("graphql") as span:
            yield
            name = self.execution_context.operation_name or "anonymous"
            span.update_name(f"graphql {name}")
            span.set_attribute("graphql.operation.name", name)
        telemetry.graphql_seconds.record(time.perf_counter() - started, {"operation": name})


class Unavailable(SchemaExtension):
    """PostgreSQL away: one error with a code, and 503 with Retry-After, as the command
    API answers; never the partial data of the resolvers that ran before it went."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not any(isinstance(error.original_error, psycopg.OperationalError)
                                     for error in result.errors or []):
            return
        result.data = None
        result.errors = [PublicError("the views are unavailable; nothing was read, retry "
                                     "shortly", "UNAVAILABLE")]
        response = self.execution_context.context.response
        if response is not None:
            response.status_code = 503
            response["Retry-After"] = str(RETRY_AFTER_S)


class Limits(AddValidationRules):
    """Depth and alias limits, checked before any resolver runs."""

    def __init__(self) -> None:
        super().__init__(LIMITS)


schema = Schema(
    query=Query,
    execution_context_class=PlainLeafExecutor,
    extensions=[
        Observed,
        Unavailable,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        Limits,
        lambda: ParserCache(maxsize=CACHED_QUERIES),
        lambda: ValidationCache(maxsize=CACHED_QUERIES),
        # Unexpected failures become "Unexpected error."; ours, and the validation
        # errors about the query text itself, pass through.
        lambda: MaskErrors(should_mask_error=lambda error: error.original_error is not None
                           and not isinstance(error.original_error, PublicError)),
    ],
)
