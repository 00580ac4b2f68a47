"""Matching a patient's need to practitioners: discipline, experience, license, distance.

The directory holds no patient data, so any signed-in caller may search it; the
patient's location is given as coordinates, never looked up from their record here.
"""

from __future__ import annotations

import strawberry

from careledger.domain.clinical import Discipline, Profession
from careledger.graphql.context import Info, PublicError, principal_of, read_views
from careledger.graphql.directory.types import Near, PractitionerMatch, Viewer

#: The most matches one search returns.
MAX_MATCHES = 50

#: Great-circle distance in km between a clinic and the given point (haversine).
DISTANCE = (
    "2 * 6371 * asin(sqrt(power(sin(radians(c.latitude - %(lat)s) / 2), 2)"
    " + cos(radians(%(lat)s)) * cos(radians(c.latitude))"
    " * power(sin(radians(c.longitude - %(lon)s) / 2), 2)))"
)


@strawberry.type
class DirectoryQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Practitioners of a discipline, experienced with a condition (an "
        "ICD-10-CM code or its category), licensed today, nearest first; with "
        "`homeVisit`, only those who visit a home this far from their clinic.")
    def match_practitioners(self, info: Info, condition: str,
                            discipline: str, near: Near, home_visit: bool = False
                            ) -> list[PractitionerMatch]:
        principal_of(info)
        try:
            wanted = Discipline(discipline)
        except ValueError:
            raise PublicError("discipline is one of " + ", ".join(d.value for d in Discipline),
                              "BAD_INPUT") from None
        professions = [p.value for p in Profession if p.discipline == wanted]
        code = condition.strip().upper()
        query = (
            "SELECT * FROM (SELECT DISTINCT ON (p.practitioner_id) p.practitioner_id, p.name,"
            f" p.profession, c.clinic_id, c.name AS clinic_name, {DISTANCE} AS distance_km,"
            " p.home_visit_radius_km FROM {v}.practitioners p"
            " JOIN {v}.clinics c ON c.clinic_id = ANY(p.clinic_ids)"
            " WHERE p.profession = ANY(%(professions)s) AND p.license_valid_until >= current_date"
            " AND EXISTS (SELECT 1 FROM unnest(p.conditions) k"
            "             WHERE k = %(code)s OR k LIKE %(category)s OR %(code)s LIKE k || '.%%')"
            f" AND {DISTANCE} <= %(within)s"
            " AND (NOT %(home)s OR coalesce(p.home_visit_radius_km, 0) >= " + DISTANCE + ")"
            " ORDER BY p.practitioner_id, distance_km) m ORDER BY distance_km LIMIT %(limit)s"
        )
        rows = read_views(info, query, {
            "professions": professions, "code": code, "category": code + ".%",
            "lat": near.latitude, "lon": near.longitude, "within": near.within_km,
            "home": home_visit, "limit": MAX_MATCHES})
        return [PractitionerMatch(**row) for row in rows]


@strawberry.type
class ViewerQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The principal your token names (no patient data): which worklist "
        "is yours to ask for.")
    def me(self, info: Info) -> Viewer:
        principal = principal_of(info)
        return Viewer(id=principal.subject, role=principal.role.value,
                      clinic_ids=sorted(principal.clinics, key=str))
