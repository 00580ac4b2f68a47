"""Who may treat: a practitioner matched to a need, and the caller the token names."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import strawberry


@strawberry.input
class Near:
    latitude: float
    longitude: float
    within_km: float = 50.0


@strawberry.type(description="A credential as the network registered it.")
class Credential:
    kind: str = strawberry.field(description="state_license, board_certification, "
                                 "amma_certification or npi")
    number: str
    issuer: str
    expires_on: date | None
    current: bool = strawberry.field(description="Not expired today.")


@strawberry.type(description="A condition of the practitioner's experience (ICD-10-CM).")
class Experience:
    code: str
    description: str


@strawberry.type
class PractitionerMatch:
    practitioner_id: UUID
    name: str
    profession: str
    clinic_id: UUID
    clinic_name: str
    distance_km: float
    home_visit_radius_km: float | None
    credentials: list[Credential]
    matched: list[Experience] = strawberry.field(
        description="The experience that matched the condition searched for.")


@strawberry.type
class Viewer:
    id: UUID
    role: str
    clinic_ids: list[UUID]
