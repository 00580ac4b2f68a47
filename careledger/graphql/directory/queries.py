"""Matching a patient's need to practitioners: discipline, experience, license, distance.

The directory holds no patient data, so any signed-in caller may search it; the
patient's location is given as coordinates, never looked up from their record here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import strawberry

from careledger.access.policy import may_read_clinic
from careledger.domain import icd10
from careledger.domain.clinical import CredentialKind, Discipline, Profession
from careledger.domain.education import renewal
from careledger.domain.errors import InvalidInput
from careledger.graphql.context import Info, PublicError, principal_of, read_views
from careledger.graphql.directory.types import (
    ContinuingEducation,
    Credential,
    Experience,
    Near,
    PractitionerMatch,
    StaffStanding,
    Viewer,
)

#: The most matches one search returns.
MAX_MATCHES = 50
#: A practitioner's courses, for their continuing-education standing.
COURSES = ("(SELECT coalesce(json_agg(json_build_object('hours', k.hours, 'completed_on',"
           " k.completed_on)), '[]') FROM {v}.courses k"
           " WHERE k.practitioner_id = p.practitioner_id) AS courses")

#: Great-circle distance in km between a clinic and the given point (haversine).
DISTANCE = (
    "2 * 6371 * asin(sqrt(power(sin(radians(c.latitude - %(lat)s) / 2), 2)"
    " + cos(radians(%(lat)s)) * cos(radians(c.latitude))"
    " * power(sin(radians(c.longitude - %(lon)s) / 2), 2)))"
)
#: A condition of experience `k` that matches the code searched for: the code itself, a
#: category it falls in (M54 holds M54.50, M54.5 holds M54.50), or a code in the category
#: searched for. ICD-10-CM writes a dot after the category's three characters only.
MATCHES = (
    "(k = %(code)s"
    " OR %(code)s LIKE k || CASE WHEN strpos(k, '.') = 0 THEN '.%%' ELSE '_%%' END"
    " OR k LIKE %(code)s || CASE WHEN strpos(%(code)s, '.') = 0 THEN '.%%' ELSE '_%%' END)"
)


@strawberry.type
class DirectoryQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Practitioners of a discipline, experienced with a condition (an "
        "ICD-10-CM code, its category, or the words of its description), licensed today, "
        "nearest first, with their credentials and the experience that matched; with "
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
        try:
            code, _ = icd10.resolve(condition, "condition")
        except InvalidInput as refused:
            raise PublicError(str(refused), "BAD_INPUT") from None
        query = (
            "SELECT * FROM (SELECT DISTINCT ON (p.practitioner_id) p.practitioner_id, p.name,"
            f" p.profession, c.clinic_id, c.name AS clinic_name, {DISTANCE} AS distance_km,"
            " p.home_visit_radius_km, p.credentials, " + COURSES + ","
            f" ARRAY(SELECT k FROM unnest(p.conditions) k WHERE {MATCHES} ORDER BY k)"
            " AS matched FROM {v}.practitioners p"
            " JOIN {v}.clinics c ON c.clinic_id = ANY(p.clinic_ids)"
            " WHERE p.profession = ANY(%(professions)s) AND p.license_valid_until >= current_date"
            f" AND EXISTS (SELECT 1 FROM unnest(p.conditions) k WHERE {MATCHES})"
            f" AND {DISTANCE} <= %(within)s"
            " AND (NOT %(home)s OR coalesce(p.home_visit_radius_km, 0) >= " + DISTANCE + ")"
            " ORDER BY p.practitioner_id, distance_km) m ORDER BY distance_km LIMIT %(limit)s"
        )
        rows = read_views(info, query, {
            "professions": professions, "code": code,
            "lat": near.latitude, "lon": near.longitude, "within": near.within_km,
            "home": home_visit, "limit": MAX_MATCHES})
        today = datetime.now(UTC).date()
        return [PractitionerMatch(
            **{k: v for k, v in row.items() if k not in ("credentials", "matched", "courses")},
            credentials=[_credential(c, today) for c in row["credentials"]],
            matched=[Experience(code=k, description=_described(k)) for k in row["matched"]],
            continuing_education=_education(row, today))
            for row in rows]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The practitioners of a clinic with their continuing-education "
        "standing against their licence's renewal rule, those who need attention (hours "
        "short, a licence expiring within 60 days or expired) first. For the clinic's own "
        "staff and administrators, and auditors.")
    def staff_standing(self, info: Info, clinic_id: UUID) -> list[StaffStanding]:
        if not may_read_clinic(principal_of(info), clinic_id):
            raise PublicError("no clinic with that id", "NOT_FOUND")
        rows = read_views(info, "SELECT p.practitioner_id, p.name, p.profession,"
                          " p.credentials, " + COURSES + " FROM {v}.practitioners p"
                          " WHERE %(clinic)s = ANY(p.clinic_ids) ORDER BY p.name,"
                          " p.practitioner_id", {"clinic": clinic_id})
        today = datetime.now(UTC).date()
        staff = []
        for row in rows:
            education = _education(row, today)
            staff.append(StaffStanding(
                practitioner_id=row["practitioner_id"], name=row["name"],
                profession=row["profession"], continuing_education=education,
                needs_attention=not education.current))
        return sorted(staff, key=lambda s: not s.needs_attention)


def _education(row: dict[str, Any], today: date) -> ContinuingEducation:
    """The standing from the licences among the credentials and the courses (the latest
    expiry on file is the licence's; its issuer is the board whose rule counts)."""
    # A licence recorded again (renewed, or corrected) stands as last recorded; one that
    # does not expire outlasts any that does.
    licences = {c["number"]: c for c in row["credentials"]
                if c["kind"] == CredentialKind.STATE_LICENSE}
    latest = max(licences.values(), key=lambda c: str(c.get("expires_on") or "9999"),
                 default=None)
    expires = latest.get("expires_on") if latest else None
    done = renewal(profession=Profession(row["profession"]),
                   board=latest["issuer"] if latest else None,
                   licence_expires=date.fromisoformat(str(expires)) if expires else None,
                   courses=row["courses"], today=today, licensed=latest is not None)
    return ContinuingEducation(
        standing=str(done.standing), current=not done.needs_attention,
        hours_done=done.hours_done, hours_needed=done.hours_needed,
        cycle_from=done.cycle_from, licence_expires_on=done.licence_expires,
        board=latest["issuer"] if latest else None)


def _credential(stored: dict[str, Any], today: date) -> Credential:
    expires = date.fromisoformat(stored["expires_on"]) if stored.get("expires_on") else None
    return Credential(kind=stored["kind"], number=stored["number"], issuer=stored["issuer"],
                      expires_on=expires, current=expires is None or expires >= today)


def _described(code: str) -> str:
    found = icd10.code_set().lookup(code)
    return found[1] if found else code  # recorded as words before codes were required


@strawberry.type
class ViewerQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The principal your token names (no patient data): which worklist "
        "is yours to ask for.")
    def me(self, info: Info) -> Viewer:
        principal = principal_of(info)
        return Viewer(id=principal.subject, role=principal.role.value,
                      clinic_ids=sorted(principal.clinics, key=str))
