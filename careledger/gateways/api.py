"""The command API: one NinjaAPI, routers per area, errors mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.http import HttpRequest, HttpResponse
from eventsourcing.persistence import InterfaceError, OperationalError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import HttpBearer

from careledger.access.tokens import Principal
from careledger.domain.errors import (
    DomainError,
    DuplicateRequest,
    InvalidInput,
    NotFound,
)
from careledger.gateways.commanding import Commands
from careledger.gateways.problems import PROBLEM_JSON, problem
from careledger.gateways.schemas import FREE_KEYS
from careledger.gateways.services import Services

log = logging.getLogger("careledger.api")


class Bearer(HttpBearer):
    """The caller the gate (callers.py) found for this request, by its bearer token or the
    pages' session cookie; described to OpenAPI as the bearer scheme it mostly is."""

    def __call__(self, request: HttpRequest) -> Principal | None:
        principal = getattr(request, "principal", None)
        return principal if isinstance(principal, Principal) else None

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        raise AssertionError("the gate authenticates; __call__ reads what it found")


class CommandAPI(NinjaAPI):
    """Ninja declares every response as application/json; our errors are problem+json."""

    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> OpenAPISchema:
        document = super().get_openapi_schema(path_prefix=path_prefix,
                                              path_params=path_params)
        for operations in document["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[PROBLEM_JSON] = content.pop("application/json")
        return document


DESCRIPTION = (
    "One endpoint per clinical command. Every success answers 201 with the record's id, "
    "new version and log position. Errors are RFC 9457 problem+json. Send "
    "`Idempotency-Key` to make a retry safe and `If-Match: \"<version>\"` to refuse a "
    "command decided on a stale record. `GET /patients/{id}/fhir` exports a patient's "
    "record as a FHIR R4 Bundle."
)


def build_api(services: Services) -> CommandAPI:
    """The command API over the services the composition root built."""
    from careledger.gateways.routes.amendments import amendment_routes
    from careledger.gateways.routes.billing import billing_routes
    from careledger.gateways.routes.documents import document_routes
    from careledger.gateways.routes.education import education_routes
    from careledger.gateways.routes.fhir import fhir_routes
    from careledger.gateways.routes.identity import identity_routes
    from careledger.gateways.routes.messages import message_routes
    from careledger.gateways.routes.network import network_routes
    from careledger.gateways.routes.patients import patient_routes
    from careledger.gateways.routes.printouts import printout_routes
    from careledger.gateways.routes.referrals import referral_routes
    from careledger.gateways.routes.treatment import treatment_routes

    api = CommandAPI(title="CareLedger command API", version="1", description=DESCRIPTION,
                     auth=Bearer(), urls_namespace="v1", docs_url="/docs")
    handlers: list[tuple[type[Exception], Any]] = [
        (ValidationError, invalid_request), (AuthenticationError, not_authenticated),
        (HttpError, http_error), (DomainError, domain_error),
        *((unavailable, database_unavailable)
          for unavailable in (psycopg.OperationalError, InterfaceError, OperationalError))]
    for exception, handler in handlers:  # errors mapped in one place, to problem+json
        api.add_exception_handler(exception, handler)
    commands = Commands(services)
    api.add_router("/", network_routes(commands), tags=["network"])
    api.add_router("/", education_routes(commands), tags=["network"])
    api.add_router("/", identity_routes(commands), tags=["network"])
    api.add_router("/", patient_routes(commands), tags=["patients"])
    api.add_router("/", referral_routes(commands), tags=["referrals"])
    api.add_router("/", treatment_routes(commands), tags=["referrals"])
    api.add_router("/", amendment_routes(commands), tags=["referrals"])
    api.add_router("/", message_routes(commands), tags=["messages"])
    api.add_router("/", document_routes(commands), tags=["documents"])
    api.add_router("/", fhir_routes(services), tags=["fhir"])
    api.add_router("/", billing_routes(commands), tags=["billing"])
    api.add_router("/", printout_routes(services), tags=["documents"])
    return api


def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [_error(e) for e in exc.errors]
    return problem(422, "the request does not match the command's schema",
                   code="invalid_request", errors=errors)


def _error(error: dict[str, Any]) -> dict[str, str]:
    loc = error.get("loc", ())
    if error.get("type") == "extra_forbidden":
        # The name is the client's, never echoed (it could be anything they typed).
        return {"field": _field((*loc[:-1], "*")),
                "message": "a field this command does not take: remove it (the fields it "
                           "takes are in the OpenAPI document)"}
    return {"field": _field(loc), "message": error.get("msg", "")}


def _field(loc: Any) -> str:
    """loc is (source, parameter, *path): the field as the client wrote it, except a key
    the client chose (a goal id, a changed field), which is data and never echoed."""
    parts = [str(p) for p in loc[2:]]
    for i in range(len(parts) - 1):
        if parts[i] in FREE_KEYS:
            parts[i + 1] = "*"
    return ".".join(parts) or (str(loc[0]) if loc else "")


def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        401, "send a valid bearer token: an access token from the identity provider, or, with "
        "none configured, one from `careledger token issue`", code="not_authenticated",
        headers={"WWW-Authenticate": 'Bearer realm="careledger"'},
    )


def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "malformed_request", 403: "not_permitted", 422: "invalid_request",
             404: "not_found", 413: "body_too_large", 415: "unsupported_media_type"}
    return problem(exc.status_code, exc.message, code=codes.get(exc.status_code, "error"))


def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    if isinstance(exc, NotFound):
        return problem(404, str(exc), code=exc.code)
    if isinstance(exc, InvalidInput):
        errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
        return problem(422, str(exc), code=exc.code, errors=errors)
    if isinstance(exc, DuplicateRequest):
        return problem(422, str(exc), code=exc.code)
    return problem(409, str(exc), code=exc.code)


def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.warning("event store unavailable: %s", type(exc).__name__)
    return problem(
        503, "the event store is unavailable; nothing was recorded, retry shortly",
        code="store_unavailable", headers={"Retry-After": "2"},
    )
