"""What an auditor reads: events as the log holds them, reads as the access log holds them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from careledger.graphql.people import Person


@strawberry.type
class AuditEvent:
    """An event exactly as the log holds it, with the store's stamps and hash chain."""

    position: int
    version: int
    type: str
    occurred_at: datetime | None
    recorded_at: datetime
    actor: str | None
    hash: str
    previous_hash: str
    state: JSON


@strawberry.type
class AccessEntry:
    at: datetime
    principal: UUID
    role: str
    by: Person = strawberry.field(description="Who read, by name, role and clinics as "
                                  "they were at the time of the read.")
    fields: str
    allowed: bool
    basis: str | None
    reason: str | None = strawberry.field(description="As the access log holds it: the "
                                          "stated reason of an emergency read, the reason "
                                          "code of a denial.")
    denied_because: str | None = strawberry.field(description="Why a denied read was "
                                                  "denied, in words.")
    hash: str


@strawberry.type
class EmergencyAccess:
    at: datetime
    principal: UUID
    role: str
    patient_id: UUID
    reason: str | None
