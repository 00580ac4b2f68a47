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

from careledger.domain.errors import (
    DomainError,
    DuplicateRequest,
    InvalidInput,
    NotFound,
)
from careledger.gateways import services
from careledger.gateways.auth import Principal
from careledger.gateways.problems import PROBLEM_JSON, problem
from careledger.gateways.schemas import FREE_KEYS

log = logging.getLogger("careledger.api")


class Bearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return services.get().tokens.verify(token)


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


api = CommandAPI(
    title="CareLedger command API",
    version="1",
    description=(
        "One endpoint per clinical command. Every success answers 201 with the record's id, "
        "new version and log position. Errors are RFC 9457 problem+json. Send "
        "`Idempotency-Key` to make a retry safe and `If-Match: \"<version>\"` to refuse a "
        "command decided on a stale record. `GET /patients/{id}/fhir` exports a patient's "
        "record as a FHIR R4 Bundle."
    ),
    auth=Bearer(),
    urls_namespace="v1",
    docs_url="/docs",
)


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")}
              for e in exc.errors]
    return problem(422, "the request does not match the command's schema",
                   code="invalid_request", errors=errors)


def _field(loc: Any) -> str:
    """loc is (source, parameter, *path): the field as the client wrote it, except a key
    the client chose (a goal id, a changed field), which is data and never echoed."""
    parts = [str(p) for p in loc[2:]]
    for i in range(len(parts) - 1):
        if parts[i] in FREE_KEYS:
            parts[i + 1] = "*"
    return ".".join(parts) or (str(loc[0]) if loc else "")


@api.exception_handler(AuthenticationError)
def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        401, "send a valid bearer token (see `careledger token issue`)", code="not_authenticated",
        headers={"WWW-Authenticate": 'Bearer realm="careledger"'},
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "malformed_request", 403: "not_permitted", 422: "invalid_request",
             404: "not_found"}
    return problem(exc.status_code, exc.message, code=codes.get(exc.status_code, "error"))


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    if isinstance(exc, NotFound):
        return problem(404, str(exc), code=exc.code)
    if isinstance(exc, InvalidInput):
        errors = [{"field": exc.field, "message": str(exc)}] if exc.field else None
        return problem(422, str(exc), code=exc.code, errors=errors)
    if isinstance(exc, DuplicateRequest):
        return problem(422, str(exc), code=exc.code)
    return problem(409, str(exc), code=exc.code)


@api.exception_handler(psycopg.OperationalError)
@api.exception_handler(InterfaceError)
@api.exception_handler(OperationalError)
def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.warning("event store unavailable: %s", type(exc).__name__)
    return problem(
        503, "the event store is unavailable; nothing was recorded, retry shortly",
        code="store_unavailable", headers={"Retry-After": "2"},
    )


def _mount() -> None:
    from careledger.gateways.routes import fhir, network, patients, referrals

    api.add_router("/", network.router, tags=["network"])
    api.add_router("/", patients.router, tags=["patients"])
    api.add_router("/", referrals.router, tags=["referrals"])
    api.add_router("/", fhir.router, tags=["fhir"])


_mount()
