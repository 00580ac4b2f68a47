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
class ContinuingEducation:
    standing: str = strawberry.field(description="current, hours_short, licence_expiring "
                                     "(within 60 days), licence_expired or no_licence.")
    current: bool = strawberry.field(description="Continuing education current: the "
                                     "cycle's hours done and the licence not expiring.")
    hours_done: float = strawberry.field(description="Hours of courses in the cycle that "
                                         "ends when the licence does.")
    hours_needed: float
    cycle_from: date | None
    licence_expires_on: date | None
    board: str | None = strawberry.field(description="The licence's issuer, whose renewal "
                                         "rule counts (a profession's default if unlisted).")


@strawberry.type
class StaffStanding:
    practitioner_id: UUID
    name: str
    profession: str
    continuing_education: ContinuingEducation
    needs_attention: bool


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
    continuing_education: ContinuingEducation


@strawberry.type
class Viewer:
    id: UUID
    role: str
    clinic_ids: list[UUID]
