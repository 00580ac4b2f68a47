"""What an auditor reads: events as the log holds them, reads as the access log holds them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.scalars import JSON


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
    fields: str
    allowed: bool
    basis: str | None
    reason: str | None
    hash: str


@strawberry.type
class EmergencyAccess:
    at: datetime
    principal: UUID
    role: str
    patient_id: UUID
    reason: str | None
