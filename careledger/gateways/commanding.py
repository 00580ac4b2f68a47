"""The steps every command endpoint takes, in one place.

Role first (403), then the record's visibility to this caller (404, the same
answer as a record that does not exist), then If-Match and Idempotency-Key, then
the application's `handle`. A replayed key answers the first result and stores nothing.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Schema, Status
from ninja.errors import AuthorizationError, HttpError

from careledger.access.tokens import Principal, Role
from careledger.domain.application import Idempotency
from careledger.domain.commands import Command
from careledger.domain.errors import DomainError, NotFound
from careledger.domain.referral import Referral
from careledger.gateways.idempotency import MAX_KEY_LENGTH, request_hash
from careledger.gateways.schemas import OccurredIn, RecordedOut
from careledger.gateways.services import Services
from careledger.infra import telemetry


def principal_of(request: HttpRequest) -> Principal:
    principal = getattr(request, "auth", None)
    assert isinstance(principal, Principal), "every command route is authenticated"
    return principal


def require_role(request: HttpRequest, roles: Collection[Role]) -> Principal:
    principal = principal_of(request)
    if principal.role not in roles:
        raise AuthorizationError(message=f"a {principal.role.value} may not issue this command")
    return principal


def occurred(body: OccurredIn) -> datetime:
    return body.occurred_at or datetime.now(UTC)


def expected_version(request: HttpRequest) -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or int(value) < 1:
        raise HttpError(422, "If-Match carries the record's version, e.g. \"3\"")
    return int(value)


class Commands:
    """Runs commands for the routes, with the services the composition root gave."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def referral_in_scope(self, principal: Principal, referral_id: UUID) -> Referral:
        """A referral is visible to its physician and to the clinics it was sent to."""
        referral = self.services.app.load(Referral, referral_id)
        if principal.role is Role.PHYSICIAN and referral.physician_id == principal.subject:
            return referral
        if principal.role in (Role.THERAPIST, Role.CLINIC_ADMIN) and (
            referral.clinic_id in principal.clinics
        ):
            return referral
        raise NotFound("no referral with that id")

    def scoped(self, request: HttpRequest, referral_id: UUID,
               roles: Collection[Role]) -> Principal:
        """The caller, if their role may issue the command and the referral is theirs."""
        who = require_role(request, roles)
        self.referral_in_scope(who, referral_id)
        return who

    def run(self, request: HttpRequest, body: Schema | None,
            command: Command) -> Status[RecordedOut]:
        """Handle the command under the request's If-Match and Idempotency-Key."""
        principal = principal_of(request)
        version = expected_version(request)
        key = request.headers.get("Idempotency-Key")
        store = self.services.idempotency
        idempotency: Idempotency | None = None
        if key is not None:
            if not 0 < len(key) <= MAX_KEY_LENGTH:
                raise HttpError(422, f"an Idempotency-Key is 1-{MAX_KEY_LENGTH} characters")
            payload: Any = body.model_dump(mode="json") if body is not None else None
            idempotency = Idempotency(
                principal=str(principal.subject), key=key,
                request_hash=request_hash(command.NAME, request.path, payload),
                command=command.NAME,
            )
            prior = _replay(store.find(idempotency.principal, key), idempotency)
            if prior is not None:
                return prior
        started, outcome = time.perf_counter(), "error"
        with telemetry.tracer.start_as_current_span(f"command {command.NAME}") as span:
            try:
                recorded = self.services.app.handle(command, expected_version=version,
                                                    idempotency=idempotency)
                outcome = "recorded"
            except DomainError as e:
                outcome = e.code
                # A concurrent twin with the same key may have won the race: answer as it did.
                if idempotency is not None:
                    prior = _replay(store.find(idempotency.principal, idempotency.key),
                                    idempotency)
                    if prior is not None:
                        outcome = "replayed"
                        return prior
                raise
            finally:
                span.set_attribute("careledger.command.outcome", outcome)
                telemetry.command_seconds.record(time.perf_counter() - started,
                                                 {"command": command.NAME, "outcome": outcome})
            span.set_attributes({"careledger.record.id": str(recorded.aggregate_id),
                                 "careledger.log.position": recorded.position or 0})
        return Status(201, RecordedOut(
            id=recorded.aggregate_id, version=recorded.version, position=recorded.position
        ))


def _replay(prior: Any, idempotency: Idempotency) -> Status[RecordedOut] | None:
    if prior is None:
        return None
    if prior.request_hash != idempotency.request_hash:
        raise HttpError(422, "this Idempotency-Key was used for a different request")
    return Status(201, RecordedOut(id=prior.aggregate_id, version=prior.version,
                                   position=prior.position))
