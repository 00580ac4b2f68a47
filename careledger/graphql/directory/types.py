"""Who may treat: a practitioner matched to a need, and the caller the token names."""

from __future__ import annotations

from uuid import UUID

import strawberry


@strawberry.input
class Near:
    latitude: float
    longitude: float
    within_km: float = 50.0


@strawberry.type
class PractitionerMatch:
    practitioner_id: UUID
    name: str
    profession: str
    clinic_id: UUID
    clinic_name: str
    distance_km: float
    home_visit_radius_km: float | None


@strawberry.type
class Viewer:
    id: UUID
    role: str
    clinic_ids: list[UUID]
